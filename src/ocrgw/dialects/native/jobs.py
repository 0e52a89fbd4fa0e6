"""Native `/v1/jobs` routes: submit (multipart upload, raw body, or JSON with a URL or base64) answering
202 with `Location`; status with progress; the result as JSON or as text, hOCR, ALTO, TSV or searchable PDF
(`format=` or the Accept header); delete; and a cursor-paginated list of the caller's jobs.

Thin like every dialect: options -> JobSpec, body -> intake, then the job service; rendering of the
export formats lives in ocrgw.render.exports."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Query, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError
from starlette.responses import Response, StreamingResponse

from ocrgw import intake, languages
from ocrgw import net as url_guard
from ocrgw.auth import Principal
from ocrgw.context import AppContext, app_context, public_base_url
from ocrgw.dialects.native import schemas as S
from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.intake import multipart
from ocrgw.jobs import service
from ocrgw.jobs.callbacks import callback_secret
from ocrgw.jobs.pages import PageSelection
from ocrgw.jobs.schemas import JobSpec, JobView, StoredBlob
from ocrgw.jobs.states import JobStatus
from ocrgw.render import exports
from ocrgw.settings import Settings

TAG = "ocrgw native API"
DIALECT = "native"
JSON_CAP_OVERHEAD = 64 * 1024
FORMATS = ("json", "text", "hocr", "alto", "tsv", "pdf")
# Accept media types -> format, most specific first.
ACCEPT = {
    "application/json": "json",
    "text/plain": "text",
    "application/xhtml+xml": "hocr",
    "text/html": "hocr",
    "application/alto+xml": "alto",
    "application/xml": "alto",
    "text/xml": "alto",
    "text/tab-separated-values": "tsv",
    "application/pdf": "pdf",
}

_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An ocrgw API key (`ocrgw keys create`).")
_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <ocrgw API key>`.")


async def native_principal(
    ctx: Annotated[AppContext, Depends(app_context)],
    header: Annotated[str | None, Depends(_key_header)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    return await ctx.keys.resolve(header or (bearer.credentials if bearer else None))


Caller = Annotated[Principal, Depends(native_principal)]
Ctx = Annotated[AppContext, Depends(app_context)]


# ------------------------------------------------------------------------------------------- options
def _options(fields: dict[str, Any]) -> S.SubmitOptions:
    """Options from form fields or the query string. An empty value, or the string "null" that Swagger
    UI's "Try it out" sends for every optional field left alone, means the field was not given."""
    known = {k: v for k, v in fields.items() if k in S.SubmitOptions.model_fields and v not in ("", "null", None)}
    try:
        return S.SubmitOptions.model_validate(known)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise OcrgwError(ErrorCode.INVALID_PARAMETER, f"{where}: {first.get('msg')}.", param=where) from None


def _models(codes: str | None, settings: Settings) -> tuple[str, ...]:
    """Languages as BCP-47 codes (`de`) or Tesseract model names (`deu`, `chi_sim`), mixed as wanted."""
    tessdata = settings.resolved_tessdata_dir
    if not codes or not codes.strip():
        return languages.default_models(settings.default_language, tessdata)
    installed = languages.installed(tessdata)
    models: list[str] = []
    for code in codes.replace("+", ",").split(","):
        code = code.strip()
        if not code:
            continue
        model = code if code in installed else languages.resolve_bcp47(code, tessdata)
        if model not in models:
            models.append(model)
    if not models:
        return languages.default_models(settings.default_language, tessdata)
    return tuple(models)


async def _callback(opts: S.SubmitOptions, request: Request, ctx: AppContext) -> tuple[str, str] | None:
    """Check a callback URL at submit (the same guard as URL sources), so a bad one fails the submit
    instead of every delivery attempt; delivery checks it again, against DNS changes."""
    if not opts.callback_url:
        return None
    try:
        await url_guard.resolve_checked(opts.callback_url, ctx.settings)
    except OcrgwError as exc:
        raise OcrgwError(
            exc.code, "callback_url: " + exc.message.replace("Image URL", "the URL"), param="callback_url"
        ) from None
    return opts.callback_url, public_base_url(request, ctx.settings)


