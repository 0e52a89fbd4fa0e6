"""Blob store: where intake puts request bodies and workers read them. The API side writes while the
body streams in; the worker side materialises a finished blob as a local file for one job. Local disk is
the embedded default; the database store serves hosts that share no disk."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from sqlalchemy.ext.asyncio import async_sessionmaker

from ocrgw.settings import Settings

T = TypeVar("T")


@dataclass(slots=True, frozen=True)
class StoredBlob:
    """A request body after intake: stored, sniffed and checked against the limits."""

    key: str
    size: int
    media_type: str  # e.g. "image/png"
    width: int
    height: int
    frames: int


class BlobWriter(Protocol):
    @property
    def path(self) -> Path: ...  # the spooled body, for inspection before commit
    async def write(self, chunk: bytes) -> None: ...
    async def close(self) -> None: ...
    async def commit(self) -> str: ...
    async def abort(self) -> None: ...


class BlobStore(Protocol):
    async def writer(self) -> BlobWriter: ...  # API side: a request body as it streams in
    # API side: a small body already in memory, stored in one go once ``check`` (blocking: intake's header
    # inspection) has passed; returns the key and what check returned.
    async def put(self, data: bytes, check: Callable[[], T]) -> tuple[str, T]: ...
    def read(self, key: str) -> AsyncIterator[bytes]: ...  # API side: a stored blob, chunk by chunk
    async def delete(self, key: str) -> None: ...
    def materialize(self, key: str) -> AbstractContextManager[Path]: ...  # worker side: a local file
    def put_bytes(self, data: bytes) -> str: ...  # worker side: something the worker made (an artifact)


def make_blob_store(settings: Settings, db: async_sessionmaker | None = None) -> BlobStore:
    if settings.blob_store == "database":
        from ocrgw.storage.database import DatabaseBlobStore

        return DatabaseBlobStore(settings, db)
    from ocrgw.storage.local import LocalBlobStore

    return LocalBlobStore(settings.blob_dir)
