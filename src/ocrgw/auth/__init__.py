"""API keys: generated secrets stored only as SHA-256 hashes, looked up per request with a short cache.
Each dialect says which header carries the key; this module only answers "which key is this"."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
import time
from collections import OrderedDict
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import async_sessionmaker

from ocrgw import ids
from ocrgw.auth import repository as repo
from ocrgw.auth.models import ApiKey
from ocrgw.clock import utcnow
from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.settings import Settings

CACHE_SECONDS = 5.0  # a revoked key stops working within this long
# Entries kept, least recently used dropped first: keys and AKs a caller makes up (every unknown one is
# cached too, as a miss) must not grow the API process, nor evict every good key at once.
CACHE_ENTRIES = 10_000


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_key(name: str, *, admin: bool = False, with_access_key: bool = False) -> tuple[ApiKey, str]:
    """A fresh key row and its secret (32 hex characters, like the vendors' keys); the secret is shown once.
    ``with_access_key`` also gives it a Huawei-style AK (20 upper-case letters and digits, as Huawei's);
    its SK comes from ``derive_sk``."""
    secret = secrets.token_hex(16)
    access_key = None
    if with_access_key:
        alphabet = string.ascii_uppercase + string.digits
        access_key = "".join(secrets.choice(alphabet) for _ in range(20))
    row = ApiKey(
        id=ids.new_id(),
        name=name,
        key_hash=hash_key(secret),
        prefix=secret[:8],
        created_at=utcnow(),
        is_admin=admin,
        access_key=access_key,
    )
    return row, secret


def derive_sk(server_secret: bytes, access_key: str) -> str:
    """The SK of an AK: 40 hex characters of HMAC-SHA256(server secret, AK). Deriving instead of storing
    means the database never holds an SK (verification needs the SK itself, so it could not be hashed)."""
    return hmac.new(server_secret, b"ocrgw-sk:" + access_key.encode("utf-8"), hashlib.sha256).hexdigest()[:40]


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str | None  # None when auth is off: every job is visible to every caller
    is_admin: bool = False


ANONYMOUS = Principal(None, is_admin=True)  # auth off: no one to refuse


class KeyResolver:
    def __init__(self, settings: Settings, db: async_sessionmaker) -> None:
        self.settings = settings
        self.db = db
        self._cache: OrderedDict[str, tuple[float, Principal | None]] = OrderedDict()

    def _cached(self, key: str, now: float) -> tuple[float, Principal | None] | None:
        hit = self._cache.get(key)
        if hit is None or hit[0] < now:
            return None
        self._cache.move_to_end(key)
        return hit

    def _remember(self, key: str, hit: tuple[float, Principal | None]) -> None:
        self._cache[key] = hit
        self._cache.move_to_end(key)
        while len(self._cache) > CACHE_ENTRIES:
            self._cache.popitem(last=False)

    async def resolve(self, secret: str | None) -> Principal:
        if self.settings.auth == "off":
            return ANONYMOUS
        if not secret:
            raise OcrgwError(ErrorCode.MISSING_KEY, "No API key was sent with the request.")
        digest = hash_key(secret.strip())
        now = time.monotonic()
        hit = self._cached(digest, now)
        if hit is None:
            async with self.db() as s:
                row = await repo.find_key(s, digest)
            hit = (now + CACHE_SECONDS, Principal(row.id, row.is_admin) if row else None)
            self._remember(digest, hit)
        if hit[1] is None:
            raise OcrgwError(ErrorCode.INVALID_KEY, "The API key is not valid or has been revoked.")
        return hit[1]

    async def resolve_access_key(self, access_key: str) -> tuple[Principal, str] | None:
        """The principal behind a Huawei-style AK and the SK to verify its signature with; None if the AK
        is unknown or revoked. Unlike ``resolve`` this ignores ``auth=off``: a signature is either valid
        or not, and the caller decides what an unsigned request gets."""
        now = time.monotonic()
        cache_key = "ak:" + hash_key(access_key)  # a fixed size whatever the AK header held
        hit = self._cached(cache_key, now)
        if hit is None:
            async with self.db() as s:
                row = await repo.find_access_key(s, access_key)
            hit = (now + CACHE_SECONDS, Principal(row.id, row.is_admin) if row else None)
            self._remember(cache_key, hit)
        if hit[1] is None:
            return None
        return hit[1], derive_sk(self.settings.resolved_secret_key, access_key)

    def forget(self, key_hash: str, access_key: str | None = None) -> None:
        """This process changed the key (the admin API revoked it, or made it admin or not): look it up
        afresh at its next request. Other processes see the change within ``CACHE_SECONDS``."""
        self._cache.pop(key_hash, None)
        if access_key:
            self._cache.pop("ak:" + hash_key(access_key), None)

    async def create(self, name: str, *, admin: bool = False) -> tuple[ApiKey, str]:
        """Issue a key through an API (admin callers only; the dialect checks that)."""
        row, secret = new_key(name, admin=admin)
        async with self.db.begin() as s:
            await repo.add_key_async(s, row)
        return row, secret
