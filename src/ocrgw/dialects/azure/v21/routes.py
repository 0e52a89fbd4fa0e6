"""Computer Vision v2.1 "Batch Read" (SDK 0.5.0) routes: submit answers 202 with an absolute
Operation-Location, the operation GET answers 200 in every state. Thin: Azure's shared intake and auth ->
job service -> render from JobView."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from ocrgw.context import public_base_url
from ocrgw.dialects.azure.read import parse as read_parse
from ocrgw.dialects.azure.read.routes import READ_BODY
from ocrgw.dialects.azure.shared import Caller, Ctx, image_source
from ocrgw.dialects.azure.v21 import render
from ocrgw.dialects.azure.v21.schemas import BatchReadOperationResult, ComputerVisionErrorV21
from ocrgw.jobs import service

VERSION = "v2.1"
DIALECT = "azure-read-v2.1"
TAG = "Azure Computer Vision v2.1 Batch Read"
PREFIX = f"/vision/{VERSION}/read"


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


async def get_operation(
    operation_id: str,
    ctx: Ctx,
    principal: Caller,
) -> Response:
    view = await service.get(
        db=ctx.db, job_id=operation_id, owner_key_id=principal.key_id, dialects=("azure-read-v2.1",)
    )
    return Response(
        json.dumps(render.operation(view), ensure_ascii=False, separators=(",", ":")),
        media_type="application/json; charset=utf-8",
    )


def _error(description: str) -> dict:
    return {"model": ComputerVisionErrorV21, "description": description}


router = APIRouter(tags=[TAG])
router.add_api_route(
    f"{PREFIX}/core/asyncBatchAnalyze",
    submit,
    methods=["POST"],
    status_code=202,
    operation_id="azureBatchReadV21Analyze",
    summary="Batch Read v2.1: submit a document",
    description="Stores the image and answers 202 with `Operation-Location`; poll that URL for the result.",
    responses={
        202: {
            "description": "Accepted",
            "headers": {
                "Operation-Location": {
                    "schema": {"type": "string"},
                    "description": "Absolute URL of the operation, ending in its id.",
                }
            },
        },
        400: _error("Invalid image or URL (v2 error codes)."),
        401: _error("Missing or invalid Ocp-Apim-Subscription-Key."),
        415: _error("Unsupported Content-Type."),
        429: _error("Backlog full: retry after `Retry-After` seconds."),
    },
    openapi_extra=READ_BODY,
    response_class=Response,
)
router.add_api_route(
    f"{PREFIX}/operations/{{operation_id}}",
    get_operation,
    methods=["GET"],
    operation_id="azureBatchReadV21GetResult",
    summary="Batch Read v2.1: get the operation",
    responses={
        200: {"model": BatchReadOperationResult, "description": "The operation in any state."},
        401: _error("Missing or invalid Ocp-Apim-Subscription-Key."),
        404: _error("Unknown, expired or someone else's operation."),
    },
    response_class=Response,
)
