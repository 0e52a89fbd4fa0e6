"""Body -> blob with real stores: a small body (kept in memory and stored in one go) and a large one
(spooled through the store's writer) end up as the same stored blob with the same checks; a refused
body leaves nothing behind, in the local store and in the database store."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ocrgw.db import make_async_engine, make_async_sessionmaker
from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.formats import ENGINE_LIMITS
from ocrgw.intake import core
from ocrgw.migrate import upgrade
from ocrgw.settings import Settings
from ocrgw.storage import BlobStore, StoredBlob
from ocrgw.storage.database import DatabaseBlobStore
from ocrgw.storage.local import LocalBlobStore


def _png(width: int, height: int, noise: bool) -> bytes:
    rng = np.random.default_rng(7)
    pixels = (
        rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        if noise
        else np.full((height, width, 3), 255, np.uint8)
    )
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG")
    return out.getvalue()


SMALL = _png(300, 200, noise=False)
LARGE = _png(900, 700, noise=True)  # noise does not compress: about 1.9 MB


async def _chunks(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def _read(store: BlobStore, key: str) -> bytes:
    return b"".join([chunk async for chunk in store.read(key)])


@pytest.fixture(params=["local", "database"])
def env(request: pytest.FixtureRequest, tmp_path: Path):
    settings = Settings(data_dir=tmp_path, blob_store=request.param)
    upgrade(settings)
    return settings


def _store(settings: Settings):
    engine = make_async_engine(settings)
    db = make_async_sessionmaker(engine)
    store = LocalBlobStore(settings.blob_dir) if settings.blob_store == "local" else DatabaseBlobStore(settings, db)
    return engine, store


def _leftovers(settings: Settings) -> list[Path]:
    return [p for p in settings.data_dir.rglob("*.part")]


def test_small_and_large_bodies_are_stored_alike(env: Settings) -> None:
    assert len(SMALL) < core.SMALL_BODY < len(LARGE)

    async def scenario() -> list[StoredBlob]:
        engine, store = _store(env)
        blobs = []
        for data in (SMALL, LARGE):
            blob = await core.from_stream(_chunks(data), store=store, settings=env, limits=ENGINE_LIMITS)
            assert await _read(store, blob.key) == data
            blobs.append(blob)
        await engine.dispose()
        return blobs

    small, large = asyncio.run(scenario())
    assert (small.media_type, small.width, small.height, small.frames, small.size) == (
        "image/png",
        300,
        200,
        1,
        len(SMALL),
    )
    assert (large.media_type, large.width, large.height, large.frames, large.size) == (
        "image/png",
        900,
        700,
        1,
        len(LARGE),
    )
    assert _leftovers(env) == []


@pytest.mark.parametrize("size", ["small", "large"])
def test_refused_bodies_leave_nothing_behind(env: Settings, size: str) -> None:
    good = SMALL if size == "small" else LARGE
    corrupt = good[:16] + b"\0" * (len(good) - 16)  # a PNG signature, then nothing a decoder can read

    async def scenario() -> None:
        engine, store = _store(env)
        with pytest.raises(OcrgwError) as bad:
            await core.from_stream(_chunks(corrupt), store=store, settings=env, limits=ENGINE_LIMITS)
        assert bad.value.code is ErrorCode.INVALID_IMAGE
        capped = env.model_copy(update={"max_upload_bytes": len(good) - 1})
        with pytest.raises(OcrgwError) as big:
            await core.from_stream(_chunks(good), store=store, settings=capped, limits=ENGINE_LIMITS)
        assert big.value.code is ErrorCode.TOO_LARGE
        with pytest.raises(OcrgwError) as empty:
            await core.from_stream(_chunks(b""), store=store, settings=env, limits=ENGINE_LIMITS)
        assert empty.value.code is ErrorCode.EMPTY_BODY
        await engine.dispose()

    asyncio.run(scenario())
    assert _leftovers(env) == []
    if env.blob_store == "local":
        assert [p for p in env.blob_dir.rglob("*") if p.is_file()] == []
