"""The Flask-tutorial OCR API, as its users' code calls it: `POST /ocr_process` (one upload),
`POST /batch_process` (several uploads and/or URLs, never server-side paths), `POST /generate_api_key`
(admin keys only). Thin and synchronous: bodies go through intake, every image is one job of the core,
and answers and errors are the tutorial's `{"success": ..., ...}` JSON."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qsl

import anyio
from fastapi import APIRouter, Depends, Request
from python_multipart.multipart import parse_options_header
from starlette.responses import Response

from ocrgw import intake
from ocrgw.auth import Principal
from ocrgw.context import AppContext, app_context
from ocrgw.dialects.seed import common
from ocrgw.dialects.seed.errors import SeedError
from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.intake import multipart
from ocrgw.jobs import service
from ocrgw.jobs.schemas import JobView, StoredBlob

TAG = "Flask-style OCR API"
DIALECT = "seed-flask"
PREFIXES = ("/ocr_process", "/batch_process", "/generate_api_key")
METHODS = ("tesseract",)
# Tutorials' batch endpoints read a folder or list of paths on the server; here that would let any key
# holder OCR (read) the server's own files, so any such field is refused outright.
PATH_FIELDS = frozenset(
    {"path", "paths", "file_path", "file_paths", "filepath", "filepaths", "directory", "dir", "folder"}
)
URL_FIELDS = frozenset({"url", "urls"})
NAME_MAX = 100


# -------------------------------------------------------------------------------------------- helpers
def _json(body: object, status: int = 200) -> Response:
    return Response(json.dumps(body), status_code=status, media_type="application/json")


def _bad(message: str, param: str | None = None) -> OcrgwError:
    return OcrgwError(ErrorCode.INVALID_PARAMETER, message, param=param)


def _field_name(name: str) -> str:
    """`files[]`, `urls[]` (PHP/JS form conventions) name the same thing as `files`, `urls`."""
    return name.strip().lower().removesuffix("[]")


def _method(fields: dict[str, str]) -> str:
    method = fields.get("method", "").strip().lower() or METHODS[0]
    if method not in METHODS:
        raise _bad(f"Unsupported OCR method {method!r}: supported methods are {', '.join(METHODS)}.", "method")
    return method


def _lang(fields: dict[str, str]) -> str | None:
    return fields.get("lang") or fields.get("language")


async def _principal(ctx: AppContext, request: Request, early: Principal | None, fields: dict) -> Principal:
    return early if early is not None else await ctx.keys.resolve(common.key_from(request, fields))


def _multipart_boundary(request: Request, hint: str) -> bytes:
    boundary = multipart.boundary_of(request.headers.get("content-type", ""))
    if boundary is None:
        raise OcrgwError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, f"Send multipart/form-data {hint}.")
    return boundary


# -------------------------------------------------------------------------------------------- /ocr_process
async def ocr_process(request: Request, ctx: Annotated[AppContext, Depends(app_context)]) -> Response:
    """OCR one uploaded image or PDF (the file under `file`, `image` or any part name) with Tesseract."""
    started = time.monotonic()
    early = await common.principal_early(ctx, request)
    await service.check_backlog(db=ctx.db, settings=ctx.settings)
    boundary = _multipart_boundary(request, "with the image as a file part named 'file'")
    fields: dict[str, str] = {k.lower(): v for k, v in request.query_params.items()}
    blob: StoredBlob | None = None
    part: common.FilePart | None = None
    upload_error: OcrgwError | None = None
    files = 0
    submitted = False
    try:
        events = common.form_events(request.stream(), boundary, ctx.settings.max_upload_bytes + multipart.OVERHEAD)
        async for kind, payload in events:
            if kind == "field":
                name, value = payload  # type: ignore[misc]
                fields[name] = value
            elif kind == "file":
                files += 1
                reader = common.FileReader(events)
                if files == 1:
                    part = payload  # type: ignore[assignment]
                    try:
                        blob = await intake.from_stream(reader.chunks(), store=ctx.store, settings=ctx.settings)
                    except common.FormError:
                        raise
                    except OcrgwError as exc:  # told after the key is checked
                        upload_error = exc
                await reader.skip()
        principal = await _principal(ctx, request, early, fields)
        if files == 0:
            raise OcrgwError(
                ErrorCode.EMPTY_BODY,
                "No image uploaded: send it as a multipart file part named 'file' (or 'image').",
                param="file",
            )
        if files > 1:
            raise _bad(
                f"{files} files were uploaded; /ocr_process reads exactly one. Use /batch_process for several.", "file"
            )
        if upload_error is not None:
            raise upload_error
        assert blob is not None and part is not None
        method = _method(fields)
        models = await common.tesseract_languages(_lang(fields), ctx.settings)
        job = await common.submit(ctx, principal, DIALECT, blob, models)
        submitted = True
    finally:
        if blob is not None and not submitted:
            await ctx.store.delete(blob.key)
    view = await common.finish(ctx, principal, job.id, ctx.settings.sync_wait_seconds)
    return _json(
        {
            "success": True,
            "text": common.text_of(view),
            "method": method,
            "language": "+".join(models),
            "confidence": common.confidence_of(view),
            "processing_time": round(time.monotonic() - started, 3),
            "filename": part.filename or part.name,
            "pages": len(view.pages or []),
        }
    )


# -------------------------------------------------------------------------------------------- /batch_process
@dataclass(slots=True)
class Item:
    """One image of a batch, from its upload or URL to its job; an error ends only this item."""

    index: int
    filename: str | None = None
    url: str | None = None
    blob: StoredBlob | None = None
    job_id: str | None = None
    view: JobView | None = None
    error: OcrgwError | None = None

    def render(self) -> dict:
        out: dict = {"index": self.index}
        out.update({"url": self.url} if self.url is not None else {"filename": self.filename})
        if self.view is not None:
            out.update(success=True, text=common.text_of(self.view), confidence=common.confidence_of(self.view))
        else:
            out.update(success=False, error=self.error.message if self.error else "Not processed.")
        return out


class _Batch:
    """The items of one batch in input order, with the cap checked as they arrive."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.items: list[Item] = []

    def add(self, **kw: str | None) -> Item:
        if len(self.items) >= self.cap:
            raise _bad(f"Too many images: a batch takes at most {self.cap} files and URLs together.")
        item = Item(index=len(self.items), **kw)  # type: ignore[arg-type]
        self.items.append(item)
        return item

    def add_urls(self, value: object) -> None:
        values = value if isinstance(value, list) else [value]
        for v in values:
            if not isinstance(v, str):
                raise _bad("'urls' must be a list of http(s) URL strings.", "urls")
            for url in v.split():  # one URL per field, or several separated by whitespace/newlines
                self.add(url=url)


