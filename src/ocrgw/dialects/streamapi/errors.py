"""Errors of the streaming server's API, for anything under its `/{api_name}`: a bare `{"error": msg}`,
with the plain HTTP statuses of ``tesseract_style.status_of``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ocrgw.dialects.tesseract_style import error_response
from ocrgw.errors import OcrgwError


def render_error(request: Request, exc: OcrgwError) -> Response:
    return error_response({"error": exc.message}, exc)
