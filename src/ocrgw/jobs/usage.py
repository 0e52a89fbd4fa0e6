"""Usage metering, billed as the vendors bill: the ``usage`` table (calls and pages per UTC day, key and
service) and all its SQL. Counters are bumped inside the transaction that makes something billable, so a
record is never lost and never made twice:
- an asynchronous API's accepted call (Azure Read and Document Intelligence's 202, the native 202) in the
  transaction that inserts its job (``jobs.inserts``);
- a synchronous API's call (Huawei, OCR.space, Image Analysis, the tutorial APIs) that made a job, when
  its answer starts if that is a 2xx (``ops.http``, through the same group commit): Huawei's failed or
  timed-out call is an error status and bills nothing, OCR.space's is a 200 and is billed per request;
- pages read, at the worker's one transition of a job to succeeded (``pipeline.runner``): a job whose
  worker died and was retried is counted once. Polls and result reads are never billed.
Rows are never deleted (job retention does not touch them) and carry no foreign key, so they outlive the
jobs and even the keys they count."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import BigInteger, Connection, Date, String, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, Session, mapped_column

from ocrgw.auth.models import ApiKey
from ocrgw.db import Base
from ocrgw.errors import ErrorCode, OcrgwError

NO_KEY = ""  # the key_id of calls made while auth is off (a primary key column cannot be NULL)

# Job dialect (as stored in jobs.dialect) -> the vendor service it is billed as. API versions of one service
# bill as that service (Azure bills Read, not Read v3.1); Form Recognizer is Document Intelligence's old name.
_BY_PREFIX = (
    ("azure-read-", "azure-read"),
    ("azure-imageanalysis", "azure-imageanalysis"),
    ("azure-formrecognizer", "azure-docintel"),
    ("azure-docintel", "azure-docintel"),
)
SERVICES = (
    "native",
    "azure-read",
    "azure-docintel",
    "azure-imageanalysis",
    "ocrspace",
    "huawei-general-text",
    "huawei-passport",
    "aws-textract",
    "seed-flask",
    "seed-stream",
    "google-vision",
)


def service_of(dialect: str, outputs: Iterable[str] | None) -> str:
    """The service a job of ``dialect`` asking for ``outputs`` (JobSpec.outputs) is billed as. Huawei bills
    each API apart (general text, passport); its passport jobs are the ones asking for the MRZ."""
    if dialect == "huawei":
        return "huawei-passport" if "mrz" in (outputs or ()) else "huawei-general-text"
    for prefix, service in _BY_PREFIX:
        if dialect.startswith(prefix):
            return service
    return dialect


class Usage(Base):
    __tablename__ = "usage"

    day: Mapped[date] = mapped_column(Date, primary_key=True)  # UTC
    key_id: Mapped[str] = mapped_column(String(36), primary_key=True)  # NO_KEY when auth is off
    service: Mapped[str] = mapped_column(String(40), primary_key=True)
    calls: Mapped[int] = mapped_column(BigInteger, default=0)  # billable (2xx) calls
    pages: Mapped[int] = mapped_column(BigInteger, default=0)  # pages read by jobs that succeeded


@dataclass(frozen=True, slots=True)
class Bump:
    """Counts to add to one usage row."""

    day: date
    key_id: str | None
    service: str
    calls: int = 0
    pages: int = 0


def call_of_row(row: Mapping) -> Bump:
    """The billable call of a new job's row (``jobs.service.submit``): on the day it was accepted."""
    return Bump(
        row["created_at"].date(), row["owner_key_id"], service_of(row["dialect"], row["spec"].get("outputs")), calls=1
    )


def _merged(bumps: Iterable[Bump]) -> list[dict]:
    """One parameter set per row (PostgreSQL refuses a statement that updates one row twice), in key
    order, so two processes' batches lock the rows they share in the same order and cannot deadlock."""
    acc: dict[tuple[date, str, str], list[int]] = {}
    for b in bumps:
        n = acc.setdefault((b.day, b.key_id or NO_KEY, b.service), [0, 0])
        n[0] += b.calls
        n[1] += b.pages
    rows = sorted(acc.items())
    return [{"day": d, "key_id": k, "service": s, "calls": c, "pages": p} for (d, k, s), (c, p) in rows]


def _upsert(dialect_name: str):
    ins = (postgresql.insert if dialect_name == "postgresql" else sqlite.insert)(Usage)
    return ins.on_conflict_do_update(
        index_elements=[Usage.day, Usage.key_id, Usage.service],
        set_={"calls": Usage.calls + ins.excluded.calls, "pages": Usage.pages + ins.excluded.pages},
    )


