"""Blob store: where intake puts request bodies and workers read them. The API side writes while the
body streams in; the worker side reads a finished blob by key. Local disk is the embedded default."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO, Protocol

import anyio


class BlobWriter(Protocol):
    async def write(self, chunk: bytes) -> None: ...
    async def close(self) -> None: ...
    async def commit(self) -> str: ...
    async def abort(self) -> None: ...
    @property
    def path(self) -> Path: ...


class BlobStore(Protocol):
    async def writer(self) -> BlobWriter: ...
    def open(self, key: str) -> BinaryIO: ...
    def local_path(self, key: str) -> Path: ...
    async def delete(self, key: str) -> None: ...


class _LocalWriter:
    """Writes into a temp file beside the final one; commit renames, so readers never see half a blob."""

    def __init__(self, root: Path) -> None:
        self._key = uuid.uuid4().hex
        self._final = root / self._key[:2] / self._key
        self._tmp = root / "tmp" / (self._key + ".part")
        self._fh: anyio.AsyncFile | None = None

    @property
    def path(self) -> Path:
        return self._tmp

    async def _open(self) -> None:
        self._fh = await anyio.open_file(self._tmp, "wb")

    async def write(self, chunk: bytes) -> None:
        assert self._fh is not None
        await self._fh.write(chunk)

    async def close(self) -> None:
        """Flush and close the temp file, so it can be inspected before it is committed."""
        if self._fh is not None:
            await self._fh.aclose()
            self._fh = None

    async def commit(self) -> str:
        await self.close()
        await anyio.to_thread.run_sync(self._final.parent.mkdir, 0o755, True, True)
        await anyio.to_thread.run_sync(os.replace, self._tmp, self._final)
        return self._key

    async def abort(self) -> None:
        await self.close()
        await anyio.to_thread.run_sync(lambda: self._tmp.unlink(missing_ok=True))


class LocalBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "tmp").mkdir(parents=True, exist_ok=True)

    async def writer(self) -> _LocalWriter:
        w = _LocalWriter(self.root)
        await w._open()
        return w

    def local_path(self, key: str) -> Path:
        if not key.isalnum():
            raise ValueError("bad blob key")
        return self.root / key[:2] / key

    def open(self, key: str) -> BinaryIO:
        return open(self.local_path(key), "rb")

    async def delete(self, key: str) -> None:
        await anyio.to_thread.run_sync(lambda: self.local_path(key).unlink(missing_ok=True))


async def aiter_bytes(data: bytes, size: int = 1 << 16) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]
