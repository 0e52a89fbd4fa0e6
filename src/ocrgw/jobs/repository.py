"""All SQL for jobs, results and API keys. Statements are built once here and executed by either the
async sessions of the API process or the sync sessions of workers and the CLI. Nothing here commits:
the caller's transaction boundary does."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Row,
    and_,
    bindparam,
    case,
    delete,
    false,
    func,
    insert,
    literal_column,
    null,
    or_,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from ocrgw.clock import as_utc, utcnow
from ocrgw.db import changed
from ocrgw.errors import ErrorCode
from ocrgw.jobs import fairness
from ocrgw.jobs.leases import owner_is_dead
from ocrgw.jobs.models import Job, Line, Page, Word
from ocrgw.jobs.schemas import (
    CallbackView,
    JobSpec,
    JobView,
    LineResult,
    PageResult,
    WordResult,
    layout_from_json,
    layout_to_json,
)
from ocrgw.jobs.states import JobStatus

Q = JobStatus.QUEUED.value
R = JobStatus.RUNNING.value


# ----------------------------------------------------------------------------------------------- views
def job_view(job: Job, pages: list[PageResult] | None = None) -> JobView:
    return JobView(
        id=job.id,
        dialect=job.dialect,
        status=JobStatus(job.status),
        spec=JobSpec.model_validate(job.spec),
        created_at=as_utc(job.created_at),
        updated_at=as_utc(job.updated_at),
        attempts=job.attempts,
        pages_total=job.pages_total,
        pages_done=job.pages_done,
        error_code=job.error_code,
        error_message=job.error_message,
        expires_at=as_utc(job.expires_at) if job.expires_at else None,
        artifact_key=job.artifact_key,
        analysis=job.analysis,
        callback=(
            CallbackView(
                job.callback_url, job.callback_state or "pending", job.callback_attempts or 0, job.callback_error
            )
            if job.callback_url
            else None
        ),
        pages=pages,
    )


def queued_view(row: dict, spec: JobSpec) -> JobView:
    """The view of a job just inserted from ``row`` (``insert_jobs``), without reading it back."""
    callback = CallbackView(row["callback_url"], "pending", 0, None) if row["callback_url"] else None
    return JobView(
        id=row["id"],
        dialect=row["dialect"],
        status=JobStatus.QUEUED,
        spec=spec,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        attempts=0,
        pages_total=row["pages_total"],
        pages_done=0,
        error_code=None,
        error_message=None,
        expires_at=row["expires_at"],
        callback=callback,
    )


# ----------------------------------------------------------------------------------------- statements
def exhaust_stmt(job_id: str, now: datetime):
    """Fail a job that is due to run again but has used every attempt (it keeps killing its worker)."""
    return (
        update(Job)
        .where(
            Job.id == job_id,
            Job.attempts >= Job.max_attempts,
            or_(Job.status == Q, and_(Job.status == R, Job.lease_expires_at < now)),
        )
        .values(
            status=JobStatus.FAILED.value,
            finished_at=now,
            updated_at=now,
            lease_owner=None,
            lease_expires_at=None,
            error_code=ErrorCode.WORKER_CRASHED.value,
            error_message="The document stopped the OCR worker on every attempt "
            "(crash, out of memory or time limit); giving up.",
        )
    )


def _held(job_id: str, worker: str):
    return and_(Job.id == job_id, Job.lease_owner == worker, Job.status == R)


def renew_stmt(job_id: str, worker: str, now: datetime, lease: float):
    return (
        update(Job).where(_held(job_id, worker)).values(lease_expires_at=now + timedelta(seconds=lease), updated_at=now)
    )


def finish_stmt(job_id: str, worker: str, now: datetime, status: JobStatus, code=None, message=None):
    return (
        update(Job)
        .where(_held(job_id, worker))
        .values(
            status=status.value,
            finished_at=now,
            updated_at=now,
            lease_owner=None,
            lease_expires_at=None,
            error_code=code,
            error_message=message,
        )
    )


def release_stmt(job_id: str, worker: str, now: datetime, *, refund: bool):
    """Hand a job back after its worker died (costs the attempt) or was stopped for shutdown (refund)."""
    exhausted = and_(Job.attempts >= Job.max_attempts, false() if refund else true())
    return (
        update(Job)
        .where(_held(job_id, worker))
        .values(
            status=case((exhausted, JobStatus.FAILED.value), else_=Q),
            attempts=Job.attempts - 1 if refund else Job.attempts,
            finished_at=case((exhausted, now), else_=None),
            error_code=case((exhausted, ErrorCode.WORKER_CRASHED.value), else_=None),
            error_message=case(
                (exhausted, "The document stopped the OCR worker on every attempt; giving up."), else_=None
            ),
            lease_owner=None,
            lease_expires_at=None,
            updated_at=now,
        )
    )


def recoverable_stmt(now: datetime, queued_before: datetime, limit: int = 1000):
    """Jobs a queue may have lost: queued for too long, or running under a lease that ran out."""
    return (
        select(Job.id)
        .where(
            or_(
                and_(Job.status == Q, Job.updated_at < queued_before),
                and_(Job.status == R, Job.lease_expires_at < now),
            )
        )
        .order_by(Job.created_at)
        .limit(limit)
    )


def running_leases_stmt():
    return select(Job.id, Job.lease_owner).where(Job.status == R)


# ------------------------------------------------------------------------------------ async (API side)
async def insert_jobs(session: AsyncSession, rows: list[dict]) -> None:
    """New jobs, one statement for all (``jobs.inserts`` batches them); every row has the same keys. On the
    session's connection, as a Core insert into the table: the ORM's bulk-insert path cost more CPU than
    the rest of the commit."""
    conn = await session.connection()
    await fairness.tag_rows(conn, rows)
    await conn.execute(insert(Job), rows)


async def due_callbacks(session: AsyncSession, now: datetime, limit: int = 50) -> list[tuple[str, datetime]]:
    """Ended jobs whose callback is due: (id, the callback_next_at seen, for the claim)."""
    rows = await session.execute(
        select(Job.id, Job.callback_next_at)
        .where(
            Job.callback_state == "pending",
            Job.callback_next_at <= now,
            Job.status.in_((JobStatus.SUCCEEDED.value, JobStatus.FAILED.value)),
        )
        .order_by(Job.callback_next_at)
        .limit(limit)
    )
    return [(r[0], r[1]) for r in rows if r[1] is not None]  # due: callback_next_at <= now


async def claim_callback(session: AsyncSession, job_id: str, seen: datetime, until: datetime) -> bool:
    """Take one delivery attempt: only one API process wins it, the others see next_at has moved."""
    res = await session.execute(
        update(Job)
        .where(Job.id == job_id, Job.callback_state == "pending", Job.callback_next_at == seen)
        .values(callback_next_at=until)
    )
    return changed(res) == 1


async def callback_outcome(
    session: AsyncSession, job_id: str, *, delivered: bool, attempts: int, next_at: datetime | None, error: str | None
) -> None:
    state = "delivered" if delivered else ("pending" if next_at is not None else "failed")
    await session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(callback_state=state, callback_attempts=attempts, callback_next_at=next_at, callback_error=error)
    )


async def find_idempotent(session: AsyncSession, digest: str) -> Job | None:
    return (await session.execute(select(Job).where(Job.idempotency_key == digest))).scalar_one_or_none()


async def get_job(session: AsyncSession, job_id: str) -> Job | None:
    return await session.get(Job, job_id)


async def list_jobs(
    session: AsyncSession,
    *,
    owner_key_id: str | None,
    dialect: str,
    status: str | None,
    after: tuple[datetime, str] | None,
    limit: int,
    now: datetime,
) -> list[Job]:
    """One page of a caller's live jobs of one API family, newest first; ``after`` is the (created_at, id)
    of the last row of the previous page (keyset pagination: stable while jobs are added)."""
    stmt = select(Job).where(Job.dialect == dialect, or_(Job.expires_at.is_(None), Job.expires_at > now))
    if owner_key_id is not None:
        stmt = stmt.where(Job.owner_key_id == owner_key_id)
    if status is not None:
        stmt = stmt.where(Job.status == status)
    if after is not None:
        created, job_id = after
        stmt = stmt.where(or_(Job.created_at < created, and_(Job.created_at == created, Job.id < job_id)))
    stmt = stmt.order_by(Job.created_at.desc(), Job.id.desc()).limit(limit)
    return list((await session.execute(stmt)).scalars())


# A result's two statements, built once: constructing them per read was ~11 % of an Azure Read poll's CPU
# on a succeeded receipt (py-spy), more than executing them. Bound by ``job_id`` and an expanding
# ``page_ids`` (the IN list rendered per call).
_PAGES = (
    select(
        Page.id,
        Page.page_no,
        Page.width,
        Page.height,
        Page.unit,
        Page.angle,
        Page.language,
        Page.preprocessing,
        Page.layout,
    )
    .where(Page.job_id == bindparam("job_id"))
    .order_by(Page.page_no)
)


def _text_stmt():
    """The pages' lines, then their words, in one statement (UNION ALL): one round trip fewer on every read
    of a result. Lines come first (kind 0), in page and reading order, with their ids; words (kind 1) by
    line and position. The first branch's column types decode both."""
    page_ids = bindparam("page_ids", expanding=True)
    lines = select(
        literal_column("0").label("kind"),
        Line.page_id.label("grp"),
        Line.idx.label("pos"),
        Line.id.label("ref"),
        Line.text,
        Line.bbox,
        Line.confidence,
        Line.style,
        Line.style_confidence,
        Line.language,
    ).where(Line.page_id.in_(page_ids))
    words = (
        select(
            literal_column("1"),
            Word.line_id,
            Word.idx,
            null(),
            Word.text,
            Word.bbox,
            Word.confidence,
            null(),
            null(),
            null(),
        )
        .join(Line, Line.id == Word.line_id)
        .where(Line.page_id.in_(page_ids))
    )
    return union_all(lines, words).order_by("kind", "grp", "pos")


