"""Group commit of new jobs (``jobs.service.submit`` hands its row here): the rows of the submits that
arrive while a commit is under way go into the database together in the next transaction, one statement
and one commit for all of them, and each submit returns once the transaction holding its row committed.
So a job still exists in the database before its id is queued and before its 202 is sent, but under load
N submits cost one transaction instead of N. With one transaction per submit, 32 concurrent submits kept
up to 15 pooled SQLite connections fighting for the write lock (SQLite's busy handler sleeps up to 100 ms
between tries), which was most of a submit's time; PostgreSQL pays a WAL flush per commit instead.

Nothing waits for a batch to fill: an idle server commits a lone row at once. A row with an idempotency
key commits alone (a duplicate key is an expected failure); a batch that fails anyway (a lost connection)
is retried a row per transaction, so each submit gets its own row's outcome. A submit cancelled while
its row waits takes it back; once its row is in a transaction, it waits for the outcome, so the caller
knows whether the job exists before it cleans up.

On SQLite a batch is written by one thread holding one plain sqlite3 connection (``SqliteRows``): the async
driver (aiosqlite) hops to its thread and back for every statement of a transaction (begin, insert, commit,
cursor close), and those hops were the API process's largest cost after the HTTP stack itself.
PostgreSQL's driver is natively async and keeps the session path.

On PostgreSQL, a batch that holds only synchronous calls' rows (``Entry.durable`` false) commits without
waiting for the WAL flush (``synchronous_commit=off``): the row is visible to the workers at once, so the
id is still queued after the commit, but the flush (3.7 ms median on the development machine's disk, the
largest single cost of a small image's synchronous call) happens later, before the call's answer: a 2xx
answer first commits its usage record durably, which flushes the WAL up to there, the job's row with it,
and any other answer first calls ``flush``. So no answer ever tells of a job a database crash could still
lose; a crash before it loses the row and its queued id finds no job (a worker skips it). An
asynchronous call's row, answered 202 right after the commit, commits durably as before.

Each batch's rows get their fair-queueing tags (``jobs.fairness``) in its transaction, in the order the
submits came, just before the insert.

With the database blob store, a small body's chunks go into the same transaction as its job's row
(``storage.database``: ``put`` holds them until then), so concurrent submits also share that write.
Usage counters (``jobs.usage``) ride along the same way: an asynchronous API's billable call goes into
its job's own transaction, and a synchronous API's (``bill``: an entry with counters and no row) into the
next batch, so metering costs no transaction of its own."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Engine, insert, text
from sqlalchemy.ext.asyncio import async_sessionmaker

from ocrgw.db import make_sqlite_writer, statementwise
from ocrgw.jobs import fairness, usage
from ocrgw.jobs import repository as repo
from ocrgw.jobs.models import Job
from ocrgw.settings import Settings
from ocrgw.storage.models import BlobChunk

log = logging.getLogger("ocrgw.inserts")
MAX_BATCH = 500  # rows per transaction
Row = dict[str, Any]


@dataclass(eq=False)
class Entry:
    """One row on its way in, with the usage it bills (or only usage, with no row): ``committed`` once the
    transaction holding it has."""

    row: dict[str, Any] | None
    bumps: list[usage.Bump] = field(default_factory=list)
    done: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    taken: bool = False  # in a transaction now: no longer withdrawn on cancellation
    durable: bool = True  # False: a synchronous call's row, whose answer flushes the WAL itself (see above)

    @property
    def committed(self) -> bool:
        return self.done.done() and not self.done.cancelled() and self.done.exception() is None


class HeldBlobs(Protocol):
    """A blob store that holds small bodies for their job's transaction (``storage.database``)."""

    defer: bool

    def pending_rows(self, key: str) -> list[dict]: ...

    def written(self, key: str) -> None: ...


class SqliteRows:
    """New job rows written to SQLite by one thread of its own over one connection: a batch costs one hop."""

    def __init__(self, settings: Settings) -> None:
        self.engine: Engine = make_sqlite_writer(settings)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="ocrgw-inserts")

    async def insert(
        self, rows: list[dict[str, Any]], chunks: list[dict[str, Any]], bumps: Sequence[usage.Bump] = ()
    ) -> None:
        await asyncio.get_running_loop().run_in_executor(self._thread, self._insert, rows, chunks, bumps)

    def _insert(
        self, rows: list[dict[str, Any]], chunks: list[dict[str, Any]], bumps: Sequence[usage.Bump] = ()
    ) -> None:
        with self.engine.begin() as conn:
            fairness.tag_rows_sync(conn, rows)  # a read before the first write: pysqlite begins at the write
            if chunks:
                conn.execute(insert(BlobChunk), chunks)
            if rows:
                conn.execute(insert(Job), rows)
            usage.bump_sync(conn, bumps)

    def close(self) -> None:
        self._thread.submit(self.engine.dispose)  # its connection belongs to that thread
        self._thread.shutdown(wait=True)