def _check_fields(names: list[str]) -> None:
    for name in names:
        if _field_name(name) in PATH_FIELDS:
            raise _bad(
                f"Field {name!r}: server-side file paths are not accepted. Upload the files, or send "
                "http(s) URLs under 'urls'.",
                name,
            )


async def _read_batch(request: Request, ctx: AppContext, batch: _Batch) -> dict[str, str]:
    """Parse the body into the batch's items (uploads stored as they stream in) and the other fields."""
    fields: dict[str, str] = {k.lower(): v for k, v in request.query_params.items()}
    ctype = parse_options_header(request.headers.get("content-type", ""))[0].decode("latin-1").lower()
    if ctype == "multipart/form-data":
        cap = (ctx.settings.max_upload_bytes + multipart.OVERHEAD) * ctx.settings.batch_max_items
        events = common.form_events(request.stream(), _multipart_boundary(request, ""), cap)
        async for kind, payload in events:
            if kind == "field":
                name, value = payload  # type: ignore[misc]
                _check_fields([name])
                if _field_name(name) in URL_FIELDS:
                    batch.add_urls(value)
                else:
                    fields[name] = value
            elif kind == "file":
                part: common.FilePart = payload  # type: ignore[assignment]
                item = batch.add(filename=part.filename or part.name)
                reader = common.FileReader(events)
                try:
                    item.blob = await intake.from_stream(reader.chunks(), store=ctx.store, settings=ctx.settings)
                except common.FormError:
                    raise
                except OcrgwError as exc:  # a bad file fails only itself
                    item.error = exc
                await reader.skip()
        return fields
    if ctype == "application/json" or ctype.endswith("+json"):
        raw = await intake.read_capped(request.stream(), multipart.OVERHEAD)
        try:
            body = json.loads(raw or b"{}")
        except ValueError as exc:
            raise _bad(f"The JSON body is malformed: {exc}.") from exc
        if not isinstance(body, dict):
            raise _bad('The JSON body must be an object such as {"urls": ["https://..."]}.')
        _check_fields(list(body))
        for name, value in body.items():
            if _field_name(name) in URL_FIELDS:
                batch.add_urls(value)
            elif isinstance(value, str):
                fields[name.lower()] = value
        return fields
    if ctype in ("application/x-www-form-urlencoded", ""):
        raw = await intake.read_capped(request.stream(), multipart.OVERHEAD)
        pairs = parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
        _check_fields([k for k, _ in pairs])
        for name, value in pairs:
            if _field_name(name) in URL_FIELDS:
                batch.add_urls(value)
            else:
                fields[name.lower()] = value
        return fields
    raise OcrgwError(
        ErrorCode.UNSUPPORTED_MEDIA_TYPE,
        f"Unsupported Content-Type {ctype!r}: send "
        'multipart/form-data (files and/or urls fields) or JSON {"urls": [...]}.',
    )


