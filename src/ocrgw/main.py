"""create_app(): the API process. Builds the shared context once in the lifespan (database, blob store,
queue, reaper), mounts the dialect routers, and makes every error, FastAPI's own included, answer in
the calling dialect's envelope. Offline docs at /docs and /redoc."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi_offline import FastAPIOffline
from sqlalchemy import text
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ocrgw import __version__
from ocrgw.auth import KeyResolver
from ocrgw.context import AppContext
from ocrgw.db import make_async_engine, make_async_sessionmaker
from ocrgw.dialects import error_renderer_for, register_errors
from ocrgw.dialects.azure import docintel as azure_docintel
from ocrgw.dialects.azure import imageanalysis as azure_imageanalysis
from ocrgw.dialects.azure import router as azure_router
from ocrgw.dialects.azure import v21 as azure_v21
from ocrgw.dialects.azure.errors import render_error as azure_error
from ocrgw.dialects.huawei import router as huawei_router
from ocrgw.dialects.huawei.errors import render_error as huawei_error
from ocrgw.dialects.native import jobs as native_jobs
from ocrgw.dialects.native import router as native_router
from ocrgw.dialects.native.errors import render_error as native_error
from ocrgw.dialects.ocrspace import router as ocrspace_router
from ocrgw.dialects.ocrspace.errors import render_error as ocrspace_error
from ocrgw.dialects.seed import flask_style as seed_flask
from ocrgw.dialects.seed import streaming as seed_streaming
from ocrgw.dialects.seed.errors import render_flask_error, render_stream_error
from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.jobs import callbacks
from ocrgw.ops import http as ops_http
from ocrgw.queue import JobQueue, reaper
from ocrgw.queue.local import LocalDispatcher
from ocrgw.settings import Settings, get_settings
from ocrgw.storage import make_blob_store
from ocrgw.web import routes as web_routes

log = logging.getLogger("ocrgw.api")
_SLASHES = re.compile(r"/{2,}")
_RAW_SLASHES = re.compile(rb"/{2,}")

register_errors(("/vision/", "/computervision"), azure_error, default=True)
register_errors(("/vision/v2.1/",), azure_v21.render_error)
register_errors(("/formrecognizer", "/documentintelligence"), azure_docintel.render_error)
register_errors(("/v1/",), native_error)
register_errors(("/parse/",), ocrspace_error)
register_errors(("/v2/",), huawei_error)
register_errors(seed_flask.PREFIXES, render_flask_error)


class CollapseSlashes:
    """Azure SDKs given an endpoint with a trailing slash request `//computervision/...`: route them anyway."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and "//" in scope["path"]:
            scope = dict(scope)
            scope["path"] = _SLASHES.sub("/", scope["path"])
            if scope.get("raw_path"):
                scope["raw_path"] = _RAW_SLASHES.sub(b"/", scope["raw_path"])
        await self.app(scope, receive, send)


def _http_error(exc: StarletteHTTPException) -> OcrgwError:
    code = {
        404: ErrorCode.ROUTE_NOT_FOUND,
        405: ErrorCode.METHOD_NOT_ALLOWED,
        413: ErrorCode.TOO_LARGE,
        415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
        401: ErrorCode.MISSING_KEY,
    }.get(exc.status_code, ErrorCode.INVALID_PARAMETER if exc.status_code < 500 else ErrorCode.INTERNAL)
    return OcrgwError(code, str(exc.detail))


