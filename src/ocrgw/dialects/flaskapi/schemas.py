"""Wire schemas of the Flask-style API for the OpenAPI document: its request bodies, inline (the tutorials'
clients are hand-written; these only document what they send). Answers are plain JSON (``render``)."""

from __future__ import annotations

from ocrgw.dialects.flaskapi.parse import METHODS
from ocrgw.dialects.tesseract_style import object_schema, request_body

_STRING = {"type": "string"}
_URLS = {"type": "array", "items": _STRING}
_FILE = {"type": "string", "format": "binary"}
_FILES = {"type": "array", "items": _FILE}

_FIELDS = {
    "file": {**_FILE, "description": "The image or PDF (any part name)."},
    "method": {"type": "string", "enum": list(METHODS)},
    "lang": {"type": "string", "example": "eng+deu", "description": "Tesseract codes."},
    "api_key": _STRING,
}

UPLOAD = request_body({"multipart/form-data": object_schema(_FIELDS)})
BATCH = request_body(
    {
        "multipart/form-data": object_schema({"files": _FILES, "urls": _URLS, "lang": _STRING}),
        "application/json": object_schema({"urls": _URLS, "lang": _STRING}),
    }
)
KEY = request_body({"application/json": object_schema({"name": _STRING})}, required=False)
