"""Google Cloud Vision (REST v1): TEXT_DETECTION and DOCUMENT_TEXT_DETECTION through `images:annotate` and
`files:annotate`, as `google-cloud-vision`'s `ImageAnnotatorClient(transport="rest")` and Google's curl
samples call them: routes, parse (key, proto3 JSON body, features, hints, sources), render
(`textAnnotations`, `fullTextAnnotation`), schemas (OpenAPI), errors (google.rpc.Status)."""

from __future__ import annotations

from ocrgw.dialects import Dialect
from ocrgw.dialects.gvision import routes
from ocrgw.dialects.gvision.errors import render_error
from ocrgw.dialects.gvision.schemas import SCHEMAS

GOOGLE_VISION = Dialect(
    name="google-vision",
    router=routes.router,
    # Under the native API's /v1/: the longer prefixes win, so Vision's paths answer in Vision's envelope.
    prefixes=("/v1/images:", "/v1/files:", "/v1/projects/", "/v1/locations/", "/v1/operations/"),
    render_error=render_error,
    tags=(
        {
            "name": routes.TAG,
            "description": "Google Cloud Vision text detection (REST v1), for `google-cloud-vision` with "
            '`transport="rest"` and `api_endpoint` set to this server. Key: `x-goog-api-key` or `?key=`.',
        },
    ),
    schemas=SCHEMAS,
)
DIALECTS = (GOOGLE_VISION,)
