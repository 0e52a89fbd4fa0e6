"""OCR.space routes: `POST /parse/image` (multipart with the file under any part name, or urlencoded with
`url` / `base64Image`) and `GET /parse/imageurl`, answered synchronously; `GET /parse/searchablepdf/{id}.pdf`
serves the searchable PDFs they link to. Thin: parameters are parsed into one JobSpec, the body goes through
intake, the job service submits and waits (bounded), and the JobView is rendered as OCR.space JSON."""

from __future__ import annotations

import base64
import binascii
import json
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated
from urllib.parse import parse_qsl

import anyio
from fastapi import APIRouter, Depends, Request
from python_multipart.multipart import parse_options_header
from starlette.responses import Response, StreamingResponse

from ocrgw import intake, languages
from ocrgw.auth import Principal
from ocrgw.context import AppContext, app_context, public_base_url
from ocrgw.dialects.ocrspace.errors import (
    VALID_PARAMETERS,
    OcrSpaceError,
    invalid_parameter_name,
    invalid_value,
)
from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.intake import multipart
from ocrgw.jobs import service
from ocrgw.jobs.schemas import JobSpec, JobView, PageResult, StoredBlob
from ocrgw.jobs.states import JobStatus
from ocrgw.settings import Settings

TAG = "OCR.space"
DIALECT = "ocrspace"
PARAMETERS = frozenset(VALID_PARAMETERS.split(","))
NOT_REQUESTED_PDF = "Searchable PDF not generated as it was not requested."
NOT_REQUESTED_OVERLAY = "Text overlay is not provided as it is not requested"
PDF_ROUTE = "/parse/searchablepdf"

# OCR.space language codes -> Tesseract models (engine 1 list, `nor`, and engine 3's extras).
LANGUAGES: dict[str, str] = {
    "ara": "ara",
    "bul": "bul",
    "chs": "chi_sim",
    "cht": "chi_tra",
    "hrv": "hrv",
    "cze": "ces",
    "dan": "dan",
    "dut": "nld",
    "eng": "eng",
    "fin": "fin",
    "fre": "fra",
    "ger": "deu",
    "gre": "ell",
    "hun": "hun",
    "kor": "kor",
    "ita": "ita",
    "jpn": "jpn",
    "pol": "pol",
    "por": "por",
    "rus": "rus",
    "slv": "slv",
    "spa": "spa",
    "swe": "swe",
    "tur": "tur",
    "nor": "nor",
    "hin": "hin",
    "kan": "kan",
    "per": "fas",
    "tel": "tel",
    "tam": "tam",
    "tai": "tha",
    "vie": "vie",
}
FILETYPES = {
    "PDF": "application/pdf",
    "GIF": "image/gif",
    "PNG": "image/png",
    "JPG": "image/jpeg",
    "JPEG": "image/jpeg",
    "TIF": "image/tiff",
    "TIFF": "image/tiff",
    "BMP": "image/bmp",
    "WEBP": "image/webp",
}
ENGINES = ("1", "2", "3")
# OCR.space's engines 2 and 3 are its slower, more accurate ones: here the accurate mode (the second
# engine where it reads the language, else Tesseract); engine 1 takes the server's OCRGW_MODE.
ENGINE_MODES: dict[str, str | None] = {"1": None, "2": "accurate", "3": "accurate"}
BOOLEANS = (
    "isoverlayrequired",
    "detectorientation",
    "iscreatesearchablepdf",
    "issearchablepdfhidetextlayer",
    "scale",
    "istable",
    "detectcheckbox",
    "addressparsing",
)


# -------------------------------------------------------------------------------------------- params
@dataclass(slots=True)
class Options:
    language: str
    overlay: bool
    orientation: bool
    searchable_pdf: bool
    table: bool
    engine: str
    filetype: str | None


