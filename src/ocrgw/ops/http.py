"""The API process's operations layer, installed by create_app: one ASGI middleware that gives every request
an id (`X-Request-Id`, the client's own if sane), counts it in Prometheus by route *template*, and writes one
access-log line; and `GET /metrics`. Pure ASGI rather than BaseHTTPMiddleware, so streamed bodies pass through
untouched and the request id's context variable is the one the route itself runs in."""

from __future__ import annotations

import logging
import time

from fastapi import FastAPI, Request
from starlette.datastructures import MutableHeaders
from starlette.responses import Response
from starlette.routing import Match, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ocrgw.ops import metrics
from ocrgw.ops.context import AnswerHooks, accept_request_id, answer_hooks_var, request_id_var
from ocrgw.ops.logs import ACCESS_LOGGER
from ocrgw.settings import Settings

access_log = logging.getLogger(ACCESS_LOGGER)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


def route_template(scope: Scope, root_path: str = "") -> str:
    """The matched route's path template (`/v1/jobs/{job_id}`), never the raw path: label values must be a
    small fixed set. FastAPI leaves its matched (or, for a 405, partially matched) route in the scope; a
    mounted app (the playground's /static) is known by the root path the mount extended; a plain Starlette
    route (/openapi.json) is found by matching the app's own routes again; nothing matched is "unmatched"."""
    route = scope.get("route")
    if route is None:
        mounted = scope.get("root_path", "")
        if mounted != root_path and mounted.startswith(root_path):
            return mounted[len(root_path) :] + "/{path}"
        app = scope.get("app")
        for candidate in getattr(getattr(app, "router", None), "routes", ()):
            if type(candidate) is Route and candidate.matches(scope)[0] is not Match.NONE:
                return candidate.path_format
        return "unmatched"
    path = getattr(route, "path_format", None) or getattr(route, "path", None) or "unmatched"
    return path.rstrip("/") + "/{path}" if isinstance(route, Mount) else path


class OperationsMiddleware:
    """Request id, HTTP metrics and the access log for every HTTP request. A response that already carries
    an `X-Request-Id` (the Huawei dialect sets its own, in Huawei's format) keeps it; the access line then
    also records that one as `vendor_request_id`."""

    def __init__(self, app: ASGIApp, *, count: bool = True) -> None:
        self.app = app
        self.count = count

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        root_path = scope.get("root_path", "")
        rid = accept_request_id(_header(scope, b"x-request-id"))
        token = request_id_var.set(rid)
        hooks: AnswerHooks = {}
        answer_hooks_var.set(hooks)
        status = 500  # what the client gets if the app raises before answering
        vendor_rid: str | None = None

        async def send_wrapper(message: Message) -> None:
            nonlocal status, vendor_rid
            if message["type"] == "http.response.start":
                if hooks and 200 <= message["status"] < 300:
                    await _run_hooks(hooks)  # a failure (no usage record) fails the answer: a 500
                status = message["status"]
                headers = MutableHeaders(scope=message)
                if "x-request-id" in headers:
                    vendor_rid = headers["x-request-id"] if headers["x-request-id"] != rid else None
                else:
                    headers.append("X-Request-Id", rid)
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except BaseException:
            # Not reset: the app's 500 handler runs outside this middleware and should log the same id
            # (each request runs in a task of its own, so the value goes with it).
            self._done(scope, root_path, started, status, vendor_rid)
            raise
        self._done(scope, root_path, started, status, vendor_rid)
        request_id_var.reset(token)

    def _done(self, scope: Scope, root_path: str, started: float, status: int, vendor_rid: str | None) -> None:
        elapsed = time.perf_counter() - started
        method = scope["method"] if scope["method"] in _METHODS else "OTHER"
        route = route_template(scope, root_path)
        if self.count:
            metrics.HTTP_REQUESTS.labels(method, route, str(status)).inc()
            metrics.HTTP_SECONDS.labels(method, route).observe(elapsed)
        fields = {
            "method": method,
            "path": scope["path"],
            "route": route,
            "status": status,
            "duration_ms": round(elapsed * 1000, 1),
            "client": (scope.get("client") or ("-",))[0],
        }
        if vendor_rid:
            fields["vendor_request_id"] = vendor_rid
        access_log.info("%s %s %d %.1fms", method, scope["path"], status, elapsed * 1000, extra=fields)


async def _run_hooks(hooks: AnswerHooks) -> None:
    """What a 2xx answer owes before it starts (``ops.context.on_success_answer``), each once."""
    while hooks:
        _, hook = hooks.popitem()
        await hook()


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def install(app: FastAPI, settings: Settings) -> None:
    """Add the middleware and, unless OCRGW_METRICS_ENABLED is false, `GET /metrics`. Call before any
    middleware that rewrites the scope into a copy (CollapseSlashes), so this one, inside it, sees the route
    the router matched."""
    app.add_middleware(OperationsMiddleware, count=settings.metrics_enabled)
    if not settings.metrics_enabled:
        return

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics(request: Request) -> Response:
        """Prometheus text format. Unauthenticated, like most exporters: keep it off the public listener
        (bind or route it to the monitoring network only)."""
        stats: metrics.JobStats | None = getattr(request.app.state, "job_stats", None)
        if stats is None:
            stats = request.app.state.job_stats = metrics.JobStats(request.app.state.ctx.db)
        dispatcher = getattr(request.app.state, "dispatcher", None)
        body = await metrics.render(stats, dispatcher.live_workers() if dispatcher is not None else None)
        return Response(body, media_type=PROMETHEUS_TEXT)
