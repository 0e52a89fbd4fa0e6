"""ocrgw's own API (`/v1`): vendor-neutral shapes and a plain error envelope. Jobs and the installed
languages (routes), request options and bodies (parse), the operation, result and export formats
(render), its wire models (schemas), errors in the native envelope (errors), and the operator's admin
API for keys, limits, tiers, subscriptions and the queue (admin, admin_schemas)."""

from __future__ import annotations

from fastapi import APIRouter

from ocrgw.dialects import Dialect
from ocrgw.dialects.native import admin, routes
from ocrgw.dialects.native.errors import render_error
from ocrgw.dialects.native.schemas import SubmitForm, SubmitRequest

ABOUT = (
    "ocrgw's own asynchronous API, the one to generate clients from: submit a document (multipart, raw bytes, "
    "or JSON with a URL or base64), poll the job, fetch the result as JSON, text, hOCR, ALTO, TSV or searchable "
    "PDF. Authenticate with `X-API-Key` or `Authorization: Bearer`; every error is an `ErrorResponse`."
)
_router = APIRouter()
_router.include_router(routes.router)
_router.include_router(admin.router)
NATIVE = Dialect(
    name="native",
    router=_router,
    prefixes=("/v1/",),
    render_error=render_error,
    tags=({"name": routes.TAG, "description": ABOUT},),
    schemas={"SubmitForm": SubmitForm, "SubmitRequest": SubmitRequest},
    lanes={("POST", "/v1/jobs"): routes.submit_lane, ("GET", "/v1/jobs/{job_id}"): routes.status_lane},
)
DIALECTS = (NATIVE,)
