"""create_app(): the API process's assembly. Mounts every dialect from ``dialects.registry`` (routes, error
envelope by path prefix, OpenAPI tags and schemas), the playground and the probes, and makes every error,
FastAPI's own included, answer in the calling dialect's envelope. The lifespan (context and background
loops) is ``background``; the OpenAPI customisation is ``openapi``. Offline docs at /docs and /redoc."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import iter_route_contexts
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ocrgw import __version__, background, fastlane, health, openapi
from ocrgw.dialects import ErrorRouting, registry
from ocrgw.dialects.native import NATIVE
from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.ops import http as ops_http
from ocrgw.settings import Settings, get_settings
from ocrgw.web import routes as web_routes

log = logging.getLogger("ocrgw.api")
_SLASHES = re.compile(r"/{2,}")
_RAW_SLASHES = re.compile(rb"/{2,}")
DESCRIPTION = (
    "Self-hosted OCR gateway: its own native `/v1` jobs API, and the APIs of Azure AI Vision Read (v2.1, v3.x), "
    "Image Analysis 4.0, Form Recognizer / Document Intelligence prebuilt-read, OCR.space and Huawei Cloud OCR, "
    "over one engine; your documents stay on your machines. Each API authenticates its own way (native: "
    "`X-API-Key`; Azure: `Ocp-Apim-Subscription-Key`); create keys with `ocrgw keys create`. Generate clients "
    "from the native API's own document, `/v1/openapi.json`."
)


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


class CloseUnreadBodies:
    """An answer given before the request's body was read to its end (a refusal: too large, no key, a full
    backlog) closes the connection. Otherwise uvicorn keeps it alive by reading and dropping the rest of
    the body after the answer: gigabytes, for a hostile client. A declared body of up to ``SMALL`` keeps
    its keep-alive and is drained: a client still sending when an early refusal (a bad key in a header)
    comes would otherwise meet a reset socket instead of the answer (the OCR.space npm wrapper posting a
    152 KB receipt with a wrong key saw no status at all), and draining a few MB costs nothing."""

    SMALL = 8 * 1024 * 1024

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length", b"").strip()
        chunked = b"chunked" in headers.get(b"transfer-encoding", b"").lower()
        if not chunked and not (declared.isdigit() and int(declared) > self.SMALL):
            await self.app(scope, receive, send)
            return
        read = False

        async def receiving() -> Message:
            nonlocal read
            message = await receive()
            read = read or message["type"] == "http.disconnect" or not message.get("more_body", False)
            return message

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start" and not read:
                message = {**message, "headers": [*message.get("headers", ()), (b"connection", b"close")]}
            await send(message)

        await self.app(scope, receiving, sending)


def _http_error(exc: StarletteHTTPException) -> OcrgwError:
    code = {
        404: ErrorCode.ROUTE_NOT_FOUND,
        405: ErrorCode.METHOD_NOT_ALLOWED,
        413: ErrorCode.TOO_LARGE,
        415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
        401: ErrorCode.MISSING_KEY,
    }.get(exc.status_code, ErrorCode.INVALID_PARAMETER if exc.status_code < 500 else ErrorCode.INTERNAL)
    return OcrgwError(code, str(exc.detail))


def allowed_methods(routes: Sequence[BaseRoute], path: str) -> str:
    """RFC 9110 §15.5.6: a 405's Allow lists every method the target resource takes. Starlette's names
    only the methods of the first route whose path matched; a path served by several routes (GET and
    DELETE of `/v1/jobs/{id}`) needs them all. The routes as mounted (included routers flattened)."""
    methods: set[str] = set()
    for route in iter_route_contexts(routes):
        regex = getattr(route, "path_regex", None)
        if regex is not None and route.methods and regex.match(path):
            methods.update(route.methods)
    return ", ".join(sorted(methods))


def _install_error_handlers(app: FastAPI, routing: ErrorRouting) -> None:
    def render(request: Request, exc: OcrgwError) -> Response:
        return routing.renderer_for(request.url.path)(request, exc)

    async def on_domain_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, OcrgwError)
        return render(request, exc)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        response = render(request, _http_error(exc))
        if exc.status_code == 405 and (allow := allowed_methods(request.app.router.routes, request.scope["path"])):
            response.headers["Allow"] = allow
        for name, value in (exc.headers or {}).items():  # e.g. Allow on a 405
            response.headers.setdefault(name, value)
        return response

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        message = f"Invalid request: {where}: {first.get('msg', 'invalid value')}."
        return render(request, OcrgwError(ErrorCode.INVALID_PARAMETER, message))

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return render(request, OcrgwError(ErrorCode.INTERNAL, "An unexpected error occurred."))

    app.add_exception_handler(OcrgwError, on_domain_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(Exception, on_unexpected)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPIOffline(
        title="ocrgw",
        version=__version__,
        description=DESCRIPTION,
        lifespan=background.lifespan(settings),
        redirect_slashes=False,  # a stray trailing slash gets the dialect's 404, not a bare redirect
        # FastAPI's own OpenTelemetry hooks off: ocrgw reports through /metrics and its access log, and the
        # hooks asked the environment for a tracer provider on every request (~3 % of the submit path).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    lanes = fastlane.Lanes()
    app.add_middleware(fastlane.FastLane, lanes=lanes)  # innermost: the operations middleware sees its calls
    ops_http.install(app, settings)  # request ids, access log, /metrics; inside CollapseSlashes
    app.add_middleware(CollapseSlashes)
    app.add_middleware(CloseUnreadBodies)
    fixed = [d for d in registry.DIALECTS if isinstance(d.prefixes, tuple)]
    for dialect in registry.DIALECTS:
        if dialect in fixed:
            app.include_router(dialect.router_for(settings, app.routes))
    web_routes.install(app)  # the playground at / and its /static files, out of the schema
    app.include_router(health.router)
    # Last: configurable paths (the streaming API's), refused at startup if a route above uses them.
    for dialect in registry.DIALECTS:
        if dialect not in fixed:
            app.include_router(dialect.router_for(settings, app.routes))
    if settings.fast_lanes:
        lanes.mount(app, {key: lane for dialect in registry.DIALECTS for key, lane in dialect.lanes.items()})
    _install_error_handlers(app, ErrorRouting(registry.DIALECTS, settings, registry.DEFAULT_ERRORS))
    openapi.install(app, registry.DIALECTS, native=NATIVE)
    return app
