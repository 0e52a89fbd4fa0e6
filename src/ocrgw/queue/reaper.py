"""The reaper: finds jobs a queue may have lost (queued too long, or running under an expired lease)
and enqueues them again. At start-up it also frees jobs whose lease belongs to a dead process on this
host, so an embedded server that was killed picks its work up at once instead of after the lease.
An id enqueued again is one more message: the worker handed it runs a lost run first, else the queued
job first in fair order (``jobs.fairness``), so an extra message costs at most a claim that finds none."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker

from ocrgw.clock import utcnow
from ocrgw.jobs import repository as repo
from ocrgw.jobs import service
from ocrgw.jobs.leases import owner_is_dead
from ocrgw.queue import JobQueue
from ocrgw.settings import Settings
from ocrgw.storage import BlobStore

log = logging.getLogger("ocrgw.reaper")


async def free_dead_leases(db: async_sessionmaker) -> int:
    freed = 0
    async with db.begin() as s:
        for job_id, owner in await repo.running_leases(s):
            if owner is not None and owner_is_dead(owner):
                freed += await repo.expire_lease(s, job_id, owner)
    return freed


async def sweep(db: async_sessionmaker, queue: JobQueue, settings: Settings, *, startup: bool) -> int:
    now = utcnow()
    # At start-up every queued job is ours to run; later only those the queue seems to have dropped.
    cutoff = now + timedelta(seconds=1) if startup else now - timedelta(seconds=settings.requeue_after_seconds)
    async with db() as s:
        ids = await repo.recoverable_ids(s, now, cutoff)
    ids = [i for i in ids if not queue.knows(i)]
    if ids and not startup:
        # Touch them first, so the next sweep (here or in another API process) waits another interval
        # instead of publishing the same ids again while a long backlog drains.
        async with db.begin() as s:
            await repo.touch_queued(s, ids, now)
    for job_id in ids:
        await queue.enqueue(job_id)
    count = len(ids)
    if count:
        log.info("re-enqueued %d job(s)%s", count, " left over from the last run" if startup else "")
    return count


async def run_forever(db: async_sessionmaker, queue: JobQueue, settings: Settings) -> None:
    while True:
        await asyncio.sleep(settings.reaper_interval_seconds)
        try:
            await sweep(db, queue, settings, startup=False)
        except Exception:  # a locked or unreachable database: try again next round
            log.exception("reaper sweep failed")


async def purge_forever(db: async_sessionmaker, store: BlobStore, settings: Settings) -> None:
    """Retention: finished jobs past their expiry go, with their results and documents."""
    while True:
        try:
            n = await service.purge_expired(db=db, store=store)
            if n:
                log.info("purged %d expired job(s)", n)
        except Exception:
            log.exception("purge failed")
        await asyncio.sleep(settings.purge_interval_seconds)
