"""Azure AI Vision Read v3.0/v3.1/v3.2 routes: submit answers 202 with an absolute Operation-Location
ending in the job's UUID; the result GET answers 200 in every state. Thin: parse -> job service -> render."""

from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.security import APIKeyHeader, APIKeyQuery
from starlette.responses import Response

from ocrgw import intake, languages
from ocrgw.auth import Principal
from ocrgw.context import AppContext, app_context, public_base_url
from ocrgw.dialects.azure import render
from ocrgw.dialects.azure.schemas import ErrorResponse, ReadOperationResult, ReadUrlBody
from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.jobs import service
from ocrgw.jobs.pages import PageSelection
from ocrgw.jobs.schemas import JobSpec

VERSIONS = ("v3.0", "v3.1", "v3.2")
TAG = "Azure AI Vision Read v3.x"
JSON_BODY_CAP = 64 * 1024
_MODEL_RE = re.compile(r"^(latest|\d{4}-\d{2}-\d{2})(-preview)?$")

_key_header = APIKeyHeader(
    name="Ocp-Apim-Subscription-Key",
    scheme_name="AzureSubscriptionKey",
    auto_error=False,
    description="An ocrgw API key (`ocrgw keys create`).",
)
_key_query = APIKeyQuery(name="subscription-key", auto_error=False, scheme_name="AzureSubscriptionKeyQuery")


async def azure_principal(
    ctx: Annotated[AppContext, Depends(app_context)],
    header: Annotated[str | None, Depends(_key_header)],
    query: Annotated[str | None, Depends(_key_query)],
) -> Principal:
    return await ctx.keys.resolve(header or query)


def parse_spec(
    version: str,
    language: str | None,
    pages: str | None,
    reading_order: str | None,
    model_version: str | None,
    ctx: AppContext,
) -> JobSpec:
    """Azure query parameters -> JobSpec, each refused with Azure's own error code."""
    settings = ctx.settings
    tessdata = settings.resolved_tessdata_dir
    models = (
        languages.resolve_many(language, tessdata)
        if language
        else languages.default_models(settings.default_language, tessdata)
    )
    selection = PageSelection.parse(pages)
    order = (reading_order or "basic").strip().lower()
    if order not in ("basic", "natural"):
        raise OcrgwError(
            ErrorCode.INVALID_READING_ORDER,
            f"readingOrder must be 'basic' or 'natural', not {reading_order!r}.",
            param="readingOrder",
        )
    mv = (model_version or "latest").strip()
    if not _MODEL_RE.match(mv):
        raise OcrgwError(ErrorCode.INVALID_MODEL, f"The model version {mv!r} is not valid.", param="model-version")
    if mv != "latest" and mv.removesuffix("-preview") not in render.KNOWN_MODELS:
        raise OcrgwError(
            ErrorCode.INVALID_MODEL,
            f"The model version {mv!r} is not supported; use 'latest' or one of {', '.join(render.KNOWN_MODELS)}.",
            param="model-version",
        )
    return JobSpec(
        languages=models,
        language_hint=language,
        pages=selection.ranges,
        reading_order=order,
        model_version=mv.removesuffix("-preview"),
    )  # type: ignore[arg-type]


async def blob_from_request(request: Request, ctx: AppContext):
    ctype = request.headers.get("content-type", "application/octet-stream").split(";")[0].strip().lower()
    if ctype == "application/json":
        raw = await intake.read_capped(request.stream(), JSON_BODY_CAP)
        try:
            url = json.loads(raw)["url"]
            if not isinstance(url, str):
                raise TypeError
        except (ValueError, KeyError, TypeError) as exc:
            raise OcrgwError(
                ErrorCode.INVALID_URL, 'The JSON body must be {"url": "<image URL>"}.', param="url"
            ) from exc
        return await intake.from_url(url, store=ctx.store, settings=ctx.settings)
    if ctype in ("application/octet-stream", "") or ctype.startswith("image/"):
        return await intake.from_stream(request.stream(), store=ctx.store, settings=ctx.settings)
    raise OcrgwError(
        ErrorCode.UNSUPPORTED_MEDIA_TYPE,
        f"Content-Type {ctype!r} is not supported; send application/octet-stream with the image "
        'bytes, or application/json with {"url": ...}.',
    )


