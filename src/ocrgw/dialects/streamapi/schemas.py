"""The streaming server's request body for the OpenAPI document, inline (its clients are hand-written)."""

from __future__ import annotations

BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["image"],
                    "properties": {
                        "image": {"type": "string", "description": "base64, or a data: URI"},
                        "lang": {"type": "string", "example": "eng"},
                    },
                }
            }
        },
    }
}
