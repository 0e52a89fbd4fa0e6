"""The ``ocrgw`` command line's tenancy arguments (``keys show|limit|subscribe|unsubscribe``, ``tiers``):
the parsers and the value types they read (``20/minute``, ``500/month``, ``none``). Light on purpose: the
parser is built at every ``ocrgw`` start, and the commands themselves (``tenancy.commands``, which loads the
database modules) only when one runs."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from typing import Any

from ocrgw.tenancy.tiers import MB, TIERS

UNSET = "none"  # `--rate none`: take that limit off the row
_UNITS = {"s": 1, "sec": 1, "second": 1, "min": 60, "minute": 60, "h": 3600, "hour": 3600, "day": 86400}
_RATE = re.compile(r"^(\d+)/(\d*)\s*([a-z]*)$")


# ------------------------------------------------------------------------------------------ argument types
class _Clear:
    """An option given as `none`: take that limit off the row (None is 'not given')."""


CLEAR = _Clear()


def _none_or(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    def inner(text: str) -> Any:
        return CLEAR if text.strip().lower() == UNSET else parse(text.strip())

    inner.__name__ = parse.__name__
    return inner


def _rate(text: str) -> tuple[int, int]:
    """`N/SECONDS`, or N per a unit: `20/60`, `20/minute`, `10/s`, `500/day`."""
    m = _RATE.match(text.lower())
    if m and (m.group(2) or m.group(3)) and (not m.group(3) or m.group(3) in _UNITS):
        seconds = int(m.group(2) or 1) * _UNITS.get(m.group(3), 1)
        return int(m.group(1)), seconds
    raise argparse.ArgumentTypeError(f"{text!r} is not a rate: give N/SECONDS, e.g. 20/60, or 20/minute, 10/s")


def _pages(text: str) -> tuple[int, str]:
    """`N/day` or `N/month` (N alone: a month)."""
    count, _, period = text.lower().partition("/")
    if count.isdigit() and period in ("", "day", "month"):
        return int(count), period or "month"
    raise argparse.ArgumentTypeError(f"{text!r} is not a quota: give N/day or N/month")


def _count(text: str) -> int:
    if text.isdigit():
        return int(text)
    raise argparse.ArgumentTypeError(f"{text!r} is not a whole number from 0")


def _megabytes(text: str) -> int:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if 0 <= value < 2**43:
        return round(value * MB)
    raise argparse.ArgumentTypeError(f"{text!r} is not a size in MB (e.g. 4 or 0.5)")


def _share(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a fraction (e.g. 0.25)") from None


def add_parsers(keys: Any, top: Any) -> None:
    """``keys`` subcommands (list's options, show, limit, subscribe, unsubscribe) and ``tiers``."""
    ks = keys.add_parser("show", help="one key: its limits, tier, subscriptions and their packages")
    ks.add_argument("key", help="its id (or the start of it), name, prefix or AK")
    ks.add_argument("--format", choices=["table", "json"], default="table")
    n = " ('none' takes it off)"
    kl = keys.add_parser("limit", help="set a key's limits for a service or all its services (*), or apply a tier")
    kl.add_argument("key", help="its id (or the start of it), name, prefix or AK")
    kl.add_argument("--service", default="*", help="the service limited (default *: every service together)")
    kl.add_argument("--rate", type=_none_or(_rate), help="calls per time: N/SECONDS, 20/minute, 10/s" + n)
    kl.add_argument("--burst", type=_none_or(_count), help="of the rate's calls, how many at once" + n)
    kl.add_argument("--concurrent", type=_none_or(_count), help="jobs not yet ended at once" + n)
    kl.add_argument("--pages", type=_none_or(_pages), help="page quota: N/day or N/month" + n)
    kl.add_argument("--max-pages", type=_none_or(_count), help="read only a document's first N pages" + n)
    kl.add_argument("--max-file-mb", type=_none_or(_megabytes), help="refuse larger files (MB)" + n)
    kl.add_argument("--backlog-share", type=_none_or(_share), help="share (0-1] of the backlog bound, * only" + n)
    kl.add_argument("--tier", choices=list(TIERS), help="copy a tier profile onto the key (see `tiers`)")
    kl.add_argument("--clear", action="store_true", help="drop the key's row for --service")
    kl.add_argument("--subscription-required", choices=["yes", "no"], help="may call only subscribed services")
    kl.add_argument("--format", choices=["table", "json"], default="table")
    su = keys.add_parser("subscribe", help="subscribe a key to a service, with a purchased package of calls")
    su.add_argument("key")
    su.add_argument("service", help="e.g. huawei-general-text, azure-read, native")
    su.add_argument("--package", type=_count, help="calls purchased, used before pay-per-use")
    su.add_argument("--format", choices=["table", "json"], default="table")
    un = keys.add_parser("unsubscribe", help="end a key's subscription to a service")
    un.add_argument("key")
    un.add_argument("service")
    tp = top.add_parser("tiers", help="the tier profiles `keys limit --tier` copies (vendors' free and standard tiers)")
    tp.add_argument("--format", choices=["table", "json"], default="table")
