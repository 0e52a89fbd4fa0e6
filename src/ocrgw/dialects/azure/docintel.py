"""Form Recognizer (2022-08-31, 2023-07-31) and Document Intelligence (2024-11-30) `prebuilt-read`: submit
answers 202 with an absolute Operation-Location carrying `?api-version=`, the result GET answers 200 in every
state, DI's DELETE 204. Thin: parse -> job service -> docintel_render; errors in the FR/DI envelope."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from ocrgw import intake, languages
from ocrgw.auth import Principal
from ocrgw.context import AppContext, app_context, public_base_url
from ocrgw.dialects.azure import docintel_render as render
from ocrgw.dialects.azure.errors import MSG_KEY_INVALID, MSG_KEY_MISSING
from ocrgw.dialects.azure.shared import azure_principal
from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.jobs import service
from ocrgw.jobs.pages import PageSelection
from ocrgw.jobs.schemas import JobSpec, JobView, StoredBlob

MODELS = ("prebuilt-read",)
API_VERSIONS = {
    "formrecognizer": ("2022-08-31", "2023-07-31"),
    "documentintelligence": ("2024-11-30", "2023-10-31-preview", "2024-02-29-preview", "2024-07-31-preview"),
}
DIALECTS = {"formrecognizer": "azure-formrecognizer", "documentintelligence": "azure-docintel"}
TAGS = {"formrecognizer": "Azure Form Recognizer", "documentintelligence": "Azure Document Intelligence"}
FEATURES_SERVED = ("languages",)
FEATURES_IGNORED = ("ocrHighResolution",)  # accepted: we always read at the resolution we are given
RAW_TYPES = ("application/octet-stream", "application/pdf", "text/html")
JSON_OVERHEAD = 64 * 1024
POLL_SECONDS = 1


class InnerCodeError(OcrgwError):
    """A core error whose FR/DI inner code differs from the default mapping (e.g. ParameterMissing)."""

    def __init__(self, code: ErrorCode, message: str, *, inner: str, param: str | None = None) -> None:
        super().__init__(code, message, param=param)
        self.inner = inner


# ------------------------------------------------------------------------------------ wire schemas
class AnalyzeDocumentRequest(BaseModel):
    """JSON body of an analyze request: exactly one of the two sources."""

    urlSource: str | None = Field(
        None, description="URL of the document (http/https).", examples=["https://example.com/scan.pdf"]
    )
    base64Source: str | None = Field(None, description="The document's bytes, base64-encoded.")


class DocumentSpan(BaseModel):
    offset: int = Field(description="Start in `content`, in units of `stringIndexType`.")
    length: int


class DocumentWord(BaseModel):
    content: str
    polygon: list[float] = Field(description="8 numbers: TL, TR, BR, BL corners as x, y, clockwise.")
    confidence: float = Field(ge=0, le=1)
    span: DocumentSpan


class DocumentLine(BaseModel):
    content: str
    polygon: list[float]
    spans: list[DocumentSpan]


class DocumentPage(BaseModel):
    pageNumber: int
    angle: float
    width: float
    height: float
    unit: Literal["pixel", "inch"]
    words: list[DocumentWord]
    lines: list[DocumentLine]
    spans: list[DocumentSpan]


class BoundingRegion(BaseModel):
    pageNumber: int
    polygon: list[float]


class DocumentParagraph(BaseModel):
    content: str
    spans: list[DocumentSpan]
    boundingRegions: list[BoundingRegion]


class DocumentStyle(BaseModel):
    isHandwritten: bool | None = None
    confidence: float
    spans: list[DocumentSpan]


class DocumentLanguage(BaseModel):
    locale: str
    confidence: float
    spans: list[DocumentSpan]


class DocumentAnalyzeResult(BaseModel):
    apiVersion: str
    modelId: str
    stringIndexType: Literal["textElements", "unicodeCodePoint", "utf16CodeUnit"]
    content: str
    contentFormat: Literal["text", "markdown"] | None = Field(None, description="Document Intelligence only.")
    pages: list[DocumentPage]
    paragraphs: list[DocumentParagraph]
    styles: list[DocumentStyle]
    languages: list[DocumentLanguage] | None = Field(None, description="Only with features=languages.")


class DocumentInnerError(BaseModel):
    code: str
    message: str


class DocumentError(BaseModel):
    code: str
    message: str
    innererror: DocumentInnerError | None = None


class DocumentErrorResponse(BaseModel):
    error: DocumentError


class AnalyzeResultOperation(BaseModel):
    status: Literal["notStarted", "running", "failed", "succeeded"]
    createdDateTime: str = Field(description="ISO-8601 UTC.")
    lastUpdatedDateTime: str
    analyzeResult: DocumentAnalyzeResult | None = None
    error: DocumentError | None = None


EXTRA_SCHEMAS = {"AnalyzeDocumentRequest": AnalyzeDocumentRequest}


# ------------------------------------------------------------------------------------------- errors
def render_error(request: Request, exc: OcrgwError) -> Response:
    """FR/DI error envelope, always JSON; Retry-After only on a 429 (azure-core retries anything else
    that carries one)."""
    status, top, inner = render.codes_for(exc.code)
    if isinstance(exc, InnerCodeError):
        inner = exc.inner
    headers = {"apim-request-id": str(uuid.uuid4())}
    message = exc.message
    if exc.code in (ErrorCode.MISSING_KEY, ErrorCode.INVALID_KEY):
        message = MSG_KEY_MISSING if exc.code is ErrorCode.MISSING_KEY else MSG_KEY_INVALID
        service_name = (
            "documentintelligence" if request.url.path.startswith("/documentintelligence") else "formrecognizer"
        )
        base = f"{request.url.scheme}://{request.headers.get('host', 'localhost')}"
        headers["WWW-Authenticate"] = (
            f'AzureApiManagementKey realm="{base}/{service_name}",name="Ocp-Apim-Subscription-Key",type="header"'
        )
    elif exc.code is ErrorCode.ROUTE_NOT_FOUND:
        message = "Resource not found"
    elif exc.code is ErrorCode.BACKLOG_FULL and exc.retry_after is not None:
        message = f"Rate limit is exceeded. Try again in {int(exc.retry_after)} seconds. {exc.message}"
    if status == 429 and exc.retry_after is not None:
        headers["Retry-After"] = str(max(1, int(exc.retry_after)))
    body = json.dumps({"error": render.error_object(top, message, inner)}).encode()
    return Response(body, status_code=status, media_type="application/json", headers=headers)


# ------------------------------------------------------------------------------------------ parsing
def _check_api_version(service_name: str, api_version: str | None) -> str:
    if not api_version:
        raise InnerCodeError(
            ErrorCode.INVALID_PARAMETER,
            "The api-version query parameter is required.",
            inner="ParameterMissing",
            param="api-version",
        )
    supported = API_VERSIONS[service_name]
    if api_version not in supported:
        raise OcrgwError(
            ErrorCode.UNSUPPORTED_API_VERSION,
            f"The API version {api_version!r} is not supported by /{service_name}; use one of {', '.join(supported)}.",
            param="api-version",
        )
    return api_version


def _check_model(model_id: str) -> str:
    if model_id not in MODELS:
        raise OcrgwError(
            ErrorCode.MODEL_NOT_FOUND,
            f"The requested model {model_id!r} wasn't found; this server serves {', '.join(MODELS)}.",
            param="modelId",
        )
    return model_id


def _csv(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def parse_spec(
    service_name: str,
    api_version: str,
    model_id: str,
    *,
    pages: str | None,
    locale: str | None,
    string_index_type: str | None,
    features: str | None,
    output_content_format: str | None,
    output: str | None,
    ctx: AppContext,
) -> JobSpec:
    """FR/DI query parameters -> JobSpec; render options travel in JobSpec.options."""
    settings = ctx.settings
    tessdata = settings.resolved_tessdata_dir
    try:
        models = (
            languages.resolve_many(locale, tessdata)
            if locale and locale.strip()
            else languages.default_models(settings.default_language, tessdata)
        )
    except OcrgwError as exc:
        if exc.code is ErrorCode.UNSUPPORTED_LANGUAGE and locale:
            raise OcrgwError(exc.code, f"The parameter locale is invalid: {exc.message}", param="locale") from exc
        raise
    try:
        selection = PageSelection.parse(pages)
    except OcrgwError as exc:
        raise OcrgwError(
            ErrorCode.INVALID_PAGE_RANGE,
            f"The parameter pages is invalid: {pages!r} is not a page range such as 1-2,4.",
            param="pages",
        ) from exc
    index_type = string_index_type or render.DEFAULT_INDEX_TYPE
    if index_type not in render.INDEX_TYPES:
        raise OcrgwError(
            ErrorCode.INVALID_PARAMETER,
            f"The parameter stringIndexType is invalid: {string_index_type!r} is not one of "
            f"{', '.join(render.INDEX_TYPES)}.",
            param="stringIndexType",
        )
    wanted = _csv(features)
    refused = [f for f in wanted if f not in FEATURES_SERVED + FEATURES_IGNORED]
    if refused:
        raise OcrgwError(
            ErrorCode.UNSUPPORTED_FEATURE,
            f"The parameter features is invalid: {', '.join(refused)} is not supported by this "
            f"server (supported: {', '.join(FEATURES_SERVED + FEATURES_IGNORED)}).",
            param="features",
        )
    options = {
        "apiVersion": api_version,
        "modelId": model_id,
        "stringIndexType": index_type,
        "features": ",".join(f for f in wanted if f in FEATURES_SERVED),
    }
    if service_name == "documentintelligence":
        fmt = output_content_format or "text"
        if fmt not in ("text", "markdown"):
            raise OcrgwError(
                ErrorCode.INVALID_PARAMETER,
                f"The parameter outputContentFormat is invalid: {output_content_format!r} is not "
                "one of text, markdown.",
                param="outputContentFormat",
            )
        options["outputContentFormat"] = fmt
        if _csv(output):
            raise OcrgwError(
                ErrorCode.UNSUPPORTED_FEATURE,
                f"The parameter output is invalid: {output!r} is not supported by this server.",
                param="output",
            )
    return JobSpec(
        languages=models,
        language_hint=locale.strip() if locale and locale.strip() else None,
        pages=selection.ranges,
        options=options,
    )


async def blob_from_request(request: Request, ctx: AppContext) -> StoredBlob:
    settings = ctx.settings
    ctype = request.headers.get("content-type", "application/octet-stream").split(";")[0].strip().lower()
    if ctype == "application/json":
        cap = settings.max_upload_bytes * 4 // 3 + JSON_OVERHEAD
        raw = await intake.read_capped(request.stream(), cap)
        try:
            body = json.loads(raw)
            if not isinstance(body, dict):
                raise TypeError
        except (ValueError, TypeError) as exc:
            raise InnerCodeError(
                ErrorCode.INVALID_URL,
                'The request body must be JSON: {"urlSource": ...} or {"base64Source": ...}.',
                inner="InvalidContentSourceFormat",
            ) from exc
        url, b64 = body.get("urlSource"), body.get("base64Source")
        if (url is None) == (b64 is None):
            raise InnerCodeError(
                ErrorCode.INVALID_PARAMETER,
                "Exactly one of urlSource and base64Source must be given.",
                inner="ParameterMissing" if url is None else "InvalidParameter",
            )
        if url is not None:
            if not isinstance(url, str) or not url.strip():
                raise OcrgwError(ErrorCode.INVALID_URL, "urlSource must be an http(s) URL.", param="urlSource")
            return await intake.from_url(url.strip(), store=ctx.store, settings=settings)
        if not isinstance(b64, str):
            raise OcrgwError(ErrorCode.INVALID_URL, "base64Source must be a base64 string.", param="base64Source")
        if len(b64) * 3 // 4 > settings.max_upload_bytes + 3:
            raise OcrgwError(
                ErrorCode.TOO_LARGE,
                f"The input image is too large: at most {settings.max_upload_bytes / (1024 * 1024):g} MB are accepted.",
            )
        try:
            data = base64.b64decode("".join(b64.split()), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise OcrgwError(ErrorCode.INVALID_URL, "base64Source is not valid base64.", param="base64Source") from exc
        del raw, body, b64
        return await intake.from_bytes(data, store=ctx.store, settings=settings)
    if (
        ctype in RAW_TYPES
        or ctype == ""
        or ctype.startswith("image/")
        or ctype.startswith("application/vnd.openxmlformats-officedocument.")
    ):
        return await intake.from_stream(request.stream(), store=ctx.store, settings=settings)
    raise OcrgwError(
        ErrorCode.UNSUPPORTED_MEDIA_TYPE,
        f"Content-Type {ctype!r} is not supported; send the document bytes as "
        "application/octet-stream (or application/pdf, image/*), or application/json with "
        '{"urlSource": ...} or {"base64Source": ...}.',
    )


async def _owned_view(ctx: AppContext, principal: Principal, result_id: str, with_result: bool = True) -> JobView:
    """The job, if it is an FR/DI job of this caller; otherwise OperationNotFound, as for an unknown id."""
    view = await service.get(
        db=ctx.db,
        job_id=result_id,
        owner_key_id=principal.key_id,
        with_result=with_result,
        dialects=tuple(DIALECTS.values()),
    )
    return view


# ------------------------------------------------------------------------------------------- routes
_ERRORS: dict[int | str, dict] = {
    400: {"model": DocumentErrorResponse, "description": "Invalid document, source or parameter."},
    401: {"model": DocumentErrorResponse, "description": "Missing or invalid Ocp-Apim-Subscription-Key."},
    404: {"model": DocumentErrorResponse, "description": "Unknown model (ModelNotFound)."},
    415: {"model": DocumentErrorResponse, "description": "Unsupported Content-Type."},
    429: {"model": DocumentErrorResponse, "description": "Backlog full: retry after `Retry-After` seconds."},
}
READ_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            "application/pdf": {"schema": {"type": "string", "format": "binary"}},
            "image/*": {"schema": {"type": "string", "format": "binary"}},
            "application/json": {"schema": AnalyzeDocumentRequest.model_json_schema()},
        },
    }
}


def _make_routes(router: APIRouter, service_name: str) -> None:
    slug = "FormRecognizer" if service_name == "formrecognizer" else "DocumentIntelligence"
    tag = TAGS[service_name]
    is_di = service_name == "documentintelligence"

    async def analyze(
        request: Request,
        model_id: str,
        ctx: Annotated[AppContext, Depends(app_context)],
        principal: Annotated[Principal, Depends(azure_principal)],
        api_version: Annotated[
            str | None, Query(alias="api-version", description="2022-08-31 or 2023-07-31 (FR); 2024-11-30 (DI).")
        ] = None,
        pages: Annotated[str | None, Query(description="1-based pages, e.g. 1-3,5.")] = None,
        locale: Annotated[str | None, Query(description="BCP-47 hint, e.g. en-US, de.")] = None,
        stringIndexType: Annotated[
            str | None, Query(description="textElements (default), unicodeCodePoint or utf16CodeUnit.")
        ] = None,
        features: Annotated[
            str | None, Query(description="languages (served), ocrHighResolution (accepted, no effect).")
        ] = None,
        outputContentFormat: Annotated[
            str | None, Query(description="text (default) or markdown; Document Intelligence only.")
        ] = None,
        output: Annotated[str | None, Query(include_in_schema=False)] = None,
    ) -> Response:
        version = _check_api_version(service_name, api_version)
        model = _check_model(model_id)
        spec = parse_spec(
            service_name,
            version,
            model,
            pages=pages,
            locale=locale,
            string_index_type=stringIndexType,
            features=features,
            output_content_format=outputContentFormat if is_di else None,
            output=output if is_di else None,
            ctx=ctx,
        )
        await service.check_backlog(db=ctx.db, settings=ctx.settings)
        blob = await blob_from_request(request, ctx)
        job = await service.submit(
            db=ctx.db,
            queue=ctx.queue,
            store=ctx.store,
            settings=ctx.settings,
            owner_key_id=principal.key_id,
            dialect=DIALECTS[service_name],
            spec=spec,
            blob=blob,
            retention=timedelta(hours=ctx.settings.retention_docintel_hours),
        )
        location = (
            f"{public_base_url(request, ctx.settings)}/{service_name}/documentModels/{model}"
            f"/analyzeResults/{job.id}?api-version={version}"
        )
        headers = {"Operation-Location": location, "apim-request-id": str(uuid.uuid4())}
        if is_di:
            headers["Retry-After"] = str(POLL_SECONDS)
        return Response(status_code=202, headers=headers)

    async def get_result(
        model_id: str,
        result_id: str,
        ctx: Annotated[AppContext, Depends(app_context)],
        principal: Annotated[Principal, Depends(azure_principal)],
        api_version: Annotated[str | None, Query(alias="api-version")] = None,
    ) -> Response:
        _check_api_version(service_name, api_version)
        _check_model(model_id)
        view = await _owned_view(ctx, principal, result_id)
        headers = {"apim-request-id": str(uuid.uuid4())}
        if not view.status.terminal:
            headers["Retry-After"] = str(POLL_SECONDS)
        body = json.dumps(render.operation(view), ensure_ascii=False, separators=(",", ":"))
        return Response(body, media_type="application/json; charset=utf-8", headers=headers)

    async def delete_result(
        model_id: str,
        result_id: str,
        ctx: Annotated[AppContext, Depends(app_context)],
        principal: Annotated[Principal, Depends(azure_principal)],
        api_version: Annotated[str | None, Query(alias="api-version")] = None,
    ) -> Response:
        _check_api_version(service_name, api_version)
        _check_model(model_id)
        await _owned_view(ctx, principal, result_id, with_result=False)
        await service.delete(db=ctx.db, store=ctx.store, job_id=result_id, owner_key_id=principal.key_id)
        return Response(status_code=204, headers={"apim-request-id": str(uuid.uuid4())})

    base = f"/{service_name}/documentModels/{{model_id}}"
    router.add_api_route(
        f"{base}:analyze",
        analyze,
        methods=["POST"],
        status_code=202,
        tags=[tag],
        operation_id=f"azure{slug}AnalyzeDocument",
        summary=f"{tag}: analyze a document (prebuilt-read)",
        description="Stores the document and answers 202 with an absolute `Operation-Location` (carrying "
        "`?api-version=`); poll it for the result.",
        responses={
            202: {
                "description": "Accepted",
                "headers": {
                    "Operation-Location": {"schema": {"type": "string"}, "description": "Absolute URL of the result."},
                    **(
                        {
                            "Retry-After": {
                                "schema": {"type": "integer"},
                                "description": "Seconds before the first poll.",
                            }
                        }
                        if is_di
                        else {}
                    ),
                },
            },
            **_ERRORS,
        },
        openapi_extra=READ_BODY,
        response_class=Response,
    )
    router.add_api_route(
        f"{base}/analyzeResults/{{result_id}}",
        get_result,
        methods=["GET"],
        tags=[tag],
        operation_id=f"azure{slug}GetAnalyzeResult",
        summary=f"{tag}: get the analyze result",
        responses={
            200: {
                "model": AnalyzeResultOperation,
                "description": "The operation in any state; `Retry-After` while not finished.",
            },
            404: {
                "model": DocumentErrorResponse,
                "description": "Unknown, expired, deleted or someone else's operation.",
            },
            401: _ERRORS[401],
        },
        response_class=Response,
    )
    if is_di:
        router.add_api_route(
            f"{base}/analyzeResults/{{result_id}}",
            delete_result,
            methods=["DELETE"],
            status_code=204,
            tags=[tag],
            operation_id=f"azure{slug}DeleteAnalyzeResult",
            summary=f"{tag}: delete an analyze result",
            description="Deletes the result and the stored document now; afterwards the id is unknown (404).",
            responses={
                204: {"description": "Deleted"},
                404: {"model": DocumentErrorResponse, "description": "Unknown or expired operation."},
                401: _ERRORS[401],
            },
            response_class=Response,
        )


def build_router() -> APIRouter:
    router = APIRouter()
    for service_name in API_VERSIONS:
        _make_routes(router, service_name)
    return router


__all__ = ["EXTRA_SCHEMAS", "build_router", "render_error"]
