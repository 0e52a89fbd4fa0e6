"""Computer Vision v2.1 "Batch Read" (SDK 0.5.0) routes: submit answers 202 with an absolute
Operation-Location, the operation GET answers 200 in every state. Thin: Azure's shared intake and auth ->
job service -> render from JobView."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from ocrgw.context import Ctx, public_base_url
from ocrgw.dialects.azure.read import parse as read_parse
from ocrgw.dialects.azure.shared import Caller, add_image_operation, azure_json, image_source
from ocrgw.dialects.azure.v21 import render
from ocrgw.dialects.azure.v21.schemas import BatchReadOperationResult, ComputerVisionErrorV21
from ocrgw.formats import ImageLimits
from ocrgw.jobs import service

DIALECT = "azure-read-v2.1"
TAG = "Azure Computer Vision v2.1 Batch Read"
# Read's limits, which v2.x states in its error ("Image must be at least 50 pixels in width and height").
LIMITS = ImageLimits("Azure Batch Read v2.1", min_side=50, max_side=10_000)
PREFIX = "/vision/v2.1/read"


async def submit(
    request: Request,
    ctx: Ctx,
    principal: Caller,
    mode: Annotated[
        str | None, Query(description="Printed or Handwritten (v2.0 clients): accepted, ignored; both kinds are read.")
    ] = None,
) -> Response:
    job = await service.accept(
        ctx,
        dialect=DIALECT,
        owner=principal,
        order=read_parse.order(None),
        source=await image_source(request),
        limits=LIMITS,
        retention_hours=ctx.settings.retention_read_hours,
    )
    location = f"{public_base_url(request, ctx.settings)}{PREFIX}/operations/{job.id}"
    return Response(status_code=202, headers={"Operation-Location": location})


async def get_operation(operation_id: str, ctx: Ctx, principal: Caller) -> Response:
    view = await service.get(db=ctx.db, job_id=operation_id, owner_key_id=principal.key_id, dialects=(DIALECT,))
    return azure_json(render.operation(view))


router = APIRouter(tags=[TAG], default_response_class=Response)
add_image_operation(
    router,
    (submit, get_operation),
    (f"{PREFIX}/core/asyncBatchAnalyze", f"{PREFIX}/operations/{{operation_id}}"),
    op="azureBatchReadV21",
    title="Batch Read v2.1",
    models=(BatchReadOperationResult, ComputerVisionErrorV21),
    location="Absolute URL of the operation, ending in its id.",
    e400="Invalid image or URL (v2 error codes).",
    got="operation",
)
