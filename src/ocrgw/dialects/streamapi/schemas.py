"""The streaming server's request body for the OpenAPI document, inline (its clients are hand-written)."""

from __future__ import annotations

from ocrgw.dialects.tesseract_style import error_responses, object_schema, request_body

_IMAGE = {"type": "string", "description": "base64, or a data: URI"}
BODY = request_body(
    {"application/json": object_schema({"image": _IMAGE, "lang": {"type": "string", "example": "eng"}}, ["image"])}
)

# Every error is a bare `{"error": msg}`.
ERRORS = error_responses({"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}})