def _bool(params: dict[str, str], name: str) -> bool:
    raw = params.get(name, "").strip().lower()
    if raw in ("", "false", "0"):
        return False
    if raw in ("true", "1"):
        return True
    raise invalid_value(name, "Use true or false.")


def parse_options(params: dict[str, str]) -> Options:
    """Names (already lower-cased) and values, checked as OCR.space does: an unknown name is a 99."""
    for name in params:
        if name not in PARAMETERS:
            raise invalid_parameter_name(name)
    flags = {name: _bool(params, name) for name in BOOLEANS}
    engine = params.get("ocrengine", "").strip() or "1"
    if engine not in ENGINES:
        raise invalid_value("OCREngine", "Valid values: 1, 2, 3.")
    filetype = params.get("filetype", "").strip().upper() or None
    if filetype is not None and filetype not in FILETYPES:
        raise invalid_value("filetype", "Valid values: PDF, GIF, PNG, JPG, TIF, BMP.")
    return Options(
        language=params.get("language", "").strip().lower() or "eng",
        overlay=flags["isoverlayrequired"],
        orientation=flags["detectorientation"],
        searchable_pdf=flags["iscreatesearchablepdf"],
        table=flags["istable"],
        engine=engine,
        filetype=filetype,
    )


async def resolve_languages(code: str, settings: Settings) -> tuple[str, ...]:
    tessdata = settings.resolved_tessdata_dir
    if code == "auto":
        try:
            return await anyio.to_thread.run_sync(languages.default_models, settings.default_language, tessdata)
        except OcrgwError as exc:
            raise OcrSpaceError(ErrorCode.UNSUPPORTED_LANGUAGE, [exc.message], param="language") from exc
    model = LANGUAGES.get(code)
    if model is None:
        raise OcrSpaceError(
            ErrorCode.UNSUPPORTED_LANGUAGE,
            [
                f"E201: Value for parameter 'language' is invalid: '{code}'. Valid values: auto, "
                f"{', '.join(sorted(LANGUAGES))}."
            ],
            param="language",
        )
    installed = await anyio.to_thread.run_sync(languages.installed, tessdata)
    if model not in installed:
        raise OcrSpaceError(
            ErrorCode.UNSUPPORTED_LANGUAGE,
            [
                f"E201: The language '{code}' is not available on this server: its Tesseract model '{model}' is not "
                f"installed (apt-get install {languages.debian_package(model)})."
            ],
            param="language",
        )
    return (model,)


# -------------------------------------------------------------------------------------------- intake
MSG_BAD_BASE64 = (
    "Not a valid base64 image. The accepted base64 image format is 'data:<content_type>;base64,<base64_image_content>'."
)