def bump_sync(session_or_conn: Session | Connection, bumps: Iterable[Bump]) -> None:
    """Add ``bumps`` in the caller's transaction (a worker's session, or the SQLite writer's connection)."""
    params = _merged(bumps)
    if params:
        bind = session_or_conn.get_bind() if isinstance(session_or_conn, Session) else session_or_conn
        session_or_conn.execute(_upsert(bind.dialect.name), params)


async def bump(session: AsyncSession, bumps: Iterable[Bump]) -> None:
    params = _merged(bumps)
    if params:
        conn = await session.connection()
        await conn.execute(_upsert(conn.dialect.name), params)


def bill_pages(session: Session, row: Any, today: date) -> int:
    """Bill the pages of a job the caller's transaction has just made succeeded, from its row as that
    statement returned it (``repository.succeed``: owner_key_id, dialect, spec, pages_done); returns how
    many."""
    if row is None or not row.pages_done:
        return 0
    bump_sync(
        session.connection(),  # Core: the ORM's bulk path cost more CPU than the statement
        [Bump(today, row.owner_key_id, service_of(row.dialect, (row.spec or {}).get("outputs")), pages=row.pages_done)],
    )
    return row.pages_done


# ------------------------------------------------------------------------------------------------ reading
@dataclass(frozen=True, slots=True)
class UsageRow:
    day: date
    key_id: str | None
    key_name: str | None
    service: str
    calls: int
    pages: int


def report_stmt(*, key_ids: list[str] | None, service: str | None, since: date | None, until: date | None):
    """Usage rows, oldest day first, with each key's name; ``since`` and ``until`` are inclusive."""
    stmt = select(Usage.day, Usage.key_id, ApiKey.name, Usage.service, Usage.calls, Usage.pages).outerjoin(
        ApiKey, ApiKey.id == Usage.key_id
    )
    if key_ids is not None:
        stmt = stmt.where(Usage.key_id.in_(key_ids))
    if service is not None:
        stmt = stmt.where(Usage.service == service)
    if since is not None:
        stmt = stmt.where(Usage.day >= since)
    if until is not None:
        stmt = stmt.where(Usage.day <= until)
    return stmt.order_by(Usage.day, ApiKey.name, Usage.key_id, Usage.service)


def to_rows(result: Iterable) -> list[UsageRow]:
    return [UsageRow(d, k or None, name, s, c, p) for d, k, name, s, c, p in result]


def matching_keys_stmt(ref: str):
    """Keys a caller may name in a filter: by id, name, secret prefix or AK (revoked keys included: their
    usage stays)."""
    return select(ApiKey.id).where(
        (ApiKey.id == ref) | (ApiKey.name == ref) | (ApiKey.prefix == ref) | (ApiKey.access_key == ref)
    )


def check_filters(service: str | None, since: date | None, until: date | None) -> None:
    """Refuse a service filter that can only match nothing by mistake (a typo); days out of order simply
    match no day."""
    if service is not None and service not in SERVICES:
        raise OcrgwError(
            ErrorCode.INVALID_PARAMETER,
            f"Unknown service {service!r}; the services are: {', '.join(SERVICES)}.",
            param="service",
        )


async def report(
    db: async_sessionmaker, *, key: str | None, service: str | None, since: date | None, until: date | None
) -> list[UsageRow]:
    """Usage rows matching the filters (``key``: a key's id, name, prefix or AK); NotFound for a key that
    matches none, InvalidParameter for an unknown service."""
    check_filters(service, since, until)
    async with db() as s:
        key_ids = None
        if key is not None:
            key_ids = list((await s.execute(matching_keys_stmt(key))).scalars())
            if not key_ids:
                raise OcrgwError(ErrorCode.NOT_FOUND, f"No API key matches {key!r}.", param="key")
        stmt = report_stmt(key_ids=key_ids, service=service, since=since, until=until)
        return to_rows((await s.execute(stmt)).all())


async def totals(session: AsyncSession) -> list[tuple[str, str, int, int]]:
    """(key id, service, calls, pages) over all days, for the Prometheus counters read at scrape."""
    rows = await session.execute(
        select(Usage.key_id, Usage.service, func.sum(Usage.calls), func.sum(Usage.pages)).group_by(
            Usage.key_id, Usage.service
        )
    )
    return [(k, s, int(c or 0), int(p or 0)) for k, s, c, p in rows.all()]
