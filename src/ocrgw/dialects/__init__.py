"""Vendor dialects: each parses its vendor's requests into a JobSpec and renders the core's results and
errors in its vendor's shapes. The app picks the error renderer by path prefix, so even FastAPI's own
404/405/422 answers come in the envelope the caller's SDK expects."""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response

from ocrgw.errors import OcrgwError

ErrorRenderer = Callable[[Request, OcrgwError], Response]

_RENDERERS: list[tuple[str, ErrorRenderer]] = []
_DEFAULT: list[ErrorRenderer] = []


def register_errors(prefixes: tuple[str, ...], renderer: ErrorRenderer, *, default: bool = False) -> None:
    for p in prefixes:
        _RENDERERS.append((p, renderer))
    _RENDERERS.sort(key=lambda item: -len(item[0]))
    if default:
        _DEFAULT[:] = [renderer]


def error_renderer_for(path: str) -> ErrorRenderer:
    for prefix, renderer in _RENDERERS:
        if path.startswith(prefix):
            return renderer
    return _DEFAULT[0]