def _decode_data_uri(value: str) -> bytes:
    head, sep, payload = value.strip().partition(",")
    if not sep or not head.lower().startswith("data:") or not head.lower().endswith(";base64"):
        raise OcrSpaceError(ErrorCode.INVALID_PARAMETER, [MSG_BAD_BASE64], param="base64Image")
    try:
        return base64.b64decode("".join(payload.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise OcrSpaceError(ErrorCode.INVALID_PARAMETER, [MSG_BAD_BASE64], param="base64Image") from exc


MSG_NO_SOURCE = "No file uploaded or URL or base64 provided. Send exactly one of: a file, url, base64Image."
MSG_TWO_SOURCES = (
    "More than one source was given: send exactly one of a file, url or base64Image "
    "(for example, an ocrspace.API instance reused after ocr_url/ocr_base64 resends the old one)."
)


async def _source_blob(ctx: AppContext, params: dict[str, str], uploaded: StoredBlob | None, files: int) -> StoredBlob:
    url = params.get("url", "").strip()
    data_uri = params.get("base64image", "").strip()
    given = files + bool(url) + bool(data_uri)
    if given == 0:
        raise OcrSpaceError(ErrorCode.EMPTY_BODY, [MSG_NO_SOURCE])
    if given > 1:
        raise OcrSpaceError(ErrorCode.INVALID_PARAMETER, [MSG_TWO_SOURCES])
    if uploaded is not None:
        return uploaded
    if data_uri:
        raw = await anyio.to_thread.run_sync(_decode_data_uri, data_uri)
        if not raw:
            raise OcrSpaceError(ErrorCode.INVALID_PARAMETER, [MSG_BAD_BASE64], param="base64Image")
        return await intake.from_bytes(raw, store=ctx.store, settings=ctx.settings)
    if not url.lower().startswith(("http://", "https://")):
        raise invalid_value("url", "Send an http or https URL.")
    return await intake.from_url(url, store=ctx.store, settings=ctx.settings)


# -------------------------------------------------------------------------------------------- render
def _scale(page: PageResult, settings: Settings) -> float:
    return float(settings.pdf_dpi) if page.unit == "inch" else 1.0  # PDF pages: pixels at the render dpi


def _num(value: float, scaled: bool) -> float | int:
    return round(value, 2) if scaled else round(value)


def _box(bbox: list[float], k: float) -> tuple[float, float, float, float]:
    xs, ys = bbox[0::2], bbox[1::2]
    return min(xs) * k, min(ys) * k, (max(xs) - min(xs)) * k, (max(ys) - min(ys)) * k


def _overlay(page: PageResult, k: float) -> dict:
    scaled = k != 1.0
    lines = []
    for ln in page.lines:
        words = []
        for w in ln.words or []:
            left, top, width, height = _box(w.bbox, k)
            words.append(
                {
                    "WordText": w.text,
                    "Left": _num(left, scaled),
                    "Top": _num(top, scaled),
                    "Height": _num(height, scaled),
                    "Width": _num(width, scaled),
                }
            )
        if not words:
            continue
        lines.append(
            {
                "LineText": ln.text,
                "Words": words,
                "MaxHeight": max(w["Height"] for w in words),
                "MinTop": min(w["Top"] for w in words),
            }
        )
    return {"Lines": lines, "HasOverlay": True, "Message": f"Total lines: {len(lines)}"}


def orientation(angle: float) -> str:
    """Page angle (degrees clockwise the text is turned) -> OCR.space's "0"/"90"/"180"/"270"."""
    return str(round(angle / 90.0) % 4 * 90)


def render_result(view: JobView, opts: Options, settings: Settings, pdf_url: str | None, elapsed_ms: int) -> dict:
    results = []
    for page in sorted(view.pages or [], key=lambda p: p.page_no):
        end = "\t\r\n" if opts.table else "\r\n"
        text = "".join(ln.text + end for ln in page.lines)
        overlay = (
            _overlay(page, _scale(page, settings))
            if opts.overlay
            else {"Lines": [], "HasOverlay": False, "Message": NOT_REQUESTED_OVERLAY}
        )
        results.append(
            {
                "TextOverlay": overlay,
                "TextOrientation": orientation(page.angle) if opts.orientation else "0",
                "FileParseExitCode": 1,
                "ParsedText": text,
                "ErrorMessage": "",
                "ErrorDetails": "",
            }
        )
    return {
        "ParsedResults": results,
        "OCRExitCode": 1,
        "IsErroredOnProcessing": False,
        "ProcessingTimeInMilliseconds": str(elapsed_ms),
        "SearchablePDFURL": pdf_url if pdf_url else NOT_REQUESTED_PDF,
    }


# -------------------------------------------------------------------------------------------- routes
def _json(body: object) -> Response:
    return Response(json.dumps(body), media_type="application/json; charset=utf-8")


async def _principal(ctx: AppContext, secret: str | None) -> Principal:
    return await ctx.keys.resolve(secret.strip() if secret else None)


async def _run(
    request: Request,
    ctx: AppContext,
    params: dict[str, str],
    principal: Principal | None,
    uploaded: StoredBlob | None,
    files: int,
) -> Response:
    blob: StoredBlob | None = uploaded
    submitted = False
    try:
        if principal is None:
            principal = await _principal(ctx, params.get("apikey"))
        opts = parse_options(params)
        models = await resolve_languages(opts.language, ctx.settings)
        blob = await _source_blob(ctx, params, uploaded, files)
        spec = JobSpec(
            languages=models,
            language_hint=opts.language,
            mode=ENGINE_MODES[opts.engine],
            outputs=("searchable_pdf",) if opts.searchable_pdf else (),
        )
        job = await service.submit(
            db=ctx.db,
            queue=ctx.queue,
            store=ctx.store,
            settings=ctx.settings,
            owner_key_id=principal.key_id,
            dialect=DIALECT,
            spec=spec,
            blob=blob,
            retention=timedelta(hours=ctx.settings.retention_sync_hours),
        )
        submitted = True
    finally:
        if not submitted:
            for b in {uploaded, blob} - {None}:
                await ctx.store.delete(b.key)  # type: ignore[union-attr]
    bound = ctx.settings.sync_wait_seconds
    view = await service.wait(db=ctx.db, job_id=job.id, owner_key_id=principal.key_id, timeout=bound)
    if view.status is not JobStatus.SUCCEEDED:
        raise service.wait_error(view, bound)
    pdf_url = None
    if opts.searchable_pdf and view.artifact_key:  # the worker made it with the pages
        pdf_url = f"{public_base_url(request, ctx.settings)}{PDF_ROUTE}/{view.id}.pdf"
    elapsed = round((time.monotonic() - request.state.ocrspace_started) * 1000)
    return _json(render_result(view, opts, ctx.settings, pdf_url, elapsed))


async def parse_image(request: Request, ctx: Annotated[AppContext, Depends(app_context)]) -> Response:
    """OCR an image or PDF sent as a file (any part name), a `url` or a `base64Image` data URI."""
    request.state.ocrspace_started = time.monotonic()
    header_key = request.headers.get("apikey")
    principal = await _principal(ctx, header_key) if header_key else None
    await service.check_backlog(db=ctx.db, settings=ctx.settings)
    params = {k.lower(): v for k, v in request.query_params.multi_items()}
    ctype = parse_options_header(request.headers.get("content-type", ""))[0].lower()
    cap = ctx.settings.max_upload_bytes * 4 // 3 + multipart.OVERHEAD
    uploaded: StoredBlob | None = None
    files = 0
    boundary = multipart.boundary_of(request.headers.get("content-type", ""))
    if boundary is not None:
        form = multipart.MultipartForm()
        try:
            uploaded = await intake.from_stream(
                multipart.stream_first_file(request.stream(), boundary, cap, form),
                store=ctx.store,
                settings=ctx.settings,
            )
        except OcrgwError as exc:
            if not (exc.code is ErrorCode.EMPTY_BODY and form.files == 0):
                if principal is None and "apikey" in form.fields:  # a bad key is told first
                    await _principal(ctx, form.fields["apikey"])
                raise
        params.update(form.fields)
        files = form.files
    elif ctype in (b"application/x-www-form-urlencoded", b""):
        body = await intake.read_capped(request.stream(), cap)
        fields = await anyio.to_thread.run_sync(
            lambda: parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        )
        params.update({k.lower(): v for k, v in fields})
    else:
        raise OcrSpaceError(
            ErrorCode.UNSUPPORTED_MEDIA_TYPE,
            [
                f"Unsupported Content-Type '{ctype.decode('latin-1')}': send multipart/form-data or "
                "application/x-www-form-urlencoded."
            ],
        )
    return await _run(request, ctx, params, principal, uploaded, files)


async def parse_image_url(request: Request, ctx: Annotated[AppContext, Depends(app_context)]) -> Response:
    """OCR the file at `url`; every POST parameter may be given in the query."""
    request.state.ocrspace_started = time.monotonic()
    header_key = request.headers.get("apikey")
    principal = await _principal(ctx, header_key) if header_key else None
    await service.check_backlog(db=ctx.db, settings=ctx.settings)
    params = {k.lower(): v for k, v in request.query_params.multi_items()}
    return await _run(request, ctx, params, principal, None, 0)


async def get_searchable_pdf(name: str, ctx: Annotated[AppContext, Depends(app_context)]) -> Response:
    """A searchable PDF made for a request with `isCreateSearchablePdf=true`. Like OCR.space's, the link
    works without the key: the job's random UUID is the secret. It expires with the job."""
    not_found = OcrSpaceError(ErrorCode.NOT_FOUND, ["The searchable PDF was not found or has expired."], exit_code=99)
    try:
        view, body = await service.read_artifact(
            db=ctx.db, store=ctx.store, job_id=name.lower().removesuffix(".pdf"), dialects=(DIALECT,)
        )
    except OcrgwError as exc:
        raise not_found from exc
    return StreamingResponse(
        body, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{view.id}.pdf"'}
    )


async def any_case(endpoint: str, request: Request, ctx: Annotated[AppContext, Depends(app_context)]) -> Response:
    """`/parse/ImageUrl` and other casings (C# clients), and OCR.space-shaped 404/405 for the rest."""
    name = endpoint.lower()
    routes = {"image": ("POST", parse_image), "imageurl": ("GET", parse_image_url)}
    if name not in routes:
        raise OcrSpaceError(
            ErrorCode.ROUTE_NOT_FOUND,
            [f"Resource not found: {request.url.path}. Use POST /parse/image or GET /parse/imageurl."],
        )
    method, handler = routes[name]
    if request.method != method and not (name == "imageurl" and request.method == "POST"):
        raise OcrSpaceError(
            ErrorCode.METHOD_NOT_ALLOWED, [f"The requested resource does not support http method '{request.method}'."]
        )
    if request.method == "POST" and name == "imageurl":
        handler = parse_image
    return await handler(request, ctx)


_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "The image or PDF, under any part name.",
                        },
                        "apikey": {"type": "string"},
                        "language": {"type": "string", "example": "eng"},
                        "isOverlayRequired": {"type": "boolean"},
                        "isTable": {"type": "boolean"},
                        "detectOrientation": {"type": "boolean"},
                        "isCreateSearchablePdf": {"type": "boolean"},
                        "OCREngine": {"type": "string", "enum": list(ENGINES)},
                    },
                }
            },
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "apikey": {"type": "string"},
                        "url": {"type": "string"},
                        "base64Image": {"type": "string", "description": "data:<mime>;base64,<data>"},
                    },
                }
            },
        },
    }
}


def build_router() -> APIRouter:
    router = APIRouter(tags=[TAG])
    router.add_api_route(
        "/parse/image",
        parse_image,
        methods=["POST"],
        operation_id="ocrSpaceParseImage",
        summary="OCR.space: parse an image or PDF",
        openapi_extra=_BODY,
        response_class=Response,
        description="Synchronous; errors are HTTP 200 with `IsErroredOnProcessing: true`, "
        "a bad `apikey` is HTTP 403 with a JSON string.",
    )
    router.add_api_route(
        "/parse/imageurl",
        parse_image_url,
        methods=["GET"],
        operation_id="ocrSpaceParseImageUrl",
        summary="OCR.space: parse the file at a URL",
        response_class=Response,
    )
    router.add_api_route(
        PDF_ROUTE + "/{name}",
        get_searchable_pdf,
        methods=["GET"],
        operation_id="ocrSpaceSearchablePdf",
        summary="OCR.space: a searchable PDF",
        response_class=Response,
    )
    router.add_api_route("/parse/{endpoint}", any_case, methods=["GET", "POST"], include_in_schema=False)
    return router
