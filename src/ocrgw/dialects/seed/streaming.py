"""The streaming-server tutorial's API: `POST /{api_name}` with JSON `{"image": "<base64>"}`, answering
`{"text": ...}` (errors `{"error": msg}`); `api_name` is the setting `stream_api_name`. Thin and
synchronous over the job core. Mounted last, and a name that any other route already uses is refused
at startup, so it can never shadow a vendor API."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Request
from python_multipart.multipart import parse_options_header
from starlette.responses import Response
from starlette.routing import BaseRoute

from ocrgw import intake
from ocrgw.context import AppContext, app_context
from ocrgw.dialects.seed import common
from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.intake import multipart
from ocrgw.jobs import service
from ocrgw.settings import Settings

TAG = "Streaming-server OCR API"
DIALECT = "seed-stream"
# Paths of this server and of dialects mounted in other deployments or later (Huawei's /v2), so a name
# that works today does not start shadowing one after an upgrade.
RESERVED = frozenset(
    {
        "v1",
        "v2",
        "v3",
        "parse",
        "vision",
        "formrecognizer",
        "documentintelligence",
        "computervision",
        "health",
        "ready",
        "docs",
        "redoc",
        "openapi.json",
        "ocr_process",
        "batch_process",
        "generate_api_key",
        "static",
    }
)
_NAME = re.compile(r"^[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*$")
_JSON_TYPES = ("application/json", "text/plain", "")  # requests' json= and bare fetch() calls


def _paths(routes: Iterable[object], prefix: str = "") -> Iterator[str]:
    """Every route path, also inside routers FastAPI keeps as included-router objects (0.16x)."""
    for route in routes:
        path = getattr(route, "path", None)
        if isinstance(path, str):
            yield prefix + path
            continue
        inner = getattr(route, "original_router", None)
        if inner is not None:
            context = getattr(route, "include_context", None)
            yield from _paths(inner.routes, prefix + (getattr(context, "prefix", "") or ""))


def api_path(settings: Settings, routes: Iterable[BaseRoute]) -> str:
    """`/` + the configured name, after checking it is a plain path that no other route (present or
    reserved) begins with; raises ValueError, which stops the server at startup with the reason."""
    name = settings.stream_api_name.strip().strip("/")
    if not _NAME.match(name) or name in (".", ".."):
        raise ValueError(
            f"OCRGW_STREAM_API_NAME={settings.stream_api_name!r} is not a plain URL path "
            "(letters, digits, . _ ~ - and /)."
        )
    first = name.split("/", 1)[0].lower()
    taken = {path.strip("/").split("/", 1)[0].lower() for path in _paths(routes)} - {""}
    if first in RESERVED or first in taken:
        raise ValueError(
            f"OCRGW_STREAM_API_NAME={settings.stream_api_name!r} collides with the existing "
            f"route /{first}; choose another name (default: ocr)."
        )
    return "/" + name


async def recognise(request: Request, ctx: Annotated[AppContext, Depends(app_context)]) -> Response:
    """Read the base64 image (plain or a data: URI) under `image`; answer its recognised text."""
    early = await common.principal_early(ctx, request)
    await service.check_backlog(db=ctx.db, settings=ctx.settings)
    ctype = parse_options_header(request.headers.get("content-type", ""))[0].decode("latin-1").lower()
    if ctype not in _JSON_TYPES and not ctype.endswith("+json"):
        raise OcrgwError(
            ErrorCode.UNSUPPORTED_MEDIA_TYPE, f'Unsupported Content-Type {ctype!r}: send JSON {{"image": "<base64>"}}.'
        )
    cap = ctx.settings.max_upload_bytes * 4 // 3 + multipart.OVERHEAD
    raw = await intake.read_capped(request.stream(), cap)
    try:
        body = await anyio.to_thread.run_sync(json.loads, raw) if raw.strip() else None
    except ValueError as exc:
        raise OcrgwError(ErrorCode.INVALID_PARAMETER, f"The body is not valid JSON: {exc}.") from exc
    if not isinstance(body, dict):
        raise OcrgwError(ErrorCode.INVALID_PARAMETER, 'Send a JSON object: {"image": "<base64>"}.')
    principal = early if early is not None else await ctx.keys.resolve(common.key_from(request, body))
    image = await anyio.to_thread.run_sync(common.decode_base64_image, body.get("image"))
    lang = body.get("lang") or body.get("language")
    models = await common.tesseract_languages(lang if isinstance(lang, str) else None, ctx.settings)
    blob = await intake.from_bytes(image, store=ctx.store, settings=ctx.settings)
    job = await common.submit(ctx, principal, DIALECT, blob, models)  # deletes the blob if it fails
    view = await common.finish(ctx, principal, job.id, ctx.settings.sync_wait_seconds)
    return Response(json.dumps({"text": common.text_of(view)}), media_type="application/json")


def build_router(path: str) -> APIRouter:
    router = APIRouter(tags=[TAG])
    router.add_api_route(
        path,
        recognise,
        methods=["POST"],
        operation_id="streamRecognise",
        summary="Streaming-server style: OCR a base64 image",
        response_class=Response,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["image"],
                            "properties": {
                                "image": {"type": "string", "description": "base64, or a data: URI"},
                                "lang": {"type": "string", "example": "eng"},
                            },
                        }
                    }
                },
            }
        },
    )
    return router
