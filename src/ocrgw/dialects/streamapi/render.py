"""The streaming server's answer (between the job service and the route): `{"text": ...}`, the text as
``tesseract_style.text_of`` joins it."""

from __future__ import annotations

import json

from starlette.responses import Response

from ocrgw.dialects.tesseract_style import text_of
from ocrgw.jobs.schemas import JobView


def text(view: JobView) -> Response:
    return Response(json.dumps({"text": text_of(view)}), media_type="application/json")
