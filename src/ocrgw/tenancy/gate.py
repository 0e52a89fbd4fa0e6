"""Per-key limits enforced at submit (``jobs.service.accept`` calls ``admit`` as soon as the key and the
service are known, before the body is read where they are, and ``settle`` once the document is stored
and its pages counted). The state is in the database, so every API process of a deployment enforces one
limit together (scale-out: PostgreSQL), exactly under concurrency:

- each admission takes the key's ``limit_state`` row for its scope with one upsert, which locks it
  (PostgreSQL: the row; SQLite: the database) until the admission commits, so a key's admissions run one
  at a time across processes, and another key's do not wait for them (PostgreSQL);
- the rate is GCRA (a token bucket kept as one number, the theoretical arrival time of the next call):
  ``rate`` calls per ``rate_seconds``, ``burst`` of them at once; a refusal says in how many whole seconds
  the next call fits (Retry-After);
- concurrency and page quotas count the key's ``admissions`` that are still alive: their job queued or
  running, or not inserted yet but admitted within ``GRACE``. Pages read are the usage table's (billed
  at the job's success, ``jobs.usage``), plus those reserved by live admissions, so a page is counted
  once whichever side of its job's end it is read at.

Why not Redis: the database already holds the jobs whose state a concurrency limit or quota is about,
in every deployment, embedded included; one statement per submit of a limited key is the cost (measured
in bench/limits.py). A key without limits pays only the cached policy lookup."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ocrgw import ids
from ocrgw.auth import Principal
from ocrgw.clock import utcnow
from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.jobs.models import Job
from ocrgw.jobs.pages import PageSelection
from ocrgw.jobs.states import JobStatus
from ocrgw.jobs.usage import Usage
from ocrgw.ops import metrics
from ocrgw.tenancy.models import EVERY_SERVICE, Admission, LimitState
from ocrgw.tenancy.policy import Limit, Policies

BACKLOG = "backlog"  # the scope of a key's share of the backlog (not a service name)
GRACE = timedelta(seconds=120)  # an admission whose job row is not there yet counts this long
_LIVE = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)


@dataclass(slots=True)
class Ticket:
    """A submit's admission: the job id it reserved (``submit`` uses it for the job), the limit it met."""

    key_id: str | None
    service: str
    job_id: str
    limit: Limit | None = None
    counted: bool = False  # an admission row was written (concurrency, quota or backlog share)


def period_start(period: str, today: date) -> date:
    return today if period == "day" else today.replace(day=1)


def period_end(period: str, today: date) -> date:
    if period == "day":
        return today + timedelta(days=1)
    return (today.replace(day=28) + timedelta(days=4)).replace(day=1)


def capped(pages: tuple[tuple[int | None, int | None], ...] | None, cap: int) -> tuple[tuple[int, int], ...]:
    """A page selection cut to the document's first ``cap`` pages (a free tier's 'first two pages')."""
    ranges = pages if pages is not None else ((1, None),)
    return tuple((lo or 1, min(hi or cap, cap)) for lo, hi in ranges if (lo or 1) <= cap)


