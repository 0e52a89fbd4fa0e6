"""Azure AI Vision Image Analysis 4.0, synchronous read: `POST /computervision/imageanalysis:analyze` with
`features=read` answers 200 with the text once the job is done. Thin: parse -> job service (submit and a
bounded wait) -> render.

Bodies: raw bytes (octet-stream or image/*), JSON {"url"}, or multipart/form-data, whose first file part is
streamed into intake as it arrives, so the upload limit holds without spooling the whole form first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from ocrgw import ids, intake
from ocrgw.context import Ctx
from ocrgw.dialects.azure.imageanalysis import parse, render
from ocrgw.dialects.azure.imageanalysis.schemas import ImageAnalysisResult
from ocrgw.dialects.azure.read.schemas import ErrorResponse
from ocrgw.dialects.azure.shared import IMAGE_BODY, Caller, azure_json, body_doc, image_source, submit_errors
from ocrgw.formats import ImageLimits
from ocrgw.intake import multipart
from ocrgw.intake.sources import FormSource
from ocrgw.jobs import service
from ocrgw.jobs.service import Source
from ocrgw.settings import Settings

TAG = "Azure AI Vision Image Analysis 4.0"
DIALECT = "azure-imageanalysis-4.0"
# Image Analysis 4.0 takes images over 50 x 50 and under 16000 x 16000 px (shared/contracts/azure.md 3).
LIMITS = ImageLimits("Azure Image Analysis", min_side=50, max_side=16_000)


async def _source(request: Request, settings: Settings) -> Source:
    boundary = multipart.boundary_of(request.headers.get("content-type", ""))
    if boundary is None:
        return await image_source(request)
    no_file = "The multipart/form-data body has no file part with the image."
    cap = settings.max_upload_bytes + multipart.OVERHEAD
    return FormSource(intake.body(request, cap), boundary, cap, no_file=no_file)


async def analyze(
    request: Request,
    ctx: Ctx,
    principal: Caller,
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
) -> Response:
    """Reads the image's text (page 1 of a multi-page TIFF or PDF) and answers with it, synchronously."""
    parse.check_query(api_version, features, model_name, model_version, gender_neutral_caption)
    view = await service.accept(
        ctx,
        dialect=DIALECT,
        owner=principal,
        order=parse.order(language),
        source=await _source(request, ctx.settings),
        limits=LIMITS,
        retention_hours=ctx.settings.retention_sync_hours,
        wait=ctx.settings.sync_wait_seconds,
    )
    return azure_json(render.render_result(view, ctx.settings), {"apim-request-id": ids.new_id()})


FORM = {"file": {"type": "string", "format": "binary", "description": "The image (first file part)."}}
router = APIRouter(tags=[TAG])
router.add_api_route(
    "/computervision/imageanalysis:analyze",
    analyze,
    methods=["POST"],
    operation_id="azureImageAnalysisAnalyze",
    summary="Image Analysis 4.0: read an image's text",
    description="Synchronous: answers 200 with `readResult` once the image is read (`features=read`; other "
    "visual features answer 400 `NotSupportedVisualFeature`).",
    responses={
        200: {"model": ImageAnalysisResult, "description": "The text, in pixels."},
        **submit_errors(
            ErrorResponse,
            "Invalid image, URL, feature or parameter (Azure error codes).",
            e404="Unknown custom model (`model-name`).",
            # 408, not 500: azure-core retries a POST that gets a 500, and each retry would be a new job.
            e408="Reading took longer than the wait bound (innererror `Timeout`).",
            e500="Reading failed.",
        ),
    },
    openapi_extra={
        **body_doc({**IMAGE_BODY, "multipart/form-data": {"schema": {"type": "object", "properties": FORM}}}),
        "x-api-versions": parse.API_VERSIONS,
    },
    response_class=Response,
)
