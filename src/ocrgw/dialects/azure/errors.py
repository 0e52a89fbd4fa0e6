"""Azure's error envelope: {"error": {"code", "message", "innererror": {"code", "message"}}}, always JSON.
The one place where core error codes become Azure status codes and Azure error codes."""

from __future__ import annotations

import json
import uuid

from starlette.requests import Request
from starlette.responses import Response

from ocrgw.errors import ErrorCode as E
from ocrgw.errors import OcrgwError

# core code -> (HTTP status, top-level code, inner code or None)
_MAP: dict[E, tuple[int, str, str | None]] = {
    E.MISSING_KEY: (401, "401", None),
    E.INVALID_KEY: (401, "401", None),
    E.NOT_FOUND: (404, "NotFound", "OperationNotFound"),
    E.ROUTE_NOT_FOUND: (404, "404", None),
    E.METHOD_NOT_ALLOWED: (405, "MethodNotAllowed", None),
    E.INVALID_PARAMETER: (400, "InvalidRequest", "BadArgument"),
    E.INVALID_PAGE_RANGE: (400, "InvalidRequest", "InvalidPageRange"),
    E.INVALID_READING_ORDER: (400, "InvalidRequest", "InvalidReadingOrder"),
    E.INVALID_MODEL: (400, "InvalidRequest", "InvalidModel"),
    E.UNSUPPORTED_LANGUAGE: (400, "InvalidRequest", "NotSupportedLanguage"),
    E.UNSUPPORTED_FEATURE: (400, "InvalidRequest", "NotSupportedVisualFeature"),
    E.MODEL_NOT_FOUND: (404, "NotFound", "ModelNotFound"),
    E.UNSUPPORTED_API_VERSION: (400, "InvalidRequest", "NotSupportedApiVersion"),
    E.UNSUPPORTED_MEDIA_TYPE: (415, "UnsupportedMediaType", None),
    E.EMPTY_BODY: (400, "InvalidRequest", "InvalidImage"),
    E.TOO_LARGE: (400, "InvalidRequest", "InvalidImageSize"),
    E.UNSUPPORTED_FORMAT: (400, "InvalidRequest", "UnsupportedImageFormat"),
    E.INVALID_IMAGE: (400, "InvalidRequest", "InvalidImageFormat"),
    E.INVALID_DIMENSIONS: (400, "InvalidRequest", "InvalidImageDimension"),
    E.TOO_MANY_PAGES: (400, "InvalidRequest", "InvalidImage"),
    E.ENCRYPTED_DOCUMENT: (400, "InvalidRequest", "InvalidImage"),
    E.INVALID_URL: (400, "InvalidRequest", "InvalidImageUrl"),
    E.URL_FORBIDDEN: (400, "InvalidRequest", "InvalidImageUrl"),
    E.DOWNLOAD_FAILED: (400, "InvalidRequest", "FailedToDownloadImage"),
    E.DOWNLOAD_TIMEOUT: (400, "InvalidRequest", "FailedToDownloadImage"),
    E.BACKLOG_FULL: (429, "429", None),
    # Synchronous calls (Image Analysis) answer these directly. azure-core retries a POST that gets a 500,
    # 503 or 504 three times: each retry would be a new OCR job, and a document that crashes workers
    # would crash them four times over. So a wait that ran out is a 408 and a poison document a 400.
    E.TIMEOUT: (408, "Timeout", "Timeout"),
    E.WORKER_CRASHED: (400, "InvalidRequest", "FailedToProcess"),
    E.PROCESSING_FAILED: (500, "InternalServerError", "FailedToProcess"),
    E.INTERNAL: (500, "InternalServerError", "InternalServerError"),
}

MSG_KEY_INVALID = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for "
    "an active subscription and use a correct regional API endpoint for your resource."
)
MSG_KEY_MISSING = (
    "Access denied due to missing subscription key. Make sure to include subscription key when making "
    "requests to an API."
)


def failure_codes(code: str | None) -> tuple[str, str | None]:
    """Azure (top, inner) codes for a failed job's stored core code."""
    try:
        _, top, inner = _MAP[E(code)] if code else _MAP[E.INTERNAL]
    except ValueError:
        _, top, inner = _MAP[E.INTERNAL]
    return top, inner


def error_body(status: int, code: str, message: str, inner: str | None = None) -> dict:
    err: dict = {"code": code, "message": message}
    if inner:
        err["innererror"] = {"code": inner, "message": message}
    return {"error": err}


def key_challenge(request: Request, realm: str) -> str:
    """The WWW-Authenticate header API Management sends with a 401, its realm naming the API's path."""
    base = f"{request.url.scheme}://{request.headers.get('host', 'localhost')}"
    return f'AzureApiManagementKey realm="{base}/{realm}",name="Ocp-Apim-Subscription-Key",type="header"'


def render_error(request: Request, exc: OcrgwError) -> Response:
    status, top, inner = _MAP.get(exc.code, _MAP[E.INTERNAL])
    headers = {"apim-request-id": str(uuid.uuid4())}
    message = exc.message
    if exc.code in (E.MISSING_KEY, E.INVALID_KEY):
        message = MSG_KEY_MISSING if exc.code is E.MISSING_KEY else MSG_KEY_INVALID
        headers["WWW-Authenticate"] = key_challenge(request, "vision")
    elif exc.code is E.ROUTE_NOT_FOUND:
        message = "Resource not found"
    if exc.retry_after is not None:  # only 429s carry it: azure-core retries any error that does
        headers["Retry-After"] = str(int(exc.retry_after))
    body = json.dumps(error_body(status, top, message, inner)).encode()
    return Response(body, status_code=status, media_type="application/json", headers=headers)
