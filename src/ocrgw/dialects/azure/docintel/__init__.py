"""Azure Form Recognizer and Document Intelligence `prebuilt-read`: asynchronous submit-then-poll and DI's
DELETE (routes), path, query and body (parse), the analyzeResult with its spans (render), wire schemas
(schemas), and FR/DI's own error codes and envelope (errors)."""

from __future__ import annotations

from ocrgw.dialects import Dialect
from ocrgw.dialects.azure.docintel import routes
from ocrgw.dialects.azure.docintel.errors import render_error
from ocrgw.dialects.azure.docintel.schemas import AnalyzeDocumentRequest

DIALECT = Dialect(
    name="azure-docintel",
    router=routes.router,
    prefixes=("/formrecognizer", "/documentintelligence"),
    render_error=render_error,
    tags=(
        {"name": routes.TAGS["formrecognizer"], "description": "Form Recognizer `prebuilt-read`."},
        {"name": routes.TAGS["documentintelligence"], "description": "Document Intelligence `prebuilt-read`."},
    ),
    schemas={"AnalyzeDocumentRequest": AnalyzeDocumentRequest},
)
