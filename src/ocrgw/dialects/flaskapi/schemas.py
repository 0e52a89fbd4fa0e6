"""Wire schemas of the Flask-style API for the OpenAPI document: its request bodies, inline (the tutorials'
clients are hand-written; these only document what they send). Answers are plain JSON (``render``)."""

from __future__ import annotations

from ocrgw.dialects.flaskapi.parse import METHODS, NAME_MAX, NAME_PATTERN
from ocrgw.dialects.tesseract_style import error_responses, object_schema, request_body

_STRING = {"type": "string"}
# A list, or one string of URLs separated by whitespace (as a textarea sends them): the server takes both.
_URLS = {"anyOf": [{"type": "array", "items": _STRING}, _STRING]}
# A form field is text whatever it holds, and an optional one may be left out: so the forms' text fields
# carry no JSON type a client could get wrong (a "typed" value is just other text, an empty list no field
# at all), only what the server makes of them. `urls`: URLs separated by whitespace, each a batch item.
_FORM_URLS = {"description": "http(s) URLs: repeat the field, or separate them by whitespace."}
_FORM_LANG = {"example": "eng+deu", "description": "Tesseract codes (default: the server's)."}
_FORM_KEY = {"description": "The API key, when not in a header."}
_FILE = {"type": "string", "format": "binary"}
_FILES = {"type": "array", "items": _FILE}

_FIELDS = {
    "file": {**_FILE, "description": "The image or PDF (any part name)."},
    "method": {"type": "string", "enum": list(METHODS)},
    "lang": _FORM_LANG,
    "api_key": _FORM_KEY,
}

UPLOAD = request_body({"multipart/form-data": object_schema(_FIELDS)})
BATCH = request_body(
    {
        "multipart/form-data": object_schema(
            {"files": _FILES, "urls": _FORM_URLS, "lang": _FORM_LANG, "api_key": _FORM_KEY}
        ),
        "application/json": object_schema({"urls": _URLS, "lang": _STRING}),
    }
)
# `name`: printable, at most 100 characters; absent, empty or null: "generated".
_NAME = {"type": ["string", "null"], "maxLength": NAME_MAX, "pattern": NAME_PATTERN}
KEY = request_body({"application/json": object_schema({"name": _NAME})}, required=False)

# Every error is `{"error": msg, "success": false}`.
ERROR = {
    "type": "object",
    "required": ["error", "success"],
    "properties": {"error": _STRING, "success": {"type": "boolean", "enum": [False]}},
}
ERRORS = error_responses(ERROR)
KEY_ERRORS = error_responses(ERROR, e403="The key is not an admin key.")
