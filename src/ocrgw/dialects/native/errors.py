"""Errors of the native `/v1` API, for anything under its path: the envelope {"error": {"code", "message",
"param"?}} with the core's own codes, and the core's plain HTTP status for each (``errors.HTTP_STATUS``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ocrgw.dialects import json_response
from ocrgw.errors import HTTP_STATUS, OcrgwError


def render_error(request: Request, exc: OcrgwError) -> Response:
    err = {"code": exc.code.value, "message": exc.message, **({"param": exc.param} if exc.param else {})}
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
    return json_response({"error": err}, HTTP_STATUS.get(exc.code, 400), headers)
