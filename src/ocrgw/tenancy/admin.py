"""The operator's writes and reads of tenancy (``ocrgw keys ...`` and the native admin API under
``/v1/admin``): keys, their limits (``key_limits``), tiers copied onto them, subscriptions and their
purchased packages, and the queue per key. Every operation is a plain function of a sync ``Session`` so
that the CLI calls it directly and the API through ``AsyncSession.run_sync``: one validation, one
wording of every refusal (``OcrgwError`` INVALID_PARAMETER with ``param``, NOT_FOUND for unknown keys).

A change here only decides future admissions (``tenancy.gate`` reads the rows at submit): jobs already
accepted stay queued and run whatever limit a key gets later. The API process that made a change
forgets its cached policy at once; other processes see it within ``policy.CACHE_SECONDS``."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ocrgw.auth import new_key
from ocrgw.auth.models import ApiKey
from ocrgw.clock import as_utc, utcnow
from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.jobs.models import Job
from ocrgw.jobs.states import JobStatus
from ocrgw.jobs.usage import SERVICES, Usage
from ocrgw.tenancy.models import EVERY_SERVICE, KeyLimit, Subscription
from ocrgw.tenancy.policy import PERIODS, Limit
from ocrgw.tenancy.tiers import TIERS, Tier

SCOPES = (EVERY_SERVICE, *SERVICES)  # what a limit row may be for
INT32 = 2**31 - 1  # Integer columns (PostgreSQL's integer)
# BigInteger columns, capped at the largest integer a double holds exactly: JSON clients (JavaScript's
# numbers, schema validators comparing as floats) cannot tell 2**63 - 1 from numbers just past it.
INT64 = 2**53 - 1
# Each numeric limit: (least value, greatest value). A rate or burst of 0 would read as "no limit" at the
# gate (and divide by zero), so they start at 1; 0 jobs or 0 pages or 0 bytes is a deliberate block.
BOUNDS: dict[str, tuple[int, int]] = {
    "rate": (1, INT32),
    "rate_seconds": (1, INT32),
    "burst": (1, INT32),
    "concurrent_jobs": (0, INT32),
    "pages_quota": (0, INT64),
    "max_document_pages": (1, INT32),
    "max_file_bytes": (0, INT64),
}
FIELDS = (*BOUNDS, "quota_period", "backlog_share")  # what an operator sets on a limit row
_DEFAULTS: dict[str, Any] = {"rate_seconds": 1, "quota_period": "month"}
_LIVE = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)


def _invalid(message: str, param: str) -> OcrgwError:
    return OcrgwError(ErrorCode.INVALID_PARAMETER, message, param=param)


def check_name(name: str) -> str:
    """1 to 200 characters, no control characters (PostgreSQL's text refuses NUL)."""
    if not 1 <= len(name) <= 200 or any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        raise _invalid("A key's name is 1 to 200 characters, none of them control characters.", "name")
    return name


# ------------------------------------------------------------------------------------------------ views
@dataclass(frozen=True, slots=True)
class SubscriptionInfo:
    """A subscription and its package as Huawei bills one: the purchased ``package_calls`` are used
    first, calls past them are pay-per-use. ``calls``: the key's billable calls of the service since the
    UTC day the subscription (or its package) started, from the usage table."""

    service: str
    created_at: datetime
    package_calls: int | None
    calls: int
    package_used: int
    package_remaining: int | None
    pay_per_use_calls: int


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """A key as an operator sees it: never its secret."""

    id: str
    name: str
    prefix: str
    key_hash: str  # the secret's SHA-256, by which API processes cache the key (never the secret)
    access_key: str | None
    is_admin: bool
    created_at: datetime
    revoked_at: datetime | None
    subscription_required: bool
    limits: tuple[Limit, ...]
    subscriptions: tuple[SubscriptionInfo, ...]

    @property
    def tiers(self) -> tuple[str, ...]:
        """The tier profiles its limit rows were copied from."""
        return tuple(sorted({lim.tier for lim in self.limits if lim.tier}))


@dataclass(frozen=True, slots=True)
class QueueRow:
    key_id: str | None  # None: jobs submitted while auth was off
    key_name: str | None
    queued: int
    running: int


# ------------------------------------------------------------------------------------------- finding keys
def get_key(s: Session, key_id: str) -> ApiKey:
    """The key with this id (revoked ones too); NotFound otherwise."""
    row = s.get(ApiKey, key_id) if "\x00" not in key_id else None
    if row is None:
        raise OcrgwError(ErrorCode.NOT_FOUND, f"No API key has the id {key_id!r}.", param="keyId")
    return row


def find_key(s: Session, ref: str) -> ApiKey:
    """The one key an operator names on the command line: its id, name, secret prefix, AK, or the start
    of its id (4 characters or more). Several matches: the active ones among them; still several is an
    error listing them, so that a name two keys share never changes the wrong one."""
    exact = s.get(ApiKey, ref) if "\x00" not in ref else None
    if exact is not None:
        return exact
    conds = [ApiKey.name == ref, ApiKey.prefix == ref, ApiKey.access_key == ref]
    if len(ref) >= 4:
        conds.append(ApiKey.id.startswith(ref, autoescape=True))
    rows = list(s.scalars(select(ApiKey).where(or_(*conds)).order_by(ApiKey.created_at)))
    if len(rows) > 1:
        rows = [r for r in rows if r.revoked_at is None] or rows
    if not rows:
        raise OcrgwError(
            ErrorCode.NOT_FOUND, f"No API key matches {ref!r} (give its id, name, prefix or AK).", param="key"
        )
    if len(rows) > 1:
        ids = ", ".join(f"{r.id} ({r.name})" for r in rows)
        raise _invalid(f"{ref!r} matches {len(rows)} keys: {ids}; give its id.", "key")
    return rows[0]


# ----------------------------------------------------------------------------------------------- reading
def key_info(s: Session, key: ApiKey) -> KeyInfo:
    return _infos(s, [key])[0]


def list_keys(s: Session, *, revoked: bool = True) -> list[KeyInfo]:
    """Every key, oldest first, with its limits and subscriptions (``revoked``: revoked keys too)."""
    stmt = select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)
    if not revoked:
        stmt = stmt.where(ApiKey.revoked_at.is_(None))
    return _infos(s, list(s.scalars(stmt)))


