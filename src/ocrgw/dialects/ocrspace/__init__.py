"""OCR.space dialect: `POST /parse/image`, `GET /parse/imageurl` and the searchable PDFs they link to,
answered synchronously in OCR.space's JSON (ParsedResults, OCRExitCode, ErrorMessage as a list)."""

from __future__ import annotations

from ocrgw.dialects import Dialect
from ocrgw.dialects.ocrspace import router
from ocrgw.dialects.ocrspace.errors import render_error

OCRSPACE = Dialect(
    name="ocrspace",
    router=router.build_router(),
    prefixes=("/parse/",),
    render_error=render_error,
    tags=({"name": router.TAG, "description": "The OCR.space Parse API (`apikey`), in its own shapes."},),
)
DIALECTS = (OCRSPACE,)
