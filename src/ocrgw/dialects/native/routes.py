"""Native `/v1` routes: submit (multipart upload, raw body, or JSON with a URL or base64) answering 202 with
`Location`; status with progress; the result as JSON or as text, hOCR, ALTO, TSV or searchable PDF
(`format=` or the Accept header); delete; a cursor-paginated list of the caller's jobs; the callback
signing secret; and the installed languages. Thin: parse -> job service -> render."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal, get_args

import anyio
from fastapi import APIRouter, Depends, Query, Request
from fastapi.datastructures import Default
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.responses import Response, StreamingResponse

from ocrgw import intake, languages
from ocrgw.auth import Principal
from ocrgw.context import AppContext, Ctx, app_context
from ocrgw.dialects.native import parse, render
from ocrgw.dialects.native import schemas as S
from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.formats import ENGINE_LIMITS
from ocrgw.intake import multipart
from ocrgw.jobs import idempotency, service, usage
from ocrgw.jobs.callbacks import callback_secret
from ocrgw.jobs.schemas import JobView
from ocrgw.jobs.states import JobStatus

TAG = "ocrgw native API"
ExportFormat = Literal["text", "markdown", "html", "hocr", "alto", "tsv", "pdf"]
DIALECT = "native"

_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An ocrgw API key (`ocrgw keys create`).")
_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <ocrgw API key>`.")


async def native_principal(
    ctx: Ctx,
    header: Annotated[str | None, Depends(_key_header)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    return await ctx.keys.resolve(header or (bearer.credentials if bearer else None))


Caller = Annotated[Principal, Depends(native_principal)]


async def list_languages(ctx: Ctx) -> S.LanguageList:
    """The Tesseract models installed on this server, each with the BCP-47 codes that select it, so a
    client can check a language before it submits. Needs no key."""
    offered = await anyio.to_thread.run_sync(languages.offered, ctx.settings)
    return S.LanguageList(
        languages=[S.Language(model=model, codes=codes) for model, codes in offered.items()],
        default=ctx.settings.default_language,
        detect=ctx.settings.detect_language,
        install_hint="apt-get install tesseract-ocr-<model>, e.g. tesseract-ocr-deu",
    )


async def submit_job(request: Request, ctx: Ctx, caller: Caller) -> Response:
    """Upload a document (multipart `file`, or the raw bytes with options in the query string), or
    send JSON with `url` or `base64`. Answers 202 at once; the document is read in the background.
    With an `Idempotency-Key` header, a retry with the same key and the same request (document and
    options) returns the original operation (header `Idempotent-Replayed: true`) instead of creating a
    second job; the same key with a different request is a 400 (`IdempotencyKeyReused`)."""
    digest = fingerprint = None
    client_key = request.headers.get("idempotency-key")
    if client_key is not None:
        digest = service.idempotency_digest(DIALECT, caller.key_id, parse.idempotency_key(client_key))
        fingerprint = idempotency.Fingerprint(request)
        earlier = await service.find_idempotent(db=ctx.db, digest=digest)
        if earlier is not None:  # a retry, or a reuse: the body is hashed (never stored) to tell which
            cap = ctx.settings.max_upload_bytes * 4 // 3 + multipart.OVERHEAD
            await fingerprint.consume(intake.body(request, cap), cap)
            idempotency.check(await idempotency.recorded(ctx.db, earlier.id), fingerprint.hexdigest())
            return render.accepted(earlier, request, ctx, replayed=True)
        request = Request(request.scope, fingerprint.receive(request.receive))
    body = await parse.submission(request, ctx.settings)
    view = await service.accept(
        ctx,
        dialect=DIALECT,
        owner=caller,
        order=body.order,
        source=body.source,
        limits=ENGINE_LIMITS,  # ocrgw's own API: only what the engine needs
        retention_hours=ctx.settings.retention_read_hours,
        idempotency_key=digest,
        callback=body.callback,
    )
    if fingerprint is not None:
        await idempotency.record(ctx.db, view.id, fingerprint.hexdigest())
    return render.accepted(view, request, ctx)


async def submit_lane(request: Request) -> Response:
    """``submit_job`` through the fast lane (``ocrgw.fastlane``): its dependencies awaited in order."""
    ctx = await app_context(request)
    caller = await native_principal(ctx, await _key_header(request), await _bearer(request))
    return await submit_job(request, ctx, caller)


async def list_jobs(
    request: Request,
    ctx: Ctx,
    caller: Caller,
    status: Annotated[S.Status | None, Query(description="Only jobs in this state.")] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="Jobs per page.")] = 20,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page.")] = None,
) -> Response:
    """The caller's jobs, newest first, a page at a time."""
    views, nxt = await service.list_jobs(
        db=ctx.db,
        owner_key_id=caller.key_id,
        dialect=DIALECT,
        status=JobStatus(status) if status else None,
        cursor=cursor,
        limit=limit,
    )
    items = [render.operation(v, request, ctx) for v in views]
    return render.json(S.OperationList(items=items, next_cursor=nxt))


