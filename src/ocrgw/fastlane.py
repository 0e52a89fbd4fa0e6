"""The API process's fast lane for its hottest calls (the submits and polls), between the operations middleware
and FastAPI's router. A call whose method and path a dialect names in ``Dialect.lanes`` skips the router's
walk over every mounted route and FastAPI's per-request dependency solving, which the submit bench's profile
put at a fifth of the API process's CPU per submit (FastAPI re-derives each dependency's cache key and
security classification on every request, and the app mounts some 200 routes). The lane's endpoint is the
route's own function, called with what its dependencies would have resolved (the same ``Depends`` callables,
awaited in order), so the dialect's code stays one. A lane's path is exact, or ends in one ``{parameter}``
segment (the polls, ``GET /v1/jobs/{job_id}``: routing and dependency solving were a sixth of a poll's CPU),
which the lane reads from ``request.path_params`` as the router sets it; a mounted route whose literal path
the template would also match keeps its calls. The route itself stays mounted for the OpenAPI document
and for every method and path the lane doesn't take. Errors go to the app's own exception handlers, so they
answer in the dialect's envelope exactly as through the router; the operations middleware outside still
gives the call its request id, access line and metrics (by the route's template, which the lane sets)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from starlette._utils import get_route_path
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

Lane = Callable[[Request], Awaitable[Response]]
LaneKey = tuple[str, str]  # (method, path: exact, or ending in one "{parameter}" segment)
_TRAILING_PARAM = re.compile(r"(?P<prefix>[^{}]*/)\{(?P<name>\w+)\}")


class Lanes:
    """What the lanes take: (method, path) -> the lane and the mounted route it stands for (whose template
    labels the metrics; ``ops.http.route_template`` reads it), and (method, prefix) -> the same and the
    parameter's name for a path ending in one. Filled by ``mount`` once every router is included, after the
    middleware was added (it must be added before the operations middleware)."""

    def __init__(self) -> None:
        self.lanes: dict[LaneKey, Lane] = {}
        self.routes: dict[LaneKey, APIRoute] = {}
        self.prefixed: dict[LaneKey, tuple[Lane, APIRoute, str]] = {}
        self.literal: set[LaneKey] = set()  # every mounted route's (method, path) without a parameter

    def mount(self, app: FastAPI, lanes: Mapping[LaneKey, Lane]) -> None:
        """A lane without a mounted route of the same method and path is a programming error: its calls
        would be documented and counted as nothing; so is a path with a parameter anywhere but last."""
        found: dict[LaneKey, APIRoute] = {}
        for context in iter_route_contexts(app.routes):  # included routers flattened, with their prefixes
            route = context.original_route
            if context.path is None:
                continue
            for method in context.methods or ():
                if "{" not in context.path:
                    self.literal.add((method, context.path))
                if isinstance(route, APIRoute) and (method, context.path) in lanes:
                    found[(method, context.path)] = route  # what the router leaves in the scope
        missing = set(lanes) - set(found)
        if missing:
            raise RuntimeError(f"fast lanes without a mounted route: {sorted(missing)}")
        for (method, path), lane in lanes.items():
            if "{" not in path:
                self.lanes[(method, path)] = lane
                self.routes[(method, path)] = found[(method, path)]
            elif m := _TRAILING_PARAM.fullmatch(path):
                self.prefixed[(method, m["prefix"])] = (lane, found[(method, path)], m["name"])
            else:
                raise RuntimeError(f"a fast lane's path may hold one parameter, as its last segment: {path}")


class FastLane:
    """Innermost of the app's own middleware."""

    def __init__(self, app: ASGIApp, lanes: Lanes) -> None:
        self.app = app
        self.lanes = lanes.lanes
        self.routes = lanes.routes
        self.prefixed = lanes.prefixed
        self.literal = lanes.literal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not (self.lanes or self.prefixed):
            await self.app(scope, receive, send)
            return
        key = (scope["method"], get_route_path(scope))
        lane = self.lanes.get(key)
        if lane is not None:
            route = self.routes[key]
        else:
            head, _, tail = key[1].rpartition("/")
            hit = self.prefixed.get((key[0], head + "/")) if tail and key not in self.literal else None
            if hit is None:
                await self.app(scope, receive, send)
                return
            lane, route, name = hit
            scope["path_params"] = {name: tail}
        scope["route"] = route
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
