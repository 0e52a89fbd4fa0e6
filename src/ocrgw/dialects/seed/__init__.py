"""The seed systems' own APIs, for code written against the tutorials ocrgw grew from: the Flask-style
API (`/ocr_process`, `/batch_process`, `/generate_api_key`) and the streaming server's `POST /{api_name}`.
Each is a thin synchronous dialect over the same job core as the vendor APIs."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter
from starlette.routing import BaseRoute

from ocrgw.dialects import Dialect
from ocrgw.dialects.seed import flask_style, streaming
from ocrgw.dialects.seed.errors import render_flask_error, render_stream_error
from ocrgw.settings import Settings

FLASK = Dialect(
    name="flask",
    router=flask_style.build_router(),
    prefixes=flask_style.PREFIXES,
    render_error=render_flask_error,
    tags=({"name": flask_style.TAG, "description": "The seed system's synchronous Flask-style API."},),
)


def _stream_router(settings: Settings, mounted: Sequence[BaseRoute]) -> APIRouter:
    return streaming.build_router(streaming.api_path(settings, mounted))


STREAM = Dialect(
    name="stream",
    router=_stream_router,
    prefixes=lambda settings: (streaming.api_path(settings, ()),),
    render_error=render_stream_error,
    tags=(
        {
            "name": streaming.TAG,
            "description": "The seed streaming server's synchronous endpoint (its path is `OCRGW_STREAM_API_NAME`).",
        },
    ),
)
DIALECTS = (FLASK, STREAM)