def _openapi_tags() -> list[dict[str, str]]:
    """Tag metadata, native API first: /docs and generated SDKs group operations by tag (openapi-python-client
    makes one module per tag), so every dialect is its own group and the vendors' stay out of the native one."""
    return [
        {
            "name": native_jobs.TAG,
            "description": "ocrgw's own asynchronous API, the one to generate clients from: "
            "submit a document (multipart, raw bytes, or JSON with a URL or base64), poll the job, fetch the result "
            "as JSON, text, hOCR, ALTO, TSV or searchable PDF. Authenticate with `X-API-Key` or "
            "`Authorization: Bearer`; every error is an `ErrorResponse`.",
        },
        {
            "name": azure_router.TAG,
            "description": "Azure AI Vision Read v3.0 to v3.2, for the Azure SDKs "
            "(`Ocp-Apim-Subscription-Key`). Shapes and errors are Azure's.",
        },
        {"name": azure_v21.TAG, "description": "Computer Vision v2.1 Batch Read, for the older Azure SDKs."},
        {"name": azure_imageanalysis.TAG, "description": "Image Analysis 4.0 with the READ feature (synchronous)."},
        {"name": azure_docintel.TAGS["formrecognizer"], "description": "Form Recognizer `prebuilt-read`."},
        {"name": azure_docintel.TAGS["documentintelligence"], "description": "Document Intelligence `prebuilt-read`."},
        {"name": ocrspace_router.TAG, "description": "The OCR.space Parse API (`apikey`), in its own shapes."},
        {
            "name": huawei_router.TAG,
            "description": "Huawei Cloud OCR general-text and passport, AK/SK-signed or `X-Auth-Token`.",
        },
        {"name": seed_flask.TAG, "description": "The seed system's synchronous Flask-style API."},
        {
            "name": seed_streaming.TAG,
            "description": "The seed streaming server's synchronous endpoint (its path is `OCRGW_STREAM_API_NAME`).",
        },
        {"name": "Operations", "description": "Liveness and readiness probes."},
    ]


def _readable_schema_names(schema: dict) -> None:
    """Pydantic names a component `ocrgw__dialects__azure__schemas__ErrorResponse` when two dialects both have
    a model of that name; code generators then make unreadable classes, or drop both (openapi-python-client
    names models by `title`, which is the same). Prefix such models with their dialect (`AzureErrorResponse`),
    the native API keeping the plain name, and rewrite the references."""
    comps: dict = schema.get("components", {}).get("schemas", {})
    renames: dict[str, str] = {}
    for name in list(comps):
        parts = name.split("__")
        if len(parts) < 2:
            continue
        where = parts[parts.index("dialects") + 1 : -1] if "dialects" in parts else parts[:-1]
        prefix = "" if where[:1] == ["native"] else "".join(p.capitalize() for p in where if p != "schemas")
        new = prefix + parts[-1]
        if new not in comps and new not in renames.values():
            renames[name] = new
    if not renames:
        return
    for old, new in renames.items():
        comps[new] = comps.pop(old)
        comps[new]["title"] = new
    schema["components"]["schemas"] = dict(sorted(comps.items()))
    refs = {f"#/components/schemas/{old}": f"#/components/schemas/{new}" for old, new in renames.items()}

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str) and node["$ref"] in refs:
                node["$ref"] = refs[node["$ref"]]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)


