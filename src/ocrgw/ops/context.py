"""The log context of the current unit of work: the request id of the HTTP request being served (API
process) or of the request that submitted the job being run (worker), and that job's id. Context variables,
so concurrent requests on one event loop each see their own; every log formatter reads them."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Awaitable, Callable, Hashable, Iterator
from contextvars import ContextVar

from ocrgw import ids

request_id_var: ContextVar[str | None] = ContextVar("ocrgw_request_id", default=None)
job_id_var: ContextVar[str | None] = ContextVar("ocrgw_job_id", default=None)
# What must be done before a 2xx answer starts (``ops.http`` runs it): a synchronous call's usage record.
AnswerHooks = dict[Hashable, Callable[[], Awaitable[None]]]
answer_hooks_var: ContextVar[AnswerHooks | None] = ContextVar("ocrgw_answer_hooks", default=None)

_SANE = re.compile(r"[A-Za-z0-9._-]{1,64}")


def current_request_id() -> str | None:
    return request_id_var.get()


def on_success_answer(key: Hashable, hook: Callable[[], Awaitable[None]]) -> bool:
    """Run ``hook`` just before this request's answer starts, if it is a 2xx; once per ``key`` however
    often it is asked. False outside an HTTP request (no one would run it)."""
    hooks = answer_hooks_var.get()
    if hooks is None:
        return False
    hooks.setdefault(key, hook)
    return True


def accept_request_id(header: str | None) -> str:
    """The client's `X-Request-Id` if it is safe to log and store as is (at most 64 of [A-Za-z0-9._-]: no
    spaces, quotes or newlines to forge log lines with), else a fresh one (32 hex digits)."""
    if header and _SANE.fullmatch(header):
        return header
    return ids.new_hex()


@contextlib.contextmanager
def job_scope(job_id: str) -> Iterator[None]:
    """Log lines inside carry ``job_id``; ``set_job_request_id`` adds the submitter's request id once the job
    row is read. Both are restored on exit, so a worker's next job starts clean."""
    job_token = job_id_var.set(job_id)
    request_token = request_id_var.set(request_id_var.get())
    try:
        yield
    finally:
        request_id_var.reset(request_token)
        job_id_var.reset(job_token)


def set_job_request_id(request_id: str | None) -> None:
    """Inside ``job_scope``: the request id stored with the job (None for jobs made before it was stored)."""
    if request_id:
        request_id_var.set(request_id)
