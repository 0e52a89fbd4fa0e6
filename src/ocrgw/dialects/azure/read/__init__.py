"""Azure AI Vision Read v3.0 to v3.2: asynchronous submit-then-poll (routes), query parameters (parse),
the analyzeResult JSON (render), its wire schemas (schemas); errors in Azure's shared envelope."""

from __future__ import annotations

from ocrgw.dialects import Dialect
from ocrgw.dialects.azure.errors import render_error
from ocrgw.dialects.azure.read import routes
from ocrgw.dialects.azure.read.schemas import ReadUrlBody

DIALECT = Dialect(
    name="azure-read",
    router=routes.router,
    prefixes=("/vision/", "/computervision"),
    render_error=render_error,
    tags=(
        {
            "name": routes.TAG,
            "description": "Azure AI Vision Read v3.0 to v3.2, for the Azure SDKs (`Ocp-Apim-Subscription-Key`). "
            "Shapes and errors are Azure's.",
        },
    ),
    schemas={"ReadUrlBody": ReadUrlBody},
    lanes={
        **{("POST", f"/vision/{v}/read/analyze"): routes.submit_lane for v in routes.VERSIONS},
        **{("GET", f"/vision/{v}/read/analyzeResults/{{operation_id}}"): routes.result_lane for v in routes.VERSIONS},
    },
)
