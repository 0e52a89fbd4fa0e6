"""A key's policy as the API process reads it (``tenancy.gate`` asks per submit): its limits per service,
whether it must be subscribed and to what. Read from the database once per key and kept ``CACHE_SECONDS``
(an operator's change takes effect within that, on every API process), least recently used dropped past
``CACHE_ENTRIES``, as the key cache does (``ocrgw.auth``). A key with no limit rows costs the submit no
query but this cached one."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ocrgw.auth.models import ApiKey
from ocrgw.errors import ErrorCode, Limited, OcrgwError
from ocrgw.tenancy.models import EVERY_SERVICE, KeyLimit, Subscription

CACHE_SECONDS = 5.0
CACHE_ENTRIES = 10_000
PERIODS = ("day", "month")


@dataclass(frozen=True, slots=True)
class Limit:
    """One ``key_limits`` row: ``scope`` is its service, or ``*`` for every service of the key together."""

    scope: str
    tier: str | None = None
    rate: int | None = None
    rate_seconds: int = 1
    burst: int | None = None
    concurrent_jobs: int | None = None
    pages_quota: int | None = None
    quota_period: str = "month"
    max_document_pages: int | None = None
    max_file_bytes: int | None = None
    backlog_share: float | None = None

    @classmethod
    def of(cls, row: KeyLimit) -> Limit:
        return cls(
            scope=row.service,
            tier=row.tier,
            rate=row.rate,
            rate_seconds=row.rate_seconds,
            burst=row.burst,
            concurrent_jobs=row.concurrent_jobs,
            pages_quota=row.pages_quota,
            quota_period=row.quota_period,
            max_document_pages=row.max_document_pages,
            max_file_bytes=row.max_file_bytes,
            backlog_share=row.backlog_share,
        )

    @property
    def admits(self) -> bool:
        """Whether a submit must go through the shared state (a rate bucket or an admission)."""
        return bool(self.rate or self.counted)

    @property
    def counted(self) -> bool:
        """Whether the key's live jobs must be counted: a concurrency limit or a page quota."""
        return self.concurrent_jobs is not None or self.pages_quota is not None

    def limited(self, service: str, count: int, *, seconds: int | None = None, period: str | None = None) -> Limited:
        return Limited(service, count, seconds=seconds, period=period, tier=self.tier)


@dataclass(frozen=True, slots=True)
class Policy:
    subscription_required: bool = False
    subscribed: frozenset[str] = frozenset()
    limits: Mapping[str, Limit] = field(default_factory=dict)

    @property
    def backlog_share(self) -> float | None:
        """The key's share of the backlog bound: a key-wide figure, so its ``*`` row's."""
        every = self.limits.get(EVERY_SERVICE)
        return every.backlog_share if every is not None else None

    def limit_for(self, service: str) -> Limit | None:
        """The service's own row, else the key's ``*`` row, else none."""
        return self.limits.get(service) or self.limits.get(EVERY_SERVICE)

    def check_subscribed(self, service: str) -> None:
        if self.subscription_required and service not in self.subscribed:
            raise OcrgwError(
                ErrorCode.NOT_SUBSCRIBED,
                f"The key is not subscribed to the {service} service.",
                limit=Limited(service, 0),
            )


OPEN = Policy()  # no limits, every service


async def load(session: AsyncSession, key_id: str) -> Policy:
    required = await session.scalar(select(ApiKey.subscription_required).where(ApiKey.id == key_id))
    rows = (await session.scalars(select(KeyLimit).where(KeyLimit.key_id == key_id))).all()
    subs = (await session.scalars(select(Subscription.service).where(Subscription.key_id == key_id))).all()
    if not required and not rows:
        return OPEN
    return Policy(bool(required), frozenset(subs), {r.service: Limit.of(r) for r in rows})


class Policies:
    """The cache of policies by key id."""

    def __init__(self, db: async_sessionmaker) -> None:
        self.db = db
        self._cache: OrderedDict[str, tuple[float, Policy]] = OrderedDict()

    async def get(self, key_id: str | None) -> Policy:
        if key_id is None:
            return OPEN  # auth off: one tenant
        now = time.monotonic()
        hit = self._cache.get(key_id)
        if hit is not None and hit[0] >= now:
            self._cache.move_to_end(key_id)
            return hit[1]
        async with self.db() as s:
            policy = await load(s, key_id)
        self._cache[key_id] = (now + CACHE_SECONDS, policy)
        self._cache.move_to_end(key_id)
        while len(self._cache) > CACHE_ENTRIES:
            self._cache.popitem(last=False)
        return policy

    def forget(self, key_id: str) -> None:
        """This process changed the key's policy (the admin API): read it again at the next submit."""
        self._cache.pop(key_id, None)
