"""Group commit of new jobs on a real SQLite database: concurrent submits share transactions, every job is
committed before its id is queued, a row that fails (a duplicate idempotency key) fails alone, and a
submit cancelled before its row was taken leaves no job behind."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, func, select
from tests.jobs.test_service import RecordingQueue

from ocrgw.clock import utcnow
from ocrgw.db import make_async_engine, make_async_sessionmaker, sync_sessionmaker
from ocrgw.jobs import service
from ocrgw.jobs.inserts import Entry, Inserts
from ocrgw.jobs.models import Job
from ocrgw.jobs.schemas import JobSpec, StoredBlob
from ocrgw.migrate import upgrade
from ocrgw.settings import Settings
from ocrgw.storage.local import LocalBlobStore


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    s = Settings(data_dir=tmp_path)
    upgrade(s)
    return s


def _jobs(settings: Settings) -> int:
    with sync_sessionmaker(settings)() as s:
        return s.execute(select(func.count()).select_from(Job)).scalar_one()


# The API process writes new rows to SQLite from a thread of its own ("thread"); the session path ("session")
# is PostgreSQL's, run here on SQLite so that both paths of the group commit are tested on a real database.
PATHS = pytest.mark.parametrize("path", ["thread", "session"])


@PATHS
def test_concurrent_submits_share_commits_and_each_is_committed_before_it_is_queued(
    settings: Settings, path: str
) -> None:
    async def scenario() -> None:
        engine = make_async_engine(settings)
        db = make_async_sessionmaker(engine)
        queue = RecordingQueue(settings)
        store = LocalBlobStore(settings.blob_dir)
        inserts = Inserts(db, settings if path == "thread" else None)
        assert (inserts.rows is not None) == (path == "thread")
        commits: list[int] = []
        watched = inserts.rows.engine if inserts.rows is not None else engine.sync_engine
        event.listen(watched, "commit", lambda _conn: commits.append(1))

        async def one(i: int) -> str:
            key = store.put_bytes(b"document %d" % i)
            blob = StoredBlob(key=key, size=11, media_type="image/png", width=100, height=100, frames=1)
            digest = "same" if i in (3, 4) else None  # a client's retry racing its first attempt
            view = await service.submit(
                db=db,
                queue=queue,
                store=store,
                settings=settings,
                owner_key_id=None,
                dialect="t",
                spec=JobSpec(),
                blob=blob,
                retention=timedelta(hours=1),
                idempotency_key=digest,
                inserts=inserts,
            )
            return view.id

        ids = await asyncio.gather(*(one(i) for i in range(30)))
        assert ids[3] == ids[4]  # the retry got the first attempt's job
        assert len(set(ids)) == 29 == _jobs(settings)
        assert sorted(queue.seen) == sorted((i, "queued") for i in set(ids))  # committed before queued
        assert len(commits) <= 3, len(commits)  # the 28 plain rows in one (a commit per submit made 29)
        inserts.close()
        await engine.dispose()

    asyncio.run(scenario())


@PATHS
def test_a_submit_cancelled_before_its_row_is_taken_leaves_no_job(settings: Settings, path: str) -> None:
    async def scenario() -> None:
        engine = make_async_engine(settings)
        db = make_async_sessionmaker(engine)
        inserts = Inserts(db, settings if path == "thread" else None)
        now = utcnow()

        def row(i: int) -> dict:
            return {
                "id": f"00000000-0000-0000-0000-{i:012d}",
                "owner_key_id": None,
                "dialect": "t",
                "status": "queued",
                "spec": {},
                "blob_key": "k",
                "media_type": "image/png",
                "size_bytes": 1,
                "created_at": now,
                "updated_at": now,
                "attempts": 0,
                "max_attempts": 3,
                "pages_total": 1,
                "pages_done": 0,
                "expires_at": now,
                "idempotency_key": None,
                "callback_url": None,
                "callback_base": None,
                "callback_state": None,
                "callback_attempts": 0,
                "callback_next_at": None,
                "request_id": None,
            }

        first, second, third = Entry(row(1)), Entry(row(2)), Entry(row(3))
        a = asyncio.create_task(inserts.add(first))
        await asyncio.sleep(0)  # the writer takes the first row into a transaction
        b = asyncio.create_task(inserts.add(second))
        c = asyncio.create_task(inserts.add(third))
        await asyncio.sleep(0)
        b.cancel()  # waiting for the next transaction: withdrawn
        await asyncio.gather(a, c)
        with pytest.raises(asyncio.CancelledError):
            await b
        assert first.committed and third.committed and not second.committed
        assert _jobs(settings) == 2
        inserts.close()
        await engine.dispose()

    asyncio.run(scenario())
