"""The backlog bound's figure (``jobs.service.accept`` asks it before a body is read): how many jobs wait,
counted in SQL at most about once a second and kept current in between by this process's own submits, so
a submit costs no COUNT, however long the queue. Counting the queued rows on every submit made its cost
grow with the backlog, and under load the count, not the upload, was what a submit waited for.

The figure is the last count, plus the jobs this process created since, plus the submits under way here
(admitted, not yet committed), so that concurrent submits cannot all slip in under the bound together.
It can only run ahead of the truth between counts (a job a worker took stays in it until the next count),
never behind, except for the jobs other API processes (scale-out) create between two counts: there the
bound can be passed by what the others accept in about a second. A stale figure that says "room" lets the
submit through and counts again in the background. A figure that says "full" is counted again before the
submit is refused if it is stale, holds jobs created here since its count (which workers may have taken
already), or a job has ended since (``jobs.endings``: the API process hears of every job's end, embedded
from its dispatcher, scale-out over Redis), so a drained backlog takes work again at once; while the
backlog stays full, refusals cost a COUNT only as often as jobs are still admitted or end, or once a
second. (Before the endings were heard here, a submit that came less than a second after a count, once the
counted jobs had ended, was refused on the old figure: a 429 with nothing waiting.)

Each key may hold at most a share of the bound (``backlog_key_share``), so one key's burst cannot lock
the others out: the same figure is kept per key (one grouped COUNT gives both), and a key over its share
is refused while others are still admitted. Keyless jobs (auth off: one tenant) only meet the bound.
Within one API process both figures are exact under concurrency (a submit holds its place from the
check on, with no await in between); across API processes each can be passed by what the others accept
between two counts (about a second), as before."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter

from sqlalchemy.ext.asyncio import async_sessionmaker

from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.jobs import repository as repo
from ocrgw.jobs.endings import Endings

log = logging.getLogger("ocrgw.backlog")
RECOUNT_SECONDS = 1.0  # how old the count may get before a submit asks for a new one
UNKNOWN = "\0unknown"  # a submit whose key is not known yet (it is in the body): only the bound applies


class Backlog:
    def __init__(
        self,
        db: async_sessionmaker,
        bound: int,
        retry_after: int,
        share: float = 1.0,
        endings: Endings | None = None,
    ) -> None:
        self.db = db
        self.endings = endings  # job ends heard since the last count make a "full" figure worth recounting
        self._heard = -1  # endings.heard when the last count began
        self.bound = bound  # 0: no bound, and nothing is ever counted
        self.retry_after = retry_after
        # A key's most waiting jobs (0: no per-key bound, a share of 1 included).
        self.key_bound = max(1, math.floor(bound * share)) if bound and share < 1 else 0
        self._counted = 0  # queued jobs at the last count
        self._created = 0  # jobs this process created since that count began
        self._pending = 0  # submits admitted here and not yet settled
        self._key_counted: dict[str | None, int] = {}  # the same three, per key
        self._key_created: Counter[str | None] = Counter()
        self._key_pending: Counter[str | None] = Counter()
        self._key_bounds: dict[str, int] = {}  # keys with a share of their own (``share``)
        self._counted_at = float("-inf")  # time.monotonic() when the last count began (never: stale)
        self._counting: asyncio.Task[None] | None = None

    @property
    def figure(self) -> int:
        return self._counted + self._created + self._pending

    def _behind(self) -> bool:
        """The last count may hold jobs that have ended since (a refusal then counts again first)."""
        return self.endings is not None and self.endings.heard != self._heard

    def key_figure(self, key: str | None) -> int:
        return self._key_counted.get(key, 0) + self._key_created[key] + self._key_pending[key]

    def share(self, key: str | None, share: float | None) -> None:
        """The key's own share of the bound (an operator's ``backlog_share``, ``tenancy``), or None for the
        deployment's; told before each of the key's submits, from the cached policy."""
        if key is None or key == UNKNOWN:
            return
        if share is None:
            self._key_bounds.pop(key, None)
        elif self.bound:
            self._key_bounds[key] = max(1, math.floor(self.bound * share))

    def key_bound_of(self, key: str | None) -> int:
        return self._key_bounds.get(key, self.key_bound) if key is not None else self.key_bound

    def _keyed(self, key: str | None) -> bool:
        return key is not None and key != UNKNOWN and bool(self.key_bound_of(key))

    async def admit(self, key: str | None = UNKNOWN) -> None:
        """Refuse (BacklogFull, with a Retry-After) while the backlog is at its bound, or ``key`` at its
        share; else hold a place for one submit until ``settle``. A key known only later is held by
        ``admit_key``."""
        keyed = self._keyed(key)
        while True:
            await self.check()
            if not keyed:
                break
            await self._check_key(key)
            if self.figure < self.bound:  # else the key's recount let others fill the bound: check again
                break
        if keyed:
            self._key_pending[key] += 1
        self._pending += 1

    async def check_key(self, key: str | None) -> None:
        """Refuse while the bound is full or ``key`` holds its share, holding nothing (a batch's check)."""
        await self.check()
        if self._keyed(key):
            await self._check_key(key)

    async def admit_key(self, key: str | None) -> None:
        """Hold a place for ``key`` (refused at its share) for a submit admitted before its key was known."""
        if self._keyed(key):
            await self._check_key(key)
            self._key_pending[key] += 1

    def settle(self, *, created: bool, key: str | None = UNKNOWN) -> None:
        """An admitted submit ended: its job was created (committed), or it failed and its place is free.
        ``key`` as held (``admit`` or ``admit_key``), else UNKNOWN."""
        self._pending -= 1
        if key is not None and self._key_pending[key] > 0:  # held when admitted, whatever the share is now
            self._key_pending[key] -= 1
        if created:
            self.created(key)

    def created(self, key: str | None = UNKNOWN) -> None:
        """A job was committed (admitted here, or part of a batch that checked the bound once)."""
        self._created += 1
        if self._keyed(key):
            self._key_created[key] += 1

    async def _check_key(self, key: str | None) -> None:
        """As ``check``, against the key's share (the global count is fresh: ``check`` just ran)."""
        stale = time.monotonic() - self._counted_at >= RECOUNT_SECONDS
        bound = self.key_bound_of(key)
        if self.key_figure(key) >= bound and (stale or self._key_created[key] or self._behind()):
            await asyncio.shield(self._start_count())  # jobs it made may have been taken since
        if (n := self.key_figure(key)) >= bound:
            raise OcrgwError(
                ErrorCode.BACKLOG_FULL,
                f"This key has {n} documents waiting, its share of the backlog ({bound}); retry after a few seconds.",
                retry_after=self.retry_after,
            )

    async def check(self) -> None:
        """Refuse while the backlog is at its bound, holding nothing (a batch checks once for its items)."""
        if not self.bound:
            return
        stale = time.monotonic() - self._counted_at >= RECOUNT_SECONDS
        never = self._counted_at == float("-inf")
        if never or (self.figure >= self.bound and (stale or self._created or self._behind())):
            # The first submit, or about to refuse on a figure that may be behind the workers: count
            # first (every submit waiting meanwhile shares the one count).
            await asyncio.shield(self._start_count())
        elif stale:
            self._start_count()
        if self.figure >= self.bound:
            raise OcrgwError(
                ErrorCode.BACKLOG_FULL,
                f"Too many documents are waiting ({self.figure}); retry after a few seconds.",
                retry_after=self.retry_after,
            )

    def _start_count(self) -> asyncio.Task[None]:
        """One COUNT at a time: a submit that needs one while one runs waits for that one."""
        if self._counting is None:
            self._counting = asyncio.create_task(self._count())
            self._counting.add_done_callback(self._count_done)
        return self._counting

    def _count_done(self, task: asyncio.Task[None]) -> None:
        if self._counting is task:
            self._counting = None
        if not task.cancelled() and (exc := task.exception()) is not None:  # the next submit asks again
            log.warning("could not count the backlog: %r", exc)

    async def _count(self) -> None:
        started = time.monotonic()
        heard = self.endings.heard if self.endings is not None else -1
        created_before, key_created_before = self._created, self._key_created.copy()
        async with self.db() as s:
            if self.key_bound or self._key_bounds:
                by_key = await repo.count_queued_by_key(s)
                waiting = sum(by_key.values())
            else:
                by_key, waiting = {}, await repo.count_queued(s)
        # Jobs created while the COUNT ran may be in it and are kept in _created too: the figure may
        # run ahead by those until the next count, never behind.
        self._counted = waiting
        self._created -= created_before
        self._key_counted = by_key
        self._key_created -= key_created_before  # Counter subtraction keeps only what is left (> 0)
        self._counted_at = started
        self._heard = heard