def _spec(opts: S.SubmitOptions, settings: Settings) -> JobSpec:
    spec = JobSpec(
        languages=_models(opts.languages, settings),
        language_hint=opts.languages,
        pages=PageSelection.parse(opts.pages).ranges,
        reading_order=opts.reading_order,
        mode=opts.mode,
        engine=opts.engine,
        outputs=("searchable_pdf",) if opts.searchable_pdf else (),
    )
    service.check_engine(spec, settings)
    return spec


# ------------------------------------------------------------------------------------------- intake
def _decode(value: str) -> bytes:
    try:
        return intake.decode_base64(value)
    except ValueError as exc:
        raise OcrgwError(ErrorCode.INVALID_PARAMETER, "base64 is not valid base64.", param="base64") from exc


async def _from_json(request: Request, ctx: AppContext) -> tuple[StoredBlob, S.SubmitOptions]:
    raw = await intake.read_capped(request.stream(), ctx.settings.max_upload_bytes * 4 // 3 + JSON_CAP_OVERHEAD)
    try:
        body = S.SubmitRequest.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "body"
        raise OcrgwError(
            ErrorCode.INVALID_PARAMETER, f"Invalid JSON body: {where}: {first.get('msg')}.", param=where
        ) from None
    if (body.url is None) == (body.base64 is None):
        raise OcrgwError(ErrorCode.INVALID_PARAMETER, "Send exactly one of url and base64.")
    opts = S.SubmitOptions.model_validate(body.model_dump(include=set(S.SubmitOptions.model_fields)))
    await anyio.to_thread.run_sync(_spec, opts, ctx.settings)  # refuse bad options before fetching anything
    if body.url is not None:
        if not body.url.lower().startswith(("http://", "https://")):
            raise OcrgwError(ErrorCode.INVALID_URL, "url must be an http or https URL.", param="url")
        return await intake.from_url(body.url, store=ctx.store, settings=ctx.settings), opts
    data = await anyio.to_thread.run_sync(_decode, body.base64 or "")
    return await intake.from_bytes(data, store=ctx.store, settings=ctx.settings), opts


async def _from_multipart(request: Request, ctx: AppContext, boundary: bytes) -> tuple[StoredBlob, S.SubmitOptions]:
    form = multipart.MultipartForm()
    cap = ctx.settings.max_upload_bytes + multipart.OVERHEAD
    blob = await intake.from_stream(
        multipart.stream_first_file(request.stream(), boundary, cap, form), store=ctx.store, settings=ctx.settings
    )
    try:
        return blob, _options(form.fields)
    except BaseException:
        await ctx.store.delete(blob.key)
        raise


# ------------------------------------------------------------------------------------------- rendering
def _links(request: Request, ctx: AppContext, job_id: str) -> S.Links:
    base = f"{public_base_url(request, ctx.settings)}/v1/jobs/{job_id}"
    return S.Links(self=base, result=base + "/result")


def _operation(view: JobView, request: Request, ctx: AppContext) -> S.Operation:
    error = None
    if view.status is JobStatus.FAILED:
        error = S.ErrorDetail(
            code=view.error_code or ErrorCode.PROCESSING_FAILED.value,
            message=view.error_message or "The document could not be read.",
        )
    callback = None
    if view.callback is not None:
        callback = S.CallbackStatus(
            url=view.callback.url,
            state=view.callback.state,
            attempts=view.callback.attempts,
            last_error=view.callback.last_error,
        )
    return S.Operation(
        id=view.id,
        status=view.status.value,
        created_at=view.created_at,
        updated_at=view.updated_at,
        expires_at=view.expires_at,
        attempts=view.attempts,
        error=error,
        callback=callback,
        progress=S.Progress(pages_done=view.pages_done, pages_total=view.pages_total),
        links=_links(request, ctx, view.id),
    )


def _result(view: JobView, request: Request, ctx: AppContext) -> S.Result:
    pages = [
        S.Page(
            page=p.page_no,
            width=p.width,
            height=p.height,
            unit=p.unit,
            angle=p.angle,
            language=p.language,
            preprocessing=p.preprocessing,
            lines=[
                S.Line(
                    text=ln.text,
                    bbox=ln.bbox,
                    confidence=ln.confidence,
                    words=[S.Word(text=w.text, bbox=w.bbox, confidence=w.confidence) for w in ln.words],
                )
                for ln in p.lines
            ],
        )
        for p in sorted(view.pages or [], key=lambda p: p.page_no)
    ]
    op = _operation(view, request, ctx)
    return S.Result(**op.model_dump(), pages=pages, text=exports.to_text(view.pages or []))


def _json(model: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(model.model_dump_json(), status_code=status, media_type="application/json", headers=headers)


def _wanted_format(fmt: str | None, accept: str | None) -> str:
    if fmt:
        fmt = fmt.strip().lower()
        if fmt == "txt":
            fmt = "text"
        if fmt not in FORMATS:
            raise OcrgwError(
                ErrorCode.INVALID_PARAMETER, f"format must be one of {', '.join(FORMATS)}.", param="format"
            )
        return fmt
    for item in (accept or "").split(","):
        media = item.split(";")[0].strip().lower()
        if media in ACCEPT:
            return ACCEPT[media]
    return "json"


# ------------------------------------------------------------------------------------------- routes
_SUBMIT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {"schema": {"$ref": "#/components/schemas/SubmitForm"}},
            "application/json": {"schema": {"$ref": "#/components/schemas/SubmitRequest"}},
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}
_ERROR_TEXT: dict[int | str, str] = {
    400: "Bad input: a corrupt or unsupported document, an invalid option.",
    401: "No API key, or an invalid one.",
    404: "No such job (or not yours, or expired).",
    409: "Not finished (NotReady), or failed.",
    413: "The document is larger than the server accepts.",
    415: "Unsupported Content-Type.",
    429: "Too much work queued: retry after `Retry-After` seconds.",
    # Also stops FastAPI from documenting a 422 this API never sends (bad input answers 400 above).
    "default": "Any other error (500 Internal, 504 Timeout), in the same envelope.",
}


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The error responses an operation can give, each with the native ErrorResponse model, plus `default`:
    generated clients then parse every error body into ErrorResponse instead of leaving it raw."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in (*codes, "default"):
        out[code] = {"model": S.ErrorResponse, "description": _ERROR_TEXT[code]}
        if code == 429:
            out[code]["headers"] = {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}}
    return out