def _infos(s: Session, keys: Sequence[ApiKey]) -> list[KeyInfo]:
    """Three queries for any number of keys (limits, subscriptions, their calls)."""
    ids = [k.id for k in keys]
    limits: dict[str, list[Limit]] = {}
    for row in s.scalars(select(KeyLimit).where(KeyLimit.key_id.in_(ids)).order_by(KeyLimit.service)):
        limits.setdefault(row.key_id, []).append(Limit.of(row))
    subs: dict[str, list[SubscriptionInfo]] = {}
    rows = list(s.scalars(select(Subscription).where(Subscription.key_id.in_(ids)).order_by(Subscription.service)))
    calls = _calls_since(s, rows)
    for sub in rows:
        subs.setdefault(sub.key_id, []).append(_package(sub, calls.get((sub.key_id, sub.service), 0)))
    return [
        KeyInfo(
            id=k.id,
            name=k.name,
            prefix=k.prefix,
            key_hash=k.key_hash,
            access_key=k.access_key,
            is_admin=bool(k.is_admin),
            created_at=as_utc(k.created_at),
            revoked_at=as_utc(k.revoked_at) if k.revoked_at else None,
            subscription_required=bool(k.subscription_required),
            limits=tuple(limits.get(k.id, ())),
            subscriptions=tuple(subs.get(k.id, ())),
        )
        for k in keys
    ]


def _calls_since(s: Session, subs: Sequence[Subscription]) -> dict[tuple[str, str], int]:
    """Billable calls per (key, service) since each subscription's UTC day (usage is kept per day)."""
    if not subs:
        return {}
    conds = [
        (Usage.key_id == sub.key_id) & (Usage.service == sub.service) & (Usage.day >= as_utc(sub.created_at).date())
        for sub in subs
    ]
    stmt = select(Usage.key_id, Usage.service, func.sum(Usage.calls)).where(or_(*conds))
    return {(k, svc): int(n or 0) for k, svc, n in s.execute(stmt.group_by(Usage.key_id, Usage.service))}


def _package(sub: Subscription, calls: int) -> SubscriptionInfo:
    package = sub.package_calls
    used = min(calls, package) if package is not None else 0
    return SubscriptionInfo(
        service=sub.service,
        created_at=as_utc(sub.created_at),
        package_calls=package,
        calls=calls,
        package_used=used,
        package_remaining=package - used if package is not None else None,
        pay_per_use_calls=calls - used,
    )


