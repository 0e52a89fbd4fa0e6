"""Errors of the native `/v1` API, for anything under its path: the envelope {"error": {"code", "message",
"param"?, "limit"?}} with the core's own codes, and the core's plain HTTP status for each
(``errors.HTTP_STATUS``): a key's rate, concurrency or quota 429 with Retry-After and the limit met named
in ``limit``, a service the key is not subscribed to 403."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ocrgw.dialects import json_response, limit_member, retry_after_header
from ocrgw.errors import HTTP_STATUS, OcrgwError


def render_error(request: Request, exc: OcrgwError) -> Response:
    err = {"code": exc.code.value, "message": exc.message, **({"param": exc.param} if exc.param else {})}
    return json_response({"error": err | limit_member(exc)}, HTTP_STATUS.get(exc.code, 400), retry_after_header(exc))
