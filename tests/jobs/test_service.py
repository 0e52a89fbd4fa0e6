"""The job service on a real SQLite database: submit commits before it enqueues, get hides other
owners' jobs, wait is bounded, and deleting or purging a job takes every blob it holds."""

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


def test_delete_and_the_purge_take_the_figure_crops(settings: Settings) -> None:
    """A job's blobs are its document, its artifact and its figure crops (analysis["figures"]): DELETE and
    the retention purge remove every one."""

    async def scenario() -> None:
        engine = make_async_engine(settings)
        db = make_async_sessionmaker(engine)
        queue = RecordingQueue(settings)
        store = LocalBlobStore(settings.blob_dir)
        for purge in (False, True):
            document = store.put_bytes(b"document")
            view = await service.submit(
                db=db,
                queue=queue,
                store=store,
                settings=settings,
                owner_key_id=None,
                dialect="t",
                spec=JobSpec(outputs=("layout", "figures")),
                blob=StoredBlob(key=document, size=8, media_type="image/png", width=100, height=100, frames=1),
                retention=timedelta(seconds=-1) if purge else timedelta(hours=1),
            )
            keys = [document, store.put_bytes(b"pdf"), store.put_bytes(b"png 1"), store.put_bytes(b"png 2")]
            with queue.sync_db.begin() as s:
                assert repo.claim(s, view.id, "w", lease=60) is not None
            with queue.sync_db.begin() as s:
                assert repo.set_artifact(s, view.id, "w", keys[1])
                assert repo.set_analysis(s, view.id, "w", "figures", {"1.1": keys[2], "1.2": keys[3]})
                assert repo.finish(s, view.id, "w", JobStatus.SUCCEEDED)
            assert all(store.local_path(k).exists() for k in keys)
            if purge:
                assert await service.purge_expired(db=db, store=store) == 1
            else:
                await service.delete(db=db, store=store, job_id=view.id, owner_key_id=None)
            assert not any(store.local_path(k).exists() for k in keys)
        await engine.dispose()

    asyncio.run(scenario())