def _drop_validation_422(schema: dict) -> None:
    """FastAPI documents a 422 HTTPValidationError on every route with parameters, but `on_validation_error`
    answers bad input in the calling dialect's own envelope and status (400 for all of them): drop the 422s
    so clients are not generated for an error shape that never comes."""
    for ops in schema.get("paths", {}).values():
        for op in ops.values():
            resp = op.get("responses", {}).get("422", {})
            ref = resp.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref", "")
            if ref.endswith("/HTTPValidationError"):
                del op["responses"]["422"]
    comps = schema.get("components", {}).get("schemas", {})
    if "HTTPValidationError" not in json.dumps(schema.get("paths", {})):
        comps.pop("HTTPValidationError", None)
        if "/ValidationError" not in json.dumps(comps):
            comps.pop("ValidationError", None)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_async_engine(settings)
        db = make_async_sessionmaker(engine)
        store = make_blob_store(settings, db)
        dispatcher: LocalDispatcher | None = None
        queue: JobQueue
        if settings.queue == "celery":
            from ocrgw.queue.celery_app import CeleryQueue

            queue = CeleryQueue(settings)
        else:
            queue = dispatcher = LocalDispatcher(settings, db)
        app.state.ctx = AppContext(settings, db, queue, store, KeyResolver(settings, db))
        app.state.dispatcher = dispatcher
        if dispatcher is not None:
            await dispatcher.start()
            # Work left by a previous run: leases of processes that are gone, then everything queued.
            await reaper.free_dead_leases(db)
            await reaper.sweep(db, dispatcher, settings, startup=True)
        tasks = [
            asyncio.create_task(reaper.run_forever(db, queue, settings)),
            asyncio.create_task(reaper.purge_forever(db, store, settings)),
            asyncio.create_task(callbacks.deliver_forever(db, settings)),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            if dispatcher is not None:
                await dispatcher.stop(settings.shutdown_grace_seconds)
            await engine.dispose()

    app = FastAPIOffline(
        title="ocrgw",
        version=__version__,
        description="Self-hosted OCR gateway: its own native `/v1` jobs API, and the APIs of Azure AI Vision Read "
        "(v2.1, v3.x), Image Analysis 4.0, Form Recognizer / Document Intelligence prebuilt-read, OCR.space and "
        "Huawei Cloud OCR, over one engine; your documents stay on your machines. Each API authenticates its own "
        "way (native: `X-API-Key`; Azure: `Ocp-Apim-Subscription-Key`); create keys with `ocrgw keys create`.",
        openapi_tags=_openapi_tags(),
        lifespan=lifespan,
        redirect_slashes=False,  # a stray trailing slash gets the dialect's 404, not a bare redirect
    )
    ops_http.install(app, settings)  # request ids, access log, /metrics; inside CollapseSlashes
    app.add_middleware(CollapseSlashes)
    app.include_router(azure_router.build_router())
    app.include_router(azure_v21.build_router())
    app.include_router(azure_imageanalysis.build_router())
    app.include_router(azure_docintel.build_router())
    app.include_router(native_router.build_router())
    app.include_router(native_jobs.build_router())
    app.include_router(ocrspace_router.build_router())
    app.include_router(huawei_router.build_router())
    app.include_router(seed_flask.build_router())
    web_routes.install(app)  # the playground at / and its /static files, out of the schema
    # Last: the streaming server's configurable path, refused at startup if any route above uses it.
    stream_path = seed_streaming.api_path(settings, app.routes)
    app.include_router(seed_streaming.build_router(stream_path))
    register_errors((stream_path,), render_stream_error)

    def _render(request: Request, exc: OcrgwError) -> Response:
        return error_renderer_for(request.url.path)(request, exc)

    @app.exception_handler(OcrgwError)
    async def on_domain_error(request: Request, exc: OcrgwError) -> Response:
        return _render(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> Response:
        response = _render(request, _http_error(exc))
        for name, value in (exc.headers or {}).items():  # e.g. Allow on a 405
            response.headers.setdefault(name, value)
        return response

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _render(
            request,
            OcrgwError(ErrorCode.INVALID_PARAMETER, f"Invalid request: {where}: {first.get('msg', 'invalid value')}."),
        )

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _render(request, OcrgwError(ErrorCode.INTERNAL, "An unexpected error occurred."))

    @app.get("/health", tags=["Operations"], operation_id="health", summary="Liveness")
    async def health() -> dict:
        """The process is up and serving HTTP."""
        return {"status": "ok"}

    @app.get(
        "/ready",
        tags=["Operations"],
        operation_id="ready",
        summary="Readiness",
        responses={503: {"description": "The database or the queue is not reachable."}},
    )
    async def ready(request: Request) -> Response:
        """Ready to take work: the database answers, and the broker (scale-out) or the local worker
        processes (embedded) are there."""
        ctx: AppContext = request.app.state.ctx
        checks: dict[str, str] = {}
        try:
            async with asyncio.timeout(5), ctx.db() as s:
                await s.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"error: {type(exc).__name__}"
        dispatcher: LocalDispatcher | None = request.app.state.dispatcher
        if dispatcher is not None:
            alive = dispatcher.live_workers()
            checks["workers"] = f"ok ({alive})" if alive else "error: no live worker process"
        else:
            try:
                await asyncio.wait_for(asyncio.to_thread(ctx.queue.ping), 8)  # type: ignore[attr-defined]
                checks["broker"] = "ok"
            except Exception as exc:
                checks["broker"] = f"error: {type(exc).__name__}"
        ok = all(v.startswith("ok") for v in checks.values())
        body = json.dumps({"status": "ready" if ok else "not ready", **checks})
        return Response(body, status_code=200 if ok else 503, media_type="application/json")

    original_openapi = app.openapi

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original_openapi()
        comps = schema.setdefault("components", {}).setdefault("schemas", {})
        extra = {
            **azure_router.EXTRA_SCHEMAS,
            **azure_imageanalysis.EXTRA_SCHEMAS,
            **azure_docintel.EXTRA_SCHEMAS,
            **huawei_router.EXTRA_SCHEMAS,
            **native_jobs.EXTRA_SCHEMAS,
        }
        for name, model in extra.items():
            comps.setdefault(name, model.model_json_schema(ref_template="#/components/schemas/{model}"))
        _drop_validation_422(schema)
        _readable_schema_names(schema)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