class Inserts:
    def __init__(self, db: async_sessionmaker, settings: Settings | None = None, store: object = None) -> None:
        self.db = db
        self.rows = SqliteRows(settings) if settings is not None and settings.is_sqlite else None
        self.blobs: HeldBlobs | None = None
        if hasattr(store, "pending_rows"):  # the database blob store: its small bodies come in with their rows
            held: HeldBlobs = store  # type: ignore[assignment]
            held.defer = True
            self.blobs = held
        self._waiting: list[Entry] = []
        self._writer: asyncio.Task[None] | None = None

    def close(self) -> None:
        """Release the SQLite writer's connection and thread (the app's lifespan, at shutdown)."""
        if self.rows is not None:
            self.rows.close()

    async def flush(self) -> None:
        """Make every commit so far durable (PostgreSQL: a transaction given an id commits with
        ``synchronous_commit`` on, which waits for the WAL up to its commit record), for a synchronous call
        answered without a usage record (an error) after its row committed without the flush. SQLite's
        commits are as durable as they will be already."""
        if self.rows is None:
            async with self.db.begin() as s:
                await s.execute(text("SELECT txid_current()"))

    async def bill(self, bumps: list[usage.Bump]) -> None:
        """Add usage counters in the next batch's transaction; returns once committed, or raises its error."""
        await self.add(Entry(None, bumps))

    async def add(self, entry: Entry) -> None:
        """Insert ``entry.row`` into the jobs table and its ``bumps`` into usage; returns once they are
        committed, or raises their error."""
        self._waiting.append(entry)
        if self._writer is None:
            self._writer = asyncio.create_task(self._write())
        try:
            await asyncio.shield(entry.done)
        except asyncio.CancelledError:
            if not entry.taken:
                self._waiting.remove(entry)
                entry.done.cancel()
            else:  # its transaction decides whether the job exists; the caller cleans up by that
                await asyncio.wait([entry.done])
            raise

    async def _write(self) -> None:
        batch: list[Entry] = []
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
                for e in batch:
                    e.taken = True
                # A row with an idempotency key may collide with another submit's, and a failed batch
                # is retried row by row: such rows (few) commit alone so they never break a batch.
                plain = [e for e in batch if not _keyed(e)]
                if plain:
                    await self._commit(plain)
                for e in batch:
                    if _keyed(e):
                        await self._commit([e])
        finally:
            self._writer = None
            # Only when this task itself was cancelled (the process is stopping): a row whose commit
            # was cut short is in doubt; the reaper queues it at the next start if it made it in.
            for e in batch + self._waiting:
                if not e.done.done():
                    e.done.cancel()

    async def _commit(self, batch: list[Entry]) -> None:
        rows = [e.row for e in batch if e.row is not None]
        bumps = [b for e in batch for b in e.bumps]
        blobs = self.blobs
        chunks = [c for r in rows for c in blobs.pending_rows(r["blob_key"])] if blobs is not None else []
        try:
            if self.rows is not None:
                await self.rows.insert(rows, chunks, bumps)
            elif not rows and not chunks:  # counters alone (synchronous calls' answers): one statement
                async with statementwise(self.db) as s:
                    await usage.bump(s, bumps)
            else:
                async with self.db.begin() as s:
                    if not any(e.durable for e in batch):
                        await s.execute(text("SET LOCAL synchronous_commit TO OFF"))
                    if chunks:
                        await (await s.connection()).execute(insert(BlobChunk), chunks)
                    if rows:
                        await repo.insert_jobs(s, rows)
                    await usage.bump(s, bumps)
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0], exc)
                return
            log.debug("a batch of %d new jobs failed (%r); inserting them one by one", len(batch), exc)
            for e in batch:
                await self._commit([e])
            return
        for e in batch:
            if blobs is not None and e.row is not None:
                blobs.written(e.row["blob_key"])
            _settle(e, None)


def _keyed(entry: Entry) -> bool:
    return entry.row is not None and bool(entry.row.get("idempotency_key"))


def _settle(entry: Entry, exc: BaseException | None) -> None:
    with contextlib.suppress(asyncio.InvalidStateError):
        if exc is None:
            entry.done.set_result(None)
        else:
            entry.done.set_exception(exc)
