"""Database engines and sessions: async for the API process, sync for worker processes and the CLI.
SQLite gets WAL and a busy timeout so one API process and N worker processes can share the file."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, Result, create_engine, event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from ocrgw.settings import Settings


class Base(DeclarativeBase):
    """The one metadata of every table (jobs, keys, blob chunks): Alembic compares against it."""


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


_worker_commits = False  # this process is a worker (``worker_commits``)


def worker_commits(settings: Settings) -> None:
    """Called by a worker process before its first session: unless ``worker_synchronous_commit``, its
    PostgreSQL commits (claim, lease, pages, end) return before the WAL reaches the disk
    (``synchronous_commit=off``), as every SQLite commit does in WAL mode with ``synchronous=NORMAL``. A
    database crash can then lose the last fraction of a second of worker commits, which the lease and
    redelivery redo (rule 2: every job may run twice); a job's insert, in the API, stays durable, and any
    later durable commit flushes the earlier ones with it. A commit waiting for the flush took 7.6 ms
    (median; 17 ms p90) on the development machine's disk against 0.5 ms without, and a small image's
    synchronous request has three worker commits on its path."""
    global _worker_commits
    _worker_commits = not settings.worker_synchronous_commit


def make_sync_engine(settings: Settings) -> Engine:
    url = settings.sync_database_url
    if settings.is_sqlite:
        # Pooled: a new connection per transaction (NullPool, as before) opened the file and ran the four
        # pragmas each time, 8.5 ms a transaction against 0.25 ms on a kept one (a worker has several per
        # job: claim, each page, the end). Workers are spawned, never forked, so no connection is shared; past
        # four at once (the API's blob-store threads) a connection is made and closed, as before.
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, pool_size=4, max_overflow=-1, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    args = {"options": "-c synchronous_commit=off"} if _worker_commits else {}
    return create_engine(url, pool_pre_ping=True, pool_size=2, max_overflow=4, connect_args=args)


def make_sqlite_writer(settings: Settings) -> Engine:
    """A SQLite engine with one pooled connection, for a single thread that writes through it
    (``jobs.inserts.SqliteRows``): connected once with its pragmas, not per transaction."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(settings.sync_database_url, pool_size=1, max_overflow=0, connect_args={"timeout": 30})
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def make_async_engine(settings: Settings) -> AsyncEngine:
    url = settings.async_database_url
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def make_async_sessionmaker(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)


@contextlib.asynccontextmanager
async def statementwise(db: async_sessionmaker) -> AsyncIterator[AsyncSession]:
    """A session whose statements each run and commit on their own on PostgreSQL (autocommit), for reads
    (a job and its result, a listing) and single-statement writes. psycopg sends the BEGIN before a
    transaction's first statement and the ROLLBACK or COMMIT that ends it as round trips of their own:
    two of the six of a job's read (0.7 ms of 3.5 on a quiet machine). Nothing is given up: at
    PostgreSQL's READ COMMITTED every statement took its own snapshot anyway, and a lone statement commits
    as durably. SQLite keeps its transaction: its BEGIN costs no round trip, and its snapshot keeps a job
    and its pages consistent."""
    async with db() as s:
        if s.bind.dialect.name == "postgresql":
            await s.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        yield s


@contextlib.contextmanager
def statementwise_sync(maker: sessionmaker) -> Iterator[Session]:
    """``statementwise`` for a worker's sync sessions: reading a job's body from the database store."""
    with maker() as s:
        if s.get_bind().dialect.name == "postgresql":
            s.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        yield s


_SYNC_MAKERS: dict[str, sessionmaker] = {}


def sync_sessionmaker(settings: Settings) -> sessionmaker:
    """One sync sessionmaker per database per process (workers, CLI): engines are built once, not per job."""
    url = settings.sync_database_url
    maker = _SYNC_MAKERS.get(url)
    if maker is None:
        maker = _SYNC_MAKERS[url] = sessionmaker(make_sync_engine(settings), expire_on_commit=False)
    return maker


def changed(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE changed: conditional updates (claims, leases) are decided by this count."""
    return cast("CursorResult[Any]", result).rowcount
