"""The Flask-tutorial OCR API, as its users' code calls it: `POST /ocr_process` (one upload),
`POST /batch_process` (several uploads and/or URLs, never server-side paths), `POST /generate_api_key`
(admin keys only). Thin and synchronous: parse -> job service (every image one job, awaited) -> render."""

from __future__ import annotations

import asyncio
import time
from functools import partial

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from ocrgw.auth import Principal
from ocrgw.context import AppContext, Ctx
from ocrgw.dialects import tesseract_style as shared
from ocrgw.dialects.flaskapi import parse, render, schemas
from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.intake.sources import StoredSource, UrlSource
from ocrgw.jobs import service
from ocrgw.jobs.service import Order, Source

TAG = "Flask-style OCR API"
DIALECT = "seed-flask"  # the name its jobs are stored under (kept: existing rows carry it)
PREFIXES = ("/ocr_process", "/batch_process", "/generate_api_key")


async def ocr_process(request: Request, ctx: Ctx) -> Response:
    """OCR one uploaded image or PDF (the file under `file`, `image` or any part name) with Tesseract."""
    started = time.monotonic()
    early = await shared.principal_early(ctx, request)
    form = parse.upload(request, ctx.settings, keyless=early is None)
    view = await service.accept(
        ctx,
        dialect=DIALECT,
        owner=early or partial(shared.principal, ctx, request, form.form.fields),
        order=partial(parse.upload_order, request.query_params, form),
        source=form,
        limits=shared.LIMITS,
        retention_hours=ctx.settings.retention_sync_hours,
        wait=ctx.settings.sync_wait_seconds,
    )
    return render.ocr_process(view, parse.METHODS[0], parse.filename(form), started)


async def _read(ctx: AppContext, principal: Principal, order: Order, item: render.Item) -> None:
    """One item of a batch: its stored upload or its URL becomes a job, awaited; its error is its own."""
    if item.error is not None:
        return
    bad_url = "Image URL is badly formatted: only http(s) URLs are accepted."
    source: Source = StoredSource(item.blob) if item.blob else UrlSource(item.url or "", invalid=bad_url)
    item.blob = None  # accept owns it now (and deletes it if it fails)
    try:
        item.view = await service.accept(
            ctx,
            dialect=DIALECT,
            owner=principal,
            order=order,
            source=source,
            limits=shared.LIMITS,
            retention_hours=ctx.settings.retention_sync_hours,
            wait=ctx.settings.sync_wait_seconds,
            backlog=False,  # checked once for the whole batch, before its files were stored
        )
    except OcrgwError as exc:  # the SSRF guard, timeouts, non-images, a failed read: this item only
        item.error = exc


async def batch_process(request: Request, ctx: Ctx) -> Response:
    """OCR several uploads and/or URLs: each is its own job, all submitted first and then awaited together,
    so one bad item fails only itself. Results come in input order."""
    started = time.monotonic()
    early = await shared.principal_early(ctx, request)
    # The uploads are stored as they stream in, before the options and key after them are known: so the
    # backlog is checked here, once for the batch, and each item's accept is told not to check it again.
    await service.check_backlog(ctx, early.key_id if early else service.UNKNOWN)
    batch = parse.Batch(ctx.settings, ctx.store)
    try:
        fields = await batch.read(request, keyless=early is None)
        principal = early or await shared.principal(ctx, request, fields)
        if not batch.items:
            raise OcrgwError(
                ErrorCode.EMPTY_BODY,
                "No images: upload files (any part name, e.g. 'files') and/or send http(s) URLs under 'urls'.",
            )
        order = await service.check_order(parse.order(fields), ctx.settings)  # a bad option fails the batch
        await asyncio.gather(*(_read(ctx, principal, order, item) for item in batch.items))
    finally:
        await batch.discard()  # uploads no accept took (the request failed, or was cancelled)
    return render.batch_process(batch.items, started)


async def generate_api_key(request: Request, ctx: Ctx) -> Response:
    """Issue a new ordinary (non-admin) key; only an admin key may. The secret is shown only here."""
    early = await shared.principal_early(ctx, request)
    fields = await parse.key_fields(request)
    principal = early or await shared.principal(ctx, request, fields)
    if not principal.is_admin:
        raise shared.StatusError(
            ErrorCode.INVALID_KEY,
            "Admin privileges required: only an admin key may generate API "
            "keys (create one with `ocrgw keys create --admin`).",
            status=403,
        )
    row, secret = await ctx.keys.create(parse.key_name(fields), admin=False)
    return render.new_key(secret, row.name, row.id)


router = APIRouter(tags=[TAG], dependencies=[Depends(scheme) for scheme in shared.KEY_SCHEMES])
for endpoint, operation_id, summary, body, status, errors in (
    (ocr_process, "flaskOcrProcess", "OCR one uploaded image", schemas.UPLOAD, None, schemas.ERRORS),
    (batch_process, "flaskBatchProcess", "OCR several uploads and/or URLs", schemas.BATCH, None, schemas.ERRORS),
    (generate_api_key, "flaskGenerateApiKey", "issue an API key (admin)", schemas.KEY, 201, schemas.KEY_ERRORS),
):
    router.add_api_route(
        f"/{endpoint.__name__}",  # the endpoints are named as the tutorials' routes
        endpoint,
        methods=["POST"],
        operation_id=operation_id,
        summary=f"Flask-style: {summary}",
        openapi_extra=body,
        response_class=Response,
        status_code=status,
        responses=errors,
    )
