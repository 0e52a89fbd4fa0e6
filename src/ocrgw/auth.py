"""API keys: generated secrets stored only as SHA-256 hashes, looked up per request with a short cache.
Each dialect says which header carries the key; this module only answers "which key is this"."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import async_sessionmaker

from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.jobs import repository as repo
from ocrgw.jobs.models import ApiKey
from ocrgw.settings import Settings

CACHE_SECONDS = 5.0  # a revoked key stops working within this long


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_key(name: str) -> tuple[ApiKey, str]:
    """A fresh key row and its secret (32 hex characters, like the vendors' keys); the secret is shown once."""
    secret = secrets.token_hex(16)
    row = ApiKey(
        id=str(uuid.uuid4()), name=name, key_hash=hash_key(secret), prefix=secret[:8], created_at=repo.utcnow()
    )
    return row, secret


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str | None  # None when auth is off: every job is visible to every caller


ANONYMOUS = Principal(None)


class KeyResolver:
    def __init__(self, settings: Settings, db: async_sessionmaker) -> None:
        self.settings = settings
        self.db = db
        self._cache: dict[str, tuple[float, str | None]] = {}

    async def resolve(self, secret: str | None) -> Principal:
        if self.settings.auth == "off":
            return ANONYMOUS
        if not secret:
            raise OcrgwError(ErrorCode.MISSING_KEY, "No API key was sent with the request.")
        digest = hash_key(secret.strip())
        now = time.monotonic()
        hit = self._cache.get(digest)
        if hit is None or hit[0] < now:
            async with self.db() as s:
                row = await repo.find_key(s, digest)
            hit = (now + CACHE_SECONDS, row.id if row else None)
            if len(self._cache) > 10000:
                self._cache.clear()
            self._cache[digest] = hit
        if hit[1] is None:
            raise OcrgwError(ErrorCode.INVALID_KEY, "The API key is not valid or has been revoked.")
        return Principal(hit[1])
