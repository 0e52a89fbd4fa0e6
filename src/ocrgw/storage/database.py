"""Database-backed blob store for scale-out: documents live in the database in 1 MiB chunks, so API
hosts and worker hosts need no shared disk. The API spools a body to a local temp file while it streams
in (intake inspects it there), then copies it into the database chunk by chunk; a worker copies it back
out to a temp file for the duration of one job. Memory stays at one chunk either way."""

from __future__ import annotations

import contextlib
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import anyio
from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from ocrgw.db import sync_sessionmaker
from ocrgw.settings import Settings
from ocrgw.storage.local import SpoolWriter
from ocrgw.storage.models import BlobChunk

CHUNK = 1024 * 1024
T = TypeVar("T")


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


class DatabaseBlobStore:
    def __init__(self, settings: Settings, db: async_sessionmaker | None = None) -> None:
        self.settings = settings
        self._db = db  # the API process's async sessions; workers use sync ones
        self._tmp = settings.data_dir / "tmp"
        self._tmp.mkdir(parents=True, exist_ok=True)

    async def writer(self) -> _DatabaseWriter:
        assert self._db is not None, "writing needs the API process's database sessions"
        w = _DatabaseWriter(self._tmp, self._db)
        await w.open()
        return w

    async def put(self, data: bytes, check: Callable[[], T]) -> tuple[str, T]:
        """A small body checked (in a thread), then straight into the database, without the temp file a
        streamed one goes through."""
        assert self._db is not None, "writing needs the API process's database sessions"
        checked = await anyio.to_thread.run_sync(check)
        key = uuid.uuid4().hex
        async with self._db.begin() as s:
            for seq, start in enumerate(range(0, len(data), CHUNK)):
                await s.execute(insert(BlobChunk).values(key=key, seq=seq, data=data[start : start + CHUNK]))
        return key, checked

    @contextlib.contextmanager
    def materialize(self, key: str) -> Iterator[Path]:
        """Copy the blob to a temp file for one job; the file is removed afterwards."""
        maker = sync_sessionmaker(self.settings)
        with tempfile.NamedTemporaryFile(dir=self._tmp, prefix="job-", delete=False) as fh:
            path = Path(fh.name)
            with maker() as s:
                rows = s.execute(
                    select(BlobChunk.data)
                    .where(BlobChunk.key == key)
                    .order_by(BlobChunk.seq)
                    .execution_options(yield_per=1)
                )
                for (data,) in rows:
                    fh.write(data)
        try:
            yield path
        finally:
            path.unlink(missing_ok=True)

    async def read(self, key: str) -> AsyncIterator[bytes]:
        """Raises FileNotFoundError before the first chunk when the blob is gone."""
        assert self._db is not None
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
        key = uuid.uuid4().hex
        with sync_sessionmaker(self.settings).begin() as s:
            for seq, start in enumerate(range(0, len(data), CHUNK)):
                s.execute(insert(BlobChunk).values(key=key, seq=seq, data=data[start : start + CHUNK]))
        return key

    async def delete(self, key: str) -> None:
        assert self._db is not None
        async with self._db.begin() as s:
            await s.execute(delete(BlobChunk).where(BlobChunk.key == key))
