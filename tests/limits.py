"""What the key-limit tests (tests/test_limits_*.py) share: a fresh key per test on a running server, its
limits and subscriptions written straight into the server's own database (SQLAlchemy on the deployment's
SQLite or PostgreSQL, the rows an operator's `ocrgw keys limit` writes), slow documents that keep a job
alive while others are submitted, and the refusal counter read from /metrics."""

from __future__ import annotations

import hashlib
import io
import itertools
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import sqlalchemy as sa
from PIL import Image

from ocrgw.tenancy.models import KeyLimit, Subscription
from ocrgw.tenancy.policy import CACHE_SECONDS
from ocrgw.tenancy.tiers import TIERS
from tests.conftest import Server, slow_page_image
from tests.test_documents import text_page

_NAMES = itertools.count()


def engine(srv: Server) -> sa.Engine:
    return sa.create_engine(
        srv.database_url.replace("postgresql://", "postgresql+psycopg://"), poolclass=sa.pool.NullPool
    )


def new_key(srv: Server, *, aksk: bool = False) -> tuple[str, str, tuple[str, str] | None]:
    """(secret, key id, (AK, SK) or None) of a new key, made with the real CLI. A key's policy is cached by
    the API for ``CACHE_SECONDS`` after its first call, so limits are written before that."""
    name = f"limits-{uuid.uuid4().hex[:8]}-{next(_NAMES)}"
    out = srv.cli("keys", "create", "--name", name, "-q", *(["--aksk"] if aksk else [])).split()
    secret = out[0]
    digest = hashlib.sha256(secret.encode()).hexdigest()
    (key_id,) = srv.query("SELECT id FROM api_keys WHERE key_hash = :h", h=digest)[0]
    return secret, key_id, (out[1], out[2]) if aksk else None


def set_limits(srv: Server, key_id: str, service: str, **columns: Any) -> None:
    """The key's ``key_limits`` row for ``service`` (or ``*``), replaced whole."""
    table = KeyLimit.__table__
    with engine(srv).begin() as conn:
        conn.execute(sa.delete(table).where(table.c.key_id == key_id, table.c.service == service))
        conn.execute(sa.insert(table).values(key_id=key_id, service=service, **columns))


def apply_tier(srv: Server, key_id: str, tier: str) -> None:
    """A tier profile copied onto the key as `ocrgw keys limit --tier` does: a row per service."""
    profile = TIERS[tier]
    for service in profile.services:
        set_limits(srv, key_id, service, tier=tier, **profile.limits)


def require_subscriptions(srv: Server, key_id: str, *services: str) -> None:
    """The key may call only ``services`` from now on (Huawei's subscriptions)."""
    with engine(srv).begin() as conn:
        conn.execute(sa.text("UPDATE api_keys SET subscription_required = :t WHERE id = :k"), {"t": True, "k": key_id})
        for service in services:
            row = {"key_id": key_id, "service": service, "created_at": datetime.now(UTC)}
            conn.execute(sa.insert(Subscription.__table__).values(**row))


def policy_refreshed() -> float:
    """Seconds after which every API process reads a changed policy again."""
    return CACHE_SECONDS + 0.5


def png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def small_page(words: str = "Limits are per key") -> bytes:
    """A one-line page read in a fraction of a second."""
    return png(text_page([words], size=(1100, 400)))


def slow_tiff(frames: int) -> bytes:
    """A TIFF of ``frames`` copies of the slow page (a second or two each): a job that stays alive for
    several seconds, so a concurrency limit's jobs are all still running while the others are submitted."""
    page = slow_page_image().convert("L")
    buf = io.BytesIO()
    page.save(buf, "TIFF", save_all=True, append_images=[page] * (frames - 1), compression="tiff_lzw", dpi=(300, 300))
    return buf.getvalue()


def refusals(srv: Server, key_id: str) -> dict[tuple[str, str], float]:
    """(service, reason) -> ocrgw_refusals_total of the key, summed over the deployment's API processes."""
    urls = getattr(srv, "urls", [srv.url])
    found: dict[tuple[str, str], float] = {}
    pattern = re.compile(
        r'^ocrgw_refusals_total\{(?=[^}]*key_id="' + re.escape(key_id) + r'")([^}]*)\} ([0-9.e+]+)$', re.M
    )
    for url in urls:
        for labels, value in pattern.findall(httpx.get(url + "/metrics", timeout=30).text):
            named = dict(re.findall(r'(\w+)="([^"]*)"', labels))
            key = (named["service"], named["reason"])
            found[key] = found.get(key, 0.0) + float(value)
    return found


def retry_after(r: httpx.Response) -> int:
    """The response's Retry-After, which must be a whole number of seconds (the DI SDK parses it as int)."""
    value = r.headers["Retry-After"]
    assert re.fullmatch(r"[1-9][0-9]*", value), value
    return int(value)
