"""Migration 0016 on PostgreSQL: the database blob store's bodies are compressed with LZ4, not pglz (which
spent ~0.7 ms of the backend's CPU on every JPEG only to throw the result away), through the real store:
a JPEG is stored and read back as it was, a BMP is stored LZ4-compressed and smaller, and the migration goes
down to 0015 (pglz again) and up again, a body stored before it still read back whole."""

from __future__ import annotations

import io
import secrets
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from alembic import command
from PIL import Image

from ocrgw.migrate import alembic_config, upgrade
from ocrgw.settings import Settings
from ocrgw.storage.database import DatabaseBlobStore
from tests.conftest import _pg_admin

COLUMN = (
    "SELECT attcompression, attstorage FROM pg_attribute WHERE attrelid = 'blob_chunks'::regclass AND attname = 'data'"
)


@pytest.fixture
def pg_settings(tmp_path: Path) -> Iterator[Settings]:
    name = f"ocrgw_lz4_{secrets.token_hex(4)}"
    _pg_admin(f"CREATE DATABASE {name}")
    try:
        yield Settings(
            data_dir=tmp_path,
            database_url=f"postgresql://postgres@127.0.0.1:5432/{name}",
            blob_store="database",
        )
    finally:
        _pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _engine(settings: Settings) -> sa.Engine:
    return sa.create_engine(str(settings.database_url).replace("postgresql://", "postgresql+psycopg://"))


def _image(fmt: str) -> bytes:
    rng = np.random.default_rng(7)
    page = np.full((400, 600), 255, np.uint8)
    page[rng.integers(0, 400, 3000), rng.integers(0, 600, 3000)] = 0  # specks: a JPEG of them is incompressible
    buf = io.BytesIO()
    Image.fromarray(page).save(buf, fmt)
    return buf.getvalue()


def test_blob_bodies_are_lz4_compressed_and_read_back_whole(pg_settings: Settings) -> None:
    upgrade(pg_settings)
    engine = _engine(pg_settings)
    try:
        with engine.connect() as conn:
            assert tuple(conn.execute(sa.text(COLUMN)).one()) == ("l", "x")
        store = DatabaseBlobStore(pg_settings)
        bodies = {"jpeg": _image("JPEG"), "bmp": _image("BMP")}
        keys = {fmt: store.put_bytes(data) for fmt, data in bodies.items()}
        with engine.connect() as conn:
            stored = {
                fmt: conn.execute(
                    sa.text("SELECT pg_column_compression(data), pg_column_size(data) FROM blob_chunks WHERE key = :k"),
                    {"k": key},
                ).one()
                for fmt, key in keys.items()
            }
        assert stored["bmp"][0] == "lz4"
        assert stored["bmp"][1] < len(bodies["bmp"]) / 4  # a white page with specks: mostly runs
        assert stored["jpeg"][0] in (None, "lz4")  # kept as is when LZ4 does not make it smaller
        for fmt, key in keys.items():
            with store.materialize(key) as path:
                assert path.read_bytes() == bodies[fmt]
    finally:
        engine.dispose()


def test_the_migration_goes_down_to_pglz_and_up_again(pg_settings: Settings) -> None:
    upgrade(pg_settings)
    engine = _engine(pg_settings)
    try:
        command.downgrade(alembic_config(pg_settings), "0015")
        with engine.connect() as conn:
            assert tuple(conn.execute(sa.text(COLUMN)).one()) == ("", "x")  # the default: pglz, may compress
        store = DatabaseBlobStore(pg_settings)
        body = _image("BMP")
        key = store.put_bytes(body)  # stored before the migration, as a running deployment's documents are
        upgrade(pg_settings)
        with engine.connect() as conn:
            assert tuple(conn.execute(sa.text(COLUMN)).one()) == ("l", "x")
            method = conn.execute(sa.text("SELECT pg_column_compression(data) FROM blob_chunks")).scalar_one()
        assert method == "pglz"  # left as it was: the migration rewrites nothing
        with store.materialize(key) as path:
            assert path.read_bytes() == body
    finally:
        engine.dispose()
