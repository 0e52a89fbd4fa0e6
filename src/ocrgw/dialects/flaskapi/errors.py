"""Errors of the Flask-style API, for anything under `/ocr_process`, `/batch_process`, `/generate_api_key`:
`{"error": msg, "success": false}` in the tutorials' shape, with the plain HTTP statuses of
``tesseract_style.status_of``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ocrgw.dialects.tesseract_style import error_response
from ocrgw.errors import OcrgwError


def render_error(request: Request, exc: OcrgwError) -> Response:
    return error_response({"error": exc.message, "success": False}, exc)
