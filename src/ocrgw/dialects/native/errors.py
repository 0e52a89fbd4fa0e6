"""Errors of the native `/v1` API, for anything under its path: the envelope {"error": {"code", "message",
"param"?}} with the core's own codes, and the HTTP status each code answers with (400 unless listed)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ocrgw.dialects import json_response
from ocrgw.errors import ErrorCode as E
from ocrgw.errors import OcrgwError

_STATUS: dict[E, int] = {
    E.MISSING_KEY: 401,
    E.INVALID_KEY: 401,
    E.NOT_FOUND: 404,
    E.ROUTE_NOT_FOUND: 404,
    E.METHOD_NOT_ALLOWED: 405,
    E.UNSUPPORTED_MEDIA_TYPE: 415,
    E.TOO_LARGE: 413,
    E.BACKLOG_FULL: 429,
    E.TIMEOUT: 504,
    E.INTERNAL: 500,
    E.WORKER_CRASHED: 500,
    E.PROCESSING_FAILED: 500,
    E.NOT_READY: 409,
}


def render_error(request: Request, exc: OcrgwError) -> Response:
    err = {"code": exc.code.value, "message": exc.message, **({"param": exc.param} if exc.param else {})}
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
    return json_response({"error": err}, _STATUS.get(exc.code, 400), headers)