_TEXT = _text_stmt()


class _PageAssembler:
    """Result pages with their lines and words in reading order, from two set-based queries."""

    def __init__(self, prow) -> None:
        self.pages: dict[int, PageResult] = {
            pid: PageResult(no, w, h, unit, angle, lang, pre or [], layout=layout_from_json(lay))
            for pid, no, w, h, unit, angle, lang, pre, lay in prow
        }
        self.lines: dict[int, LineResult] = {}

    def add_text(self, rows) -> None:
        """Rows of ``_TEXT``: every line, then every word."""
        lines = self.lines
        for kind, grp, _pos, ref, text, bbox, conf, style, style_conf, lang in rows:
            if kind == 0:
                line = LineResult(text, bbox, conf, style=style, style_confidence=style_conf, language=lang)
                lines[ref] = line
                self.pages[grp].lines.append(line)
            else:
                lines[grp].words.append(WordResult(text, bbox, conf))


async def load_pages(session: AsyncSession, job_id: str) -> list[PageResult]:
    asm = _PageAssembler((await session.execute(_PAGES, {"job_id": job_id})).all())
    if asm.pages:
        asm.add_text((await session.execute(_TEXT, {"page_ids": list(asm.pages)})).all())
    return list(asm.pages.values())


def load_pages_sync(session: Session, job_id: str) -> list[PageResult]:
    asm = _PageAssembler(session.execute(_PAGES, {"job_id": job_id}).all())
    if asm.pages:
        asm.add_text(session.execute(_TEXT, {"page_ids": list(asm.pages)}).all())
    return list(asm.pages.values())


