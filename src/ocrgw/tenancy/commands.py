"""The operator's tenancy commands, as ``ocrgw`` (``cli``) mounts them: ``keys list|show|limit|subscribe|
unsubscribe`` and ``tiers``. Each parses its arguments, calls ``tenancy.admin`` in one transaction on the
deployment's database, and prints a table or JSON (the shapes of the admin API's answers), as ``ocrgw
usage`` does. A running server applies a change within ``policy.CACHE_SECONDS``."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.settings import Settings
from ocrgw.tenancy import admin
from ocrgw.tenancy.arguments import CLEAR
from ocrgw.tenancy.policy import Limit
from ocrgw.tenancy.tiers import MB, TIERS


# ------------------------------------------------------------------------------------------------ running
def run(args: argparse.Namespace, settings: Settings) -> int:
    """One command in one transaction; an OcrgwError is the operator's mistake, said on stderr."""
    from ocrgw.db import sync_sessionmaker

    handler = {
        "list": _list,
        "show": _show,
        "limit": _limit,
        "subscribe": _subscribe,
        "unsubscribe": _unsubscribe,
    }[args.keys_cmd]
    try:
        with sync_sessionmaker(settings).begin() as s:
            text = handler(s, args)
    except OcrgwError as exc:
        print(exc.message, file=sys.stderr)
        return 1 if exc.code == ErrorCode.NOT_FOUND else 2
    print(text, end="")
    return 0


def tiers(args: argparse.Namespace) -> int:

    if args.format == "json":
        items = [{**asdict(t), "services": list(t.services)} for t in TIERS.values()]
        print(json.dumps({"items": items}, indent=2))
        return 0
    for t in TIERS.values():
        print(f"{t.name:24}  {', '.join(t.services)}\n  {t.description}")
        print(f"  limits: {_summary(Limit(scope='', **t.limits))}")
        if t.subscription_required:
            print("  subscription required" + (" (subscribes the key)" if t.subscribe else ""))
    return 0


def _list(s: Session, args: argparse.Namespace) -> str:
    keys = admin.list_keys(s)
    if args.format == "json":
        return json.dumps({"items": [key_dict(k) for k in keys]}, indent=2) + "\n"
    line = "{:36}  {:20}  {:8}  {:20}  {:5}  {:19}  {:19}  {:24}  {}\n"
    text = line.format("id", "name", "prefix", "AK", "admin", "created", "revoked", "tiers", "subscriptions")
    for k in keys:
        revoked = f"{k.revoked_at:%Y-%m-%d %H:%M:%S}" if k.revoked_at else "-"
        subs = ",".join(sub.service for sub in k.subscriptions) or "-"
        own = ",".join(k.tiers) or ("limits" if k.limits else "-")
        subs += " (required)" if k.subscription_required else ""
        admin_ = "yes" if k.is_admin else "no"
        created = f"{k.created_at:%Y-%m-%d %H:%M:%S}"
        text += line.format(k.id, k.name[:20], k.prefix, k.access_key or "-", admin_, created, revoked, own[:24], subs)
    return text


def _show(s: Session, args: argparse.Namespace) -> str:
    info = admin.key_info(s, admin.find_key(s, args.key))
    return json.dumps(key_dict(info), indent=2) + "\n" if args.format == "json" else show_text(info)


def _limit(s: Session, args: argparse.Namespace) -> str:
    key = admin.find_key(s, args.key)
    if args.tier:
        admin.apply_tier(s, key.id, args.tier)
    values = _values(args)
    if args.clear:
        if values:
            raise OcrgwError(ErrorCode.INVALID_PARAMETER, "--clear takes no limits with it.", param="clear")
        admin.clear_limit(s, key.id, args.service)
    elif values:  # no option at all: the key is shown as it is
        admin.set_limit(s, key.id, args.service, values, replace=False)
    if args.subscription_required is not None:
        admin.update_key(s, key.id, subscription_required=args.subscription_required == "yes")
    return _show(s, argparse.Namespace(key=key.id, format=args.format))


