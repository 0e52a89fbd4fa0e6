"""Time as the whole project keeps it: aware UTC datetimes. A leaf module anyone may import (dialects
stamp responses with it, the repository and the reaper compare leases and expiries with it)."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(dt: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
