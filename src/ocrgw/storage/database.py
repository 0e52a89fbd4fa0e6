"""Database-backed blob store for scale-out: documents live in the database in 1 MiB chunks, so API
hosts and worker hosts need no shared disk. The API spools a body to a local temp file while it streams
in (intake inspects it there), then copies it into the database chunk by chunk; a worker copies it back
out to a temp file for the duration of one job. Memory stays at one chunk either way.

A small body (``put``) in the API process is not written on its own: it waits in memory until its job's
row is inserted, and the group commit of new jobs (``jobs.inserts``) writes its chunks and the row in the
same transaction. On PostgreSQL a transaction per body cost a WAL flush per submit; now concurrent
submits share one. Its job still cannot exist without its bytes, nor be queued before both are in."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import anyio
from sqlalchemy import and_, delete, func, insert, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from ocrgw import ids
from ocrgw.db import statementwise_sync, sync_sessionmaker
from ocrgw.settings import Settings
from ocrgw.storage.local import SpoolWriter
from ocrgw.storage.models import BlobChunk

CHUNK = 1024 * 1024
T = TypeVar("T")
# A body held for a job that never came (a request that failed between storing and submitting without the
# cleanup it should have run) is dropped after this many seconds, so a bug cannot grow the process.
PENDING_SECONDS = 600.0


def chunk_rows(key: str, data: bytes) -> list[dict]:
    """The ``blob_chunks`` rows of a body, in order."""
    starts = range(0, len(data), CHUNK)
    return [{"key": key, "seq": seq, "data": data[at : at + CHUNK]} for seq, at in enumerate(starts)]


class _DatabaseWriter(SpoolWriter):
    def __init__(self, tmp_dir: Path, db: async_sessionmaker) -> None:
        super().__init__(tmp_dir)
        self._db = db

    async def commit(self) -> str:
        await self.close()
        try:
            async with self._db.begin() as s, await anyio.open_file(self.path, "rb") as fh:
                seq = 0
                while chunk := await fh.read(CHUNK):
                    await s.execute(insert(BlobChunk).values(key=self.key, seq=seq, data=chunk))
                    seq += 1
        finally:
            await anyio.to_thread.run_sync(lambda: self.path.unlink(missing_ok=True))
        return self.key


def _chunk(key: str, seq: int):
    return and_(BlobChunk.key == key, BlobChunk.seq == seq)


class DatabaseBlobStore:
    def __init__(self, settings: Settings, db: async_sessionmaker | None = None) -> None:
        self.settings = settings
        self._db = db  # the API process's async sessions; workers use sync ones
        self._tmp = settings.data_dir / "tmp"
        self._tmp.mkdir(parents=True, exist_ok=True)
        self.defer = False  # set by the API process's group commit, which then writes small bodies
        self._pending: dict[str, tuple[bytes, float]] = {}  # key -> (body, since): put, not yet written

    async def writer(self) -> _DatabaseWriter:
        assert self._db is not None, "writing needs the API process's database sessions"
        w = _DatabaseWriter(self._tmp, self._db)
        await w.open()
        return w

    async def put(self, data: bytes, check: Callable[[], T]) -> tuple[str, T]:
        """A small body checked (in a thread), then straight into the database, without the temp file a
        streamed one goes through."""
        assert self._db is not None, "writing needs the API process's database sessions"
        checked = await asyncio.get_running_loop().run_in_executor(None, check)
        key = ids.new_hex()
        if self.defer:
            self._forget_stale()
            self._pending[key] = (data, time.monotonic())
            return key, checked
        async with self._db.begin() as s:
            await s.execute(insert(BlobChunk), chunk_rows(key, data))
        return key, checked

    def pending_rows(self, key: str) -> list[dict]:
        """The chunk rows of a body ``put`` holds for its job's transaction; none once written or if unknown."""
        held = self._pending.get(key)
        return [] if held is None else chunk_rows(key, held[0])

    def written(self, key: str) -> None:
        """The transaction holding the body's chunks committed: no longer held."""
        self._pending.pop(key, None)

    def _forget_stale(self) -> None:
        if len(self._pending) < 256:
            return
        too_old = time.monotonic() - PENDING_SECONDS
        for key in [k for k, (_, since) in self._pending.items() if since < too_old]:
            del self._pending[key]

    @contextlib.contextmanager
    def materialize(self, key: str) -> Iterator[Path]:
        """Copy the blob to a temp file for one job; the file is removed afterwards. A chunk a statement
        (by primary key), the first with the number of the last: one round trip for a small body, where
        a streamed result (a server-side cursor on PostgreSQL: declare, fetches, close) took several on a
        synchronous request's path. Memory stays at one chunk."""
        maker = sync_sessionmaker(self.settings)
        with tempfile.NamedTemporaryFile(dir=self._tmp, prefix="job-", delete=False) as fh:
            path = Path(fh.name)
            with statementwise_sync(maker) as s:  # chunks are never changed: no transaction's round trips
                last = select(func.max(BlobChunk.seq)).where(BlobChunk.key == key).scalar_subquery()
                first = s.execute(select(BlobChunk.data, last).where(_chunk(key, 0))).first()
                if first is not None:
                    fh.write(first[0])
                    for seq in range(1, first[1] + 1):
                        fh.write(s.execute(select(BlobChunk.data).where(_chunk(key, seq))).scalar_one())
        try:
            yield path
        finally:
            path.unlink(missing_ok=True)

    async def read(self, key: str) -> AsyncIterator[bytes]:
        """Raises FileNotFoundError before the first chunk when the blob is gone."""
        assert self._db is not None
        if (held := self._pending.get(key)) is not None:
            yield held[0]
            return
        seq = 0
        while True:
            async with self._db() as s:
                data = (
                    await s.execute(select(BlobChunk.data).where(BlobChunk.key == key, BlobChunk.seq == seq))
                ).scalar_one_or_none()
            if data is None:
                if seq == 0:
                    raise FileNotFoundError(key)
                return
            yield data
            seq += 1

    def put_bytes(self, data: bytes) -> str:
        key = ids.new_hex()
        with sync_sessionmaker(self.settings).begin() as s:
            s.execute(insert(BlobChunk), chunk_rows(key, data))
        return key

    async def delete(self, key: str) -> None:
        assert self._db is not None
        if self._pending.pop(key, None) is not None:
            return
        async with self._db.begin() as s:
            await s.execute(delete(BlobChunk).where(BlobChunk.key == key))
