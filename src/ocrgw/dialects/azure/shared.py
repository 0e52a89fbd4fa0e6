"""What every Azure API here shares, between its routes and the job core: the subscription key (header or
query) and its principal, Azure's language vocabulary (BCP-47), the image body as Azure's REST APIs take it
(raw bytes or JSON `{"url": ...}`), Azure's timestamp, box and operation formats, and OpenAPI pieces."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import APIKeyHeader, APIKeyQuery
from pydantic import BaseModel
from starlette.responses import Response

from ocrgw import intake
from ocrgw.auth import Principal
from ocrgw.context import Ctx
from ocrgw.dialects import error_docs, json_response
from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.intake.sources import StreamSource, UrlSource
from ocrgw.jobs.schemas import JobView, PageResult
from ocrgw.jobs.service import Source
from ocrgw.jobs.states import JobStatus
from ocrgw.languages import BCP47

JSON_BODY_CAP = 64 * 1024
# BCP-47 codes; given none, Azure's APIs identify the language themselves ("omit = auto-detect"), so the
# worker identifies each page's.
LANGUAGES = dataclasses.replace(BCP47, detect=True)
STATUS = {
    JobStatus.QUEUED: "notStarted",
    JobStatus.RUNNING: "running",
    JobStatus.SUCCEEDED: "succeeded",
    JobStatus.FAILED: "failed",
}

key_header = APIKeyHeader(
    name="Ocp-Apim-Subscription-Key",
    scheme_name="AzureSubscriptionKey",
    auto_error=False,
    description="An ocrgw API key (`ocrgw keys create`).",
)
key_query = APIKeyQuery(name="subscription-key", auto_error=False, scheme_name="AzureSubscriptionKeyQuery")


async def azure_principal(
    ctx: Ctx,
    header: Annotated[str | None, Depends(key_header)],
    query: Annotated[str | None, Depends(key_query)],
) -> Principal:
    return await ctx.keys.resolve(header or query)


Caller = Annotated[Principal, Depends(azure_principal)]


async def image_source(request: Request) -> Source:
    """The document as Azure's REST APIs take it: the bytes (application/octet-stream or image/*), or JSON
    `{"url": "..."}` (read whole here: it is small)."""
    ctype = request.headers.get("content-type", "application/octet-stream").split(";")[0].strip().lower()
    if ctype == "application/json":
        raw = await intake.read_capped(intake.body(request, JSON_BODY_CAP), JSON_BODY_CAP)
        try:
            url = json.loads(raw).get("url")
        except (ValueError, AttributeError):  # not JSON, or not an object
            url = None
        if not isinstance(url, str):
            raise OcrgwError(ErrorCode.INVALID_URL, 'The JSON body must be {"url": "<image URL>"}.', param="url")
        return UrlSource(url, invalid="Image URL is badly formatted: only http(s) URLs are accepted.")
    if ctype in ("application/octet-stream", "") or ctype.startswith("image/"):
        return StreamSource.of(request)
    raise OcrgwError(
        ErrorCode.UNSUPPORTED_MEDIA_TYPE,
        f"Content-Type {ctype!r} is not supported; send application/octet-stream with the image "
        'bytes, or application/json with {"url": ...}.',
    )


def timestamp(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def box(values: list[float], unit: str) -> list[float]:
    return [round(v) for v in values] if unit == "pixel" else [round(v, 4) for v in values]


def page_size(page: PageResult) -> dict:
    """width, height (whole pixels, as Azure sends them, or inches) and unit of a page."""
    width, height = (round(page.width), round(page.height)) if page.unit == "pixel" else (page.width, page.height)
    return {"width": width, "height": height, "unit": page.unit}


def operation_state(view: JobView) -> dict:
    """The head of an asynchronous operation's body (Read v3, FR/DI): its status and times."""
    return {
        "status": STATUS[view.status],
        "createdDateTime": timestamp(view.created_at),
        "lastUpdatedDateTime": timestamp(view.updated_at),
    }


def azure_json(body: dict, headers: dict[str, str] | None = None) -> Response:
    """A 200 as Azure sends it: compact UTF-8 JSON, the charset named."""
    return json_response(body, headers=headers, media_type="application/json; charset=utf-8", compact=True)


# ---------------------------------------------------------------------------------------- OpenAPI
KEY_DOC = "Missing or invalid Ocp-Apim-Subscription-Key."
BINARY = {"schema": {"type": "string", "format": "binary"}}
IMAGE_BODY = {
    "application/octet-stream": BINARY,
    "application/json": {"schema": {"$ref": "#/components/schemas/ReadUrlBody"}},
}


def body_doc(content: dict) -> dict:
    """`openapi_extra` for a body the route reads itself: the media types it takes."""
    return {"requestBody": {"required": True, "content": content}}


def accepted_doc(location: str, headers: dict | None = None) -> dict:
    """A submit's 202, with the Operation-Location header to poll (described as ``location``)."""
    poll = {"Operation-Location": {"schema": {"type": "string"}, "description": location}}
    return {"description": "Accepted", "headers": poll | (headers or {})}


def submit_errors(model: type[BaseModel], e400: str, **more: str) -> dict[int | str, dict]:
    """A submit's errors in the API's error model: bad input (``e400``), key, media type, the key's quota,
    its rate or a full backlog."""
    unsupported = "Unsupported Content-Type."
    backlog = "Rate limit is exceeded, or the backlog is full: retry after `Retry-After` seconds."
    quota = "Out of call volume quota (the key's page quota for the period); no Retry-After."
    return error_docs(model, e400=e400, e401=KEY_DOC, e403=quota, e415=unsupported, e429=backlog, **more)


def result_docs(
    model: type[BaseModel], errors: type[BaseModel], e404: str, ok: str = "The operation in any state."
) -> dict[int | str, dict]:
    """An operation GET's responses: the operation in any state (``ok``), not found (``e404``), a bad key."""
    return {200: {"model": model, "description": ok}, **error_docs(errors, e404=e404, e401=KEY_DOC)}


def add_image_operation(
    router: APIRouter,
    endpoints: tuple[Callable[..., Awaitable[Response]], Callable[..., Awaitable[Response]]],
    paths: tuple[str, str],
    *,
    op: str,
    title: str,
    models: tuple[type[BaseModel], type[BaseModel]],
    location: str,
    e400: str,
    got: str = "result",
) -> None:
    """The two routes of an asynchronous image API (Read v3.x, v2.1): POST the image (raw bytes or JSON
    {"url"}; 202 with Operation-Location), then GET the operation (``got`` in its summary). ``op`` and
    ``title`` begin the operationIds and summaries; ``models``: the operation's and the errors' schemas."""
    (submit, get), (operation, error) = endpoints, models
    router.add_api_route(
        paths[0],
        submit,
        methods=["POST"],
        status_code=202,
        operation_id=f"{op}Analyze",
        summary=f"{title}: submit a document",
        description="Stores the image and answers 202 with `Operation-Location`; poll that URL for the result.",
        responses={202: accepted_doc(location), **submit_errors(error, e400)},
        openapi_extra=body_doc(IMAGE_BODY),
    )
    router.add_api_route(
        paths[1],
        get,
        methods=["GET"],
        operation_id=f"{op}GetResult",
        summary=f"{title}: get the {got}",
        responses=result_docs(operation, error, "Unknown, expired or someone else's operation."),
    )
