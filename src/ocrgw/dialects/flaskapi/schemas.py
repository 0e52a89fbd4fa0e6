"""Wire schemas of the Flask-style API for the OpenAPI document: its request bodies, inline (the tutorials'
clients are hand-written; these only document what they send). Answers are plain JSON (``render``)."""

from __future__ import annotations

from ocrgw.dialects.flaskapi.parse import METHODS
from ocrgw.dialects.tesseract_style import error_responses, object_schema, request_body

_STRING = {"type": "string"}
# A list, or one string of URLs separated by whitespace (as a textarea sends them): the server takes both.
_URLS = {"anyOf": [{"type": "array", "items": _STRING}, _STRING]}
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
# `name`: printable, at most 100 characters; absent, empty or null: "generated".
_NAME = {"type": ["string", "null"], "maxLength": 100, "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"}
KEY = request_body({"application/json": object_schema({"name": _NAME})}, required=False)

# Every error is `{"error": msg, "success": false}`.
ERROR = {
    "type": "object",
    "required": ["error", "success"],
    "properties": {"error": _STRING, "success": {"type": "boolean", "enum": [False]}},
}
ERRORS = error_responses(ERROR)
KEY_ERRORS = error_responses(ERROR, e403="The key is not an admin key.")
