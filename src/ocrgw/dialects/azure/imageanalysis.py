"""Azure AI Vision Image Analysis 4.0, synchronous read: `POST /computervision/imageanalysis:analyze` with
`features=read` answers 200 with the text once the job is done. Thin: the v3.x intake helpers parse the
request, the job service submits and waits (bounded), and the JobView is rendered as Image Analysis JSON
(pixels, ints, 4-point polygons, one block for page 1). Other visual features are refused, never faked.

Bodies: raw bytes (octet-stream or image/*), JSON {"url"}, or multipart/form-data, whose first file part is
streamed into intake as it arrives (python-multipart's push parser), so the upload limit holds without
spooling the whole form first."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse, Response

from ocrgw import intake
from ocrgw.auth import Principal
from ocrgw.context import AppContext, app_context
from ocrgw.dialects.azure.router import azure_principal, blob_from_request, parse_spec
from ocrgw.dialects.azure.schemas import ErrorResponse, ReadUrlBody
from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.intake import multipart
from ocrgw.jobs import service
from ocrgw.jobs.schemas import JobView, PageResult, StoredBlob
from ocrgw.jobs.states import JobStatus
from ocrgw.settings import Settings

TAG = "Azure AI Vision Image Analysis 4.0"
DIALECT = "azure-imageanalysis-4.0"
API_VERSIONS = ("2023-10-01", "2024-02-01")
MODEL_VERSION = "2023-10-01"
MODEL_VERSIONS = ("latest", MODEL_VERSION)
VISUAL_FEATURES = ("tags", "caption", "denseCaptions", "objects", "read", "smartCrops", "people")
MSG_NO_FEATURES = "Either 'features' or 'model-name' needs to be specified in the query parameter"


# ------------------------------------------------------------------------------------------- schemas
class ImagePoint(BaseModel):
    x: int
    y: int


class DetectedTextWord(BaseModel):
    text: str
    boundingPolygon: list[ImagePoint] = Field(description="4 points, clockwise from top-left, in pixels.")
    confidence: float = Field(ge=0, le=1)


class DetectedTextLine(BaseModel):
    text: str
    boundingPolygon: list[ImagePoint]
    words: list[DetectedTextWord]


class DetectedTextBlock(BaseModel):
    lines: list[DetectedTextLine]


class ReadResult(BaseModel):
    blocks: list[DetectedTextBlock]


class ImageMetadata(BaseModel):
    width: int
    height: int


class ImageAnalysisResult(BaseModel):
    modelVersion: str = Field(examples=[MODEL_VERSION])
    metadata: ImageMetadata
    readResult: ReadResult


# -------------------------------------------------------------------------------------------- render
def _polygon(values: list[float], scale: float) -> list[dict[str, int]]:
    return [{"x": round(values[i] * scale), "y": round(values[i + 1] * scale)} for i in range(0, 8, 2)]


def _scale(page: PageResult, settings: Settings) -> float:
    # Image Analysis speaks pixels only; a PDF page (inches) is given at its nominal render resolution.
    return float(settings.pdf_dpi) if page.unit == "inch" else 1.0


def render_result(view: JobView, blob: StoredBlob, settings: Settings) -> dict:
    pages = view.pages or []
    page = pages[0] if pages else None
    if page is None:
        return {
            "modelVersion": MODEL_VERSION,
            "metadata": {"width": blob.width, "height": blob.height},
            "readResult": {"blocks": []},
        }
    k = _scale(page, settings)
    lines = [
        {
            "text": ln.text,
            "boundingPolygon": _polygon(ln.bbox, k),
            "words": [
                {"text": w.text, "boundingPolygon": _polygon(w.bbox, k), "confidence": round(w.confidence, 3)}
                for w in ln.words
            ],
        }
        for ln in page.lines
    ]
    return {
        "modelVersion": MODEL_VERSION,
        "metadata": {"width": round(page.width * k), "height": round(page.height * k)},
        "readResult": {"blocks": [{"lines": lines}] if lines else []},
    }


# -------------------------------------------------------------------------------------------- intake
def _check_query(
    api_version: str | None,
    features: str | None,
    model_name: str | None,
    model_version: str | None,
    gender_neutral: str | None,
) -> None:
    if not api_version:
        raise OcrgwError(
            ErrorCode.UNSUPPORTED_API_VERSION,
            f"The api-version query parameter is required; supported: {', '.join(API_VERSIONS)}.",
            param="api-version",
        )
    if api_version not in API_VERSIONS:
        raise OcrgwError(
            ErrorCode.UNSUPPORTED_API_VERSION,
            f"The HTTP resource does not support api-version {api_version!r}; supported: {', '.join(API_VERSIONS)}.",
            param="api-version",
        )
    asked = [f.strip() for f in (features or "").split(",") if f.strip()]
    if model_name:
        raise OcrgwError(
            ErrorCode.MODEL_NOT_FOUND,
            f"Custom model {model_name!r} was not found; this service offers features=read only.",
            param="model-name",
        )
    if not asked:
        raise OcrgwError(ErrorCode.INVALID_PARAMETER, MSG_NO_FEATURES, param="features")
    known = {f.lower(): f for f in VISUAL_FEATURES}
    for name in asked:
        if name.lower() not in known:
            raise OcrgwError(
                ErrorCode.INVALID_PARAMETER,
                f"Unknown visual feature {name!r}; valid values: {', '.join(VISUAL_FEATURES)}.",
                param="features",
            )
        if name.lower() != "read":
            raise OcrgwError(
                ErrorCode.UNSUPPORTED_FEATURE,
                f"The visual feature {known[name.lower()]!r} is not supported by this service; only 'read' is.",
                param="features",
            )
    mv = (model_version or "latest").strip()
    if mv not in MODEL_VERSIONS:
        raise OcrgwError(
            ErrorCode.INVALID_MODEL,
            f"The model version {mv!r} is not supported; use {' or '.join(MODEL_VERSIONS)}.",
            param="model-version",
        )
    if gender_neutral is not None and gender_neutral.strip().lower() not in ("true", "false"):
        raise OcrgwError(
            ErrorCode.INVALID_PARAMETER, "gender-neutral-caption must be true or false.", param="gender-neutral-caption"
        )


async def _blob(request: Request, ctx: AppContext) -> StoredBlob:
    boundary = multipart.boundary_of(request.headers.get("content-type", ""))
    if boundary is None:
        return await blob_from_request(request, ctx)
    form = multipart.MultipartForm()
    try:
        return await intake.from_stream(
            multipart.stream_first_file(
                request.stream(), boundary, ctx.settings.max_upload_bytes + multipart.OVERHEAD, form
            ),
            store=ctx.store,
            settings=ctx.settings,
        )
    except OcrgwError as exc:
        if exc.code is ErrorCode.EMPTY_BODY and form.files == 0:
            raise OcrgwError(
                ErrorCode.EMPTY_BODY, "The multipart/form-data body has no file part with the image."
            ) from exc
        raise


def _wait_bound(settings: Settings) -> float:
    return settings.sync_wait_seconds


# -------------------------------------------------------------------------------------------- routes
async def analyze(
    request: Request,
    ctx: Annotated[AppContext, Depends(app_context)],
    principal: Annotated[Principal, Depends(azure_principal)],
    api_version: Annotated[str | None, Query(alias="api-version", description="2023-10-01 or 2024-02-01.")] = None,
    features: Annotated[
        str | None, Query(description="Visual features, comma-separated; only `read` is supported.", examples=["read"])
    ] = None,
    language: Annotated[
        str | None, Query(description="BCP-47 code, e.g. en, de; several as de,en (an ocrgw extension).")
    ] = None,
    model_version: Annotated[str | None, Query(alias="model-version", description="latest or 2023-10-01.")] = None,
    model_name: Annotated[str | None, Query(alias="model-name", description="Custom models are not offered.")] = None,
    gender_neutral_caption: Annotated[
        str | None, Query(alias="gender-neutral-caption", description="Accepted; captions are not offered.")
    ] = None,
    smartcrops_aspect_ratios: Annotated[
        str | None, Query(alias="smartcrops-aspect-ratios", include_in_schema=False)
    ] = None,
) -> Response:
    """Reads the image's text (page 1 of a multi-page TIFF or PDF) and answers with it, synchronously."""
    _check_query(api_version, features, model_name, model_version, gender_neutral_caption)
    spec = parse_spec("v3.2", language, None, None, None, ctx).model_copy(update={"pages": ((1, 1),)})
    await service.check_backlog(db=ctx.db, settings=ctx.settings)
    blob = await _blob(request, ctx)
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
    bound = _wait_bound(ctx.settings)
    view = await service.wait(db=ctx.db, job_id=job.id, owner_key_id=principal.key_id, timeout=bound)
    if view.status is not JobStatus.SUCCEEDED:
        raise service.wait_error(view, bound)
    body = render_result(view, blob, ctx.settings)
    return JSONResponse(
        body, headers={"apim-request-id": str(uuid.uuid4())}, media_type="application/json; charset=utf-8"
    )


