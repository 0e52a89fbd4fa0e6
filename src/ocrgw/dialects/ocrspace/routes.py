"""OCR.space routes: `POST /parse/image` (multipart with the file under any part name, or urlencoded with
`url` / `base64Image`) and `GET /parse/imageurl`, answered synchronously; `GET /parse/searchablepdf/{id}.pdf`
serves the searchable PDFs they link to. Thin: the request (parse.Call) -> job service (submit and a bounded
wait) -> OCR.space JSON (render)."""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends, Request
from fastapi.security import APIKeyHeader
from starlette.responses import Response, StreamingResponse

from ocrgw.context import AppContext, Ctx, public_base_url
from ocrgw.dialects.ocrspace import parse, render
from ocrgw.dialects.ocrspace.errors import OcrSpaceError, elapsed_ms, json_response, render_error
from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.formats import ENGINE_LIMITS
from ocrgw.jobs import service

TAG = "OCR.space"
DIALECT = "ocrspace"
PDF_ROUTE = "/parse/searchablepdf"
# OCR.space documents limits on file size and PDF pages only, none on pixels: the engine's own apply.
LIMITS = ENGINE_LIMITS
METHODS = {"image": "POST", "imageurl": "GET"}  # endpoint (any case) -> the one method it takes


async def _parse(request: Request, ctx: AppContext) -> Response:
    """Either route, and either method: a POST's body holds parameters and the document, a GET has none."""
    request.state.ocrspace_started = time.monotonic()
    header_key = request.headers.get("apikey")
    principal = await ctx.keys.resolve(header_key.strip()) if header_key else None
    call = parse.Call(request, ctx.keys, principal)
    view = await service.accept(
        ctx,
        dialect=DIALECT,
        owner=call.owner,
        order=call.order,
        source=call,
        limits=LIMITS,
        retention_hours=ctx.settings.retention_sync_hours,
        wait=ctx.settings.sync_wait_seconds,
    )
    assert call.options is not None  # parsed by call.order
    pdf_url = None
    if call.options.searchable_pdf and view.artifact_key:  # the worker made it with the pages
        pdf_url = f"{public_base_url(request, ctx.settings)}{PDF_ROUTE}/{view.id}.pdf"
    return json_response(render.render_result(view, call.options, ctx.settings, pdf_url, elapsed_ms(request)))


async def parse_image(request: Request, ctx: Ctx) -> Response:
    """OCR an image or PDF sent as a file (any part name), a `url` or a `base64Image` data URI."""
    return await _parse(request, ctx)


async def parse_image_url(request: Request, ctx: Ctx) -> Response:
    """OCR the file at `url`; every POST parameter may be given in the query."""
    return await _parse(request, ctx)


async def get_searchable_pdf(name: str, ctx: Ctx) -> Response:
    """A searchable PDF made for a request with `isCreateSearchablePdf=true`. Like OCR.space's, the link
    works without the key: the job's random UUID is the secret. It expires with the job."""
    try:
        view, body = await service.read_artifact(
            db=ctx.db, store=ctx.store, job_id=name.lower().removesuffix(".pdf"), dialects=(DIALECT,)
        )
    except OcrgwError as exc:
        raise OcrSpaceError(ErrorCode.NOT_FOUND, "The searchable PDF was not found or has expired.") from exc
    return StreamingResponse(
        body, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{view.id}.pdf"'}
    )


async def any_case(endpoint: str, request: Request, ctx: Ctx) -> Response:
    """`/parse/ImageUrl` and other casings (C# clients), and OCR.space-shaped 404/405 for the rest. Each
    endpoint takes the one method OCR.space documents for it (the contract's routes): `POST /parse/image`,
    `GET /parse/imageurl`; any other method is a 405 whose Allow names that one."""
    name = endpoint.lower()
    if name not in METHODS:
        raise OcrSpaceError(
            ErrorCode.ROUTE_NOT_FOUND,
            f"Resource not found: {request.url.path}. Use POST /parse/image or GET /parse/imageurl.",
        )
    if request.method in (METHODS[name], "HEAD" if METHODS[name] == "GET" else None):
        return await _parse(request, ctx)
    refusal = OcrSpaceError(
        ErrorCode.METHOD_NOT_ALLOWED, f"The requested resource does not support http method '{request.method}'."
    )
    response = render_error(request, refusal)
    response.headers["Allow"] = METHODS[name]
    return response


def _form(**properties: dict) -> dict:
    return {"schema": {"type": "object", "properties": properties}}


