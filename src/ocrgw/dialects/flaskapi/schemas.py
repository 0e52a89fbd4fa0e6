"""Wire schemas of the Flask-style API for the OpenAPI document: its request bodies, inline (the tutorials'
clients are hand-written; these only document what they send). Answers are plain JSON (``render``)."""

from __future__ import annotations

from ocrgw.dialects.flaskapi.parse import METHODS

UPLOAD = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "The image or PDF (any part name).",
                        },
                        "method": {"type": "string", "enum": list(METHODS)},
                        "lang": {"type": "string", "example": "eng+deu", "description": "Tesseract codes."},
                        "api_key": {"type": "string"},
                    },
                }
            }
        },
    }
}
BATCH = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                        "urls": {"type": "array", "items": {"type": "string"}},
                        "lang": {"type": "string"},
                    },
                }
            },
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"urls": {"type": "array", "items": {"type": "string"}}, "lang": {"type": "string"}},
                }
            },
        },
    }
}
KEY = {
    "requestBody": {
        "required": False,
        "content": {"application/json": {"schema": {"type": "object", "properties": {"name": {"type": "string"}}}}},
    }
}