def set_artifact(session: Session, job_id: str, worker: str, key: str) -> bool:
    return changed(session.execute(update(Job).where(_held(job_id, worker)).values(artifact_key=key))) == 1


def get_analysis_sync(session: Session, job_id: str) -> dict:
    return session.execute(select(Job.analysis).where(Job.id == job_id)).scalar_one_or_none() or {}


def set_analysis(session: Session, job_id: str, worker: str, kind: str, value: dict) -> bool:
    """Record one kind of document-level finding (e.g. "mrz"); only the lease holder may."""
    current = session.execute(select(Job.analysis).where(Job.id == job_id)).scalar_one_or_none() or {}
    merged = {**current, kind: value}
    return changed(session.execute(update(Job).where(_held(job_id, worker)).values(analysis=merged))) == 1


async def recoverable_ids(session: AsyncSession, now: datetime, queued_before: datetime) -> list[str]:
    return list((await session.execute(recoverable_stmt(now, queued_before))).scalars())


async def touch_queued(session: AsyncSession, job_ids: list[str], now: datetime) -> None:
    await session.execute(update(Job).where(Job.id.in_(job_ids), Job.status == Q).values(updated_at=now))


async def running_leases(session: AsyncSession) -> list[tuple[str, str | None]]:
    return [(r[0], r[1]) for r in (await session.execute(running_leases_stmt())).all()]


async def release(session: AsyncSession, job_id: str, worker: str, *, refund: bool) -> bool:
    res = await session.execute(release_stmt(job_id, worker, utcnow(), refund=refund))
    return changed(res) == 1


async def held_by(session: AsyncSession, worker: str) -> str | None:
    """The job a worker process holds (it runs one at a time), whatever message it was handed."""
    return (await session.execute(select(Job.id).where(Job.lease_owner == worker, Job.status == R).limit(1))).scalar()


