"""The backlog bound's figure on a real SQLite database: it refuses at the bound (concurrent submits
included), counts the queued rows about once a second rather than per submit, takes work again as soon
as the backlog has drained, and sees jobs other processes created at its next count."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, update

from ocrgw.auth.models import ApiKey
from ocrgw.clock import utcnow
from ocrgw.db import make_async_engine, make_async_sessionmaker, sync_sessionmaker
from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.jobs import backlog as backlog_mod
from ocrgw.jobs.backlog import Backlog
from ocrgw.jobs.endings import Endings
from ocrgw.jobs.models import Job
from ocrgw.jobs.states import JobStatus
from ocrgw.migrate import upgrade
from ocrgw.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    s = Settings(data_dir=tmp_path)
    upgrade(s)
    return s


def _insert_queued(settings: Settings, n: int, owner: str | None = None) -> list[str]:
    """Jobs as another API process would have created them: committed rows this process never saw."""
    ids = [str(uuid.uuid4()) for _ in range(n)]
    now = utcnow()
    with sync_sessionmaker(settings).begin() as s:
        if owner is not None and s.get(ApiKey, owner) is None:
            s.add(ApiKey(id=owner, name=owner, key_hash=owner, prefix=owner, created_at=now))
            s.flush()
        for job_id in ids:
            s.add(
                Job(
                    id=job_id,
                    owner_key_id=owner,
                    dialect="t",
                    status=JobStatus.QUEUED.value,
                    spec={},
                    blob_key="k",
                    media_type="image/png",
                    size_bytes=1,
                    created_at=now,
                    updated_at=now,
                    attempts=0,
                    max_attempts=3,
                    pages_total=1,
                    pages_done=0,
                    expires_at=now + timedelta(hours=1),
                )
            )
    return ids


def _counts(engine) -> list[str]:
    """The COUNT statements the engine runs from now on (the backlog's recounts)."""
    counts: list[str] = []
    event.listen(
        engine.sync_engine,
        "before_cursor_execute",
        lambda _c, _cur, stmt, *_: counts.append(stmt) if "count(" in stmt.lower() else None,
    )
    return counts


def _finish(settings: Settings, ids: list[str]) -> None:
    with sync_sessionmaker(settings).begin() as s:
        s.execute(update(Job).where(Job.id.in_(ids)).values(status=JobStatus.SUCCEEDED.value))


def test_bound_holds_for_concurrent_submits_and_counts_once_a_second(settings: Settings) -> None:
    async def scenario() -> None:
        engine = make_async_engine(settings)
        counts = _counts(engine)
        backlog = Backlog(make_async_sessionmaker(engine), bound=5, retry_after=3)
        _insert_queued(settings, 2)

        async def submit() -> bool:
            try:
                await backlog.admit()
            except OcrgwError as exc:
                assert exc.code is ErrorCode.BACKLOG_FULL and exc.retry_after == 3
                return False
            await asyncio.sleep(0.05)  # the upload, while others arrive
            await asyncio.to_thread(_insert_queued, settings, 1)
            backlog.settle(created=True)
            return True

        results = await asyncio.gather(*(submit() for _ in range(10)))
        assert results.count(True) == 3  # 2 waiting + 3 admitted under way = the bound of 5
        assert len(counts) == 1  # one COUNT for ten submits
        with pytest.raises(OcrgwError):  # 2 waiting + 3 created: still at the bound, counted again
            await backlog.admit()
        assert len(counts) == 2
        with pytest.raises(OcrgwError):  # refused again on that fresh count, without another
            await backlog.admit()
        assert len(counts) == 2
        await engine.dispose()

    asyncio.run(scenario())


def test_one_key_holds_at_most_its_share_under_concurrent_submits(settings: Settings) -> None:
    """A bound of 10 with a share of 0.5: key "a" (2 waiting) gets exactly 3 of 10 concurrent submits in,
    then is refused, while key "b" and keyless jobs (auth off) are still admitted."""

    async def scenario() -> None:
        engine = make_async_engine(settings)
        backlog = Backlog(make_async_sessionmaker(engine), bound=10, retry_after=3, share=0.5)
        _insert_queued(settings, 2, owner="a")
        _insert_queued(settings, 1, owner="b")

        async def submit(key: str | None) -> bool:
            try:
                await backlog.admit(key)
            except OcrgwError as exc:
                assert exc.code is ErrorCode.BACKLOG_FULL and exc.retry_after == 3
                assert "share of the backlog (5)" in exc.message
                return False
            await asyncio.sleep(0.05)  # the upload, while others arrive
            await asyncio.to_thread(_insert_queued, settings, 1, key)
            backlog.settle(created=True, key=key)
            return True

        results = await asyncio.gather(*(submit("a") for _ in range(10)))
        assert results.count(True) == 3  # 2 waiting + 3 admitted = the key's share of 5
        assert await submit("b")
        assert await submit(None)
        assert not await submit("a")
        assert backlog.figure == 2 + 1 + 3 + 1 + 1
        await engine.dispose()

    asyncio.run(scenario())


def test_failed_submit_frees_its_place_and_no_count_per_submit(settings: Settings) -> None:
    async def scenario() -> None:
        engine = make_async_engine(settings)
        counts = _counts(engine)
        backlog = Backlog(make_async_sessionmaker(engine), bound=1, retry_after=5)
        for _ in range(50):
            await backlog.admit()
            backlog.settle(created=False)  # e.g. a corrupt image: nothing was queued
        assert backlog.figure == 0
        assert len(counts) == 1
        await backlog.admit()
        _insert_queued(settings, 1)
        backlog.settle(created=True)
        with pytest.raises(OcrgwError):
            await backlog.admit()
        await engine.dispose()

    asyncio.run(scenario())


def test_drained_backlog_takes_work_again_and_other_processes_jobs_count(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backlog_mod, "RECOUNT_SECONDS", 0.3)  # the test's patience, not the behaviour

    async def scenario() -> None:
        engine = make_async_engine(settings)
        backlog = Backlog(make_async_sessionmaker(engine), bound=3, retry_after=5)
        ids = _insert_queued(settings, 3)
        with pytest.raises(OcrgwError):
            await backlog.admit()
        _finish(settings, ids)  # the workers drain the backlog
        await asyncio.sleep(0.35)
        await backlog.admit()  # the full, stale figure is counted again before refusing: accepted at once
        backlog.settle(created=True)
        assert backlog.figure == 1
        # Another API process fills the backlog (the job admitted above was never inserted: the count
        # will not hold it): this one sees it once its figure is recounted.
        _insert_queued(settings, 3)
        t0 = time.monotonic()
        while True:
            try:
                await backlog.admit()
            except OcrgwError:
                break
            backlog.settle(created=False)
            assert time.monotonic() - t0 < 3, "the other process's jobs were never counted"
            await asyncio.sleep(0.05)
        await engine.dispose()

    asyncio.run(scenario())


def test_a_job_ended_since_the_count_is_counted_again_before_a_refusal(settings: Settings) -> None:
    """A full figure whose count is fresh (under RECOUNT_SECONDS) but holds jobs that have ended since:
    the API process heard of their ends (``jobs.endings``), so the next submit counts again instead of
    being refused with nothing waiting. Without an end heard, the fresh full figure still refuses without a
    COUNT. (Seen in CI: a client's submit right after its last job ended answered 429.)"""

    async def scenario() -> None:
        engine = make_async_engine(settings)
        counts = _counts(engine)
        endings = Endings()
        backlog = Backlog(make_async_sessionmaker(engine), bound=1, retry_after=5, endings=endings)
        ids = _insert_queued(settings, 1)
        with pytest.raises(OcrgwError):
            await backlog.admit()  # counted: full
        with pytest.raises(OcrgwError):
            await backlog.admit()  # fresh and full, nothing heard: refused on the figure
        assert len(counts) == 1, counts
        _finish(settings, ids)  # the worker ends the job and the process hears it
        endings.ended(ids[0])
        await backlog.admit()  # well within RECOUNT_SECONDS of the count
        assert len(counts) == 2, counts
        backlog.settle(created=False)
        await engine.dispose()

    asyncio.run(scenario())
