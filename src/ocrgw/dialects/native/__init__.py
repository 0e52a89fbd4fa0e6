"""ocrgw's own API (`/v1`): vendor-neutral shapes and a plain error envelope: jobs (jobs.py) and the
installed languages (router.py)."""

from __future__ import annotations

from fastapi import APIRouter

from ocrgw.dialects import Dialect
from ocrgw.dialects.native import jobs, router
from ocrgw.dialects.native.errors import render_error


def _router() -> APIRouter:
    both = APIRouter()
    both.include_router(router.build_router())
    both.include_router(jobs.build_router())
    return both


NATIVE = Dialect(
    name="native",
    router=_router(),
    prefixes=("/v1/",),
    render_error=render_error,
    tags=(
        {
            "name": jobs.TAG,
            "description": "ocrgw's own asynchronous API, the one to generate clients from: submit a document "
            "(multipart, raw bytes, or JSON with a URL or base64), poll the job, fetch the result as JSON, text, "
            "hOCR, ALTO, TSV or searchable PDF. Authenticate with `X-API-Key` or `Authorization: Bearer`; every "
            "error is an `ErrorResponse`.",
        },
    ),
    schemas=jobs.EXTRA_SCHEMAS,
)
DIALECTS = (NATIVE,)