async def expire_lease(session: AsyncSession, job_id: str, owner: str) -> bool:
    """Mark a lease held by a process known to be dead as expired, so the normal claim takes over."""
    res = await session.execute(
        update(Job).where(_held(job_id, owner)).values(lease_expires_at=utcnow() - timedelta(seconds=1))
    )
    return changed(res) == 1


async def count_queued(session: AsyncSession) -> int:
    return (await session.execute(select(func.count()).select_from(Job).where(Job.status == Q))).scalar_one()


async def count_queued_by_key(session: AsyncSession) -> dict[str | None, int]:
    """Queued jobs per owning key (``jobs.backlog``'s per-key share); keys with none are absent."""
    rows = await session.execute(
        select(Job.owner_key_id, func.count()).where(Job.status == Q).group_by(Job.owner_key_id)
    )
    return {key: n for key, n in rows.all()}


async def count_by_status(session: AsyncSession) -> dict[str, int]:
    """Jobs per state, for /metrics (one grouped scan; states with no jobs are absent)."""
    rows = await session.execute(select(Job.status, func.count()).group_by(Job.status))
    return {status: n for status, n in rows.all()}


async def oldest_queued_at(session: AsyncSession) -> datetime | None:
    return (await session.execute(select(func.min(Job.created_at)).where(Job.status == Q))).scalar_one()


def blob_keys(blob: str | None, artifact: str | None, analysis: dict | None) -> list[str]:
    """Every blob a job holds: its document, its artifact (a searchable PDF) and its figure crops."""
    figures = (analysis or {}).get("figures") or {}
    return [k for k in (blob, artifact, *figures.values()) if k]


async def delete_job(session: AsyncSession, job_id: str) -> list[str]:
    """Remove a job and its results; returns the blob keys it held (``blob_keys``) for deletion."""
    row = (
        await session.execute(select(Job.blob_key, Job.artifact_key, Job.analysis).where(Job.id == job_id))
    ).one_or_none()
    if row is None:
        return []
    await _delete_results(session, [job_id])
    await session.execute(delete(Job).where(Job.id == job_id))
    return blob_keys(*row)


async def _delete_results(session: AsyncSession, job_ids: list[str]) -> None:
    """Words, lines and pages explicitly, child tables first: no reliance on the database's cascade."""
    pages = select(Page.id).where(Page.job_id.in_(job_ids))
    lines = select(Line.id).where(Line.page_id.in_(pages))
    await session.execute(delete(Word).where(Word.line_id.in_(lines)))
    await session.execute(delete(Line).where(Line.page_id.in_(pages)))
    await session.execute(delete(Page).where(Page.job_id.in_(job_ids)))


async def expired_jobs(session: AsyncSession, now: datetime, limit: int = 500) -> list[tuple[str, list[str]]]:
    """(job id, its blob keys: ``blob_keys``) of finished jobs past their retention; running jobs stay."""
    rows = await session.execute(
        select(Job.id, Job.blob_key, Job.artifact_key, Job.analysis)
        .where(Job.expires_at < now, Job.status.in_((JobStatus.SUCCEEDED.value, JobStatus.FAILED.value)))
        .limit(limit)
    )
    return [(r[0], blob_keys(r[1], r[2], r[3])) for r in rows.all()]


async def purge_jobs(session: AsyncSession, job_ids: list[str]) -> None:
    await _delete_results(session, job_ids)
    await session.execute(delete(Job).where(Job.id.in_(job_ids)))


# ---------------------------------------------------------------------------------- sync (worker side)
def claim(session: Session, job_id: str, worker: str, lease: float) -> Row[Any] | None:
    """Take a job for the message ``job_id``: not necessarily that one (``jobs.fairness``). First a job
    whose run was lost, then the queued job first in fair order (``fairness.take_stmt``, which returns the
    row). A message that takes its own job, the usual case, is done in that one statement. Otherwise its
    own job may be running under a dead process (a redelivery after a worker crash): leases held by dead
    processes on this host are ended, so that job is lost, not held until its lease runs out, and is taken
    now if this message took nothing, else by the next message (lost runs go first). Checking the leases
    before every take cost each job a round trip. Last, the message's own job, unless taken, is failed if
    it is due with no attempt left (no take picks such a job)."""
    now = utcnow()
    conn = session.connection()  # Core on the session's connection: the ORM's paths cost more CPU
    taken = conn.execute(fairness.take_stmt(worker, now, lease)).one_or_none()
    if taken is not None and taken.id == job_id:
        return taken
    ended = 0
    for held, owner in conn.execute(running_leases_stmt()).all():
        if owner is not None and owner_is_dead(owner):
            stmt = update(Job).where(_held(held, owner)).values(lease_expires_at=now - timedelta(seconds=1))
            ended += changed(conn.execute(stmt))
    if taken is None and ended:
        taken = conn.execute(fairness.take_stmt(worker, now, lease)).one_or_none()
    if taken is None or taken.id != job_id:
        conn.execute(exhaust_stmt(job_id, now))
    return taken


