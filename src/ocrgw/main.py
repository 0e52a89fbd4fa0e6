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
from ocrgw.queue import JobQueue, reaper
from ocrgw.queue.local import LocalDispatcher
from ocrgw.settings import Settings, get_settings
from ocrgw.storage import make_blob_store

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
        tasks = [asyncio.create_task(reaper.run_forever(db, queue, settings)),
                 asyncio.create_task(reaper.purge_forever(db, store, settings))]
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
        description="Self-hosted OCR gateway: Azure AI Vision Read (v2.1, v3.x), Image Analysis 4.0 and Form "
        "Recognizer / Document Intelligence prebuilt-read, over one engine; your documents stay on your machines. "
        "Authenticate with `Ocp-Apim-Subscription-Key` (create keys with `ocrgw keys create`).",
        lifespan=lifespan,
        redirect_slashes=False,  # a stray trailing slash gets the dialect's 404, not a bare redirect
    )
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
        return _render(request, OcrgwError(ErrorCode.INVALID_PARAMETER,
                                           f"Invalid request: {where}: {first.get('msg', 'invalid value')}."))

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _render(request, OcrgwError(ErrorCode.INTERNAL, "An unexpected error occurred."))

    @app.get("/health", tags=["Operations"], operation_id="health", summary="Liveness")
    async def health() -> dict:
        """The process is up and serving HTTP."""
        return {"status": "ok"}

    @app.get("/ready", tags=["Operations"], operation_id="ready", summary="Readiness",
             responses={503: {"description": "The database or the queue is not reachable."}})
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
        extra = {**azure_router.EXTRA_SCHEMAS, **azure_imageanalysis.EXTRA_SCHEMAS, **azure_docintel.EXTRA_SCHEMAS,
                 **huawei_router.EXTRA_SCHEMAS, **native_jobs.EXTRA_SCHEMAS}
        for name, model in extra.items():
            comps.setdefault(name, model.model_json_schema(ref_template="#/components/schemas/{model}"))
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