def subscription_usage(s: Session, key_id: str, service: str) -> SubscriptionInfo:
    """A subscription's package status; NotFound if the key is not subscribed to the service."""
    get_key(s, key_id)
    sub = s.get(Subscription, (key_id, check_service(service)))
    if sub is None:
        raise OcrgwError(ErrorCode.NOT_FOUND, f"The key is not subscribed to {service}.", param="service")
    return _package(sub, _calls_since(s, [sub]).get((key_id, service), 0))


def get_limit(s: Session, key_id: str, service: str) -> Limit:
    get_key(s, key_id)
    row = s.get(KeyLimit, (key_id, check_scope(service)))
    if row is None:
        raise OcrgwError(ErrorCode.NOT_FOUND, f"The key has no limits of its own for {service}.", param="service")
    return Limit.of(row)


def queue(s: Session) -> list[QueueRow]:
    """Jobs not yet ended per key (queued: waiting for a worker; running: being read), busiest first."""
    stmt = (
        select(Job.owner_key_id, ApiKey.name, Job.status, func.count())
        .outerjoin(ApiKey, ApiKey.id == Job.owner_key_id)
        .where(Job.status.in_(_LIVE))
        .group_by(Job.owner_key_id, ApiKey.name, Job.status)
    )
    acc: dict[str | None, list[Any]] = {}
    for key_id, name, status, n in s.execute(stmt):
        row = acc.setdefault(key_id, [name, 0, 0])
        row[1 if status == JobStatus.QUEUED.value else 2] += int(n)
    rows = [QueueRow(k, name, q, r) for k, (name, q, r) in acc.items()]
    return sorted(rows, key=lambda r: (-(r.queued + r.running), r.key_name or "", r.key_id or ""))


# ---------------------------------------------------------------------------------------------- validating
def check_service(service: str) -> str:
    if service not in SERVICES:
        raise _invalid(f"Unknown service {service!r}; the services are: {', '.join(SERVICES)}.", "service")
    return service


def check_scope(service: str) -> str:
    """A limit row's service: one of SERVICES, or ``*`` for all of the key's services together."""
    if service not in SCOPES:
        raise _invalid(
            f"Unknown service {service!r}; give one of {', '.join(SERVICES)}, or * for every service together.",
            "service",
        )
    return service


