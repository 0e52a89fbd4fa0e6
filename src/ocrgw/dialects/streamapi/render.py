"""The streaming server's answer (between the job service and the route): `{"text": ...}`, the text as
``tesseract_style.text_of`` joins it."""

from __future__ import annotations

from starlette.responses import Response

from ocrgw.dialects import json_response
from ocrgw.dialects.tesseract_style import text_of
from ocrgw.jobs.schemas import JobView


def text(view: JobView) -> Response:
    return json_response({"text": text_of(view)})
