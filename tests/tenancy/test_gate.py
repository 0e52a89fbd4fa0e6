"""The tenancy gate (``tenancy.gate``) on real databases, SQLite and PostgreSQL: GCRA's burst and
Retry-After, concurrency and page quotas counted from admissions and the jobs they became, admissions
freed by a job's end, by a failed submit and by their grace running out, a tier's page cap, a key's file
size, subscriptions, and two gates (as two API processes) sharing one limit exactly. Through the HTTP
API and the vendors' clients it is tested in tests/test_limits_*.py; the cross-process figures are in
bench/limits.py."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from ocrgw.auth import Principal
from ocrgw.auth.models import ApiKey
from ocrgw.clock import utcnow
from ocrgw.db import make_async_engine, make_async_sessionmaker, sync_sessionmaker
from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.jobs.models import Job
from ocrgw.jobs.states import JobStatus
from ocrgw.jobs.usage import Usage
from ocrgw.migrate import upgrade
from ocrgw.settings import Settings
from ocrgw.tenancy import gate as gate_mod
from ocrgw.tenancy.gate import Gate, capped, period_end, period_start
from ocrgw.tenancy.models import Admission, KeyLimit, Subscription
from ocrgw.tenancy.policy import Policies
from tests.conftest import _pg_admin


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    if request.param == "sqlite":
        s = Settings(data_dir=tmp_path)
        upgrade(s)
        yield s
        return
    name = f"ocrgw_gate_{secrets.token_hex(4)}"
    _pg_admin(f"CREATE DATABASE {name}")
    s = Settings(data_dir=tmp_path, database_url=f"postgresql://postgres@127.0.0.1:5432/{name}")
    upgrade(s)
    try:
        yield s
    finally:
        sync_sessionmaker(s).kw["bind"].dispose()
        _pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _key(settings: Settings, *, required: bool = False, subs: tuple[str, ...] = (), **limit: object) -> Principal:
    key_id = str(uuid.uuid4())
    with sync_sessionmaker(settings).begin() as s:
        s.add(
            ApiKey(
                id=key_id, name="k", key_hash=key_id, prefix="k", created_at=utcnow(), subscription_required=required
            )
        )
        s.flush()
        if limit:
            s.add(KeyLimit(key_id=key_id, service=str(limit.pop("service", "*")), **limit))
        for service in subs:
            s.add(Subscription(key_id=key_id, service=service, created_at=utcnow()))
    return Principal(key_id)


def _job(settings: Settings, job_id: str, owner: str, status: JobStatus = JobStatus.QUEUED) -> None:
    now = utcnow()
    with sync_sessionmaker(settings).begin() as s:
        s.add(
            Job(
                id=job_id, owner_key_id=owner, dialect="native", status=status.value, spec={}, blob_key="k",
                media_type="image/png", size_bytes=1, created_at=now, updated_at=now, attempts=0, max_attempts=3,
                pages_total=1, pages_done=0, expires_at=now + timedelta(hours=1),
            )
        )  # fmt: skip


def _end(settings: Settings, job_id: str) -> None:
    with sync_sessionmaker(settings).begin() as s:
        s.execute(update(Job).where(Job.id == job_id).values(status=JobStatus.SUCCEEDED.value))


def _run(settings: Settings, scenario) -> None:  # type: ignore[no-untyped-def]
    async def main() -> None:
        engines = [make_async_engine(settings) for _ in range(2)]
        makers = map(make_async_sessionmaker, engines)
        gates = [Gate(db, Policies(db), max_backlog=10, retry_after=4) for db in makers]
        try:
            await scenario(*gates)
        finally:
            for engine in engines:
                await engine.dispose()

    asyncio.run(main())


async def _refused(coro, code: ErrorCode) -> OcrgwError:  # type: ignore[no-untyped-def]
    with pytest.raises(OcrgwError) as info:
        await coro
    assert info.value.code is code, info.value
    return info.value


def test_rate_allows_the_burst_then_one_per_interval_with_whole_second_retry_after(settings: Settings) -> None:
    key = _key(settings, rate=1, rate_seconds=3, burst=2)

    async def scenario(gate: Gate, other: Gate) -> None:
        await gate.admit(key, "native")
        await other.admit(key, "azure-read")  # the "*" row: one bucket for every service, every process
        exc = await _refused(gate.admit(key, "native"), ErrorCode.RATE_LIMITED)
        assert exc.retry_after == 3 and exc.limit is not None
        assert (exc.limit.count, exc.limit.seconds, exc.limit.service) == (1, 3, "native")
        assert exc.message == "Rate limit is exceeded. Try again in 3 seconds."

    _run(settings, scenario)


def test_a_services_own_row_replaces_the_keys_every_service_row(settings: Settings) -> None:
    key = _key(settings, service="azure-read", rate=1, rate_seconds=60, burst=1)

    async def scenario(gate: Gate, _other: Gate) -> None:
        await gate.admit(key, "azure-read")
        await _refused(gate.admit(key, "azure-read"), ErrorCode.RATE_LIMITED)
        for _ in range(5):
            await gate.admit(key, "native")  # no row for it, none for "*": no limit

    _run(settings, scenario)


def test_concurrency_is_exact_across_two_gates_and_freed_by_the_jobs_end(settings: Settings) -> None:
    key = _key(settings, concurrent_jobs=3)

    async def scenario(gate: Gate, other: Gate) -> None:
        async def one(g: Gate) -> str | None:
            try:
                return (await g.admit(key, "native")).job_id
            except OcrgwError as exc:
                assert exc.code is ErrorCode.CONCURRENCY_LIMITED and exc.retry_after == 1
                return None

        ids = await asyncio.gather(*(one(g) for _ in range(10) for g in (gate, other)))
        admitted = [i for i in ids if i]
        assert len(admitted) == 3
        for job_id in admitted:
            await asyncio.to_thread(_job, settings, job_id, key.key_id or "")
        await _refused(gate.admit(key, "native"), ErrorCode.CONCURRENCY_LIMITED)
        await asyncio.to_thread(_end, settings, admitted[0])
        await other.admit(key, "native")  # the ended job's place is free at once
        await _refused(gate.admit(key, "native"), ErrorCode.CONCURRENCY_LIMITED)

    _run(settings, scenario)


def test_a_failed_submit_gives_its_place_back_and_a_lost_one_after_the_grace(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = _key(settings, concurrent_jobs=1)

    async def scenario(gate: Gate, other: Gate) -> None:
        ticket = await gate.admit(key, "native")
        await _refused(other.admit(key, "native"), ErrorCode.CONCURRENCY_LIMITED)
        await gate.release(ticket)
        await other.admit(key, "native")  # its job is never inserted (the process died, say)
        await _refused(gate.admit(key, "native"), ErrorCode.CONCURRENCY_LIMITED)
        monkeypatch.setattr(gate_mod, "GRACE", timedelta(0))
        await gate.admit(key, "native")

    _run(settings, scenario)


def test_page_quota_counts_pages_read_and_reserved_exactly(settings: Settings) -> None:
    key = _key(settings, pages_quota=10, quota_period="month")
    today = utcnow().date()
    with sync_sessionmaker(settings).begin() as s:  # read earlier this month, and last month (not counted)
        s.add(Usage(day=period_start("month", today), key_id=key.key_id, service="native", calls=1, pages=4))
        s.add(Usage(day=period_start("month", today) - timedelta(days=1), key_id=key.key_id, service="native",
                    calls=1, pages=100))  # fmt: skip

    async def scenario(gate: Gate, other: Gate) -> None:
        first = await gate.admit(key, "native")
        assert await gate.settle(first, frames=5, pages=None, size=10) is None  # 4 + 5 of 10
        second = await other.admit(key, "native")
        exc = await _refused(other.settle(second, frames=2, pages=None, size=10), ErrorCode.QUOTA_EXCEEDED)
        assert exc.limit is not None and (exc.limit.count, exc.limit.period) == (10, "month")
        end = period_end("month", today)
        assert 0 < (exc.retry_after or 0) <= (end - today).days * 86400
        await other.release(second)
        third = await other.admit(key, "native")
        await other.settle(third, frames=1, pages=None, size=10)  # 4 + 5 + 1: the quota, met exactly
        await _refused(gate.admit(key, "native"), ErrorCode.QUOTA_EXCEEDED)  # no room left at all

    _run(settings, scenario)


def test_tier_page_cap_and_file_size(settings: Settings) -> None:
    key = _key(settings, max_document_pages=2, max_file_bytes=1000)

    async def scenario(gate: Gate, _other: Gate) -> None:
        ticket = await gate.admit(key, "azure-docintel")
        assert await gate.settle(ticket, frames=5, pages=None, size=1000) == ((1, 2),)
        assert await gate.settle(ticket, frames=5, pages=((2, 4),), size=10) == ((2, 2),)
        assert await gate.settle(ticket, frames=2, pages=None, size=10) is None  # within the cap: unchanged
        await _refused(gate.settle(ticket, frames=5, pages=((3, None),), size=10), ErrorCode.INVALID_PAGE_RANGE)
        exc = await _refused(gate.settle(ticket, frames=1, pages=None, size=1001), ErrorCode.TOO_LARGE)
        assert exc.limit is not None and exc.limit.count == 1000

    _run(settings, scenario)


def test_subscriptions_when_required(settings: Settings) -> None:
    bound = _key(settings, required=True, subs=("huawei-general-text",))
    free = _key(settings, subs=("huawei-general-text",))

    async def scenario(gate: Gate, _other: Gate) -> None:
        await gate.admit(bound, "huawei-general-text")
        exc = await _refused(gate.admit(bound, "huawei-passport"), ErrorCode.NOT_SUBSCRIBED)
        assert exc.limit is not None and exc.limit.service == "huawei-passport"
        await gate.admit(free, "huawei-passport")  # subscriptions alone (a package) restrict nothing
        await gate.admit(Principal(None), "huawei-passport")  # auth off: one tenant, no limits

    _run(settings, scenario)


def test_admissions_of_ended_jobs_are_deleted_by_the_next_admission(settings: Settings) -> None:
    key = _key(settings, concurrent_jobs=5)

    async def scenario(gate: Gate, _other: Gate) -> None:
        ids = [(await gate.admit(key, "native")).job_id for _ in range(3)]
        for job_id in ids:
            await asyncio.to_thread(_job, settings, job_id, key.key_id or "", JobStatus.FAILED)
        await gate.admit(key, "native")
        with sync_sessionmaker(settings)() as s:
            assert s.query(Admission).count() == 1

    _run(settings, scenario)


def test_an_operators_backlog_share_is_exact_across_two_gates(settings: Settings) -> None:
    """A share of 0.3 of a bound of 10: 3 waiting jobs, however many submits two processes admit at once;
    a job a worker took (running) no longer waits, so it frees a place."""
    key = _key(settings, backlog_share=0.3)

    async def scenario(gate: Gate, other: Gate) -> None:
        async def one(g: Gate) -> str | None:
            try:
                return (await g.admit(key, "native")).job_id
            except OcrgwError as exc:
                assert exc.code is ErrorCode.BACKLOG_FULL and exc.retry_after == 4
                return None

        admitted = [i for i in await asyncio.gather(*(one(g) for _ in range(6) for g in (gate, other))) if i]
        assert len(admitted) == 3
        for job_id in admitted:
            await asyncio.to_thread(_job, settings, job_id, key.key_id or "")
        await _refused(gate.admit(key, "azure-read"), ErrorCode.BACKLOG_FULL)  # key-wide, every service
        with sync_sessionmaker(settings).begin() as s:
            s.execute(update(Job).where(Job.id == admitted[0]).values(status=JobStatus.RUNNING.value))
        await other.admit(key, "native")

    _run(settings, scenario)


def test_capped_and_periods() -> None:
    assert capped(None, 2) == ((1, 2),)
    assert capped(((1, 1), (3, None)), 2) == ((1, 1),)
    assert capped(((3, 5),), 2) == ()
    assert period_start("month", date(2026, 12, 6)) == date(2026, 12, 1)
    assert period_end("month", date(2026, 12, 31)) == date(2027, 1, 1)
    assert period_end("month", date(2026, 2, 28)) == date(2026, 3, 1)
    assert period_end("day", date(2026, 12, 31)) == date(2027, 1, 1)
