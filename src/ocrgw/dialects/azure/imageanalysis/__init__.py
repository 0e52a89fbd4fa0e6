"""Azure AI Vision Image Analysis 4.0 with the READ feature (synchronous): routes, parse, render, schemas;
errors in Azure's shared envelope (its routes sit under Read's /computervision prefix)."""

from __future__ import annotations

from ocrgw.dialects import Dialect
from ocrgw.dialects.azure.errors import render_error
from ocrgw.dialects.azure.imageanalysis import routes
from ocrgw.dialects.azure.imageanalysis.schemas import ImageAnalysisResult
from ocrgw.dialects.azure.read.schemas import ReadUrlBody

DIALECT = Dialect(
    name="azure-imageanalysis",
    router=routes.router,
    prefixes=(),  # under /computervision, Read's prefix: the same Azure envelope
    render_error=render_error,
    tags=({"name": routes.TAG, "description": "Image Analysis 4.0 with the READ feature (synchronous)."},),
    schemas={"ReadUrlBody": ReadUrlBody, "ImageAnalysisResult": ImageAnalysisResult},
)
