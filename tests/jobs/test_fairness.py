"""Fair order across keys against a real SQLite database (``jobs.fairness``): tags as the API's insert
path assigns them, and the claim taking the queued job first in that order whatever message came."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from pathlib import Path

import pytest
from sqlalchemy import insert, select
from tests.conftest import _pg_admin

from ocrgw.auth.models import ApiKey
from ocrgw.db import make_async_engine, make_async_sessionmaker, make_sqlite_writer, sync_sessionmaker
from ocrgw.jobs import fairness
from ocrgw.jobs import repository as repo
from ocrgw.jobs.models import Job
from ocrgw.jobs.states import JobStatus
from ocrgw.migrate import upgrade
from ocrgw.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    s = Settings(data_dir=tmp_path)
    upgrade(s)
    now = repo.utcnow()
    with sync_sessionmaker(s).begin() as db:
        for key in ("a", "b", "c"):
            db.add(ApiKey(id=key, name=key, key_hash=key, prefix=key, created_at=now))
    return s


def _rows(*keys: str) -> list[dict]:
    now = repo.utcnow()
    return [
        {
            "id": str(uuid.uuid4()),
            "owner_key_id": key,
            "dialect": "test",
            "status": "queued",
            "spec": {},
            "blob_key": "x",
            "media_type": "image/png",
            "size_bytes": 1,
            "created_at": now,
            "updated_at": now,
            "attempts": 0,
            "max_attempts": 2,
            "pages_done": 0,
        }
        for key in keys
    ]


def _submit(settings: Settings, *keys: str) -> list[str]:
    """Rows inserted in one batch, as ``jobs.inserts`` writes them on SQLite (tags read, then inserted)."""
    rows = _rows(*keys)
    engine = make_sqlite_writer(settings)
    with engine.begin() as conn:
        fairness.tag_rows_sync(conn, rows)
        conn.execute(insert(Job), rows)
    engine.dispose()
    return [r["id"] for r in rows]


def _owners_in_claim_order(settings: Settings, message: str, n: int) -> list[str]:
    db = sync_sessionmaker(settings)
    owners = []
    for _ in range(n):
        with db.begin() as s:
            job = repo.claim(s, message, "w", lease=60)
            assert job is not None
            owners.append(job.owner_key_id)
            repo.finish(s, job.id, "w", JobStatus.SUCCEEDED)
    return owners


def test_a_key_with_one_job_waits_behind_one_of_a_busy_key(settings: Settings) -> None:
    a = _submit(settings, *"a" * 10)
    db = sync_sessionmaker(settings)
    with db.begin() as s:  # A's first job runs when B and C arrive
        assert repo.claim(s, a[5], "w0", lease=60).id == a[0]  # any message takes the fairest job
    _submit(settings, "b")
    _submit(settings, "c", "c", "c")
    with db.begin() as s:
        repo.finish(s, a[0], "w0", JobStatus.SUCCEEDED)
    order = _owners_in_claim_order(settings, a[9], 13)
    assert order[:6] == ["b", "c", "a", "c", "a", "c"], order
    assert order[6:] == ["a"] * 7


def test_an_idle_key_starts_from_the_virtual_time_not_its_old_tags(settings: Settings) -> None:
    _submit(settings, "a", "a")
    _owners_in_claim_order(settings, "none", 2)
    _submit(settings, *"b" * 5)
    _submit(settings, "a")
    assert _owners_in_claim_order(settings, "none", 6)[:3] == ["b", "a", "b"]


def test_two_api_processes_tag_batches_one_after_the_other_on_postgresql(tmp_path: Path) -> None:
    """On PostgreSQL concurrent API processes tag one batch at a time (``fairness.tag_rows``: the fair-tag
    lock, then the tags' read, whose snapshot comes after the lock's grant): a batch tagged while another
    process's batch holds the lock sees that batch's tags once it commits. Two engines stand for two
    processes; the first holds its transaction open after tagging. Read before the grant, the second
    batch would reuse tags 0-4."""
    name = f"ocrgw_fair_{secrets.token_hex(4)}"
    _pg_admin(f"CREATE DATABASE {name}")
    settings = Settings(data_dir=tmp_path, database_url=f"postgresql://postgres@127.0.0.1:5432/{name}")
    try:
        upgrade(settings)
        with sync_sessionmaker(settings).begin() as db:
            db.add(ApiKey(id="a", name="a", key_hash="a", prefix="a", created_at=repo.utcnow()))

        async def scenario() -> None:
            engines = [make_async_engine(settings) for _ in range(2)]
            makers = [make_async_sessionmaker(e) for e in engines]
            first_tagged = asyncio.Event()

            async def batch(maker, hold: float) -> None:
                async with maker.begin() as s:
                    await repo.insert_jobs(s, _rows("a", "a", "a", "a", "a"))
                    first_tagged.set()
                    await asyncio.sleep(hold)

            async def second() -> None:
                await first_tagged.wait()
                await batch(makers[1], 0)

            try:
                await asyncio.gather(batch(makers[0], 0.5), second())
            finally:
                for e in engines:
                    await e.dispose()

        asyncio.run(scenario())
        with sync_sessionmaker(settings)() as db:
            tags = sorted(db.scalars(select(Job.fair_tag)).all())
        assert tags == [float(t) for t in range(10)]
    finally:
        _pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