_ERRORS = {
    400: {"model": ErrorResponse, "description": "Invalid image, URL, feature or parameter (Azure error codes)."},
    401: {"model": ErrorResponse, "description": "Missing or invalid Ocp-Apim-Subscription-Key."},
    404: {"model": ErrorResponse, "description": "Unknown custom model (`model-name`)."},
    415: {"model": ErrorResponse, "description": "Unsupported Content-Type."},
    429: {"model": ErrorResponse, "description": "Backlog full: retry after `Retry-After` seconds."},
    500: {
        "model": ErrorResponse,
        "description": "Reading failed, or took longer than the wait bound (innererror `Timeout`).",
    },
}
READ_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            "application/json": {"schema": {"$ref": "#/components/schemas/ReadUrlBody"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {"type": "string", "format": "binary", "description": "The image (first file part)."}
                    },
                }
            },
        },
    }
}


def build_router() -> APIRouter:
    router = APIRouter(tags=[TAG])
    router.add_api_route(
        "/computervision/imageanalysis:analyze",
        analyze,
        methods=["POST"],
        operation_id="azureImageAnalysisAnalyze",
        summary="Image Analysis 4.0: read an image's text",
        description="Synchronous: answers 200 with `readResult` once the image is read (`features=read`; other "
        "visual features answer 400 `NotSupportedVisualFeature`).",
        responses={200: {"model": ImageAnalysisResult, "description": "The text, in pixels."}, **_ERRORS},
        openapi_extra=READ_BODY,
        response_class=Response,
    )
    return router


# Named schemas the OpenAPI document should carry even where only referenced by $ref.
EXTRA_SCHEMAS = {"ReadUrlBody": ReadUrlBody, "ImageAnalysisResult": ImageAnalysisResult}
