"""The job service on a real SQLite database: submit commits before it enqueues, get hides other
owners' jobs, and wait is bounded."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from ocrgw.db import make_async_engine, make_async_sessionmaker, sync_sessionmaker
from ocrgw.errors import OcrgwError
from ocrgw.jobs import repository as repo
from ocrgw.jobs import service
from ocrgw.jobs.models import Job
from ocrgw.jobs.schemas import JobSpec, StoredBlob
from ocrgw.jobs.states import JobStatus
from ocrgw.migrate import upgrade
from ocrgw.settings import Settings
from ocrgw.storage.local import LocalBlobStore


class RecordingQueue:
    """A queue that checks, at enqueue time, that the job row is already committed and visible."""

    def __init__(self, settings: Settings) -> None:
        self.sync_db = sync_sessionmaker(settings)
        self.seen: list[tuple[str, str | None]] = []

    async def enqueue(self, job_id: str) -> None:
        def look() -> str | None:
            with self.sync_db() as s:  # another connection: sees only committed rows
                job = s.get(Job, job_id)
                return job.status if job else None

        self.seen.append((job_id, await asyncio.to_thread(look)))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    s = Settings(data_dir=tmp_path)
    upgrade(s)
    return s


BLOB = StoredBlob(key="k", size=10, media_type="image/png", width=100, height=100, frames=3)


def test_submit_commits_before_enqueue_and_owner_isolation(settings: Settings) -> None:
    async def scenario() -> None:
        engine = make_async_engine(settings)
        db = make_async_sessionmaker(engine)
        queue = RecordingQueue(settings)
        store = LocalBlobStore(settings.blob_dir)
        view = await service.submit(
            db=db,
            queue=queue,
            store=store,
            settings=settings,
            owner_key_id=None,
            dialect="t",
            spec=JobSpec(pages=((2, None),)),
            blob=BLOB,
            retention=timedelta(hours=1),
        )
        assert queue.seen == [(view.id, "queued")]
        assert view.pages_total == 2  # pages 2-3 of 3
        got = await service.get(db=db, job_id=view.id, owner_key_id=None)
        assert got.status is JobStatus.QUEUED
        # A submit that fails deletes the stored document: nothing is left behind for the purge to miss.
        stored = store.put_bytes(b"document bytes")
        with pytest.raises(OcrgwError):
            await service.submit(
                db=db,
                queue=queue,
                store=store,
                settings=settings,
                owner_key_id=None,
                dialect="t",
                spec=JobSpec(pages=((5, None),)),
                retention=timedelta(hours=1),
                blob=StoredBlob(key=stored, size=14, media_type="image/png", width=100, height=100, frames=3),
            )
        assert not store.local_path(stored).exists()
        with pytest.raises(OcrgwError):
            await service.get(db=db, job_id="not-a-uuid", owner_key_id=None)
        await engine.dispose()

    asyncio.run(scenario())


def test_wait_is_bounded_and_sees_completion(settings: Settings) -> None:
    async def scenario() -> None:
        engine = make_async_engine(settings)
        db = make_async_sessionmaker(engine)
        queue = RecordingQueue(settings)
        store = LocalBlobStore(settings.blob_dir)
        view = await service.submit(
            db=db,
            queue=queue,
            store=store,
            settings=settings,
            owner_key_id=None,
            dialect="t",
            spec=JobSpec(),
            blob=BLOB,
            retention=timedelta(hours=1),
        )
        t0 = time.monotonic()
        still = await service.wait(db=db, job_id=view.id, owner_key_id=None, timeout=0.3)
        assert still.status is JobStatus.QUEUED and 0.25 <= time.monotonic() - t0 < 2

        def finish_later() -> None:
            time.sleep(0.2)
            with queue.sync_db.begin() as s:
                repo.claim(s, view.id, "w", lease=60)
            with queue.sync_db.begin() as s:
                repo.finish(s, view.id, "w", JobStatus.SUCCEEDED)

        threading.Thread(target=finish_later).start()
        done = await service.wait(db=db, job_id=view.id, owner_key_id=None, timeout=10)
        assert done.status is JobStatus.SUCCEEDED and done.pages == []
        await engine.dispose()

    asyncio.run(scenario())