async def _fetch(ctx: AppContext, item: Item) -> None:
    try:
        item.blob = await intake.from_url(item.url or "", store=ctx.store, settings=ctx.settings)
    except OcrgwError as exc:  # the SSRF guard, timeouts, non-images: this item only
        item.error = exc


async def _wait(ctx: AppContext, principal: Principal, item: Item, timeout: float) -> None:
    try:
        item.view = await common.finish(ctx, principal, item.job_id or "", timeout)
    except OcrgwError as exc:
        item.error = exc


async def batch_process(request: Request, ctx: Annotated[AppContext, Depends(app_context)]) -> Response:
    """OCR several uploads and/or URLs: each is its own job, all submitted first and then awaited together,
    so one bad item fails only itself. Results come in input order."""
    started = time.monotonic()
    early = await common.principal_early(ctx, request)
    await service.check_backlog(db=ctx.db, settings=ctx.settings)
    batch = _Batch(ctx.settings.batch_max_items)
    try:
        fields = await _read_batch(request, ctx, batch)
        principal = await _principal(ctx, request, early, fields)
        if not batch.items:
            raise OcrgwError(
                ErrorCode.EMPTY_BODY,
                "No images: upload files (any part name, e.g. 'files') and/or send http(s) URLs under 'urls'.",
            )
        _method(fields)
        models = await common.tesseract_languages(_lang(fields), ctx.settings)
        await asyncio.gather(*(_fetch(ctx, it) for it in batch.items if it.url is not None))
        for item in batch.items:
            if item.blob is None:
                continue
            blob, item.blob = item.blob, None  # submit owns it now (and deletes it if it fails)
            try:
                item.job_id = (await common.submit(ctx, principal, DIALECT, blob, models)).id
            except OcrgwError as exc:
                item.error = exc
    finally:
        for item in batch.items:
            if item.blob is not None:
                await ctx.store.delete(item.blob.key)
    bound = ctx.settings.sync_wait_seconds
    await asyncio.gather(*(_wait(ctx, principal, it, bound) for it in batch.items if it.job_id))
    results = [it.render() for it in batch.items]
    ok = sum(1 for r in results if r["success"])
    return _json(
        {
            "success": True,
            "results": results,
            "total": len(results),
            "successful": ok,
            "failed": len(results) - ok,
            "processing_time": round(time.monotonic() - started, 3),
        }
    )