def check_limit(scope: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """A whole limit row's fields, checked; None is no limit."""
    unknown = set(values) - set(FIELDS)
    if unknown:
        raise _invalid(
            f"Unknown limit {sorted(unknown)[0]!r}; the limits are: {', '.join(FIELDS)}.", sorted(unknown)[0]
        )
    row = {**_DEFAULTS, **{f: None for f in FIELDS if f not in _DEFAULTS}, **values}
    for name, (low, high) in BOUNDS.items():
        value = row[name]
        if value is None:
            if name == "rate_seconds":
                raise _invalid("rate_seconds cannot be null (calls are counted per rate_seconds).", name)
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise _invalid(f"{name} must be a whole number, not {value!r}.", name)
        if not low <= value <= high:
            raise _invalid(f"{name} must be between {low} and {high}, not {value}.", name)
    if row["quota_period"] not in PERIODS:
        raise _invalid(f"quota_period must be day or month, not {row['quota_period']!r}.", "quota_period")
    if row["burst"] is not None and row["rate"] is None:
        raise _invalid("burst needs a rate (it is how many of the rate's calls may come at once).", "burst")
    share = row["backlog_share"]
    if share is not None:
        if isinstance(share, bool) or not isinstance(share, int | float) or not math.isfinite(share):
            raise _invalid(f"backlog_share must be a number, not {share!r}.", "backlog_share")
        if not 0 < share <= 1:
            raise _invalid(f"backlog_share must be more than 0 and at most 1, not {share}.", "backlog_share")
        if scope != EVERY_SERVICE:
            raise _invalid("backlog_share is key-wide: set it on the key's * row, not on one service.", "backlog_share")
        row["backlog_share"] = float(share)
    return row


def tier_of(name: str) -> Tier:
    tier = TIERS.get(name)
    if tier is None:
        raise _invalid(f"Unknown tier {name!r}; the tiers are: {', '.join(TIERS)}.", "tier")
    return tier


# ------------------------------------------------------------------------------------------------ writing
def create_key(
    s: Session, name: str, *, admin: bool = False, with_access_key: bool = False, tier: str | None = None
) -> tuple[ApiKey, str]:
    """A new key and its secret (shown once by the caller), with a tier applied if one is named."""
    check_name(name)
    profile = tier_of(tier) if tier is not None else None
    row, secret = new_key(name, admin=admin, with_access_key=with_access_key)
    s.add(row)
    s.flush()
    if profile is not None:
        apply_tier(s, row.id, profile.name)
    return row, secret


def update_key(
    s: Session,
    key_id: str,
    *,
    name: str | None = None,
    admin: bool | None = None,
    subscription_required: bool | None = None,
) -> ApiKey:
    key = get_key(s, key_id)
    if name is not None:
        key.name = check_name(name)
    if admin is not None:
        key.is_admin = admin
    if subscription_required is not None:
        key.subscription_required = subscription_required
    return key


def revoke_key(s: Session, key_id: str) -> ApiKey:
    """Revoke a key (idempotent: a revoked key keeps its first revocation time). Its jobs stay, and
    keep running; the key stops authenticating within ``auth.CACHE_SECONDS``."""
    key = get_key(s, key_id)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    return key


def set_limit(
    s: Session, key_id: str, service: str, values: Mapping[str, Any], *, replace: bool, tier: str | None = None
) -> Limit:
    """Write the key's limit row for ``service`` (or ``*``). ``replace``: ``values`` is the whole row
    (the API's PUT: a field left out is no limit, the row no longer a tier's copy); else they change
    only the fields given (the CLI), the rest and the tier it was copied from stay."""
    get_key(s, key_id)
    scope = check_scope(service)
    row = s.get(KeyLimit, (key_id, scope))
    base = {} if replace or row is None else {f: getattr(row, f) for f in FIELDS}
    checked = check_limit(scope, {**base, **values})
    if row is None:
        row = KeyLimit(key_id=key_id, service=scope)
        s.add(row)
    for name, value in checked.items():
        setattr(row, name, value)
    if replace or tier is not None:
        row.tier = tier
    s.flush()
    return Limit.of(row)


def clear_limit(s: Session, key_id: str, service: str) -> None:
    """Drop the key's row for ``service``: the service falls back to the key's ``*`` row, or none."""
    get_key(s, key_id)
    row = s.get(KeyLimit, (key_id, check_scope(service)))
    if row is None:
        raise OcrgwError(ErrorCode.NOT_FOUND, f"The key has no limits of its own for {service}.", param="service")
    s.delete(row)
    s.flush()


def apply_tier(s: Session, key_id: str, name: str) -> list[Limit]:
    """Copy a tier profile onto the key: a row per service of the tier (replacing the key's rows for
    those services, labelled with the tier), and, for a tier that says so, subscription required and
    the key subscribed to the tier's services (an existing subscription and its package stay)."""
    tier = tier_of(name)
    key = get_key(s, key_id)
    out = [set_limit(s, key_id, service, tier.limits, replace=True, tier=tier.name) for service in tier.services]
    if tier.subscription_required:
        key.subscription_required = True
    if tier.subscribe:
        for service in tier.services:
            if s.get(Subscription, (key_id, service)) is None:
                subscribe(s, key_id, service)
    return out


def subscribe(s: Session, key_id: str, service: str, package_calls: int | None = None) -> SubscriptionInfo:
    """Subscribe the key to a service, with a purchased package of calls if given. Subscribing again
    with another package starts that package now (its calls are counted from today); with the same one,
    nothing changes."""
    get_key(s, key_id)
    check_service(service)
    if package_calls is not None and (isinstance(package_calls, bool) or not 0 <= package_calls <= INT64):
        raise _invalid(f"package_calls must be a whole number from 0, not {package_calls!r}.", "package_calls")
    sub = s.get(Subscription, (key_id, service))
    if sub is None:
        sub = Subscription(key_id=key_id, service=service, created_at=utcnow(), package_calls=package_calls)
        s.add(sub)
    elif sub.package_calls != package_calls:
        sub.package_calls, sub.created_at = package_calls, utcnow()
    s.flush()
    return subscription_usage(s, key_id, service)


def unsubscribe(s: Session, key_id: str, service: str) -> None:
    get_key(s, key_id)
    sub = s.get(Subscription, (key_id, check_service(service)))
    if sub is None:
        raise OcrgwError(ErrorCode.NOT_FOUND, f"The key is not subscribed to {service}.", param="service")
    s.delete(sub)
    s.flush()
