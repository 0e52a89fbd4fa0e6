"""Computer Vision v2.1 "Batch Read" (SDK 0.5.0) routes: submit answers 202 with an absolute
Operation-Location, the operation GET answers 200 in every state. Thin: Azure's shared intake and auth ->
job service -> render from JobView."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from ocrgw.context import Ctx, public_base_url
from ocrgw.dialects.azure.read import parse as read_parse
from ocrgw.dialects.azure.shared import (
    IMAGE_BODY,
    SUBMIT_DOC,
    Caller,
    accepted_doc,
    azure_json,
    body_doc,
    image_source,
    result_docs,
    submit_errors,
)
from ocrgw.dialects.azure.v21 import render
from ocrgw.dialects.azure.v21.schemas import BatchReadOperationResult, ComputerVisionErrorV21
from ocrgw.jobs import service

DIALECT = "azure-read-v2.1"
TAG = "Azure Computer Vision v2.1 Batch Read"
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
        retention_hours=ctx.settings.retention_read_hours,
    )
    location = f"{public_base_url(request, ctx.settings)}{PREFIX}/operations/{job.id}"
    return Response(status_code=202, headers={"Operation-Location": location})


async def get_operation(operation_id: str, ctx: Ctx, principal: Caller) -> Response:
    view = await service.get(db=ctx.db, job_id=operation_id, owner_key_id=principal.key_id, dialects=(DIALECT,))
    return azure_json(render.operation(view))


router = APIRouter(tags=[TAG], default_response_class=Response)
router.add_api_route(
    f"{PREFIX}/core/asyncBatchAnalyze",
    submit,
    methods=["POST"],
    status_code=202,
    operation_id="azureBatchReadV21Analyze",
    summary="Batch Read v2.1: submit a document",
    description=SUBMIT_DOC,
    responses={
        202: accepted_doc("Absolute URL of the operation, ending in its id."),
        **submit_errors(ComputerVisionErrorV21, "Invalid image or URL (v2 error codes)."),
    },
    openapi_extra=body_doc(IMAGE_BODY),
)
router.add_api_route(
    f"{PREFIX}/operations/{{operation_id}}",
    get_operation,
    methods=["GET"],
    operation_id="azureBatchReadV21GetResult",
    summary="Batch Read v2.1: get the operation",
    responses=result_docs(
        BatchReadOperationResult, ComputerVisionErrorV21, "Unknown, expired or someone else's operation."
    ),
)
