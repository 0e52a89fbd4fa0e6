"""The streaming-server tutorial's API: `POST /{api_name}` with JSON `{"image": "<base64>"}`, answering
`{"text": ...}` (errors `{"error": msg}`); `api_name` is the setting `stream_api_name`. Thin and synchronous:
parse -> job service (submit and a bounded wait) -> render. Mounted last, and a name that any other route
already uses is refused at startup, so it can never shadow a vendor API."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ocrgw.context import Ctx
from ocrgw.dialects import tesseract_style as shared
from ocrgw.dialects.streamapi import parse, render
from ocrgw.dialects.streamapi.schemas import BODY, ERRORS
from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.jobs import service
from ocrgw.settings import Settings

TAG = "Streaming-server OCR API"
DIALECT = "seed-stream"  # the name its jobs are stored under (kept: existing rows carry it)


async def recognise(request: Request, ctx: Ctx) -> Response:
    """Read the base64 image (plain or a data: URI) under `image`; answer its recognised text."""
    owner = await shared.principal_early(ctx, request)

    async def key_in_body(members: dict[str, object]) -> None:  # no key outside the body: in its first MiB
        nonlocal owner
        if shared.key_from(request, members) is None:
            why = "No API key: send it in X-API-Key (or Authorization: Bearer), or as api_key before the image."
            raise OcrgwError(ErrorCode.MISSING_KEY, why)
        owner = await shared.principal(ctx, request, members)

    body, doc = await parse.json_body(request, ctx.settings, None if owner else key_in_body)
    assert owner is not None  # from a header, or from the body's head
    try:
        source = parse.image_source(doc, body.get("image"))
        order = shared.order(body.get("lang") or body.get("language"))
    except BaseException:
        doc.close()
        raise
    view = await service.accept(
        ctx,
        dialect=DIALECT,
        owner=owner,
        order=order,
        source=source,
        limits=shared.LIMITS,
        retention_hours=ctx.settings.retention_sync_hours,
        wait=ctx.settings.sync_wait_seconds,
    )
    return render.text(view)


def router(settings: Settings, mounted: Sequence[BaseRoute]) -> APIRouter:
    """The one route, at the configured path (checked against the routes already ``mounted``)."""
    api = APIRouter(tags=[TAG], dependencies=[Depends(scheme) for scheme in shared.KEY_SCHEMES])
    api.add_api_route(
        parse.api_path(settings, mounted),
        recognise,
        methods=["POST"],
        operation_id="streamRecognise",
        summary="Streaming-server style: OCR a base64 image",
        response_class=Response,
        openapi_extra=BODY,
        responses=ERRORS,
    )
    return api
