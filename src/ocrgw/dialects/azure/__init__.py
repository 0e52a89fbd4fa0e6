"""Azure dialects: Read v3.x (router.py), v2.1 Batch Read (v21.py), Image Analysis 4.0 (imageanalysis.py)
and Form Recognizer / Document Intelligence prebuilt-read (docintel.py). Contract: shared/contracts/azure.md."""

from __future__ import annotations

from ocrgw.dialects import Dialect
from ocrgw.dialects.azure import docintel, imageanalysis, router, v21
from ocrgw.dialects.azure.errors import render_error

READ = Dialect(
    name="azure-read",
    router=router.build_router(),
    prefixes=("/vision/", "/computervision"),
    render_error=render_error,
    tags=(
        {
            "name": router.TAG,
            "description": "Azure AI Vision Read v3.0 to v3.2, for the Azure SDKs (`Ocp-Apim-Subscription-Key`). "
            "Shapes and errors are Azure's.",
        },
    ),
    schemas=router.EXTRA_SCHEMAS,
)
V21 = Dialect(
    name="azure-v21",
    router=v21.build_router(),
    prefixes=("/vision/v2.1/",),
    render_error=v21.render_error,
    tags=({"name": v21.TAG, "description": "Computer Vision v2.1 Batch Read, for the older Azure SDKs."},),
)
IMAGE_ANALYSIS = Dialect(
    name="azure-imageanalysis",
    router=imageanalysis.build_router(),
    prefixes=(),  # under /computervision, Read's prefix: the same Azure envelope
    render_error=render_error,
    tags=({"name": imageanalysis.TAG, "description": "Image Analysis 4.0 with the READ feature (synchronous)."},),
    schemas=imageanalysis.EXTRA_SCHEMAS,
)
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
DIALECTS = (READ, V21, IMAGE_ANALYSIS, DOCUMENT_INTELLIGENCE)