async def _status(job_id: str, ctx: AppContext, caller: Principal) -> JobView:
    """The caller's native job without its result; NotFound for another's or another API family's."""
    return await service.get(
        db=ctx.db, job_id=job_id, owner_key_id=caller.key_id, with_result=False, dialects=(DIALECT,)
    )


async def get_job(job_id: str, request: Request, ctx: Ctx, caller: Caller) -> Response:
    """Status and progress (pages done of pages total). Poll until `succeeded` or `failed`."""
    return render.json(render.operation(await _status(job_id, ctx, caller), request, ctx))


async def status_lane(request: Request) -> Response:
    """``get_job`` through the fast lane (``ocrgw.fastlane``): the poll, every client's most frequent call."""
    ctx = await app_context(request)
    caller = await native_principal(ctx, await _key_header(request), await _bearer(request))
    return await get_job(request.path_params["job_id"], request, ctx, caller)


async def get_result(
    job_id: str,
    request: Request,
    ctx: Ctx,
    caller: Caller,
    format: Annotated[
        str | None,
        Query(
            description="json (default), text, markdown, html, hocr, alto, tsv or pdf; overrides the Accept "
            "header. Generated clients: use exportJobResult for the other formats.",
            # A pattern, not an enum: generated clients keep taking a plain string (an enum would change
            # their signature). Documented only (the server also takes the names in any case).
            json_schema_extra={"pattern": f"^({'|'.join(('json', 'txt', *get_args(ExportFormat)))})$"},
        ),
    ] = None,
) -> Response:
    """The result as JSON (pages, lines, words, boxes, confidences, preprocessing) or an export format.
    JSON answers in every state (its `status` tells); the export formats need a succeeded job."""
    fmt = parse.result_format(format, request.headers.get("accept"))
    view = await service.get(db=ctx.db, job_id=job_id, owner_key_id=caller.key_id, dialects=(DIALECT,))
    if fmt == "json":
        return render.json(render.result(view, request, ctx))
    return await _export(view, fmt, ctx)


async def export_result(job_id: str, format: ExportFormat, ctx: Ctx, caller: Caller) -> Response:
    """The result in one export format, as the bytes of that file (its `Content-Type` says which): what
    `getJobResult?format=` gives, under an operation of its own so that generated clients, which read a
    response by its first media type, hand back the file instead of parsing it as JSON."""
    view = await service.get(db=ctx.db, job_id=job_id, owner_key_id=caller.key_id, dialects=(DIALECT,))
    return await _export(view, format, ctx)


async def _export(view: JobView, fmt: str, ctx: AppContext) -> Response:
    render.check_exportable(view, fmt)
    headers = render.disposition(view, fmt)
    if fmt == "pdf":
        _, pdf = await service.read_artifact(db=ctx.db, store=ctx.store, job_id=view.id, dialects=(DIALECT,))
        return StreamingResponse(pdf, media_type="application/pdf", headers=headers)
    media, text = await anyio.to_thread.run_sync(render.export, view, fmt, float(ctx.settings.pdf_dpi))
    return Response(text, media_type=media, headers=headers)


async def get_callback_secret(ctx: Ctx, caller: Caller) -> S.CallbackSecret:
    """Each API key has its own; it stays the same as long as the server secret does."""
    return S.CallbackSecret(secret=callback_secret(ctx.settings.resolved_secret_key, caller.key_id))


