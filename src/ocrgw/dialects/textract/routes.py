"""AWS Textract's JSON 1.1 endpoint: `POST /`, one route for every operation, dispatched on `X-Amz-Target`
(contract §A.1): DetectDocumentText and AnalyzeDocument answered synchronously over the job core, the Start*
calls queued with the S3 object as the document, the Get* calls paging the stored result's blocks. Thin:
the request (parse) -> job service (accept / get) -> blocks (render). Errors are rendered here, in
Textract's envelope, since `/` is no path prefix a dialect can own (ErrorRouting routes by prefix).

Out of the OpenAPI document: OpenAPI has one operation per path and method, and these six differ only by a
header; AWS's own model (botocore's service-2.json) is what Textract clients are built from."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from ocrgw.context import AppContext, Ctx
from ocrgw.dialects.textract import parse, render
from ocrgw.dialects.textract.errors import INVALID_JOB, TextractError, json_response, render_error
from ocrgw.errors import ErrorCode as E
from ocrgw.errors import OcrgwError
from ocrgw.jobs import service
from ocrgw.jobs.states import JobStatus

DIALECT = "aws-textract"
TAG = "AWS Textract"
log = logging.getLogger("ocrgw.textract")


async def _sync(call: parse.Call, request: Request, ctx: AppContext) -> dict[str, Any]:
    """botocore retries a call that timed out with the same `amz-sdk-invocation-id`: it is the idempotency
    key, so a retry waits for the job the first attempt made instead of reading the page again."""
    invocation = request.headers.get("amz-sdk-invocation-id", "").strip()[:64]
    key_id = call.principal.key_id
    key = service.idempotency_digest(DIALECT, key_id, "invocation:" + invocation) if invocation else None
    view = await service.accept(
        ctx,
        dialect=DIALECT,
        owner=call.principal,
        order=parse.order(call.op, call.data),
        source=parse.source(call),
        limits=parse.LIMITS,
        retention_hours=ctx.settings.retention_sync_hours,
        wait=ctx.settings.textract_sync_wait_seconds,
        idempotency_key=key,
    )
    return render.sync_result(view)


async def _start(call: parse.Call, request: Request, ctx: AppContext) -> dict[str, Any]:
    """A ClientRequestToken names one job per caller and operation: a repeat answers the same JobId
    without reading the S3 object again."""
    order = parse.order(call.op, call.data)
    token = parse.client_token(call.data)
    key = service.idempotency_digest(DIALECT, call.principal.key_id, f"{call.op}:{token}") if token else None
    if key is not None and (earlier := await service.find_idempotent(db=ctx.db, digest=key)) is not None:
        if earlier.spec.options.get("request") != order.spec.options.get("request"):
            why = f"The ClientRequestToken {token!r} was used with other parameters (job {earlier.id})."
            raise TextractError(E.IDEMPOTENCY_KEY_REUSED, "IdempotentParameterMismatchException", why)
        return {"JobId": earlier.id}
    view = await service.accept(
        ctx,
        dialect=DIALECT,
        owner=call.principal,
        order=order,
        source=parse.source(call),
        limits=parse.LIMITS,
        retention_hours=ctx.settings.retention_textract_hours,
        idempotency_key=key,
    )
    return {"JobId": view.id}


async def _get(call: parse.Call, request: Request, ctx: AppContext) -> dict[str, Any]:
    """IN_PROGRESS until the job ends, then its blocks a page of MaxResults at a time (NextToken absent on
    the last), or FAILED with its StatusMessage; for as long as the job is kept."""
    job_id, limit, token = parse.get_args(call.data)
    offset = parse.token_offset(ctx.settings.resolved_secret_key, job_id, token)
    unknown = TextractError(E.NOT_FOUND, INVALID_JOB, f"Request has invalid Job Id: {job_id}")
    try:
        view = await service.get(db=ctx.db, job_id=job_id, owner_key_id=call.principal.key_id, dialects=(DIALECT,))
    except OcrgwError as exc:
        raise unknown from exc
    options = view.spec.options
    if options.get("mode") != "async" or options.get("api") != parse.API.get(call.op, "analysis"):
        raise unknown  # a synchronous call's job, or a job of the other kind
    version = {render.version_key(view): render.MODEL_VERSION}
    if view.status is JobStatus.FAILED:
        return {
            "JobStatus": "FAILED",
            "StatusMessage": view.error_message or "The document could not be read.",
            **version,
        }
    if view.status is not JobStatus.SUCCEEDED:
        return {"JobStatus": "IN_PROGRESS", **version}
    blocks = render.blocks(view)
    body: dict[str, Any] = {
        "DocumentMetadata": {"Pages": max(1, len(view.pages or []))},
        "JobStatus": "SUCCEEDED",
        "Blocks": blocks[offset : offset + limit],
        **version,
    }
    if offset + limit < len(blocks):
        body["NextToken"] = parse.next_token(ctx.settings.resolved_secret_key, job_id, offset + limit)
    return body


HANDLERS = {
    **dict.fromkeys(parse.SYNC_OPS, _sync),
    **dict.fromkeys(parse.START_OPS, _start),
    **dict.fromkeys(parse.GET_OPS, _get),
}


async def textract(request: Request, ctx: Ctx) -> Response:
    """Every Textract operation: authenticate, read, dispatch on X-Amz-Target, answer in Textract's JSON."""
    try:
        call = await parse.read_call(request, ctx)
        try:
            body = await HANDLERS[call.op](call, request, ctx)
        finally:
            call.body.close()
        return json_response(request, body)
    except OcrgwError as exc:
        return render_error(request, exc)
    except Exception:
        log.exception("unhandled error in Textract %s", request.headers.get("x-amz-target"))
        return render_error(request, OcrgwError(E.INTERNAL, "An internal error occurred."))


async def cbor(operation: str, request: Request) -> Response:
    """Smithy RPC v2 CBOR, which Textract's model lists first and a future SDK may pick (contract §A.1):
    refused, and logged, so that a client that switched protocol is seen at once."""
    log.warning("Textract %s sent as smithy-rpc-v2-cbor, which this server does not speak", operation)
    why = f"Textract.{operation} over smithy-rpc-v2-cbor is not supported here: use the JSON 1.1 protocol."
    return render_error(request, TextractError(E.ROUTE_NOT_FOUND, "UnknownOperationException", why))


router = APIRouter()
router.add_api_route("/", textract, methods=["POST"], include_in_schema=False, response_class=Response)
router.add_api_route(
    "/service/Textract/operation/{operation}", cbor, methods=["POST"], include_in_schema=False, response_class=Response
)
