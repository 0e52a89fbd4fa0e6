"""Local-disk blob store: the embedded default. API and workers share the data dir's `blobs/`."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import anyio

from ocrgw import ids

T = TypeVar("T")


class SpoolWriter:
    """Writes a body into a temp file as it streams in, so intake can inspect it before it is kept;
    subclasses decide what "keep" means (a rename here, a copy into the database elsewhere)."""

    def __init__(self, tmp_dir: Path) -> None:
        self.key = ids.new_hex()
        self._tmp = tmp_dir / (self.key + ".part")
        self._fh: anyio.AsyncFile | None = None

    @property
    def path(self) -> Path:
        return self._tmp

    async def open(self) -> None:
        self._fh = await anyio.open_file(self._tmp, "wb")

    async def write(self, chunk: bytes) -> None:
        assert self._fh is not None
        await self._fh.write(chunk)

    async def close(self) -> None:
        """Flush and close the temp file, so it can be inspected before it is committed."""
        if self._fh is not None:
            await self._fh.aclose()
            self._fh = None

    async def abort(self) -> None:
        await self.close()
        await anyio.to_thread.run_sync(lambda: self._tmp.unlink(missing_ok=True))


class _LocalWriter(SpoolWriter):
    def __init__(self, store: LocalBlobStore) -> None:
        super().__init__(store.root / "tmp")
        self._store = store

    async def commit(self) -> str:
        """Rename into place: readers never see half a blob."""
        await self.close()
        await anyio.to_thread.run_sync(self._store.keep, self._tmp, self.key)
        return self.key


class LocalBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "tmp").mkdir(parents=True, exist_ok=True)
        self._dirs: set[str] = set()  # the key-prefix folders known to exist: no mkdir per blob

    async def writer(self) -> _LocalWriter:
        w = _LocalWriter(self)
        await w.open()
        return w

    async def put(self, data: bytes, check: Callable[[], T]) -> tuple[str, T]:
        """A small body checked and stored in one thread hop (check, write, rename), where streaming it
        cost a hop per chunk and per step."""

        def check_and_put() -> tuple[str, T]:
            checked = check()
            return self.put_bytes(data), checked

        # The loop's own executor, not anyio's: its capacity limiter and cancel scope cost as much CPU as
        # the write itself (the submit profile); a cancelled request leaves at worst an orphan file, as before.
        return await asyncio.get_running_loop().run_in_executor(None, check_and_put)

    def keep(self, tmp: Path, key: str) -> None:
        """Move a finished temp file to its key's place (blocking)."""
        if key[:2] not in self._dirs:
            (self.root / key[:2]).mkdir(0o755, parents=True, exist_ok=True)
            self._dirs.add(key[:2])
        os.replace(tmp, self.local_path(key))

    def local_path(self, key: str) -> Path:
        if not key.isalnum():
            raise ValueError("bad blob key")
        return self.root / key[:2] / key

    @contextlib.contextmanager
    def materialize(self, key: str) -> Iterator[Path]:
        yield self.local_path(key)

    async def delete(self, key: str) -> None:
        await anyio.to_thread.run_sync(lambda: self.local_path(key).unlink(missing_ok=True))

    async def read(self, key: str) -> AsyncIterator[bytes]:
        """Raises FileNotFoundError before the first chunk when the blob is gone."""
        async with await anyio.open_file(self.local_path(key), "rb") as fh:
            while chunk := await fh.read(1 << 20):
                yield chunk

    def put_bytes(self, data: bytes) -> str:
        key = ids.new_hex()
        tmp = self.root / "tmp" / (key + ".part")
        tmp.write_bytes(data)
        self.keep(tmp, key)
        return key