# -------------------------------------------------------------------------------------------- /generate_api_key
async def _small_fields(request: Request) -> dict[str, object]:
    """`name` (and `api_key`) from a JSON, form-encoded or multipart body; an empty body is fine."""
    ctype = parse_options_header(request.headers.get("content-type", ""))[0].decode("latin-1").lower()
    if ctype == "multipart/form-data":
        found: dict[str, object] = {}
        events = common.form_events(request.stream(), _multipart_boundary(request, ""), multipart.OVERHEAD)
        async for kind, payload in events:
            if kind == "field":
                name, value = payload  # type: ignore[misc]
                found[name] = value
        return found
    raw = await intake.read_capped(request.stream(), multipart.OVERHEAD)
    if not raw.strip():
        return {}
    if ctype == "application/json" or ctype.endswith("+json"):
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise _bad(f"The JSON body is malformed: {exc}.") from exc
        if not isinstance(body, dict):
            raise _bad('The JSON body must be an object such as {"name": "my-app"}.')
        return {str(k).lower(): v for k, v in body.items()}
    if ctype in ("application/x-www-form-urlencoded", ""):
        pairs = await anyio.to_thread.run_sync(lambda: parse_qsl(raw.decode("utf-8", "replace")))
        return {k.lower(): v for k, v in pairs}
    raise OcrgwError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, f"Unsupported Content-Type {ctype!r}: send JSON or a form.")


async def generate_api_key(request: Request, ctx: Annotated[AppContext, Depends(app_context)]) -> Response:
    """Issue a new ordinary (non-admin) key; only an admin key may. The secret is shown only here."""
    early = await common.principal_early(ctx, request)
    fields = await _small_fields(request)
    principal = await _principal(ctx, request, early, fields)
    if not principal.is_admin:
        raise SeedError(
            ErrorCode.INVALID_KEY,
            "Admin privileges required: only an admin key may generate API "
            "keys (create one with `ocrgw keys create --admin`).",
            status=403,
        )
    name = fields.get("name")
    if name is None or name == "":
        name = "generated"
    if not isinstance(name, str) or len(name.strip()) > NAME_MAX or not name.strip().isprintable():
        raise _bad(f"'name' must be a printable string of at most {NAME_MAX} characters.", "name")
    row, secret = await ctx.keys.create(name.strip(), admin=False)
    return _json({"success": True, "api_key": secret, "name": row.name, "id": row.id}, 201)


# -------------------------------------------------------------------------------------------- router
_UPLOAD = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "The image or PDF (any part name).",
                        },
                        "method": {"type": "string", "enum": list(METHODS)},
                        "lang": {"type": "string", "example": "eng+deu", "description": "Tesseract codes."},
                        "api_key": {"type": "string"},
                    },
                }
            }
        },
    }
}
_BATCH = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                        "urls": {"type": "array", "items": {"type": "string"}},
                        "lang": {"type": "string"},
                    },
                }
            },
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"urls": {"type": "array", "items": {"type": "string"}}, "lang": {"type": "string"}},
                }
            },
        },
    }
}
_KEY = {
    "requestBody": {
        "required": False,
        "content": {"application/json": {"schema": {"type": "object", "properties": {"name": {"type": "string"}}}}},
    }
}


def build_router() -> APIRouter:
    router = APIRouter(tags=[TAG])
    router.add_api_route(
        "/ocr_process",
        ocr_process,
        methods=["POST"],
        operation_id="flaskOcrProcess",
        summary="Flask-style: OCR one uploaded image",
        openapi_extra=_UPLOAD,
        response_class=Response,
    )
    router.add_api_route(
        "/batch_process",
        batch_process,
        methods=["POST"],
        operation_id="flaskBatchProcess",
        summary="Flask-style: OCR several uploads and/or URLs",
        openapi_extra=_BATCH,
        response_class=Response,
    )
    router.add_api_route(
        "/generate_api_key",
        generate_api_key,
        methods=["POST"],
        operation_id="flaskGenerateApiKey",
        summary="Flask-style: issue an API key (admin)",
        openapi_extra=_KEY,
        response_class=Response,
        status_code=201,
    )
    return router
