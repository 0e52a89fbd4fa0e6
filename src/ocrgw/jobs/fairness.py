"""Fair scheduling across keys, in SQL (the repository's statements for it, kept apart for their size):
start-time fair queueing. A new job's ``fair_tag`` (its start tag) is the virtual time for a key with no
job waiting or running, else max(virtual time, that key's last tag + 1/weight); the virtual time is the
largest tag running (the job in service), or the smallest still queued when none runs (0 when idle).
A worker handed any job id claims the queued job with the smallest (fair_tag, created_at)
(``take_stmt``): one message, one claim, so every queued job still has a message left for it.

So a key with one job waits behind about one job of each other busy key, never behind another key's
whole backlog: with key A's 60 jobs tagged 0..59 and job 4 running, key B's first job is tagged 4 and
runs next (ties go to the job created first). A key whose jobs all ended starts again from the virtual
time, never from its old tags. Jobs handed back after a lost run keep their tag, which is below the
virtual time: they go first.

Tags are assigned by the API process as it inserts rows (``jobs.inserts``): SQLite rows are written by
one thread of the one API process, so its reads are exact; on PostgreSQL the insert transaction takes a
transaction-level advisory lock first, so concurrent API processes assign tags one batch at a time."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from ocrgw.jobs.models import Job
from ocrgw.jobs.states import JobStatus

Q = JobStatus.QUEUED.value
R = JobStatus.RUNNING.value
STEP = 1.0  # 1/weight: every key weighs the same for now
_J = aliased(Job)  # the claim's inner select, apart from the row it updates
_LOCK = "SELECT pg_advisory_xact_lock(7219034811)"  # ocrgw's fair-tag lock (an arbitrary constant)


def _virtual_time():
    running = select(func.max(Job.fair_tag)).where(Job.status == R).scalar_subquery()
    queued = select(func.min(Job.fair_tag)).where(Job.status == Q).scalar_subquery()
    return func.coalesce(running, queued, 0.0)


def tags_stmt(keys: list[str | None]):
    """One row: the virtual time, then each key's largest tag among its waiting jobs and among its running
    ones (NULL for none), two columns a key, each an index lookup (``ix_jobs_owner_status_tag``) however
    many jobs the key has waiting. One statement rather than two: a round trip less in every insert."""
    cols = []
    for key in keys:
        who = Job.owner_key_id.is_(None) if key is None else Job.owner_key_id == key
        for status in (Q, R):
            cols.append(select(func.max(Job.fair_tag)).where(who, Job.status == status).scalar_subquery())
    return select(_virtual_time(), *cols)


def _last_tags(keys: list[str | None], row) -> dict[str | None, float]:
    last: dict[str | None, float] = {}
    for i, key in enumerate(keys):
        tags = [float(t) for t in row[2 * i : 2 * i + 2] if t is not None]
        if tags:
            last[key] = max(tags)
    return last


def assign(rows: list[dict[str, Any]], vtime: float, last: dict[str | None, float]) -> None:
    """Give each new row its tag, in the order the rows came (a key's own jobs stay first-come)."""
    for row in rows:
        key = row["owner_key_id"]
        tag = max(vtime, last[key] + STEP) if key in last else vtime
        last[key] = row["fair_tag"] = tag


def tag_rows_sync(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if not rows:  # a batch of usage records only (a synchronous call billed at its answer)
        return
    keys = list({r["owner_key_id"]: None for r in rows})
    row = conn.execute(tags_stmt(keys)).one()
    assign(rows, float(row[0]), _last_tags(keys, row[1:]))


async def tag_rows(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """As ``tag_rows_sync``, on the API's async connection, inside the insert's transaction."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        await conn.execute(text(_LOCK))  # held to the commit: other API processes tag after this batch
    keys = list({r["owner_key_id"]: None for r in rows})
    row = (await conn.execute(tags_stmt(keys))).one()
    assign(rows, float(row[0]), _last_tags(keys, row[1:]))


def _first(where):
    """The id of the first job (of the alias ``_J``) matching ``where`` in fair order, as a subquery;
    concurrent claimers on PostgreSQL skip a row another holds instead of waiting for it; SQLite has one
    writer at a time."""
    return (
        select(_J.id)
        .where(*where)
        .order_by(_J.fair_tag, _J.created_at)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )


def take_stmt(worker: str, now: datetime, lease: float):
    """Claim, in one statement that returns the claimed row, a job whose run was lost (its lease ran out,
    or was ended because its process died) if any, else the queued job first in fair order; either with
    an attempt left (each take costs one). A lost run goes first, as it was claimed before any queued job.
    COALESCE evaluates its second subquery only when the first finds nothing (both PostgreSQL, whose
    sub-plans run when first needed, and SQLite): one round trip and no second read of the row, where a
    statement per kind and a read-back took three on a synchronous request's path."""
    lost = _first((_J.status == R, _J.lease_expires_at < now, _J.attempts < _J.max_attempts))
    queued = _first((_J.status == Q, _J.attempts < _J.max_attempts))
    return (
        update(Job)
        .where(Job.id == func.coalesce(lost, queued))
        .values(
            status=R,
            attempts=Job.attempts + 1,
            lease_owner=worker,
            lease_expires_at=now + timedelta(seconds=lease),
            started_at=func.coalesce(Job.started_at, now),
            updated_at=now,
        )
        .returning(Job)
        .execution_options(synchronize_session=False)
    )
