"""v2.1's flat error body {"code", "message", "requestId"}: v2.1's column of Azure's code table, with the
words and headers API Management adds as for v3."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response

from ocrgw.dialects.azure.errors import CODES, gateway
from ocrgw.errors import ErrorCode as E
from ocrgw.errors import OcrgwError


def render_error(request: Request, exc: OcrgwError) -> Response:
    """Every error under /vision/v2.1/ as v2's flat body, always application/json."""
    status, _, code, _ = CODES.get(exc.code, CODES[E.INTERNAL])
    message, headers = gateway(request, exc, "vision")
    if exc.code is E.EMPTY_BODY:
        message = "Image size is too small."
    body = {"code": code, "message": message, "requestId": headers["apim-request-id"]}
    return Response(json.dumps(body, ensure_ascii=False), status, headers, media_type="application/json")