class Gate:
    def __init__(
        self, db: async_sessionmaker, policies: Policies, *, max_backlog: int = 0, retry_after: int = 5
    ) -> None:
        self.db = db
        self.policies = policies
        self.max_backlog = max_backlog  # the deployment's bound, which a key's backlog_share is a share of
        self.retry_after = retry_after  # BacklogFull's, as ``jobs.backlog`` answers it

    async def admit(self, principal: Principal, service: str) -> Ticket:
        """Refuse a call the key's subscriptions, rate, concurrency, quota or share of the backlog do not
        allow; else the ticket the submit goes on with. Nothing is kept of a refused call but its count
        (``ops.metrics``, for a refusal by the key's own limits)."""
        try:
            return await self._admit(principal, service)
        except OcrgwError as exc:
            if exc.limit is not None or exc.code is ErrorCode.BACKLOG_FULL:  # the latter: the key's share
                metrics.refused(principal.key_id, service, exc.code.value)
            raise

    async def settle(self, ticket: Ticket, *, frames: int, pages: tuple | None, size: int) -> tuple | None:
        """The stored document against the key's file size, pages per document and page quota; returns
        the page selection to read (a tier's cap applied) or raises. ``frames``: the document's pages."""
        try:
            return await self._settle(ticket, frames=frames, pages=pages, size=size)
        except OcrgwError as exc:
            if exc.limit is not None:
                metrics.refused(ticket.key_id, ticket.service, exc.code.value)
            raise

    async def _admit(self, principal: Principal, service: str) -> Ticket:
        ticket = Ticket(principal.key_id, service, ids.new_id())
        if principal.key_id is None:
            return ticket
        policy = await self.policies.get(principal.key_id)
        policy.check_subscribed(service)
        limit = ticket.limit = policy.limit_for(service)
        share = policy.backlog_share if self.max_backlog else None
        if (limit is None or not limit.admits) and share is None:
            return ticket
        async with self.db.begin() as s:
            if limit is not None and limit.admits:  # its scope's row is locked first, the backlog's second
                await self._limit(s, ticket, principal.key_id, limit)
            if share is not None:
                await self._share(s, ticket, principal.key_id, max(1, math.floor(self.max_backlog * share)))
        return ticket

    async def _limit(self, s: AsyncSession, ticket: Ticket, key_id: str, limit: Limit) -> None:
        service = ticket.service
        tat = await _lock(s, key_id, limit.scope)
        now = time.time()
        new_tat = _rate(limit, service, tat, now) if limit.rate else None
        if limit.counted:
            live = await _live(s, key_id, limit.scope)
            if limit.concurrent_jobs is not None and live.jobs >= limit.concurrent_jobs:
                raise OcrgwError(
                    ErrorCode.CONCURRENCY_LIMITED,
                    f"The key has {live.jobs} jobs not yet ended, its limit for {service}.",
                    retry_after=1,
                    limit=limit.limited(service, limit.concurrent_jobs),
                )
            if limit.pages_quota is not None:
                await _check_quota(s, key_id, limit, service, live.pages, 0)
            s.add(Admission(job_id=ticket.job_id, key_id=key_id, scope=limit.scope, at=utcnow()))
            ticket.counted = True
        if new_tat is not None:
            await s.execute(
                update(LimitState)
                .where(LimitState.key_id == key_id, LimitState.scope == limit.scope)
                .values(tat=new_tat)
            )

    async def _share(self, s: AsyncSession, ticket: Ticket, key_id: str, bound: int) -> None:
        """An operator's ``backlog_share`` for the key, exact across API processes: its waiting jobs (queued,
        or admitted and not inserted yet) are counted under the lock. The deployment's default share stays
        with ``jobs.backlog`` (per process, no query per submit)."""
        await _lock(s, key_id, BACKLOG)
        waiting = (await _live(s, key_id, BACKLOG)).waiting
        if waiting >= bound:
            raise OcrgwError(
                ErrorCode.BACKLOG_FULL,
                f"This key has {waiting} documents waiting, its share of the backlog ({bound}); "
                "retry after a few seconds.",
                retry_after=self.retry_after,
            )
        s.add(Admission(job_id=ticket.job_id, key_id=key_id, scope=BACKLOG, at=utcnow()))
        ticket.counted = True

    async def _settle(self, ticket: Ticket, *, frames: int, pages: tuple | None, size: int) -> tuple | None:
        limit = ticket.limit
        if limit is None:
            return pages
        if limit.max_file_bytes is not None and size > limit.max_file_bytes:
            raise OcrgwError(
                ErrorCode.TOO_LARGE,
                f"The file is {size} bytes, over the key's limit of {limit.max_file_bytes} bytes.",
                limit=limit.limited(ticket.service, limit.max_file_bytes),
            )
        if limit.max_document_pages is not None and frames > limit.max_document_pages:
            pages = capped(pages, limit.max_document_pages)
            if not pages:
                raise OcrgwError(
                    ErrorCode.INVALID_PAGE_RANGE,
                    f"The key's tier reads only a document's first {limit.max_document_pages} pages.",
                    param="pages",
                )
        if not ticket.counted or limit.pages_quota is None:
            return pages
        count = PageSelection(pages).count(frames)
        async with self.db.begin() as s:
            await _lock(s, ticket.key_id or "", limit.scope)
            live = await _live(s, ticket.key_id or "", limit.scope, besides=ticket.job_id)
            await _check_quota(s, ticket.key_id or "", limit, ticket.service, live.pages, count)
            await s.execute(
                update(Admission)
                .where(Admission.job_id == ticket.job_id, Admission.scope == limit.scope)
                .values(pages=count, at=utcnow())
            )
        return pages

    async def release(self, ticket: Ticket | None) -> None:
        """A submit that failed after its admission gives its place back at once (else after GRACE)."""
        if ticket is None or not ticket.counted:
            return
        async with self.db.begin() as s:
            await s.execute(delete(Admission).where(Admission.job_id == ticket.job_id))


