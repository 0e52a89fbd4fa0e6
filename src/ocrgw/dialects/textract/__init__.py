"""AWS Textract (JSON 1.1 over `POST /`, SigV4-signed): DetectDocumentText, AnalyzeDocument (TABLES, FORMS,
LAYOUT) and the asynchronous Start*/Get* pairs over documents in an S3-compatible store: routes, parse (the
signature, the members, the document), render (Blocks), sigv4.py (signature verification), s3.py (the S3
source), errors.py (`{"__type", "Message"}`)."""

from __future__ import annotations

from ocrgw.dialects import Dialect
from ocrgw.dialects.textract import routes
from ocrgw.dialects.textract.errors import render_error

# No path prefix: every call is `POST /` (the route renders its own errors); `/` as a prefix would claim
# every unknown path, whose errors answer in Azure's envelope (dialects.registry.DEFAULT_ERRORS).
TEXTRACT = Dialect(
    name="textract",
    router=routes.router,
    prefixes=(),
    render_error=render_error,
)
DIALECTS = (TEXTRACT,)
