"""Error shapes of the seed systems' own APIs, for anything under their paths: the Flask-style API answers
`{"error": msg, "success": false}`, the streaming server `{"error": msg}`; both with plain HTTP statuses
(400 input, 401 key, 403 not admin, 413 too large, 415 type, 429 busy + Retry-After, 500, 504)."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response

from ocrgw.errors import ErrorCode as E
from ocrgw.errors import OcrgwError

_STATUS: dict[E, int] = {
    E.MISSING_KEY: 401,
    E.INVALID_KEY: 401,
    E.NOT_FOUND: 404,
    E.ROUTE_NOT_FOUND: 404,
    E.METHOD_NOT_ALLOWED: 405,
    E.TOO_LARGE: 413,
    E.UNSUPPORTED_MEDIA_TYPE: 415,
    E.UNSUPPORTED_FORMAT: 415,
    E.BACKLOG_FULL: 429,
    E.TIMEOUT: 504,
    E.INTERNAL: 500,
    E.WORKER_CRASHED: 500,
    E.PROCESSING_FAILED: 500,
}  # everything else is the caller's input: 400


class SeedError(OcrgwError):
    """A domain error whose status the dialect fixes itself (403 for a non-admin key on generate_api_key,
    which has no domain code of its own)."""

    def __init__(self, code: E, message: str, *, status: int) -> None:
        super().__init__(code, message)
        self.status = status


def status_of(exc: OcrgwError) -> int:
    """The HTTP status for a domain error. A body that is no image we know at all (the sniffer's "expected
    PDF, JPEG, ...") is a wrong type, 415; one we know but whose data is corrupt stays a 400."""
    if isinstance(exc, SeedError):
        return exc.status
    if exc.code is E.INVALID_IMAGE and "expected" in exc.message:
        return 415
    return _STATUS.get(exc.code, 400)


def _json(body: dict, status: int, exc: OcrgwError) -> Response:
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
    return Response(json.dumps(body), status_code=status, media_type="application/json", headers=headers)


def render_flask_error(request: Request, exc: OcrgwError) -> Response:
    """Any error under `/ocr_process`, `/batch_process`, `/generate_api_key`, in the Flask tutorials' shape."""
    return _json({"error": exc.message, "success": False}, status_of(exc), exc)


def render_stream_error(request: Request, exc: OcrgwError) -> Response:
    """Any error under the streaming server's `/{api_name}`: a bare `{"error": msg}`."""
    return _json({"error": exc.message}, status_of(exc), exc)
