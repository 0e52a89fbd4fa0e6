"""Azure dialects: Read v3.x (read/), v2.1 Batch Read (v21/), Image Analysis 4.0 (imageanalysis/) and Form
Recognizer / Document Intelligence (docintel.py); what they share (key, languages, image body, formats) is
shared.py, Azure's error envelope errors.py. Contract: shared/contracts/azure.md."""

from __future__ import annotations

from ocrgw.dialects import Dialect
from ocrgw.dialects.azure import docintel, imageanalysis, read, v21

DOCUMENT_INTELLIGENCE = Dialect(
    name="azure-docintel",
    router=docintel.build_router(),
    prefixes=("/formrecognizer", "/documentintelligence"),
    render_error=docintel.render_error,
    tags=(
        {"name": docintel.TAGS["formrecognizer"], "description": "Form Recognizer `prebuilt-read`."},
        {"name": docintel.TAGS["documentintelligence"], "description": "Document Intelligence `prebuilt-read`."},
    ),
    schemas=docintel.EXTRA_SCHEMAS,
)
READ = read.DIALECT
DIALECTS = (read.DIALECT, v21.DIALECT, imageanalysis.DIALECT, DOCUMENT_INTELLIGENCE)
