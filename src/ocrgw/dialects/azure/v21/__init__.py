"""Computer Vision v2.1 Batch Read, for the older Azure SDKs: routes, render, wire schemas, and v2's own
flat error body (errors)."""

from __future__ import annotations

from ocrgw.dialects import Dialect
from ocrgw.dialects.azure.v21 import routes
from ocrgw.dialects.azure.v21.errors import render_error

DIALECT = Dialect(
    name="azure-v21",
    router=routes.router,
    prefixes=("/vision/v2.1/",),
    render_error=render_error,
    tags=({"name": routes.TAG, "description": "Computer Vision v2.1 Batch Read, for the older Azure SDKs."},),
)
