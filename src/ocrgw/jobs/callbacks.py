"""Job callbacks: when a job with a callback_url ends, every API process's delivery loop may pick it up;
one claims the attempt (a conditional UPDATE on callback_next_at), POSTs a signed JSON event through the
SSRF guard, and records the outcome. Failures retry with exponential backoff up to a limit, so a receiver
that is down for a while still gets the event.

Signature: `Ocrgw-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`, with a secret
per API key (``callback_secret``; callers read theirs from GET /v1/callbacks/secret). Including the time in
the signed text lets receivers refuse replays."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker

from ocrgw import __version__, ids
from ocrgw.clock import utcnow
from ocrgw.errors import OcrgwError
from ocrgw.jobs import repository as repo
from ocrgw.jobs.schemas import JobView
from ocrgw.jobs.states import JobStatus
from ocrgw.net import post_checked
from ocrgw.settings import Settings

log = logging.getLogger("ocrgw.callbacks")
SIGNATURE_HEADER = "Ocrgw-Signature"


def callback_secret(server_secret: bytes, key_id: str | None) -> str:
    """The signing secret of one API key's callbacks, derived (not stored), like the Huawei SKs."""
    return hmac.new(server_secret, b"ocrgw-callback:" + (key_id or "-").encode(), hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def payload(view: JobView, base: str | None) -> dict:
    """The event: what a client needs to act without polling (status, error) and where to fetch results."""
    links = {}
    if base:
        links = {"self": f"{base}/v1/jobs/{view.id}", "result": f"{base}/v1/jobs/{view.id}/result"}
    error = None
    if view.status is JobStatus.FAILED:
        error = {"code": view.error_code, "message": view.error_message}
    return {
        "event": f"job.{view.status.value}",
        "id": view.id,
        "status": view.status.value,
        "progress": {"pages_done": view.pages_done, "pages_total": view.pages_total},
        "error": error,
        "created_at": view.created_at.isoformat(),
        "updated_at": view.updated_at.isoformat(),
        "links": links,
    }


def backoff(settings: Settings, attempts: int) -> float:
    return min(settings.callback_retry_max_seconds, settings.callback_retry_base_seconds * 2 ** (attempts - 1))


async def deliver_one(db: async_sessionmaker, settings: Settings, job_id: str, seen: datetime) -> None:
    now = utcnow()
    async with db.begin() as s:
        # Hold the attempt a little longer than a POST can take, so a crashed process's claim lapses.
        if not await repo.claim_callback(
            s, job_id, seen, now + timedelta(seconds=settings.callback_timeout_seconds + 30)
        ):
            return
    async with db() as s:
        job = await repo.get_job(s, job_id)
        if job is None or job.callback_url is None:
            return
        view, url, base, attempts, owner = (
            repo.job_view(job),
            job.callback_url,
            job.callback_base,
            job.callback_attempts + 1,
            job.owner_key_id,
        )
    body = json.dumps(payload(view, base), separators=(",", ":")).encode()
    secret = callback_secret(settings.resolved_secret_key, owner)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"ocrgw-callback/{__version__}",
        "Ocrgw-Event": f"job.{view.status.value}",
        "Ocrgw-Delivery": ids.new_id(),
        SIGNATURE_HEADER: sign(secret, body, int(time.time())),
    }
    error: str | None = None
    try:
        status = await post_checked(url, body, headers, settings, settings.callback_timeout_seconds)
        if not 200 <= status < 300:
            error = f"the receiver answered HTTP {status}"
    except OcrgwError as exc:
        error = exc.message
    except Exception as exc:  # connection refused, timeouts, TLS: all just a failed attempt
        error = f"{type(exc).__name__}: {exc}"
    next_at = None
    if error is not None and attempts < settings.callback_max_attempts:
        next_at = utcnow() + timedelta(seconds=backoff(settings, attempts))
    async with db.begin() as s:
        await repo.callback_outcome(s, job_id, delivered=error is None, attempts=attempts, next_at=next_at, error=error)
    if error is not None:
        log.warning("callback for job %s, attempt %d: %s%s", job_id, attempts, error, "" if next_at else " (giving up)")


async def deliver_forever(db: async_sessionmaker, settings: Settings) -> None:
    """The delivery loop each API process runs; attempts run concurrently so one slow receiver does not
    hold up the others."""
    running: set[asyncio.Task] = set()
    while True:
        try:
            async with db() as s:
                due = await repo.due_callbacks(s, utcnow())
            for job_id, seen in due:
                task = asyncio.create_task(deliver_one(db, settings, job_id, seen))
                running.add(task)
                task.add_done_callback(running.discard)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("callback sweep failed")
        await asyncio.sleep(settings.callback_poll_seconds)
