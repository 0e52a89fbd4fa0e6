"""v2.1's flat error body {"code", "message", "requestId"}: its own codes, and the headers v3 decides."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response

from ocrgw.dialects.azure import errors as azure_errors
from ocrgw.errors import ErrorCode as E
from ocrgw.errors import OcrgwError

# core code -> (HTTP status, v2 error code)
_MAP: dict[E, tuple[int, str]] = {
    E.MISSING_KEY: (401, "401"),
    E.INVALID_KEY: (401, "401"),
    E.NOT_FOUND: (404, "NotFound"),
    E.ROUTE_NOT_FOUND: (404, "NotFound"),
    E.METHOD_NOT_ALLOWED: (405, "MethodNotAllowed"),
    E.INVALID_PARAMETER: (400, "BadArgument"),
    E.INVALID_PAGE_RANGE: (400, "BadArgument"),
    E.INVALID_READING_ORDER: (400, "BadArgument"),
    E.INVALID_MODEL: (400, "BadArgument"),
    E.UNSUPPORTED_LANGUAGE: (400, "NotSupportedLanguage"),
    E.UNSUPPORTED_FEATURE: (400, "NotSupportedVisualFeature"),
    E.MODEL_NOT_FOUND: (404, "NotFound"),
    E.UNSUPPORTED_API_VERSION: (400, "BadArgument"),
    E.UNSUPPORTED_MEDIA_TYPE: (415, "UnsupportedMediaType"),
    E.EMPTY_BODY: (400, "InvalidImageSize"),
    E.TOO_LARGE: (400, "InvalidImageSize"),
    E.UNSUPPORTED_FORMAT: (400, "InvalidImageFormat"),
    E.INVALID_IMAGE: (400, "InvalidImageFormat"),
    E.INVALID_DIMENSIONS: (400, "InvalidImageSize"),
    E.TOO_MANY_PAGES: (400, "InvalidImageSize"),
    E.ENCRYPTED_DOCUMENT: (400, "NotSupportedImage"),
    E.INVALID_URL: (400, "InvalidImageUrl"),
    E.URL_FORBIDDEN: (400, "InvalidImageUrl"),
    E.DOWNLOAD_FAILED: (400, "FailedToDownloadImage"),
    E.DOWNLOAD_TIMEOUT: (400, "FailedToDownloadImage"),
    E.BACKLOG_FULL: (429, "429"),
    E.TIMEOUT: (500, "Timeout"),
    E.WORKER_CRASHED: (500, "FailedToProcess"),
    E.PROCESSING_FAILED: (500, "FailedToProcess"),
    E.INTERNAL: (500, "InternalServerError"),
}
_MESSAGES = {
    E.MISSING_KEY: azure_errors.MSG_KEY_MISSING,
    E.INVALID_KEY: azure_errors.MSG_KEY_INVALID,
    E.ROUTE_NOT_FOUND: "Resource not found",
    E.EMPTY_BODY: "Image size is too small.",
}
# Headers the v3 renderer decides (WWW-Authenticate on 401s, integer Retry-After on 429s, request id).
_SHARED_HEADERS = ("apim-request-id", "www-authenticate", "retry-after")


def render_error(request: Request, exc: OcrgwError) -> Response:
    """Every error under /vision/v2.1/ as v2's flat body, always application/json."""
    status, code = _MAP.get(exc.code, _MAP[E.INTERNAL])
    v3 = azure_errors.render_error(request, exc)  # only for its headers: one place decides them
    headers = {name: v3.headers[name] for name in _SHARED_HEADERS if name in v3.headers}
    request_id = headers["apim-request-id"]
    body = {"code": code, "message": _MESSAGES.get(exc.code, exc.message), "requestId": request_id}
    return Response(
        json.dumps(body, ensure_ascii=False).encode(),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )
