"""The job service, the one way into the core for every dialect: ``accept`` (backlog check, intake, language
and engine checks, page count, commit then enqueue, the bounded wait of synchronous APIs, and the stored
document's cleanup on any failure), then get, list, wait and delete. Submit commits the job row and only
then hands the id to the queue, so a worker can never see an id whose row is not there yet."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import anyio
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from ocrgw import ids, languages
from ocrgw.auth import Principal
from ocrgw.clock import as_utc, utcnow
from ocrgw.db import statementwise
from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.formats import ImageLimits
from ocrgw.jobs import engine_choice, usage
from ocrgw.jobs import repository as repo
from ocrgw.jobs.backlog import UNKNOWN, Backlog
from ocrgw.jobs.endings import Endings
from ocrgw.jobs.inserts import Entry, Inserts
from ocrgw.jobs.schemas import JobSpec, JobView, StoredBlob
from ocrgw.jobs.states import JobStatus
from ocrgw.ops import metrics
from ocrgw.ops.context import current_request_id, on_success_answer
from ocrgw.queue import JobQueue
from ocrgw.settings import Settings
from ocrgw.storage import BlobStore
from ocrgw.tenancy.gate import Gate, Ticket


class Source(Protocol):
    """A document not yet stored (``intake.sources``); ``save`` runs the intake checks (an image against
    the API's pixel ``limits``) and stores it."""

    async def save(self, store: BlobStore, settings: Settings, limits: ImageLimits) -> StoredBlob: ...


class Core(Protocol):
    """What accept needs of the API process's context (``context.AppContext``)."""

    settings: Settings
    db: async_sessionmaker
    queue: JobQueue
    store: BlobStore
    backlog: Backlog
    inserts: Inserts
    endings: Endings
    gate: Gate


@dataclass(frozen=True, slots=True)
class Order:
    """How to read a document, as a dialect parsed it: the spec, and the languages still in the vendor's
    words (``accept`` resolves them into ``spec.languages``)."""

    spec: JobSpec
    languages: languages.Ask | None = None


Deferred = Callable[[], Awaitable[Order]]


@dataclass(slots=True)
class Held:
    """The key a submit's backlog place is held for (``Backlog.admit``): UNKNOWN until a deferred owner is
    known and checked against its share (``Backlog.admit_key``)."""

    key: str | None


async def accept(
    ctx: Core,
    *,
    dialect: str,
    owner: Principal | Callable[[], Awaitable[Principal]],
    order: Order | Deferred,
    source: Source,
    limits: ImageLimits,
    retention_hours: float,
    wait: float | None = None,
    idempotency_key: str | None = None,
    callback: tuple[str, str] | Callable[[], Awaitable[tuple[str, str] | None]] | None = None,
    backlog: bool = True,
) -> JobView:
    """A request becomes a queued job, or an error with nothing left behind. The backlog is checked
    before the body is read, so a refused upload costs nothing; an ``order`` known before the body (query
    parameters) is checked before it too. A deferred order or owner (options or a key inside a form or a
    JSON body) is awaited once the body is stored. With ``wait`` (synchronous APIs) the job is awaited
    that many seconds and returned succeeded, or its error raised (``wait_error``); the job is not lost
    either way. ``backlog=False`` only for the documents of a request that checked the backlog itself
    (a batch storing its files as they stream in). A deferred owner is awaited before a deferred order
    (a bad key is told before a bad option), and a deferred ``callback`` (its URL in the body) last.
    ``limits`` are the pixel sizes the dialect's API takes (its vendor's, or the engine's own), checked
    from the image's headers as it is stored."""
    held = Held(owner.key_id if isinstance(owner, Principal) else UNKNOWN)
    heard = ctx.endings.heard  # before the job can be queued (``Endings.quiet_since``)
    if backlog:
        if isinstance(owner, Principal):
            ctx.backlog.share(owner.key_id, (await ctx.gate.policies.get(owner.key_id)).backlog_share)
        await ctx.backlog.admit(held.key)
    try:
        ticket = None
        if isinstance(owner, Principal) and isinstance(order, Order):  # the key's limits, before the body
            ticket = await ctx.gate.admit(owner, usage.service_of(dialect, order.spec.outputs))
        view, principal = await _create(
            ctx,
            dialect,
            owner,
            order,
            source,
            limits,
            retention_hours,
            idempotency_key,
            callback,
            wait is None,
            held if backlog else None,
            ticket,
        )
    except BaseException:
        if backlog:
            ctx.backlog.settle(created=False, key=held.key)
        raise
    if backlog:
        ctx.backlog.settle(created=True, key=held.key)
    else:
        ctx.backlog.created(principal.key_id)
    if wait is None:
        return view
    await _bill_answer(ctx, principal.key_id, usage.service_of(dialect, view.spec.outputs))
    done = await _wait(
        db=ctx.db,
        job_id=view.id,
        owner_key_id=principal.key_id,
        timeout=wait,
        endings=ctx.endings,
        fallback_seconds=ctx.settings.sync_poll_seconds,
        heard=None if view.status.terminal else heard,  # an idempotent replay may find its job ended
    )
    if done.status is not JobStatus.SUCCEEDED:
        await ctx.inserts.flush()  # its row may have committed without the WAL flush (``jobs.inserts``)
        raise wait_error(done, wait)
    return done


async def _bill_answer(ctx: Core, key_id: str | None, service: str) -> None:
    """A synchronous API's call that made a job is billed if its answer is a 2xx, when that answer starts
    (``ops.http``), once per request (a batch of documents is one call). So a job that fails or outlasts the
    wait bills nothing where the vendor answers it with an error status (Huawei, Image Analysis), and bills
    the call where the vendor answers errors 200 (OCR.space: billed per request). Outside a request, at once."""

    async def bill() -> None:
        await ctx.inserts.bill([usage.Bump(utcnow().date(), key_id, service, calls=1)])

    if not on_success_answer(("usage", key_id, service), bill):
        await bill()


async def _create(
    ctx: Core,
    dialect: str,
    owner: Principal | Callable[[], Awaitable[Principal]],
    order: Order | Deferred,
    source: Source,
    limits: ImageLimits,
    retention_hours: float,
    idempotency_key: str | None,
    callback: tuple[str, str] | Callable[[], Awaitable[tuple[str, str] | None]] | None,
    bill_call: bool,
    held: Held | None,
    ticket: Ticket | None,
) -> tuple[JobView, Principal]:
    """accept's steps up to the queued job: the order checked, the body stored, the deferred parts
    awaited, then ``submit``; the stored body is deleted if a step after it fails. A deferred owner's
    share of the backlog is checked as soon as it is known (``held``: the backlog place accept holds),
    and the key's limits (``tenancy.gate``) once the owner and the order are, if ``ticket`` (admitted
    before the body) is None; the stored document is then held against them (``Gate.settle``). A
    failure after the admission gives it back."""
    try:
        ready = await check_order(order, ctx.settings) if isinstance(order, Order) else None
        blob = await source.save(ctx.store, ctx.settings, limits)
    except BaseException:
        await ctx.gate.release(ticket)
        raise
    try:
        principal = owner if isinstance(owner, Principal) else await owner()
        if held is not None and held.key == UNKNOWN:
            policy = await ctx.gate.policies.get(principal.key_id)
            ctx.backlog.share(principal.key_id, policy.backlog_share)
            await ctx.backlog.admit_key(principal.key_id)
            held.key = principal.key_id
        if ready is None:
            assert not isinstance(order, Order)  # a deferred order, known now that the body is stored
            ready = await check_order(await order(), ctx.settings)
        spec = ready.spec
        if ticket is None:
            ticket = await ctx.gate.admit(principal, usage.service_of(dialect, spec.outputs))
        pages = await ctx.gate.settle(ticket, frames=blob.frames, pages=spec.pages, size=blob.size)
        if pages != spec.pages:
            spec = spec.model_copy(update={"pages": pages})
        notify = await callback() if callable(callback) else callback
    except BaseException:
        await ctx.gate.release(ticket)
        await ctx.store.delete(blob.key)
        raise
    try:
        view = await _submit_admitted(
            ctx, principal, dialect, spec, blob, retention_hours, idempotency_key, notify, bill_call, ticket
        )
    except BaseException:
        await ctx.gate.release(ticket)
        raise
    if view.id != ticket.job_id:  # an idempotent replay: the earlier job, none made
        await ctx.gate.release(ticket)
    return view, principal


async def _submit_admitted(
    ctx: Core,
    principal: Principal,
    dialect: str,
    spec: JobSpec,
    blob: StoredBlob,
    retention_hours: float,
    idempotency_key: str | None,
    notify: tuple[str, str] | None,
    bill_call: bool,
    ticket: Ticket,
) -> JobView:
    return await submit(
        db=ctx.db,
        queue=ctx.queue,
        store=ctx.store,
        settings=ctx.settings,
        owner_key_id=principal.key_id,
        dialect=dialect,
        spec=spec,
        blob=blob,
        retention=timedelta(hours=retention_hours),
        idempotency_key=idempotency_key,
        callback=notify,
        inserts=ctx.inserts,
        bill_call=bill_call,
        job_id=ticket.job_id,
        durable=bill_call,  # a synchronous call's answer makes its row durable itself (``jobs.inserts``)
    )


async def check_order(order: Order, settings: Settings) -> Order:
    """The order with its languages resolved into the spec and its engine checked: on the event loop while
    the installed models are known (``languages.cached``), else in a thread, since finding them lists
    folders. ``accept`` calls it; a request of several documents calls it once first, so that a bad option
    fails the request instead of each document, and hands every ``accept`` the checked order."""

    def check() -> Order:
        spec = order.spec
        if order.languages is not None:
            ask = order.languages
            detect = ask.detect and settings.detect_language
            spec = spec.model_copy(update={"languages": languages.resolve(ask, settings), "languages_detect": detect})
        check_engine(spec, settings)
        return Order(spec)

    if order.languages is None or languages.cached(settings):
        return check()
    return await anyio.to_thread.run_sync(check)


async def submit(
    *,
    db: async_sessionmaker,
    queue: JobQueue,
    store: BlobStore,
    settings: Settings,
    owner_key_id: str | None,
    dialect: str,
    spec: JobSpec,
    blob: StoredBlob,
    retention: timedelta,
    idempotency_key: str | None = None,
    callback: tuple[str, str] | None = None,
    inserts: Inserts | None = None,
    bill_call: bool = False,
    job_id: str | None = None,
    durable: bool = True,
) -> JobView:
    """A stored blob becomes a queued job; if it cannot (a bad page selection, a database error), the
    blob is deleted here. With ``idempotency_key`` (see ``idempotency_digest``), a second submit that
    loses the race to the first gets the first's job. ``callback`` is (URL, public base URL): the
    delivery loop POSTs to the URL once the job ends. The id is enqueued after the commit; if that is
    lost, the reaper re-enqueues it. With ``inserts`` (the API process's), the row is committed together
    with those of concurrent submits (``jobs.inserts``; not ``durable``: flushed by a synchronous call's
    answer), else alone. With ``bill_call`` (an asynchronous API: its 202 is the billable call) the usage
    counter is bumped in the same transaction; an idempotent replay makes no job and bills nothing."""
    entry = None
    try:
        selected = spec.selection.count(blob.frames)
        if selected == 0:
            raise OcrgwError(
                ErrorCode.INVALID_PAGE_RANGE,
                f"The page selection matches none of the document's {blob.frames} page(s).",
                param="pages",
            )
        now = utcnow()
        job_id = job_id or ids.new_id()  # accept's: the id its admission reserved (tenancy.gate)
        row: dict[str, Any] = {
            "id": job_id,
            "owner_key_id": owner_key_id,
            "dialect": dialect,
            "status": JobStatus.QUEUED.value,
            "spec": spec.model_dump(mode="json"),
            "blob_key": blob.key,
            "media_type": blob.media_type,
            "size_bytes": blob.size,
            "created_at": now,
            "updated_at": now,
            "attempts": 0,
            "max_attempts": settings.max_attempts,
            "pages_total": selected,
            "pages_done": 0,
            "expires_at": now + retention,
            "idempotency_key": idempotency_key,
            "callback_url": callback[0] if callback else None,
            "callback_base": callback[1] if callback else None,
            "callback_state": "pending" if callback else None,
            "callback_attempts": 0,
            "callback_next_at": now if callback else None,
            "request_id": current_request_id(),  # set by ops.http; None outside a request
        }
        bumps = [usage.call_of_row(row)] if bill_call else []
        if inserts is not None:
            await inserts.add(entry := Entry(row, bumps, durable=durable))
        else:
            async with db.begin() as s:
                await repo.insert_jobs(s, [row])
                await usage.bump(s, bumps)
    except IntegrityError:
        await store.delete(blob.key)
        existing = await find_idempotent(db=db, digest=idempotency_key) if idempotency_key else None
        if existing is None:
            raise
        return existing
    except BaseException:
        if entry is None or not entry.committed:  # else cancelled with its job in: the reaper queues it
            await store.delete(blob.key)
        raise
    await queue.enqueue(job_id)
    return repo.queued_view(row, spec)


def check_engine(spec: JobSpec, settings: Settings) -> None:
    """Refuse at submit a job whose named engine cannot read its languages, rather than let the worker
    fail it after the document was stored and queued."""
    try:
        engine_choice.choose(spec, settings.mode)
    except engine_choice.UnsupportedLanguages as exc:
        raise OcrgwError(ErrorCode.INVALID_PARAMETER, f"{exc}.", param="engine") from None


def idempotency_digest(dialect: str, owner_key_id: str | None, client_key: str) -> str:
    """Keys are the client's own strings, so they are scoped to the caller (and API family) by hashing."""
    return hashlib.sha256(f"{dialect}\0{owner_key_id or '-'}\0{client_key}".encode()).hexdigest()


async def find_idempotent(*, db: async_sessionmaker, digest: str) -> JobView | None:
    """The live job an earlier submit with the same key made, if any (an expired one no longer counts)."""
    async with db() as s:
        job = await repo.find_idempotent(s, digest)
        if job is None:
            return None
        if job.expires_at is not None and as_utc(job.expires_at) <= utcnow():
            job.idempotency_key = None  # free the key: the old job is gone for its owner
            await s.commit()
            return None
        return repo.job_view(job)


async def get(
    *,
    db: async_sessionmaker,
    job_id: str,
    owner_key_id: str | None,
    with_result: bool = True,
    dialects: tuple[str, ...] | None = None,
) -> JobView:
    """A job as its owner sees it; someone else's job does not exist (NotFound), as an unknown id. With
    ``dialects``, a job submitted through another API family does not exist either (each vendor API
    knows only its own operations)."""
    try:
        job_id = str(uuid.UUID(job_id))
    except ValueError as exc:
        raise OcrgwError(ErrorCode.NOT_FOUND, "The requested operation was not found.") from exc
    async with statementwise(db) as s:
        job = await repo.get_job(s, job_id)
        if (
            job is None
            or (owner_key_id is not None and job.owner_key_id != owner_key_id)
            or (job.expires_at is not None and as_utc(job.expires_at) <= utcnow())
            or (dialects is not None and not job.dialect.startswith(dialects))
        ):
            raise OcrgwError(ErrorCode.NOT_FOUND, "The requested operation was not found.")
        pages = None
        if with_result and job.status == JobStatus.SUCCEEDED.value:
            pages = await repo.load_pages(s, job_id)
        return repo.job_view(job, pages)


def _cursor(view: JobView) -> str:
    raw = f"{view.created_at.isoformat()}|{view.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _after(cursor: str) -> tuple[datetime, str]:
    try:
        created, _, job_id = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().partition("|")
        return as_utc(datetime.fromisoformat(created)), str(uuid.UUID(job_id))
    except (ValueError, UnicodeDecodeError) as exc:
        raise OcrgwError(
            ErrorCode.INVALID_PARAMETER,
            "The cursor is not valid: pass next_cursor from a previous page unchanged.",
            param="cursor",
        ) from exc


async def list_jobs(
    *,
    db: async_sessionmaker,
    owner_key_id: str | None,
    dialect: str,
    status: JobStatus | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[JobView], str | None]:
    """A page of the caller's jobs of one API family, newest first, and the cursor of the next page
    (None on the last). Results are not loaded: a listing is for finding jobs, not reading them."""
    after = _after(cursor) if cursor else None
    async with statementwise(db) as s:
        rows = await repo.list_jobs(
            s,
            owner_key_id=owner_key_id,
            dialect=dialect,
            status=status.value if status else None,
            after=after,
            limit=limit + 1,
            now=utcnow(),
        )
    views = [repo.job_view(row) for row in rows[:limit]]
    return views, (_cursor(views[-1]) if len(rows) > limit else None)


def wait_error(view: JobView, waited: float) -> OcrgwError:
    """Why a synchronous API's bounded wait did not end in success: Timeout while the job still runs (it
    is not lost: it finishes and expires as usual), else the error the worker stored with the job."""
    if not view.status.terminal:
        return OcrgwError(
            ErrorCode.TIMEOUT,
            f"The document was accepted (job {view.id}) but reading it took "
            f"longer than {waited:g} seconds; try a smaller document or retry later.",
        )
    try:
        code = ErrorCode(view.error_code) if view.error_code else ErrorCode.PROCESSING_FAILED
    except ValueError:
        code = ErrorCode.PROCESSING_FAILED
    return OcrgwError(code, view.error_message or "The document could not be read.")


async def check_backlog(ctx: Core, key: str | None = UNKNOWN) -> None:
    """Refuse new work (BacklogFull, with a Retry-After) while the backlog is at its bound, or the key
    (when known from the headers) holds its share, for a request whose documents then skip the check
    (``accept(backlog=False)``: a batch that stores its files as they stream in). Called before the body
    is read, so a refused upload costs nothing."""
    await ctx.backlog.check_key(key)


async def delete(*, db: async_sessionmaker, store: BlobStore, job_id: str, owner_key_id: str | None) -> None:
    """Delete a job, its results and its document now (Document Intelligence's DELETE)."""
    await get(db=db, job_id=job_id, owner_key_id=owner_key_id, with_result=False)  # NotFound as for a GET
    async with db.begin() as s:
        keys = await repo.delete_job(s, str(uuid.UUID(job_id)))
    for key in keys:
        await store.delete(key)


async def read_artifact(
    *, db: async_sessionmaker, store: BlobStore, job_id: str, dialects: tuple[str, ...]
) -> tuple[JobView, AsyncIterator[bytes]]:
    """A job's worker-made rendering (JobSpec.outputs), as chunks. Not owner-checked: the links vendors
    hand out for these carry no key, so the job's random id is the secret. NotFound when there is none."""
    view = await get(db=db, job_id=job_id, owner_key_id=None, with_result=False, dialects=dialects)
    if not view.artifact_key:
        raise OcrgwError(ErrorCode.NOT_FOUND, "The job has no such rendering.")
    return view, await _stream(store, view.artifact_key)


async def read_figure(*, store: BlobStore, view: JobView, figure_id: str) -> AsyncIterator[bytes]:
    """The PNG crop of one of a job's figures (JobSpec.outputs "figures"), as chunks; the caller has found
    the job (and checked its owner). NotFound when the worker made no crop of that id."""
    key = ((view.analysis or {}).get("figures") or {}).get(figure_id)
    if not key:
        raise OcrgwError(ErrorCode.NOT_FOUND, f"The figure {figure_id!r} does not exist.")
    return await _stream(store, key)


async def _stream(store: BlobStore, key: str) -> AsyncIterator[bytes]:
    """A stored blob's chunks, its first read now: a blob purged since its row was read is NotFound here,
    not a broken response later."""
    chunks = store.read(key)
    try:
        first = await anext(chunks)
    except (FileNotFoundError, StopAsyncIteration) as exc:  # purged between the row read and now
        raise OcrgwError(ErrorCode.NOT_FOUND, "The job has no such rendering.") from exc

    async def body() -> AsyncIterator[bytes]:
        yield first
        async for chunk in chunks:
            yield chunk

    return body()


async def purge_expired(*, db: async_sessionmaker, store: BlobStore) -> int:
    """Remove finished jobs past their retention with their results and documents; returns how many."""
    total = 0
    while True:
        async with db.begin() as s:
            batch = await repo.expired_jobs(s, utcnow())
            if batch:
                await repo.purge_jobs(s, [job_id for job_id, _ in batch])
        for _, keys in batch:
            for key in keys:
                await store.delete(key)
        total += len(batch)
        if len(batch) < 500:
            return total


async def wait(
    *,
    db: async_sessionmaker,
    job_id: str,
    owner_key_id: str | None,
    timeout: float,
    endings: Endings | None = None,
    fallback_seconds: float = 1.0,
    heard: int | None = None,
) -> JobView:
    """Until the job ends or ``timeout`` passes; returns the job as it then is (with its result if it
    succeeded). With ``endings`` live, the waiter sleeps until a notice for the job (``jobs.endings``)
    and reads SQL again every ``fallback_seconds`` in case one was lost; otherwise it polls SQL with a
    delay growing from 20 ms to 500 ms. ``heard``: ``endings.heard`` taken before the job was queued; if
    nothing was heard since, the job cannot have ended unheard, so the wait starts asleep instead of
    reading the job that was just queued."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    delay = 0.02
    woken = False  # the read below follows a notice
    with endings.watch(job_id) if endings is not None else contextlib.nullcontext() as event:
        with_result = False  # the first read finds a job that has only just been queued
        asleep = endings is not None and heard is not None and endings.quiet_since(heard)
        while True:
            if event is not None:
                event.clear()  # before the read: a notice that comes during it still wakes the wait below
            if asleep:
                asleep, left = False, deadline - loop.time()
            else:
                view = await get(db=db, job_id=job_id, owner_key_id=owner_key_id, with_result=with_result)
                left = deadline - loop.time()
                if view.status.terminal or left <= 0:
                    break
            if event is not None and endings is not None and endings.live:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(min(fallback_seconds, left)):
                        await event.wait()
                woken = event.is_set()
                with_result = True  # most likely it ended: read its result in the same session
            else:
                await asyncio.sleep(min(delay, left))
                delay = min(delay * 1.5, 0.5)
                woken = False
    metrics.SYNC_WAITS.labels("timeout" if not view.status.terminal else "notice" if woken else "poll").inc()
    if view.status == JobStatus.SUCCEEDED and not with_result:
        return await get(db=db, job_id=job_id, owner_key_id=owner_key_id)
    return view


_wait = wait  # accept's parameter of that name shadows it
