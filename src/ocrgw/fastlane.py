"""The API process's fast lane for its hottest calls (the submits), between the operations middleware and
FastAPI's router. A call whose method and exact path a dialect names in ``Dialect.lanes`` skips the router's
walk over every mounted route and FastAPI's per-request dependency solving, which the submit bench's profile
put at a fifth of the API process's CPU per submit (FastAPI re-derives each dependency's cache key and
security classification on every request, and the app mounts some 200 routes). The lane's endpoint is the
route's own function, called with what its dependencies would have resolved (the same ``Depends`` callables,
awaited in order), so the dialect's code stays one; the route itself stays mounted for the OpenAPI document
and for every method and path the lane doesn't take. Errors go to the app's own exception handlers, so they
answer in the dialect's envelope exactly as through the router; the operations middleware outside still
gives the call its request id, access line and metrics (by the route's template, which the lane sets)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from starlette._utils import get_route_path
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

Lane = Callable[[Request], Awaitable[Response]]
LaneKey = tuple[str, str]  # (method, exact path)


class Lanes:
    """What the lanes take: (method, path) -> the lane and the mounted route it stands for (whose template
    labels the metrics; ``ops.http.route_template`` reads it). Filled by ``mount`` once every router is
    included, after the middleware was added (it must be added before the operations middleware)."""

    def __init__(self) -> None:
        self.lanes: dict[LaneKey, Lane] = {}
        self.routes: dict[LaneKey, APIRoute] = {}

    def mount(self, app: FastAPI, lanes: Mapping[LaneKey, Lane]) -> None:
        """A lane without a mounted route of the same method and path is a programming error: its calls
        would be documented and counted as nothing."""
        for context in iter_route_contexts(app.routes):  # included routers flattened, with their prefixes
            route = context.original_route
            if isinstance(route, APIRoute) and context.path is not None:
                for method in context.methods or ():
                    if (method, context.path) in lanes:
                        self.routes[(method, context.path)] = route  # what the router leaves in the scope
        missing = set(lanes) - set(self.routes)
        if missing:
            raise RuntimeError(f"fast lanes without a mounted route: {sorted(missing)}")
        self.lanes.update(lanes)


class FastLane:
    """Innermost of the app's own middleware."""

    def __init__(self, app: ASGIApp, lanes: Lanes) -> None:
        self.app = app
        self.lanes = lanes.lanes
        self.routes = lanes.routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.lanes:
            await self.app(scope, receive, send)
            return
        key = (scope["method"], get_route_path(scope))
        lane = self.lanes.get(key)
        if lane is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = route = self.routes[key]
        scope["endpoint"] = route.endpoint
        request = Request(scope, receive, send)
        try:
            response = await lane(request)
        except Exception as exc:  # answered by the handler the router's path would have used
            response = await _handled(request, exc)
        await response(scope, receive, send)


async def _handled(request: Request, exc: Exception) -> Response:
    """The app's handler for ``exc``'s nearest registered class (``Exception`` is always registered by
    ``main._install_error_handlers``, which logs the unexpected)."""
    handlers = request.app.exception_handlers
    for cls in type(exc).__mro__:
        handler = handlers.get(cls)
        if handler is not None:
            response = handler(request, exc)
            return await response if isinstance(response, Awaitable) else response
    raise exc