_TEXT, _FLAG = {"type": "string"}, {"type": "boolean"}
PARSE_BODY = {
    "requestBody": {
        # Not required: OCR.space answers a POST without a body as any request without a document, HTTP 200
        # with `IsErroredOnProcessing` ("No file uploaded or URL or base64 provided"), and so does this server.
        "required": False,
        "content": {
            "multipart/form-data": _form(
                file={"type": "string", "format": "binary", "description": "The image or PDF, under any part name."},
                apikey=_TEXT,
                language={"type": "string", "example": "eng"},
                **dict.fromkeys(("isOverlayRequired", "isTable", "detectOrientation", "isCreateSearchablePdf"), _FLAG),
                OCREngine={"type": "string", "enum": list(parse.ENGINE_MODES)},
            ),
            "application/x-www-form-urlencoded": _form(
                apikey=_TEXT, url=_TEXT, base64Image={"type": "string", "description": "data:<mime>;base64,<data>"}
            ),
        },
    }
}
# GET /parse/imageurl takes the parameters in the query (names in any case, as OCR.space's do).
URL_QUERY = {
    "parameters": [
        {"name": name, "in": "query", "required": False, "schema": schema}
        for name, schema in (
            ("url", {"type": "string", "description": "The http(s) URL of the image or PDF."}),
            ("apikey", _TEXT),
            ("language", {"type": "string", "example": "eng"}),
            ("filetype", {"type": "string", "enum": sorted(parse.FILETYPES)}),
            *((flag, _FLAG) for flag in ("isOverlayRequired", "isTable", "detectOrientation", "isCreateSearchablePdf")),
            ("OCREngine", {"type": "string", "enum": list(parse.ENGINE_MODES)}),
        )
    ]
}
PARSE_DOC = (
    "Synchronous; errors are HTTP 200 with `IsErroredOnProcessing: true`, "
    "a bad `apikey` is HTTP 403 with a JSON string."
)

_JSON = "application/json"
PARSE_RESPONSES: dict[int | str, dict] = {
    200: {
        "description": "The result, or an error with `IsErroredOnProcessing: true` and `ErrorMessage`.",
        "content": {_JSON: {"schema": {"type": "object"}}},
    },
    403: {
        "description": "Missing or invalid `apikey`, the backlog full or the key's own rate, concurrency or "
        'quota reached ("You may only perform this action upto maximum N number of times within S seconds", '
        "then with `Retry-After`), or an API the key is not subscribed to.",
        "content": {_JSON: {"schema": {"type": "string"}}},
    },
}
PDF_RESPONSES: dict[int | str, dict] = {
    200: {"description": "The searchable PDF.", "content": {"application/pdf": {"schema": {"type": "string"}}}},
    404: {
        "description": "Unknown or expired PDF, with `IsErroredOnProcessing: true`.",
        "content": {_JSON: {"schema": {"type": "object"}}},
    },
}

# The spec's security scheme: `_parse` reads the header itself (the key may also be a form field or in
# the query), so the dependency only documents it.
_KEY = APIKeyHeader(
    name="apikey",
    scheme_name="OcrSpaceApiKey",
    auto_error=False,
    description="An ocrgw API key; also accepted as the `apikey` form field or query parameter.",
)

router = APIRouter(tags=[TAG])
for _path, _endpoint, _method, _id, _summary, _extra, _responses in (
    ("/parse/image", parse_image, "POST", "ocrSpaceParseImage", "parse an image or PDF", PARSE_BODY, PARSE_RESPONSES),
    (
        "/parse/imageurl",
        parse_image_url,
        "GET",
        "ocrSpaceParseImageUrl",
        "parse the file at a URL",
        URL_QUERY,
        PARSE_RESPONSES,
    ),
    (
        PDF_ROUTE + "/{name}",
        get_searchable_pdf,
        "GET",
        "ocrSpaceSearchablePdf",
        "a searchable PDF",
        None,
        PDF_RESPONSES,
    ),
):
    router.add_api_route(
        _path,
        _endpoint,
        methods=[_method],
        operation_id=_id,
        summary=f"OCR.space: {_summary}",
        openapi_extra=_extra,
        response_class=Response,
        responses=_responses,
        dependencies=[] if _endpoint is get_searchable_pdf else [Depends(_KEY)],  # the PDF link needs no key
        description=PARSE_DOC if _endpoint is parse_image else None,
    )
# Every method, so that this route (not Starlette's, whose Allow would name this route's methods too)
# answers each 405 under /parse/ with the endpoint's own Allow.
_ANY = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
router.add_api_route("/parse/{endpoint}", any_case, methods=_ANY, include_in_schema=False)
