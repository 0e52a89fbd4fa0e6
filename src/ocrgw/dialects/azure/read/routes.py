"""Azure AI Vision Read v3.0/v3.1/v3.2 routes: submit answers 202 with an absolute Operation-Location
ending in the job's UUID; the result GET answers 200 in every state. Thin: parse -> job service -> render."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from ocrgw import ids
from ocrgw.context import Ctx, app_context, public_base_url
from ocrgw.dialects.azure.read import parse, render
from ocrgw.dialects.azure.read.schemas import ErrorResponse, ReadOperationResult
from ocrgw.dialects.azure.shared import (
    Caller,
    add_image_operation,
    azure_json,
    azure_principal,
    image_source,
    key_header,
    key_query,
)
from ocrgw.formats import ImageLimits
from ocrgw.jobs import service

VERSIONS = ("v3.0", "v3.1", "v3.2")
TAG = "Azure AI Vision Read v3.x"
# Read's documented input limits (shared/contracts/azure.md 1.4): images 50 x 50 to 10000 x 10000 px.
LIMITS = ImageLimits("Azure Read", min_side=50, max_side=10_000)


def _version(request: Request) -> str:
    """The API version this route serves (`/vision/v3.2/read/...`): one endpoint serves all three."""
    return request.scope["route"].path.split("/")[2]


async def submit(
    request: Request,
    ctx: Ctx,
    principal: Caller,
    language: Annotated[
        str | None, Query(description="BCP-47 code, e.g. en, de, fr, zh-Hans; several as de,en (an ocrgw extension).")
    ] = None,
    pages: Annotated[str | None, Query(description="Page selection: 1,3-5, 3-, -2.")] = None,
    readingOrder: Annotated[str | None, Query(description="basic (default) or natural.")] = None,
    model_version: Annotated[str | None, Query(alias="model-version")] = None,
    modelVersion: Annotated[str | None, Query(include_in_schema=False)] = None,
) -> Response:
    version = _version(request)
    if version == "v3.2":
        order = parse.order(language, pages, readingOrder, model_version or modelVersion)
    else:  # v3.0/v3.1 know only `language` (their SDKs always send language=en)
        order = parse.order(language)
    job = await service.accept(
        ctx,
        dialect=f"azure-read-{version}",
        owner=principal,
        order=order,
        source=await image_source(request),
        limits=LIMITS,
        retention_hours=ctx.settings.retention_read_hours,
    )
    location = f"{public_base_url(request, ctx.settings)}/vision/{version}/read/analyzeResults/{job.id}"
    return Response(status_code=202, headers={"Operation-Location": location, "apim-request-id": ids.new_id()})


async def submit_lane(request: Request) -> Response:
    """``submit`` through the fast lane (``ocrgw.fastlane``): its dependencies awaited in order and its
    query parameters read as FastAPI reads a plain ``str`` one (the last of repeated values)."""
    ctx = await app_context(request)
    principal = await azure_principal(ctx, await key_header(request), await key_query(request))
    q = request.query_params
    return await submit(
        request,
        ctx,
        principal,
        q.get("language"),
        q.get("pages"),
        q.get("readingOrder"),
        q.get("model-version"),
        q.get("modelVersion"),
    )


async def get_result(request: Request, operation_id: str, ctx: Ctx, principal: Caller) -> Response:
    view = await service.get(db=ctx.db, job_id=operation_id, owner_key_id=principal.key_id, dialects=("azure-read-v3",))
    return azure_json(render.operation(view, _version(request)))


async def result_lane(request: Request) -> Response:
    """``get_result`` through the fast lane (``ocrgw.fastlane``): the SDKs' poll, once a second per job."""
    ctx = await app_context(request)
    principal = await azure_principal(ctx, await key_header(request), await key_query(request))
    return await get_result(request, request.path_params["operation_id"], ctx, principal)


router = APIRouter(tags=[TAG], default_response_class=Response)
for _v in VERSIONS:
    add_image_operation(
        router,
        (submit, get_result),
        (f"/vision/{_v}/read/analyze", f"/vision/{_v}/read/analyzeResults/{{operation_id}}"),
        op=f"azureRead{_v.replace('.', '').upper()}",
        title=f"Read {_v}",
        models=(ReadOperationResult, ErrorResponse),
        location="Absolute URL of the result, ending in the operation id.",
        e400="Invalid image, URL or parameter (Azure error codes).",
    )
