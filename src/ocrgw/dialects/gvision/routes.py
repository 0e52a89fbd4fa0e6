"""Google Cloud Vision REST routes (v1): `POST /v1/images:annotate` and `/v1/files:annotate`, also under
`/v1/projects/{project}/...` and `/v1/projects/{project}/locations/{location}/...` (the proto's other
bindings), answered synchronously over the job core. Thin: the key (parse.principal), the body
(parse.image_requests / file_requests) -> one ``jobs.service.accept`` per image or file, run together ->
Vision's `{"responses": [...]}` (render), one per request in order, a failed image as its own `error`.

The asynchronous batch calls (`images:asyncBatchAnnotate`, `files:asyncBatchAnnotate`) read from and write
to Cloud Storage; this server has no GCS-compatible store, so they answer Vision's INVALID_ARGUMENT saying
so (files:annotate reads up to 5 pages of a PDF or TIFF inline instead)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.security import APIKeyHeader, APIKeyQuery
from starlette.responses import Response

from ocrgw.auth import Principal
from ocrgw.context import AppContext, Ctx
from ocrgw.dialects.gvision import errors, parse, render
from ocrgw.dialects.gvision import schemas as S
from ocrgw.dialects.gvision.errors import VisionError, json_response
from ocrgw.errors import ErrorCode as E
from ocrgw.errors import OcrgwError
from ocrgw.formats import ImageLimits
from ocrgw.jobs import service
from ocrgw.jobs.schemas import JobView

TAG = "Google Cloud Vision"
DIALECT = "google-vision"
# Vision documents no pixel minimum; what the engine needs (formats.ENGINE_LIMITS) is the floor.
LIMITS = ImageLimits("Google Cloud Vision", min_side=10)

_key_header = APIKeyHeader(
    name="x-goog-api-key", scheme_name="GoogleApiKey", auto_error=False, description="An ocrgw API key."
)
_key_query = APIKeyQuery(name="key", scheme_name="GoogleApiKeyQuery", auto_error=False)


async def vision_principal(
    request: Request,
    ctx: Ctx,
    header: Annotated[str | None, Depends(_key_header)],
    query: Annotated[str | None, Depends(_key_query)],
) -> Principal:
    """The caller, known before the body is read (``parse.key_of``: header, `?key=` or a Bearer key)."""
    return await parse.principal(request, ctx)


Caller = Annotated[Principal, Depends(vision_principal)]


async def _settled(jobs: list[Any]) -> list[dict]:
    """Every image's answer, run together; an error that ends the whole request is raised once all are
    done (none is left running behind the response)."""
    answers = await asyncio.gather(*jobs, return_exceptions=True)
    out = []
    for answer in answers:
        if isinstance(answer, BaseException):
            raise answer
        out.append(answer)
    return out


async def _accept(ctx: AppContext, caller: Principal, item: Any, order: Any, source: Any) -> JobView | None:
    """One image or file through the core; its error as Vision's per-image Status, unless it ends the
    whole request (the key's limits, the server's backlog)."""
    try:
        return await service.accept(
            ctx,
            dialect=DIALECT,
            owner=caller,
            order=order,
            source=source,
            limits=LIMITS,
            retention_hours=ctx.settings.retention_sync_hours,
            wait=ctx.settings.sync_wait_seconds,
        )
    except OcrgwError as exc:
        if exc.code in errors.WHOLE_REQUEST:
            raise
        item.error = exc
        return None


async def _image(ctx: AppContext, caller: Principal, item: parse.ImageRequest, ints: bool) -> dict:
    view = None if item.error is not None else await _accept(ctx, caller, item, item.order, item.source)
    if view is None:
        assert item.error is not None
        return {"error": errors.image_error(item.error)}
    style = render.Style(ints, confidence=item.features.document or item.confidence)
    return render.image_response(view, ctx.settings.pdf_dpi, style)


async def _file(ctx: AppContext, caller: Principal, item: parse.FileRequest, ints: bool) -> dict:
    view = None if item.error is not None else await _accept(ctx, caller, item, item.order, item)
    if view is None:
        assert item.error is not None
        return {"error": errors.image_error(item.error)}
    assert item.blob is not None  # stored, since the job was made
    style = render.Style(ints, confidence=item.features.document or item.confidence, normalized=True)
    echo = {"mimeType": item.mime_type}
    return render.file_response(view, item.pages, item.blob.frames, ctx.settings.pdf_dpi, style, echo)


async def annotate_images(request: Request, ctx: Ctx, caller: Caller) -> Response:
    """Read the text of up to 16 images (TEXT_DETECTION or DOCUMENT_TEXT_DETECTION), synchronously."""
    ints = parse.enum_ints(request)
    doc = await parse.read_body(request, ctx.settings)
    try:
        items = await parse.image_requests(doc)
        answers = await _settled([_image(ctx, caller, item, ints) for item in items])
    finally:
        doc.close()
    return json_response({"responses": answers})


async def annotate_files(request: Request, ctx: Ctx, caller: Caller) -> Response:
    """Read the text of up to 5 pages of one PDF, TIFF or GIF given inline, synchronously."""
    ints = parse.enum_ints(request)
    doc = await parse.read_body(request, ctx.settings)
    try:
        items = await parse.file_requests(doc)
        answers = await _settled([_file(ctx, caller, item, ints) for item in items])
    finally:
        doc.close()
    return json_response({"responses": answers})


async def async_batch(request: Request, ctx: Ctx, caller: Caller) -> Response:
    """Not offered: the asynchronous batch calls need Cloud Storage for their input and output."""
    raise VisionError(
        E.UNSUPPORTED_FEATURE,
        "Asynchronous batch annotation is not supported by this server: it reads from and writes to Google "
        "Cloud Storage, which it has no equivalent of. Use files:annotate (up to 5 pages of a PDF or TIFF "
        "inline) or images:annotate instead.",
    )


_BODY_ERRORS = {
    "e400": "A bad key (API_KEY_INVALID), a body the proto's JSON mapping refuses (not JSON, an unknown field, "
    "bad base64), more than 16 images or 1 file, or a body over 10 MB.",
    "e403": "No key.",
    "e429": "The key's rate, concurrency or page quota (RESOURCE_EXHAUSTED, with Retry-After).",
    "e503": "The server's backlog is full (UNAVAILABLE; batch_* calls of the SDK retry it).",
}
PREFIXES = ("/v1", "/v1/projects/{project}", "/v1/projects/{project}/locations/{location}")
AUTH_DOC = (
    "Send the key as `x-goog-api-key` (what `ImageAnnotatorClient(client_options={'api_key': ...})` does), as "
    "`?key=` (Google's curl samples) or as `Authorization: Bearer <key>`. Per-image failures are 200 with "
    '`responses[i].error`; whole-request failures are google.rpc.Status: `{"error": {code, message, status}}`.'
)

Endpoint = Callable[[Request, AppContext, Principal], Awaitable[Response]]


def scoped(endpoint: Endpoint, prefix: str) -> Callable[..., Awaitable[Response]]:
    """The endpoint under a prefix with the proto's path parameters, declared so the spec names them (the
    project and location are not used: there is one tenant per key here)."""
    if "{location}" in prefix:

        async def located(project: str, location: str, request: Request, ctx: Ctx, caller: Caller) -> Response:
            return await endpoint(request, ctx, caller)

        return located
    if "{project}" in prefix:

        async def projected(project: str, request: Request, ctx: Ctx, caller: Caller) -> Response:
            return await endpoint(request, ctx, caller)

        return projected
    return endpoint


router = APIRouter(tags=[TAG])
for _prefix in PREFIXES:
    _scope = "" if _prefix == "/v1" else ("Project" if "locations" not in _prefix else "ProjectLocation")
    for _what, _endpoint, _request, _response, _summary in (
        ("images", annotate_images, "VisionBatchAnnotateImagesRequest", S.VisionBatchAnnotateImagesResponse,
         "Vision: annotate images (text)"),
        ("files", annotate_files, "VisionBatchAnnotateFilesRequest", S.VisionBatchAnnotateFilesResponse,
         "Vision: annotate a PDF or TIFF (text, up to 5 pages)"),
    ):  # fmt: skip
        _body = {"schema": {"$ref": f"#/components/schemas/{_request}"}}
        router.add_api_route(
            f"{_prefix}/{_what}:annotate",
            scoped(_endpoint, _prefix),
            methods=["POST"],
            operation_id=f"googleVision{_scope}Annotate{_what.title()}",
            summary=_summary + (f" ({_prefix.removeprefix('/v1/')})" if _scope else ""),
            description=AUTH_DOC,
            openapi_extra={"requestBody": {"required": True, "content": {"application/json": _body}}},
            response_class=Response,
            responses={
                200: {"model": _response, "description": "One response per request, in order."},
                **{int(k[1:]): {"model": S.VisionErrorResponse, "description": v} for k, v in _BODY_ERRORS.items()},
            },
        )
        router.add_api_route(
            f"{_prefix}/{_what}:asyncBatchAnnotate",
            scoped(async_batch, _prefix),
            methods=["POST"],
            operation_id=f"googleVision{_scope}AsyncBatchAnnotate{_what.title()}",
            summary=f"Vision: asynchronous {_what} batch (not supported)"
            + (f" ({_prefix.removeprefix('/v1/')})" if _scope else ""),
            description="Answers 400 INVALID_ARGUMENT: the asynchronous calls need Google Cloud Storage.",
            response_class=Response,
            responses={
                400: {"model": S.VisionErrorResponse, "description": "Not supported (or a bad key)."},
                403: {"model": S.VisionErrorResponse, "description": "No key."},
            },
        )
