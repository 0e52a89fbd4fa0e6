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
submit is refused if it is stale or holds jobs created here since its count (which workers may have taken
already), so a drained backlog takes work again at once; while the backlog stays full, refusals cost a
COUNT only as often as jobs are still admitted, or once a second."""

from __future__ import annotations

import asyncio
import logging
import time

from sqlalchemy.ext.asyncio import async_sessionmaker

from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.jobs import repository as repo

log = logging.getLogger("ocrgw.backlog")
RECOUNT_SECONDS = 1.0  # how old the count may get before a submit asks for a new one


class Backlog:
    def __init__(self, db: async_sessionmaker, bound: int, retry_after: int) -> None:
        self.db = db
        self.bound = bound  # 0: no bound, and nothing is ever counted
        self.retry_after = retry_after
        self._counted = 0  # queued jobs at the last count
        self._created = 0  # jobs this process created since that count began
        self._pending = 0  # submits admitted here and not yet settled
        self._counted_at = float("-inf")  # time.monotonic() when the last count began (never: stale)
        self._counting: asyncio.Task[None] | None = None

    @property
    def figure(self) -> int:
        return self._counted + self._created + self._pending

    async def admit(self) -> None:
        """Refuse (BacklogFull, with a Retry-After) while the backlog is at its bound; else hold a place
        for one submit until ``settle``."""
        await self.check()
        self._pending += 1

    def settle(self, *, created: bool) -> None:
        """An admitted submit ended: its job was created (committed), or it failed and its place is free."""
        self._pending -= 1
        if created:
            self.created()

    def created(self) -> None:
        """A job was committed (admitted here, or part of a batch that checked the bound once)."""
        self._created += 1

    async def check(self) -> None:
        """Refuse while the backlog is at its bound, holding nothing (a batch checks once for its items)."""
        if not self.bound:
            return
        stale = time.monotonic() - self._counted_at >= RECOUNT_SECONDS
        never = self._counted_at == float("-inf")
        if never or (self.figure >= self.bound and (stale or self._created)):
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
        created_before = self._created
        async with self.db() as s:
            waiting = await repo.count_queued(s)
        # Jobs created while the COUNT ran may be in it and are kept in _created too: the figure may
        # run ahead by those until the next count, never behind.
        self._counted = waiting
        self._created -= created_before
        self._counted_at = started
