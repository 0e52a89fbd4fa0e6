"""Group commit of new jobs on a real SQLite database: concurrent submits share transactions, every job is
committed before its id is queued, a row that fails (a duplicate idempotency key) fails alone, and a
submit cancelled before its row was taken leaves no job behind."""

from __future__ import annotations

import asyncio
import io
import secrets
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import event, func, select, text
from tests.conftest import _pg_admin, scaleout_available, unavailable
from tests.jobs.test_service import RecordingQueue

from ocrgw.clock import utcnow
from ocrgw.db import (
    make_async_engine,
    make_async_sessionmaker,
    statementwise,
    statementwise_sync,
    sync_sessionmaker,
)
from ocrgw.errors import OcrgwError
from ocrgw.formats import ENGINE_LIMITS
from ocrgw.intake.core import from_stream
from ocrgw.jobs import service
from ocrgw.jobs.inserts import Entry, Inserts
from ocrgw.jobs.models import Job
from ocrgw.jobs.schemas import JobSpec, StoredBlob
from ocrgw.migrate import upgrade
from ocrgw.settings import Settings
from ocrgw.storage.database import CHUNK, DatabaseBlobStore
from ocrgw.storage.local import LocalBlobStore
from ocrgw.storage.models import BlobChunk


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    s = Settings(data_dir=tmp_path)
    upgrade(s)
    return s


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    """A small body as a request's stream gives it (one chunk)."""
    yield data


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

        first, second, third = Entry(_row(1, now)), Entry(_row(2, now)), Entry(_row(3, now))
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