async def delete_job(job_id: str, ctx: Ctx, caller: Caller) -> Response:
    """Delete the job, its results and the stored document now (they also expire on their own)."""
    await _status(job_id, ctx, caller)
    await service.delete(db=ctx.db, store=ctx.store, job_id=job_id, owner_key_id=caller.key_id)
    return Response(status_code=204)


# A day as YYYY-MM-DD only: pydantic's lax date would also take a Unix time ("0") the spec does not allow.
_DAY: dict[str, Any] = {"pattern": r"^\d{4}-\d{2}-\d{2}$", "json_schema_extra": {"format": "date"}}


def _day(value: str | None, name: str) -> date | None:
    try:
        return None if value is None else date.fromisoformat(value)
    except ValueError:
        raise OcrgwError(ErrorCode.INVALID_PARAMETER, f"`{name}` is not a day (YYYY-MM-DD).", param=name) from None


async def get_usage(
    ctx: Ctx,
    caller: Caller,
    key: Annotated[str | None, Query(description="Only this API key: its id, name, prefix or AK.")] = None,
    service_name: Annotated[
        str | None,
        Query(alias="service", description="Only this service.", json_schema_extra={"enum": list(usage.SERVICES)}),
    ] = None,
    since: Annotated[str | None, Query(description="From this UTC day (YYYY-MM-DD), inclusive.", **_DAY)] = None,
    until: Annotated[str | None, Query(description="Up to this UTC day (YYYY-MM-DD), inclusive.", **_DAY)] = None,
) -> S.UsageReport:
    """Billable calls and pages read per API key, service and UTC day, billed as the vendors bill: a call
    that made a job and was answered 2xx (a Huawei call whose job fails is an error, and free), every page
    of a job that succeeded once, polls never. Admin keys only (`ocrgw keys create --admin`); others get
    403."""
    if not caller.is_admin:
        raise OcrgwError(ErrorCode.FORBIDDEN, "Only an admin key may read usage (`ocrgw keys create --admin`).")
    rows = await usage.report(
        ctx.db, key=key, service=service_name, since=_day(since, "since"), until=_day(until, "until")
    )
    items = [
        S.UsageRecord(day=r.day, key_id=r.key_id, key_name=r.key_name, service=r.service, calls=r.calls, pages=r.pages)
        for r in rows
    ]
    return S.UsageReport(items=items, calls=sum(r.calls for r in rows), pages=sum(r.pages for r in rows))


