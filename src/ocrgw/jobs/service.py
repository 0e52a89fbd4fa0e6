"""The job service the dialects call: submit, get, wait. Submit commits the job row and only then hands
the id to the queue, so a worker can never see an id whose row is not there yet."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy.ext.asyncio import async_sessionmaker

from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.jobs import repository as repo
from ocrgw.jobs.models import Job
from ocrgw.jobs.pages import PageSelection
from ocrgw.jobs.schemas import JobSpec, JobView, StoredBlob
from ocrgw.jobs.states import JobStatus
from ocrgw.queue import JobQueue
from ocrgw.settings import Settings


async def submit(
    *,
    db: async_sessionmaker,
    queue: JobQueue,
    settings: Settings,
    owner_key_id: str | None,
    dialect: str,
    spec: JobSpec,
    blob: StoredBlob,
) -> JobView:
    selected = PageSelection(spec.pages).count(blob.frames)
    if selected == 0:
        raise OcrgwError(
            ErrorCode.INVALID_PAGE_RANGE,
            f"The page selection matches none of the document's {blob.frames} page(s).",
            param="pages",
        )
    now = repo.utcnow()
    job = Job(
        id=str(uuid.uuid4()),
        owner_key_id=owner_key_id,
        dialect=dialect,
        status=JobStatus.QUEUED.value,
        spec=spec.model_dump(mode="json"),
        blob_key=blob.key,
        media_type=blob.media_type,
        size_bytes=blob.size,
        created_at=now,
        updated_at=now,
        attempts=0,
        max_attempts=settings.max_attempts,
        pages_total=selected,
        pages_done=0,
    )
    async with db.begin() as s:
        await repo.insert_job(s, job)
    await queue.enqueue(job.id)  # after the commit; if this is lost, the reaper re-enqueues
    return repo.job_view(job)


async def get(
    *, db: async_sessionmaker, job_id: str, owner_key_id: str | None, with_result: bool = True
) -> JobView:
    """A job as its owner sees it; someone else's job does not exist (NotFound), as an unknown id."""
    try:
        job_id = str(uuid.UUID(job_id))
    except ValueError as exc:
        raise OcrgwError(ErrorCode.NOT_FOUND, "The requested operation was not found.") from exc
    async with db() as s:
        job = await repo.get_job(s, job_id)
        if job is None or (owner_key_id is not None and job.owner_key_id != owner_key_id):
            raise OcrgwError(ErrorCode.NOT_FOUND, "The requested operation was not found.")
        pages = None
        if with_result and job.status == JobStatus.SUCCEEDED.value:
            pages = await repo.load_pages(s, job_id)
        return repo.job_view(job, pages)


async def wait(
    *, db: async_sessionmaker, job_id: str, owner_key_id: str | None, timeout: float
) -> JobView:
    """Poll SQL until the job ends or ``timeout`` passes; returns the job as it then is."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    delay = 0.02
    while True:
        view = await get(db=db, job_id=job_id, owner_key_id=owner_key_id, with_result=False)
        if view.status.terminal or loop.time() >= deadline:
            break
        await asyncio.sleep(min(delay, max(0.0, deadline - loop.time())))
        delay = min(delay * 1.5, 0.5)
    if view.status == JobStatus.SUCCEEDED:
        return await get(db=db, job_id=job_id, owner_key_id=owner_key_id)
    return view