@PATHS
def test_database_store_bodies_go_in_with_their_jobs_rows(tmp_path: Path, path: str) -> None:
    """With the database blob store, a small body is written by its job's transaction: N concurrent submits
    share commits, every job's bytes are in before its id is queued, and a submit that fails (a page
    selection matching no page) or a body stored and dropped leaves no chunk behind."""
    settings = Settings(data_dir=tmp_path, blob_store="database")
    upgrade(settings)
    sync_db = sync_sessionmaker(settings)

    def chunks_of(key: str) -> bytes:
        with sync_db() as s:
            rows = s.execute(select(BlobChunk.data).where(BlobChunk.key == key).order_by(BlobChunk.seq))
            return b"".join(r[0] for r in rows)

    class CheckingQueue:
        def __init__(self) -> None:
            self.seen: list[tuple[str, bool]] = []

        async def enqueue(self, job_id: str) -> None:
            def look() -> bool:
                with sync_db() as s:  # another connection: only committed rows
                    job = s.get(Job, job_id)
                    return job is not None and chunks_of(job.blob_key) == bodies[job.blob_key]

            self.seen.append((job_id, await asyncio.to_thread(look)))

    bodies: dict[str, bytes] = {}

    async def scenario() -> None:
        engine = make_async_engine(settings)
        db = make_async_sessionmaker(engine)
        store = DatabaseBlobStore(settings, db)
        inserts = Inserts(db, settings if path == "thread" else None, store)
        assert store.defer
        commits: list[int] = []
        watched = inserts.rows.engine if inserts.rows is not None else engine.sync_engine
        event.listen(watched, "commit", lambda _conn: commits.append(1))
        queue = CheckingQueue()

        async def one(i: int) -> str:
            data = _png(40 + i)
            blob = await from_stream(_chunks(data), store=store, settings=settings, limits=ENGINE_LIMITS)
            bodies[blob.key] = data
            assert chunks_of(blob.key) == b""  # held for the job's transaction
            spec = JobSpec(pages=((5, 5),)) if i == 7 else JobSpec()  # a one-page image has no page 5
            view = await service.submit(
                db=db,
                queue=queue,  # type: ignore[arg-type]
                store=store,
                settings=settings,
                owner_key_id=None,
                dialect="t",
                spec=spec,
                blob=blob,
                retention=timedelta(hours=1),
                inserts=inserts,
            )
            return view.id

        results = await asyncio.gather(*(one(i) for i in range(20)), return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        assert len(failed) == 1 and isinstance(failed[0], OcrgwError), failed
        assert len(queue.seen) == 19 and all(ok for _, ok in queue.seen), queue.seen
        assert len(commits) <= 3, len(commits)  # 19 bodies and rows together (a commit each made 38)
        dropped = await from_stream(_chunks(_png(99)), store=store, settings=settings, limits=ENGINE_LIMITS)
        await store.delete(dropped.key)  # stored, then the request failed before its submit
        assert store.pending_rows(dropped.key) == []
        with sync_db() as s:
            keys = {k for (k,) in s.execute(select(BlobChunk.key).distinct())}
        assert keys == {k for k in bodies if chunks_of(k)} and len(keys) == 19  # the failed one's too is gone
        inserts.close()
        await engine.dispose()

    asyncio.run(scenario())


def _row(i: int, now: datetime) -> dict:
    """A new job's row, as ``service.submit`` makes it."""
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


def _png(width: int) -> bytes:
    buf = io.BytesIO()
    Image.new("L", (width, 30), 255).save(buf, "PNG")
    return buf.getvalue()


def test_database_store_materializes_bodies_of_one_and_several_chunks(tmp_path: Path) -> None:
    """A worker's copy of a stored body is the body, whatever its number of chunks (one statement for the
    first with the number of the last, then one a chunk); an unknown key gives an empty file."""
    settings = Settings(data_dir=tmp_path, blob_store="database")
    upgrade(settings)
    store = DatabaseBlobStore(settings)
    for size in (10, CHUNK, CHUNK + 1, 2 * CHUNK + 5):
        data = bytes(i % 251 for i in range(size))
        key = store.put_bytes(data)
        with store.materialize(key) as path:
            assert path.read_bytes() == data, size
        assert not path.exists()
    with store.materialize("no-such-key") as path:
        assert path.read_bytes() == b""


def test_a_synchronous_calls_row_commits_without_waiting_for_the_flush_and_an_error_answer_flushes(
    tmp_path: Path,
) -> None:
    """PostgreSQL: a batch of synchronous calls' rows (``durable=False``) commits with synchronous_commit off
    and is visible to other connections at once (the id can be queued); a batch with any other entry (an
    asynchronous call's row, a usage record) commits durably; ``flush`` commits a transaction with an id,
    which waits for the WAL."""
    if not scaleout_available():
        unavailable("needs PostgreSQL on 127.0.0.1:5432")
    name = f"ocrgw_inserts_{secrets.token_hex(4)}"
    _pg_admin(f"CREATE DATABASE {name}")
    settings = Settings(data_dir=tmp_path, database_url=f"postgresql://postgres@127.0.0.1:5432/{name}")
    upgrade(settings)

    async def scenario() -> list[list[str]]:
        engine = make_async_engine(settings)
        db = make_async_sessionmaker(engine)
        inserts = Inserts(db, None)
        txns: list[list[str]] = [[]]
        event.listen(engine.sync_engine, "before_cursor_execute", lambda *a: txns[-1].append(a[2].split()[0:3]))
        event.listen(engine.sync_engine, "commit", lambda _conn: txns.append([]))
        now = utcnow()
        await inserts.add(Entry(_row(1, now), durable=False))
        with sync_sessionmaker(settings)() as s:  # another connection sees it
            assert s.get(Job, _row(1, now)["id"]) is not None
        await inserts.add(Entry(_row(2, now)))
        await asyncio.gather(inserts.add(Entry(_row(3, now), durable=False)), inserts.bill([_bump()]))
        await inserts.flush()
        await engine.dispose()
        return [[" ".join(w) for w in t] for t in txns if t]

    try:
        txns = asyncio.run(scenario())
    finally:
        sync_sessionmaker(settings).kw["bind"].dispose()
        _pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    off = "SET LOCAL synchronous_commit"
    assert [off in t for t in txns] == [True, False, False, False], txns
    assert any("txid_current()" in w for w in txns[-1]), txns


def _bump():
    from ocrgw.jobs.usage import Bump

    return Bump(utcnow().date(), None, "t", calls=1)


def test_a_statementwise_session_runs_each_statement_on_its_own_and_leaves_the_pool_transactional(
    tmp_path: Path,
) -> None:
    """``db.statementwise`` (a job's read, a listing, a synchronous call's usage record) and its sync twin
    (a worker reading a body from the database store): on PostgreSQL each
    statement is a transaction of its own, so no BEGIN or ROLLBACK round trip (two ``now()`` differ), and
    the connection it used goes back to the pool transactional again (two ``now()`` in the next session
    agree). Its usage record commits at once. On SQLite it stays one transaction (one snapshot)."""
    if not scaleout_available():
        unavailable("needs PostgreSQL on 127.0.0.1:5432")
    name = f"ocrgw_statementwise_{secrets.token_hex(4)}"
    _pg_admin(f"CREATE DATABASE {name}")
    pg = Settings(data_dir=tmp_path, database_url=f"postgresql://postgres@127.0.0.1:5432/{name}")
    sqlite = Settings(data_dir=tmp_path / "lite")
    upgrade(pg)
    upgrade(sqlite)
    now = text("SELECT now()")

    async def two_nows(session) -> tuple:
        first = (await session.execute(now)).scalar_one()
        await asyncio.sleep(0.01)
        return first, (await session.execute(now)).scalar_one()

    def sync_two_nows(session) -> tuple:
        first = session.execute(now).scalar_one()
        time.sleep(0.01)
        return first, session.execute(now).scalar_one()

    async def scenario() -> None:
        engine = make_async_engine(pg)
        db = make_async_sessionmaker(engine)
        engine.pool.dispose()
        async with statementwise(db) as s:
            a, b = await two_nows(s)
            assert a != b, "one transaction: BEGIN and ROLLBACK round trips"
        assert engine.pool.checkedin() == 1  # the same connection, next
        async with db() as s:
            a, b = await two_nows(s)
            assert a == b, "autocommit leaked into the pool"
        inserts = Inserts(db, None)
        await inserts.bill([_bump()])
        with sync_sessionmaker(pg)() as s:
            assert s.execute(text("SELECT sum(calls) FROM usage")).scalar_one() == 1
        await engine.dispose()
        maker = sync_sessionmaker(pg)  # the worker's side (the database store's reads)
        with statementwise_sync(maker) as s:
            a, b = sync_two_nows(s)
            assert a != b, "one transaction: BEGIN and ROLLBACK round trips"
        with maker() as s:
            a, b = sync_two_nows(s)
            assert a == b, "autocommit leaked into the pool"
        lite = make_async_sessionmaker(make_async_engine(sqlite))
        async with statementwise(lite) as s:
            await s.execute(text("SELECT 1"))
            assert s.in_transaction()

    try:
        asyncio.run(scenario())
    finally:
        sync_sessionmaker(pg).kw["bind"].dispose()
        _pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
