"""Vendor dialects: each parses its vendor's requests into a JobSpec for ``jobs.service.accept`` and renders
the core's results and errors in its vendor's shapes. Every vendor package exposes its APIs as ``Dialect``
objects, which the app mounts from one list (``dialects.registry``); the app picks the error renderer by
path prefix, so even FastAPI's own 404/405/422 answers come in the envelope the caller's SDK expects."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ocrgw.errors import OcrgwError
from ocrgw.fastlane import Lane, LaneKey
from ocrgw.settings import Settings

ErrorRenderer = Callable[[Request, OcrgwError], Response]


@dataclass(frozen=True, slots=True)
class Dialect:
    """One vendor API as the app mounts it. ``router`` and ``prefixes`` may depend on the settings (the
    streaming API's path is configurable); ``tags`` are its OpenAPI tag metadata in display order, and
    ``schemas`` named models its hand-written request bodies refer to; ``lanes`` its hottest calls (the
    submits), which ``fastlane`` answers without the router's walk and FastAPI's dependency solving."""

    name: str
    router: APIRouter | Callable[[Settings, Sequence[BaseRoute]], APIRouter]
    prefixes: tuple[str, ...] | Callable[[Settings], tuple[str, ...]]
    render_error: ErrorRenderer
    tags: tuple[dict[str, str], ...] = ()
    schemas: Mapping[str, type[BaseModel]] = field(default_factory=dict)
    lanes: Mapping[LaneKey, Lane] = field(default_factory=dict)

    def router_for(self, settings: Settings, mounted: Sequence[BaseRoute]) -> APIRouter:
        """``mounted``: the routes already on the app, which a configurable path must not collide with."""
        return self.router if isinstance(self.router, APIRouter) else self.router(settings, mounted)

    def prefixes_for(self, settings: Settings) -> tuple[str, ...]:
        return self.prefixes if isinstance(self.prefixes, tuple) else self.prefixes(settings)


class ErrorRouting:
    """Path prefix -> the error renderer of the dialect that owns it; the longest prefix wins, and paths
    no dialect owns get ``default``'s (Azure's: most clients of an unknown path are Azure SDKs)."""

    def __init__(self, dialects: Sequence[Dialect], settings: Settings, default: ErrorRenderer) -> None:
        pairs = [(p, d.render_error) for d in dialects for p in d.prefixes_for(settings)]
        self._pairs = sorted(pairs, key=lambda item: -len(item[0]))
        self._default = default

    def renderer_for(self, path: str) -> ErrorRenderer:
        for prefix, renderer in self._pairs:
            if path.startswith(prefix):
                return renderer
        return self._default


def json_response(
    body: object,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    *,
    media_type: str = "application/json",
    compact: bool = False,
) -> Response:
    """A vendor's JSON as its clients expect it: ``compact`` is Azure's style (no spaces, UTF-8 as is)."""
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":")) if compact else json.dumps(body)
    return Response(text, status_code=status, media_type=media_type, headers=dict(headers or {}))


def limit_member(exc: OcrgwError) -> dict[str, Any]:
    """``{"limit": {...}}``: the key's limit that refused ``exc`` (``errors.Limited``, its unset figures left
    out) for the APIs whose error JSON is ocrgw's own (native, the Tesseract-style ones); else nothing."""
    lim = exc.limit
    if lim is None:
        return {}
    named = {"service": lim.service, "count": lim.count, "seconds": lim.seconds, "period": lim.period, "tier": lim.tier}
    return {"limit": {k: v for k, v in named.items() if v is not None}}


def retry_after_header(exc: OcrgwError) -> dict[str, str] | None:
    """`Retry-After` in whole seconds (rounded up, at least 1) when the error says when to retry."""
    if exc.retry_after is None:
        return None
    return {"Retry-After": str(max(1, math.ceil(exc.retry_after)))}


def error_docs(model: type[BaseModel], **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for a route's errors, all in the vendor's one error model: ``e400="..."``."""
    return {int(k.removeprefix("e")): {"model": model, "description": text} for k, text in descriptions.items()}