def renew(session: Session, job_id: str, worker: str, lease: float) -> bool:
    return changed(session.execute(renew_stmt(job_id, worker, utcnow(), lease))) == 1


def finish(
    session: Session,
    job_id: str,
    worker: str,
    status: JobStatus,
    code: str | None = None,
    message: str | None = None,
) -> bool:
    return changed(session.execute(finish_stmt(job_id, worker, utcnow(), status, code, message))) == 1


def succeed(session: Session, job_id: str, worker: str):
    """Mark a job the caller holds succeeded; returns what billing its pages needs (owner_key_id, dialect,
    spec, pages_done: ``usage.bill_pages``) read by the same statement, or None if the job was no longer
    this worker's."""
    stmt = finish_stmt(job_id, worker, utcnow(), JobStatus.SUCCEEDED).returning(
        Job.owner_key_id, Job.dialect, Job.spec, Job.pages_done
    )
    return session.connection().execute(stmt).one_or_none()


def done_page_numbers(session: Session, job_id: str) -> set[int]:
    return set(session.execute(select(Page.page_no).where(Page.job_id == job_id)).scalars())


class LeaseLost(Exception):
    """Another worker owns the job now; this one must stop writing."""


def write_page(
    session: Session,
    job_id: str,
    worker: str,
    page: PageResult,
    lease: float,
    engine_ms: float = 0.0,
    *,
    fresh: bool = False,
) -> bool:
    """Store one finished page, replacing any copy a crashed earlier attempt left (idempotent); returns
    True when the job then has all its pages. The lease check is the first statement, so SQLite takes the
    write lock before anything is read; it also sets the job's page count as it will be once this page is
    in (the other pages stored, plus this one), which saves a statement per page. ``fresh``: the caller
    knows the job has no page rows but its own of this run (its claim found none, and only the lease
    holder writes), so there is no earlier copy to delete."""
    now = utcnow()
    others = (
        select(func.count())
        .select_from(Page)
        .where(Page.job_id == job_id, Page.page_no != page.page_no)
        .scalar_subquery()
    )
    conn = session.connection()  # Core on the session's connection: the ORM's bulk paths cost more CPU
    renewed = conn.execute(
        renew_stmt(job_id, worker, now, lease).values(pages_done=others + 1).returning(Job.pages_done, Job.pages_total)
    ).one_or_none()
    if renewed is None:
        raise LeaseLost(job_id)
    if not fresh:
        conn.execute(delete(Page).where(Page.job_id == job_id, Page.page_no == page.page_no))
    page_id = conn.execute(
        insert(Page)
        .values(
            job_id=job_id,
            page_no=page.page_no,
            width=page.width,
            height=page.height,
            unit=page.unit,
            angle=page.angle,
            language=page.language,
            preprocessing=page.preprocessing,
            engine_ms=engine_ms,
            layout=layout_to_json(page.layout),
        )
        .returning(Page.id)
    ).scalar_one()
    if page.lines:
        line_ids = (
            conn.execute(
                insert(Line).returning(Line.id, sort_by_parameter_order=True),
                [
                    {
                        "page_id": page_id,
                        "idx": i,
                        "text": ln.text,
                        "bbox": ln.bbox,
                        "confidence": ln.confidence,
                        "style": ln.style,
                        "style_confidence": ln.style_confidence,
                        "language": ln.language,
                    }
                    for i, ln in enumerate(page.lines)
                ],
            )
            .scalars()
            .all()
        )
        words = [
            {"line_id": lid, "idx": j, "text": w.text, "bbox": w.bbox, "confidence": w.confidence}
            for lid, ln in zip(line_ids, page.lines, strict=True)
            for j, w in enumerate(ln.words)
        ]
        if words:
            conn.execute(insert(Word), words)
    return renewed.pages_total is not None and renewed.pages_done >= renewed.pages_total
