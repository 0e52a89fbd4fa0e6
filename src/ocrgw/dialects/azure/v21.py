"""Computer Vision v2.1 "Batch Read" (SDK 0.5.0): submit answers 202 with an absolute Operation-Location,
the operation GET answers 200 with PascalCase statuses and recognitionResults; errors use v2's flat
{"code", "message", "requestId"} body. Thin: v3's intake and auth -> job service -> render from JobView."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from ocrgw.auth import Principal
from ocrgw.context import AppContext, app_context, public_base_url
from ocrgw.dialects.azure import errors as azure_errors
from ocrgw.dialects.azure.render import box
from ocrgw.dialects.azure.router import READ_BODY, azure_principal, blob_from_request, parse_spec
from ocrgw.errors import ErrorCode as E
from ocrgw.errors import OcrgwError
from ocrgw.jobs import service
from ocrgw.jobs.schemas import JobView, PageResult
from ocrgw.jobs.states import JobStatus

VERSION = "v2.1"
DIALECT = "azure-read-v2.1"
TAG = "Azure Computer Vision v2.1 Batch Read"
PREFIX = f"/vision/{VERSION}/read"
LOW_CONFIDENCE = 0.5  # v2 marks only doubtful words, with "confidence": "Low"

STATUS = {
    JobStatus.QUEUED: "NotStarted",
    JobStatus.RUNNING: "Running",
    JobStatus.SUCCEEDED: "Succeeded",
    JobStatus.FAILED: "Failed",
}


# --- wire shapes (OpenAPI) ------------------------------------------------------------------------------


class BatchReadWord(BaseModel):
    boundingBox: list[float] = Field(description="8 numbers: TL, TR, BR, BL corners as x, y, clockwise.")
    text: str
    confidence: Literal["Low"] | None = Field(None, description='Only on doubtful words: "Low".')


class BatchReadLine(BaseModel):
    boundingBox: list[float]
    text: str
    words: list[BatchReadWord]


class TextRecognitionResult(BaseModel):
    page: int
    clockwiseOrientation: float = Field(ge=0, lt=360, description="Degrees clockwise the text is turned.")
    width: float
    height: float
    unit: Literal["pixel", "inch"]
    lines: list[BatchReadLine]


class BatchReadOperationResult(BaseModel):
    status: Literal["NotStarted", "Running", "Failed", "Succeeded"]
    recognitionResults: list[TextRecognitionResult] | None = Field(None, description="Only when Succeeded.")


class ComputerVisionErrorV21(BaseModel):
    code: str = Field(examples=["InvalidImageFormat"])
    message: str
    requestId: str


# --- errors -----------------------------------------------------------------------------------------------

# core code -> (HTTP status, v2 error code)
_MAP: dict[E, tuple[int, str]] = {
    E.MISSING_KEY: (401, "401"),
    E.INVALID_KEY: (401, "401"),
    E.NOT_FOUND: (404, "NotFound"),
    E.ROUTE_NOT_FOUND: (404, "NotFound"),
    E.METHOD_NOT_ALLOWED: (405, "MethodNotAllowed"),
    E.INVALID_PARAMETER: (400, "BadArgument"),
    E.INVALID_PAGE_RANGE: (400, "BadArgument"),
    E.INVALID_READING_ORDER: (400, "BadArgument"),
    E.INVALID_MODEL: (400, "BadArgument"),
    E.UNSUPPORTED_LANGUAGE: (400, "NotSupportedLanguage"),
    E.UNSUPPORTED_FEATURE: (400, "NotSupportedVisualFeature"),
    E.MODEL_NOT_FOUND: (404, "NotFound"),
    E.UNSUPPORTED_API_VERSION: (400, "BadArgument"),
    E.UNSUPPORTED_MEDIA_TYPE: (415, "UnsupportedMediaType"),
    E.EMPTY_BODY: (400, "InvalidImageSize"),
    E.TOO_LARGE: (400, "InvalidImageSize"),
    E.UNSUPPORTED_FORMAT: (400, "InvalidImageFormat"),
    E.INVALID_IMAGE: (400, "InvalidImageFormat"),
    E.INVALID_DIMENSIONS: (400, "InvalidImageSize"),
    E.TOO_MANY_PAGES: (400, "InvalidImageSize"),
    E.ENCRYPTED_DOCUMENT: (400, "NotSupportedImage"),
    E.INVALID_URL: (400, "InvalidImageUrl"),
    E.URL_FORBIDDEN: (400, "InvalidImageUrl"),
    E.DOWNLOAD_FAILED: (400, "FailedToDownloadImage"),
    E.DOWNLOAD_TIMEOUT: (400, "FailedToDownloadImage"),
    E.BACKLOG_FULL: (429, "429"),
    E.TIMEOUT: (500, "Timeout"),
    E.WORKER_CRASHED: (500, "FailedToProcess"),
    E.PROCESSING_FAILED: (500, "FailedToProcess"),
    E.INTERNAL: (500, "InternalServerError"),
}
_MESSAGES = {
    E.MISSING_KEY: azure_errors.MSG_KEY_MISSING,
    E.INVALID_KEY: azure_errors.MSG_KEY_INVALID,
    E.ROUTE_NOT_FOUND: "Resource not found",
    E.EMPTY_BODY: "Image size is too small.",
}
# Headers the v3 renderer decides (WWW-Authenticate on 401s, integer Retry-After on 429s, request id).
_SHARED_HEADERS = ("apim-request-id", "www-authenticate", "retry-after")


def render_error(request: Request, exc: OcrgwError) -> Response:
    """Every error under /vision/v2.1/ as v2's flat body, always application/json."""
    status, code = _MAP.get(exc.code, _MAP[E.INTERNAL])
    v3 = azure_errors.render_error(request, exc)  # only for its headers: one place decides them
    headers = {name: v3.headers[name] for name in _SHARED_HEADERS if name in v3.headers}
    request_id = headers["apim-request-id"]
    body = {"code": code, "message": _MESSAGES.get(exc.code, exc.message), "requestId": request_id}
    return Response(
        json.dumps(body, ensure_ascii=False).encode(),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


# --- rendering --------------------------------------------------------------------------------------------


def _orientation(angle: float) -> float:
    """(-180, 180] -> [0, 360), two decimals."""
    value = round(angle % 360.0, 2)
    return 0.0 if value >= 360.0 else value + 0.0


def _page(page: PageResult) -> dict:
    lines = []
    for ln in page.lines:
        words = []
        for w in ln.words:
            word: dict = {"boundingBox": box(w.bbox, page.unit), "text": w.text}
            if w.confidence < LOW_CONFIDENCE:
                word["confidence"] = "Low"
            words.append(word)
        lines.append({"boundingBox": box(ln.bbox, page.unit), "text": ln.text, "words": words})
    pixel = page.unit == "pixel"
    return {
        "page": page.page_no,
        "clockwiseOrientation": _orientation(page.angle),
        "width": round(page.width) if pixel else page.width,
        "height": round(page.height) if pixel else page.height,
        "unit": page.unit,
        "lines": lines,
    }


def operation(view: JobView) -> dict:
    body: dict = {"status": STATUS[view.status]}
    if view.status is JobStatus.SUCCEEDED:
        body["recognitionResults"] = [_page(p) for p in view.pages or []]
    return body


# --- routes -----------------------------------------------------------------------------------------------


async def submit(
    request: Request,
    ctx: Annotated[AppContext, Depends(app_context)],
    principal: Annotated[Principal, Depends(azure_principal)],
    mode: Annotated[
        str | None, Query(description="Printed or Handwritten (v2.0 clients): accepted, ignored; both kinds are read.")
    ] = None,
) -> Response:
    spec = parse_spec(VERSION, None, None, None, None, ctx)
    await service.check_backlog(db=ctx.db, settings=ctx.settings)
    blob = await blob_from_request(request, ctx)
    job = await service.submit(
        db=ctx.db,
        queue=ctx.queue,
        store=ctx.store,
        settings=ctx.settings,
        owner_key_id=principal.key_id,
        dialect=DIALECT,
        spec=spec,
        blob=blob,
        retention=timedelta(hours=ctx.settings.retention_read_hours),
    )
    location = f"{public_base_url(request, ctx.settings)}{PREFIX}/operations/{job.id}"
    return Response(status_code=202, headers={"Operation-Location": location})


async def get_operation(
    operation_id: str,
    ctx: Annotated[AppContext, Depends(app_context)],
    principal: Annotated[Principal, Depends(azure_principal)],
) -> Response:
    view = await service.get(
        db=ctx.db, job_id=operation_id, owner_key_id=principal.key_id, dialects=("azure-read-v2.1",)
    )
    return Response(
        json.dumps(operation(view), ensure_ascii=False, separators=(",", ":")),
        media_type="application/json; charset=utf-8",
    )


def _error(description: str) -> dict:
    return {"model": ComputerVisionErrorV21, "description": description}


def build_router() -> APIRouter:
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
    return router