def _raw_option_params() -> list[dict[str, Any]]:
    """The reading options as query parameters, which is how a raw-body upload sets them; taken from
    SubmitOptions so the spec cannot drift from what `_options` accepts. No defaults: generated clients would
    send them with every multipart or JSON submit too."""
    props = S.SubmitOptions.model_json_schema()["properties"]
    return [
        {
            "name": name,
            "in": "query",
            "required": False,
            "description": f"Raw-body uploads only (multipart and JSON carry it in the body). "
            f"{prop.get('description', '')}".strip(),
            "schema": {k: v for k, v in prop.items() if k not in ("title", "description", "examples", "default")},
        }
        for name, prop in props.items()
    ]


_ERRORS = _errors(400, 401, 404, 413, 415, 429)
EXTRA_SCHEMAS = {"SubmitForm": S.SubmitForm, "SubmitRequest": S.SubmitRequest}


def build_router() -> APIRouter:
    router = APIRouter(prefix="/v1", tags=[TAG])

    @router.post(
        "/jobs",
        status_code=202,
        response_model=S.Operation,
        operation_id="submitJob",
        summary="Submit a document",
        openapi_extra={
            **_SUBMIT_BODY,
            "parameters": [
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string"},
                    "description": "Any unique string: a retried submit with it returns the original job.",
                },
                *_raw_option_params(),
            ],
        },
        responses={
            202: {
                "description": "Accepted; poll `Location`.",
                "headers": {"Location": {"description": "The operation's URL.", "schema": {"type": "string"}}},
            },
            **_errors(400, 401, 413, 415, 429),
        },
    )
    async def submit_job(request: Request, ctx: Ctx, caller: Caller) -> Response:
        """Upload a document (multipart `file`, or the raw bytes with options in the query string), or
        send JSON with `url` or `base64`. Answers 202 at once; the document is read in the background.
        With an `Idempotency-Key` header, a retry with the same key returns the original operation
        (header `Idempotent-Replayed: true`) instead of creating a second job."""
        digest = None
        client_key = request.headers.get("idempotency-key")
        if client_key is not None:
            if not 1 <= len(client_key) <= 255:
                raise OcrgwError(
                    ErrorCode.INVALID_PARAMETER, "Idempotency-Key must be 1 to 255 characters.", param="Idempotency-Key"
                )
            digest = service.idempotency_digest(DIALECT, caller.key_id, client_key)
            earlier = await service.find_idempotent(db=ctx.db, digest=digest)
            if earlier is not None:  # a retry: the original operation, and the body is not read at all
                op = _operation(earlier, request, ctx)
                return _json(op, 202, {"Location": op.links.self, "Idempotent-Replayed": "true"})
        await service.check_backlog(db=ctx.db, settings=ctx.settings)
        ctype = request.headers.get("content-type", "")
        boundary = multipart.boundary_of(ctype)
        media = ctype.split(";")[0].strip().lower()
        if boundary is not None:
            blob, opts = await _from_multipart(request, ctx, boundary)
        elif media == "application/json":
            blob, opts = await _from_json(request, ctx)
        elif media in ("", "application/octet-stream", "application/pdf") or media.startswith("image/"):
            opts = _options(dict(request.query_params))
            await anyio.to_thread.run_sync(_spec, opts, ctx.settings)  # checks installed models: file I/O
            blob = await intake.from_stream(request.stream(), store=ctx.store, settings=ctx.settings)
        else:
            raise OcrgwError(
                ErrorCode.UNSUPPORTED_MEDIA_TYPE,
                f"Content-Type {media!r} is not supported: send multipart/form-data, application/json "
                "or the document's bytes (application/octet-stream, application/pdf, image/*).",
            )
        try:
            spec = await anyio.to_thread.run_sync(_spec, opts, ctx.settings)
            callback = await _callback(opts, request, ctx)
        except BaseException:
            await ctx.store.delete(blob.key)
            raise
        view = await service.submit(
            db=ctx.db,
            queue=ctx.queue,
            store=ctx.store,
            settings=ctx.settings,
            owner_key_id=caller.key_id,
            dialect=DIALECT,
            spec=spec,
            blob=blob,
            retention=timedelta(hours=ctx.settings.retention_read_hours),
            idempotency_key=digest,
            callback=callback,
        )
        op = _operation(view, request, ctx)
        return _json(op, 202, {"Location": op.links.self})

    @router.get(
        "/jobs",
        response_model=S.OperationList,
        operation_id="listJobs",
        summary="List my jobs",
        responses=_errors(400, 401),
    )
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
        return _json(S.OperationList(items=[_operation(v, request, ctx) for v in views], next_cursor=nxt))

    @router.get(
        "/jobs/{job_id}",
        response_model=S.Operation,
        operation_id="getJob",
        summary="Get a job's status",
        responses=_errors(401, 404),
    )
    async def get_job(job_id: str, request: Request, ctx: Ctx, caller: Caller) -> Response:
        """Status and progress (pages done of pages total). Poll until `succeeded` or `failed`."""
        view = await service.get(
            db=ctx.db, job_id=job_id, owner_key_id=caller.key_id, with_result=False, dialects=(DIALECT,)
        )
        return _json(_operation(view, request, ctx))

    @router.get(
        "/jobs/{job_id}/result",
        response_model=S.Result,
        operation_id="getJobResult",
        summary="Get a job's result",
        responses={
            200: {
                "content": {
                    "text/plain": {"schema": {"type": "string"}},
                    "application/xhtml+xml": {"schema": {"type": "string", "description": "hOCR"}},
                    "application/xml": {"schema": {"type": "string", "description": "ALTO v4"}},
                    "text/tab-separated-values": {"schema": {"type": "string"}},
                    "application/pdf": {"schema": {"type": "string", "format": "binary"}},
                }
            },
            **_errors(400, 401, 404, 409),
        },
    )
    async def get_result(
        job_id: str,
        request: Request,
        ctx: Ctx,
        caller: Caller,
        format: Annotated[
            str | None, Query(description="json (default), text, hocr, alto, tsv or pdf; overrides the Accept header.")
        ] = None,
    ) -> Response:
        """The result as JSON (pages, lines, words, boxes, confidences, preprocessing) or an export format.
        JSON answers in every state (its `status` tells); the export formats need a succeeded job."""
        fmt = _wanted_format(format, request.headers.get("accept"))
        view = await service.get(db=ctx.db, job_id=job_id, owner_key_id=caller.key_id, dialects=(DIALECT,))
        if fmt == "json":
            return _json(_result(view, request, ctx))
        if view.status is JobStatus.FAILED:
            raise OcrgwError(ErrorCode.NOT_READY, f"The job failed ({view.error_code}): {view.error_message}")
        if view.status is not JobStatus.SUCCEEDED:
            raise OcrgwError(ErrorCode.NOT_READY, f"The job is {view.status.value}; poll it until it has succeeded.")
        filename = f"{view.id}.{exports.FORMATS[fmt][2] if fmt in exports.FORMATS else 'pdf'}"
        disposition = {"Content-Disposition": f'inline; filename="{filename}"'}
        if fmt == "pdf":
            if not view.artifact_key:
                raise OcrgwError(
                    ErrorCode.NOT_READY,
                    "No searchable PDF was made for this job: submit it with searchable_pdf=true.",
                    param="format",
                )
            _, body = await service.read_artifact(db=ctx.db, store=ctx.store, job_id=view.id, dialects=(DIALECT,))
            return StreamingResponse(body, media_type="application/pdf", headers=disposition)
        media, render, _ = exports.FORMATS[fmt]
        text = await anyio.to_thread.run_sync(lambda: render(view.pages or [], float(ctx.settings.pdf_dpi)))
        return Response(text, media_type=media, headers=disposition)

    @router.get(
        "/callbacks/secret",
        response_model=S.CallbackSecret,
        operation_id="getCallbackSecret",
        summary="Get the secret your callbacks are signed with",
        responses=_ERRORS,
    )
    async def get_callback_secret(ctx: Ctx, caller: Caller) -> S.CallbackSecret:
        """Each API key has its own; it stays the same as long as the server secret does."""
        return S.CallbackSecret(secret=callback_secret(ctx.settings.resolved_secret_key, caller.key_id))

    @router.delete(
        "/jobs/{job_id}", status_code=204, operation_id="deleteJob", summary="Delete a job", responses=_errors(401, 404)
    )
    async def delete_job(job_id: str, ctx: Ctx, caller: Caller) -> Response:
        """Delete the job, its results and the stored document now (they also expire on their own)."""
        await service.get(db=ctx.db, job_id=job_id, owner_key_id=caller.key_id, with_result=False, dialects=(DIALECT,))
        await service.delete(db=ctx.db, store=ctx.store, job_id=job_id, owner_key_id=caller.key_id)
        return Response(status_code=204)

    return router