_ERRORS = {
    400: {"model": ErrorResponse, "description": "Invalid image, URL or parameter (Azure error codes)."},
    401: {"model": ErrorResponse, "description": "Missing or invalid Ocp-Apim-Subscription-Key."},
    415: {"model": ErrorResponse, "description": "Unsupported Content-Type."},
    429: {"model": ErrorResponse, "description": "Backlog full: retry after `Retry-After` seconds."},
}
READ_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            "application/json": {"schema": {"$ref": "#/components/schemas/ReadUrlBody"}},
        },
    }
}


def _make_routes(router: APIRouter, version: str) -> None:
    slug = version.replace(".", "")

    async def submit(
        request: Request,
        ctx: Annotated[AppContext, Depends(app_context)],
        principal: Annotated[Principal, Depends(azure_principal)],
        language: Annotated[
            str | None,
            Query(description="BCP-47 code, e.g. en, de, fr, zh-Hans; several as de,en (an ocrgw extension)."),
        ] = None,
        pages: Annotated[str | None, Query(description="Page selection: 1,3-5, 3-, -2.")] = None,
        readingOrder: Annotated[str | None, Query(description="basic (default) or natural.")] = None,
        model_version: Annotated[str | None, Query(alias="model-version")] = None,
        modelVersion: Annotated[str | None, Query(include_in_schema=False)] = None,
    ) -> Response:
        if version == "v3.2":
            spec = parse_spec(version, language, pages, readingOrder, model_version or modelVersion, ctx)
        else:  # v3.0/v3.1 know only `language` (their SDKs always send language=en)
            spec = parse_spec(version, language, None, None, None, ctx)
        await service.check_backlog(db=ctx.db, settings=ctx.settings)
        blob = await blob_from_request(request, ctx)
        job = await service.submit(
            db=ctx.db,
            queue=ctx.queue,
            store=ctx.store,
            settings=ctx.settings,
            owner_key_id=principal.key_id,
            dialect=f"azure-read-{version}",
            spec=spec,
            blob=blob,
            retention=timedelta(hours=ctx.settings.retention_read_hours),
        )
        location = f"{public_base_url(request, ctx.settings)}/vision/{version}/read/analyzeResults/{job.id}"
        return Response(status_code=202, headers={"Operation-Location": location, "apim-request-id": str(uuid.uuid4())})

    async def get_result(
        operation_id: str,
        ctx: Annotated[AppContext, Depends(app_context)],
        principal: Annotated[Principal, Depends(azure_principal)],
    ) -> Response:
        view = await service.get(
            db=ctx.db, job_id=operation_id, owner_key_id=principal.key_id, dialects=("azure-read-v3",)
        )
        return Response(
            json.dumps(render.operation(view, version), ensure_ascii=False, separators=(",", ":")),
            media_type="application/json; charset=utf-8",
        )

    router.add_api_route(
        f"/vision/{version}/read/analyze",
        submit,
        methods=["POST"],
        status_code=202,
        operation_id=f"azureRead{slug.upper()}Analyze",
        summary=f"Read {version}: submit a document",
        description="Stores the image and answers 202 with `Operation-Location`; poll that URL for the result.",
        responses={
            202: {
                "description": "Accepted",
                "headers": {
                    "Operation-Location": {
                        "schema": {"type": "string"},
                        "description": "Absolute URL of the result, ending in the operation id.",
                    }
                },
            },
            **_ERRORS,
        },
        openapi_extra=READ_BODY,
        response_class=Response,
    )
    router.add_api_route(
        f"/vision/{version}/read/analyzeResults/{{operation_id}}",
        get_result,
        methods=["GET"],
        operation_id=f"azureRead{slug.upper()}GetResult",
        summary=f"Read {version}: get the result",
        responses={
            200: {"model": ReadOperationResult, "description": "The operation in any state."},
            404: {"model": ErrorResponse, "description": "Unknown, expired or someone else's operation."},
            401: _ERRORS[401],
        },
        response_class=Response,
    )


def build_router() -> APIRouter:
    router = APIRouter(tags=[TAG])
    for version in VERSIONS:
        _make_routes(router, version)
    return router


# Named schema for the JSON body, so the docs console and generators see it.
EXTRA_SCHEMAS = {"ReadUrlBody": ReadUrlBody}
