"""The API process's shared objects (settings, database, queue, blob store, key resolver), built once in
the app's lifespan and handed to routes as a dependency: nothing is built per request."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import async_sessionmaker
from starlette.requests import Request

from ocrgw.auth import KeyResolver
from ocrgw.jobs.backlog import Backlog
from ocrgw.jobs.endings import Endings
from ocrgw.jobs.inserts import Inserts
from ocrgw.queue import JobQueue
from ocrgw.settings import Settings
from ocrgw.storage import BlobStore
from ocrgw.tenancy.gate import Gate
from ocrgw.tenancy.policy import Policies


@dataclass
class AppContext:
    settings: Settings
    db: async_sessionmaker
    queue: JobQueue
    store: BlobStore
    keys: KeyResolver
    endings: Endings = field(default_factory=Endings)  # notices of job ends, for synchronous APIs' waits
    backlog: Backlog = field(init=False)  # the bound's figure, kept for the process's life
    inserts: Inserts = field(init=False)  # the group commit of new jobs
    gate: Gate = field(init=False)  # per-key limits (``tenancy``), their policies cached

    def __post_init__(self) -> None:
        self.backlog = Backlog(
            self.db,
            self.settings.max_backlog,
            self.settings.backlog_retry_after_seconds,
            self.settings.backlog_key_share,
            self.endings,
        )
        self.inserts = Inserts(self.db, self.settings, self.store)
        self.gate = Gate(
            self.db,
            Policies(self.db),
            max_backlog=self.settings.max_backlog,
            retry_after=self.settings.backlog_retry_after_seconds,
        )


async def app_context(request: Request) -> AppContext:
    """``async`` on purpose: FastAPI runs a plain ``def`` dependency in a worker thread, which cost every
    request a thread hop (the submit bench's profile showed it)."""
    return request.app.state.ctx


Ctx = Annotated[AppContext, Depends(app_context)]  # a route's parameter type for the shared context


_HOST = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$")


def public_base_url(request: Request, settings: Settings) -> str:
    """The externally visible scheme://host[:port] for absolute URLs (Operation-Location)."""
    if settings.public_base_url:
        return settings.public_base_url.rstrip("/")
    proto = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    if proto not in ("http", "https"):
        proto = request.scope.get("scheme", "http")  # not request.url: it builds and parses the whole URL
    host = request.headers.get("x-forwarded-host", "").split(",")[0].strip()
    if not _HOST.match(host):
        host = request.headers.get("host", "")
    if not _HOST.match(host):
        host = f"{request.url.hostname}:{request.url.port}" if request.url.port else str(request.url.hostname)
    return f"{proto}://{host}"
