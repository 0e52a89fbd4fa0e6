"""The streaming server's API of the tutorials ocrgw grew from: `POST /{OCRGW_STREAM_API_NAME}` with a
base64 image in JSON (routes), the body and the configured path (parse), `{"text": ...}` (render), the
request body for OpenAPI (schemas), errors as `{"error": msg}` (errors). What it shares with the
Flask-style API is ``dialects.tesseract_style``."""

from __future__ import annotations

from ocrgw.dialects import Dialect
from ocrgw.dialects.streamapi import parse, routes
from ocrgw.dialects.streamapi.errors import render_error

ABOUT = "The seed streaming server's synchronous endpoint (its path is `OCRGW_STREAM_API_NAME`)."
STREAM = Dialect(
    name="stream",
    router=routes.router,
    prefixes=lambda settings: (parse.api_path(settings, ()),),
    render_error=render_error,
    tags=({"name": routes.TAG, "description": ABOUT},),
)
DIALECTS = (STREAM,)