# ------------------------------------------------------------------------------------------- OpenAPI
_ERROR_TEXT: dict[int | str, str] = {
    400: "Bad input: a corrupt or unsupported document, an invalid option.",
    401: "No API key, or an invalid one.",
    403: "The key may not do this (an admin-only operation, or a service it is not subscribed to).",
    404: "No such job (or not yours, or expired).",
    409: "Not finished (NotReady), or failed.",
    413: "The document is larger than the server accepts.",
    415: "Unsupported Content-Type.",
    429: "Too much work queued, or the key's rate, concurrent jobs or page quota reached (named in "
    "`error.limit`): retry after `Retry-After` seconds.",
    # Also stops FastAPI from documenting a 422 this API never sends (bad input answers 400 above).
    "default": "Any other error (500 Internal, 504 Timeout), in the same envelope.",
}
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}}


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The error responses an operation can give, each with the native ErrorResponse model, plus `default`:
    generated clients then parse every error body into ErrorResponse instead of leaving it raw."""
    out: dict[int | str, dict[str, Any]] = {
        code: {"model": S.ErrorResponse, "description": text}
        for code, text in _ERROR_TEXT.items()
        if code in codes or code == "default"
    }
    if 429 in out:
        out[429]["headers"] = _RETRY_AFTER
    return out


def _param(name: str, where: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": where, "required": False, "description": description, "schema": schema}


def _raw_option_params() -> list[dict[str, Any]]:
    """The reading options as query parameters, which is how a raw-body upload sets them; taken from
    SubmitOptions so the spec cannot drift from what `parse.options` accepts. No defaults: generated clients
    would send them with every multipart or JSON submit too."""
    props = S.SubmitOptions.model_json_schema()["properties"]
    return [
        _param(
            name,
            "query",
            f"Raw-body uploads only (multipart and JSON carry it in the body). {prop.get('description', '')}".strip(),
            {k: v for k, v in prop.items() if k not in ("title", "description", "examples", "default")},
        )
        for name, prop in props.items()
    ]


_IDEMPOTENCY_KEY = "Any unique string: a retried submit with it returns the original job."
_SUBMIT = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {"schema": {"$ref": "#/components/schemas/SubmitForm"}},
            "application/json": {"schema": {"$ref": "#/components/schemas/SubmitRequest"}},
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        },
    },
    "parameters": [_param("Idempotency-Key", "header", _IDEMPOTENCY_KEY, {"type": "string"}), *_raw_option_params()],
}
_ACCEPTED = {
    "description": "Accepted; poll `Location`.",
    "headers": {"Location": {"description": "The operation's URL.", "schema": {"type": "string"}}},
}
_EXPORTS = {
    "content": {
        "text/plain": {"schema": {"type": "string"}},
        "text/markdown": {"schema": {"type": "string", "description": "Document Intelligence's conventions"}},
        "text/html": {"schema": {"type": "string"}},
        "application/xhtml+xml": {"schema": {"type": "string", "description": "hOCR"}},
        "application/xml": {"schema": {"type": "string", "description": "ALTO v4"}},
        "text/tab-separated-values": {"schema": {"type": "string"}},
        "application/pdf": {"schema": {"type": "string", "format": "binary"}},
    }
}
# exportJobResult: binary first, so that generated clients return the file's bytes whatever the format
_FILE = {
    "description": "The file, in the media type of its format.",
    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}, **_EXPORTS["content"]},
}
_SUCCESS: dict[str, dict[int | str, dict[str, Any]]] = {
    "submitJob": {202: _ACCEPTED},
    "getJobResult": {200: _EXPORTS},
    "exportJobResult": {200: _FILE},
}

router = APIRouter(prefix="/v1", tags=[TAG])
# Each operation: (method, path, endpoint, operationId, summary, response model, error statuses).
for method, path, endpoint, operation_id, summary, model, errors in (
    ("GET", "/languages", list_languages, "listLanguages", "List the installed OCR languages", S.LanguageList, ()),
    ("POST", "/jobs", submit_job, "submitJob", "Submit a document", S.Operation, (400, 401, 403, 413, 415, 429)),
    ("GET", "/jobs", list_jobs, "listJobs", "List my jobs", S.OperationList, (400, 401)),
    ("GET", "/jobs/{job_id}", get_job, "getJob", "Get a job's status", S.Operation, (401, 404)),
    ("GET", "/jobs/{job_id}/result", get_result, "getJobResult", "Get a job's result", S.Result, (400, 401, 404, 409)),
    (
        "GET",
        "/jobs/{job_id}/result/{format}",
        export_result,
        "exportJobResult",
        "Get a job's result as a file (text, markdown, html, hocr, alto, tsv, pdf)",
        None,
        (400, 401, 404, 409),
    ),
    (
        "GET",
        "/callbacks/secret",
        get_callback_secret,
        "getCallbackSecret",
        "Get the secret your callbacks are signed with",
        S.CallbackSecret,
        (401,),
    ),
    ("DELETE", "/jobs/{job_id}", delete_job, "deleteJob", "Delete a job", None, (401, 404)),
    (
        "GET",
        "/usage",
        get_usage,
        "getUsage",
        "Get usage per key, service and day (admin)",
        S.UsageReport,
        (400, 401, 403, 404),
    ),
):
    router.add_api_route(
        path,
        endpoint,
        methods=[method],
        operation_id=operation_id,
        summary=summary,
        response_model=model,
        status_code={"submitJob": 202, "deleteJob": 204}.get(operation_id),
        responses={**_SUCCESS.get(operation_id, {}), **_errors(*errors)},
        openapi_extra=_SUBMIT if operation_id == "submitJob" else None,
        # a file, not JSON: no application/json 200 in the spec
        response_class=Response if operation_id == "exportJobResult" else Default(JSONResponse),
    )
