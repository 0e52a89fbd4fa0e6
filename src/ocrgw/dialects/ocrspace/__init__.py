"""OCR.space dialect: `POST /parse/image`, `GET /parse/imageurl` and the searchable PDFs they link to,
answered synchronously in OCR.space's JSON (ParsedResults, OCRExitCode, ErrorMessage as a list): routes,
parse (parameters, languages, the one document), render; errors in OCR.space's shapes."""

from __future__ import annotations

from ocrgw.dialects import Dialect
from ocrgw.dialects.ocrspace import routes
from ocrgw.dialects.ocrspace.errors import render_error

OCRSPACE = Dialect(
    name="ocrspace",
    router=routes.router,
    prefixes=("/parse/",),
    render_error=render_error,
    tags=({"name": routes.TAG, "description": "The OCR.space Parse API (`apikey`), in its own shapes."},),
)
DIALECTS = (OCRSPACE,)