def _values(args: argparse.Namespace) -> dict[str, Any]:
    """The limit fields the command line gave (None: take the limit off)."""
    given = {k: None if v is CLEAR else v for k, v in vars(args).items() if v is not None}
    out: dict[str, Any] = {}
    if "rate" in given:
        rate = given["rate"]
        out["rate"] = rate[0] if rate else None
        if rate:
            out["rate_seconds"] = rate[1]
        else:
            out["burst"] = None  # a burst without its rate means nothing
    if "pages" in given:
        out["pages_quota"], out["quota_period"] = given["pages"] if given["pages"] else (None, "month")
    for arg, field in (
        ("burst", "burst"),
        ("concurrent", "concurrent_jobs"),
        ("max_pages", "max_document_pages"),
        ("max_file_mb", "max_file_bytes"),
        ("backlog_share", "backlog_share"),
    ):
        if arg in given:
            out[field] = given[arg]
    return out


def _subscribe(s: Session, args: argparse.Namespace) -> str:
    key = admin.find_key(s, args.key)
    admin.subscribe(s, key.id, args.service, args.package)
    return _show(s, argparse.Namespace(key=key.id, format=args.format))


def _unsubscribe(s: Session, args: argparse.Namespace) -> str:
    key = admin.find_key(s, args.key)
    admin.unsubscribe(s, key.id, args.service)
    return f"unsubscribed {key.name!r} ({key.id}) from {args.service}\n"


# ------------------------------------------------------------------------------------------------ output
def _when(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def limit_dict(lim: Limit) -> dict[str, Any]:
    out = asdict(lim)
    out["service"] = out.pop("scope")
    return out


def key_dict(k: admin.KeyInfo) -> dict[str, Any]:
    """A key as JSON: the admin API's AdminKey."""
    return {
        "id": k.id,
        "name": k.name,
        "prefix": k.prefix,
        "access_key": k.access_key,
        "admin": k.is_admin,
        "created_at": _when(k.created_at),
        "revoked_at": _when(k.revoked_at),
        "subscription_required": k.subscription_required,
        "tiers": list(k.tiers),
        "limits": [limit_dict(lim) for lim in k.limits],
        "subscriptions": [{**asdict(sub), "created_at": _when(sub.created_at)} for sub in k.subscriptions],
    }


def _summary(lim: Limit) -> str:
    parts = []
    if lim.rate:
        parts.append(f"{lim.rate}/{lim.rate_seconds}s" + (f" burst {lim.burst}" if lim.burst else ""))
    if lim.concurrent_jobs is not None:
        parts.append(f"{lim.concurrent_jobs} jobs at once")
    if lim.pages_quota is not None:
        parts.append(f"{lim.pages_quota} pages/{lim.quota_period}")
    if lim.max_document_pages is not None:
        parts.append(f"first {lim.max_document_pages} pages")
    if lim.max_file_bytes is not None:
        parts.append(f"files up to {lim.max_file_bytes / MB:g} MB")
    if lim.backlog_share is not None:
        parts.append(f"{lim.backlog_share:g} of the backlog")
    return ", ".join(parts) or "none"


def show_text(k: admin.KeyInfo) -> str:
    state = f"revoked {k.revoked_at:%Y-%m-%d %H:%M:%S}" if k.revoked_at else "active"
    text = f"key {k.name!r}  id {k.id}  prefix {k.prefix}  {'admin, ' if k.is_admin else ''}{state}\n"
    if k.access_key:
        text += f"  AK {k.access_key}\n"
    text += f"  subscription required: {'yes' if k.subscription_required else 'no'}\n"
    text += "limits:\n" if k.limits else "limits: none (every service, no limit)\n"
    for lim in k.limits:
        text += f"  {lim.scope:20}  {('tier ' + lim.tier) if lim.tier else 'own':28}  {_summary(lim)}\n"
    if k.subscriptions:
        line = "  {:20}  {:10}  {:>10}  {:>10}  {:>10}  {:>10}\n"
        text += "subscriptions:\n" + line.format("service", "since", "package", "used", "remaining", "pay-per-use")
        for sub in k.subscriptions:
            package = "-" if sub.package_calls is None else sub.package_calls
            remaining = "-" if sub.package_remaining is None else sub.package_remaining
            since = f"{sub.created_at:%Y-%m-%d}"
            text += line.format(sub.service, since, package, sub.package_used, remaining, sub.pay_per_use_calls)
    return text