async def _lock(s: AsyncSession, key_id: str, scope: str) -> float:
    """The key's bucket for ``scope``, created if new, and locked until the transaction ends. Its commit
    waits for PostgreSQL's WAL flush like any other: committing asynchronously (``SET LOCAL
    synchronous_commit``) was tried and measured no faster (2.1 ms an admission either way, quiet machine;
    the extra statement costs what the flush saved)."""
    pg = s.get_bind().dialect.name == "postgresql"
    ins = (postgresql.insert if pg else sqlite.insert)(LimitState)
    stmt = ins.values(key_id=key_id, scope=scope, tat=0.0).on_conflict_do_update(
        index_elements=[LimitState.key_id, LimitState.scope], set_={"tat": LimitState.tat}
    )
    return float((await s.execute(stmt.returning(LimitState.tat))).scalar_one())


def _rate(limit: Limit, service: str, tat: float, now: float) -> float:
    """GCRA: the bucket's next theoretical arrival time if this call fits, else RateLimited."""
    assert limit.rate
    interval = limit.rate_seconds / limit.rate
    tolerance = ((limit.burst or limit.rate) - 1) * interval
    start = max(tat, now)
    wait = start - tolerance - now
    if wait > 1e-6:
        seconds = max(1, math.ceil(wait))
        raise OcrgwError(
            ErrorCode.RATE_LIMITED,
            f"Rate limit is exceeded. Try again in {seconds} seconds.",
            retry_after=seconds,
            limit=limit.limited(service, limit.rate, seconds=limit.rate_seconds),
        )
    return start + interval


@dataclass(frozen=True, slots=True)
class Live:
    """What the key's admissions that still count add up to."""

    jobs: int  # admitted and not ended
    pages: int  # reserved by them
    waiting: int  # not running yet (queued, or not inserted yet)


async def _live(s: AsyncSession, key_id: str, scope: str, *, besides: str | None = None) -> Live:
    """The key's admissions for ``scope`` that still count (``besides``: leave out that job's), summed in
    SQL; those that no longer do are deleted. Summing in Python made a submit cost 28 ms with 5,000 live
    admissions (rows fetched and built), 9-12 ms now; the query still visits each of the key's admissions,
    with an index lookup of its job."""
    since = utcnow() - GRACE
    mine = and_(Admission.key_id == key_id, Admission.scope == scope)
    alive = or_(Job.status.in_(_LIVE), and_(Job.id.is_(None), Admission.at > since))
    counted = and_(alive, Admission.job_id != besides) if besides is not None else alive

    def total(when: Any, value: Any = 1) -> Any:
        return func.coalesce(func.sum(case((when, value), else_=0)), 0)

    query = (
        select(
            total(counted),
            total(counted, Admission.pages),
            total(and_(counted, Job.status.is_distinct_from(JobStatus.RUNNING.value))),
            total(~alive),
        )
        .select_from(Admission)
        .outerjoin(Job, Job.id == Admission.job_id)
        .where(mine)
    )
    jobs, pages, waiting, dead = (await s.execute(query)).one()
    if dead:
        live_job = select(Job.id).where(Job.id == Admission.job_id, Job.status.in_(_LIVE)).exists()
        any_job = select(Job.id).where(Job.id == Admission.job_id).exists()
        await s.execute(delete(Admission).where(mine, ~live_job, or_(any_job, Admission.at <= since)))
    return Live(int(jobs), int(pages), int(waiting))


async def _check_quota(s: AsyncSession, key_id: str, limit: Limit, service: str, reserved: int, pages: int) -> None:
    assert limit.pages_quota is not None
    today = utcnow().date()
    query = select(func.coalesce(func.sum(Usage.pages), 0)).where(
        Usage.key_id == key_id, Usage.day >= period_start(limit.quota_period, today)
    )
    if limit.scope != EVERY_SERVICE:
        query = query.where(Usage.service == limit.scope)
    used = int((await s.execute(query)).scalar_one()) + reserved
    if used + max(pages, 1) <= limit.pages_quota:
        return
    end = period_end(limit.quota_period, today)
    seconds = max(1, math.ceil((datetime(end.year, end.month, end.day, tzinfo=UTC) - utcnow()).total_seconds()))
    raise OcrgwError(
        ErrorCode.QUOTA_EXCEEDED,
        f"The key's quota of {limit.pages_quota} pages a {limit.quota_period} for {service} is used up"
        + (f" ({used} read or reserved; this document has {pages})." if pages else f" ({used} read or reserved)."),
        retry_after=seconds,
        limit=limit.limited(service, limit.pages_quota, period=limit.quota_period),
    )
