"""The Flask-style OCR API of the tutorials ocrgw grew from, for code written against them: `/ocr_process`,
`/batch_process`, `/generate_api_key` (routes), their bodies and options (parse), the `{"success": ...}`
answers (render), request bodies for OpenAPI (schemas), errors as `{"error", "success": false}` (errors).
What it shares with the streaming server's API is ``dialects.tesseract_style``."""

from __future__ import annotations

from ocrgw.dialects import Dialect
from ocrgw.dialects.flaskapi import routes
from ocrgw.dialects.flaskapi.errors import render_error

FLASK = Dialect(
    name="flask",
    router=routes.router,
    prefixes=routes.PREFIXES,
    render_error=render_error,
    tags=({"name": routes.TAG, "description": "The seed system's synchronous Flask-style API."},),
)
DIALECTS = (FLASK,)
