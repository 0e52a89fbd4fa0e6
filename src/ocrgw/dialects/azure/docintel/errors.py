"""Form Recognizer / Document Intelligence errors: the one place where core error codes become FR/DI status
codes, codes and inner codes (`InvalidArgument`/`InvalidParameter` where Read says `InvalidRequest`/
`BadArgument`), for refused requests (render_error) and failed operations alike (render.py)."""

from __future__ import annotations

import json
import uuid

from starlette.requests import Request
from starlette.responses import Response

from ocrgw.dialects.azure.errors import MSG_KEY_INVALID, MSG_KEY_MISSING, key_challenge
from ocrgw.errors import ErrorCode as E
from ocrgw.errors import OcrgwError

# core code -> (HTTP status, top-level code, inner code or None): the FR/DI error vocabulary.
ERRORS: dict[E, tuple[int, str, str | None]] = {
    E.MISSING_KEY: (401, "401", None),
    E.INVALID_KEY: (401, "401", None),
    E.NOT_FOUND: (404, "NotFound", "OperationNotFound"),
    E.ROUTE_NOT_FOUND: (404, "404", None),
    E.METHOD_NOT_ALLOWED: (405, "MethodNotAllowed", None),
    E.INVALID_PARAMETER: (400, "InvalidArgument", "InvalidParameter"),
    E.INVALID_PAGE_RANGE: (400, "InvalidArgument", "InvalidParameter"),
    E.INVALID_READING_ORDER: (400, "InvalidArgument", "InvalidParameter"),
    E.INVALID_MODEL: (400, "InvalidArgument", "InvalidParameter"),
    E.UNSUPPORTED_LANGUAGE: (400, "InvalidArgument", "InvalidParameter"),
    E.UNSUPPORTED_FEATURE: (400, "InvalidArgument", "InvalidParameter"),
    E.MODEL_NOT_FOUND: (404, "NotFound", "ModelNotFound"),
    E.UNSUPPORTED_API_VERSION: (400, "InvalidRequest", "NotSupportedApiVersion"),
    E.UNSUPPORTED_MEDIA_TYPE: (415, "UnsupportedMediaType", None),
    E.EMPTY_BODY: (400, "InvalidRequest", "InvalidContentLength"),
    E.TOO_LARGE: (400, "InvalidRequest", "InvalidContentLength"),
    E.UNSUPPORTED_FORMAT: (400, "InvalidRequest", "UnsupportedContent"),
    E.INVALID_IMAGE: (400, "InvalidRequest", "InvalidContent"),
    E.INVALID_DIMENSIONS: (400, "InvalidRequest", "InvalidContentDimensions"),
    E.TOO_MANY_PAGES: (400, "InvalidRequest", "InvalidContent"),
    E.ENCRYPTED_DOCUMENT: (400, "InvalidRequest", "InvalidContent"),
    E.INVALID_URL: (400, "InvalidRequest", "InvalidContentSourceFormat"),
    E.URL_FORBIDDEN: (400, "InvalidRequest", "ContentSourceNotAccessible"),
    E.DOWNLOAD_FAILED: (400, "InvalidRequest", "ContentSourceNotAccessible"),
    E.DOWNLOAD_TIMEOUT: (400, "InvalidRequest", "ContentSourceTimeout"),
    E.BACKLOG_FULL: (429, "429", None),
    E.TIMEOUT: (500, "InternalServerError", "Timeout"),
    E.WORKER_CRASHED: (500, "InternalServerError", "Unknown"),
    E.PROCESSING_FAILED: (500, "InternalServerError", "Unknown"),
    E.INTERNAL: (500, "InternalServerError", "Unknown"),
}
# Azure's own wording for the inner codes where it is documented; the core's message follows it.
INNER_MESSAGES = {
    "InvalidContent": "The file is corrupted or format is unsupported. Refer to documentation for the list of "
    "supported formats.",
    "InvalidContentLength": "The input image is too large. Refer to documentation for the maximum file size.",
    "ModelNotFound": "The requested model wasn't found.",
    "OperationNotFound": "The requested operation wasn't found. The identifier is invalid or the operation has "
    "expired.",
}


class InnerCodeError(OcrgwError):
    """A core error whose FR/DI inner code differs from the default mapping (e.g. ParameterMissing)."""

    def __init__(self, code: E, message: str, *, inner: str, param: str | None = None) -> None:
        super().__init__(code, message, param=param)
        self.inner = inner


def codes_for(code: E | str | None) -> tuple[int, str, str | None]:
    """(status, top-level code, inner code) for a core code; unknown codes are internal errors."""
    try:
        return ERRORS[E(code)] if code else ERRORS[E.INTERNAL]
    except ValueError:
        return ERRORS[E.INTERNAL]


def error_object(top: str, message: str, inner: str | None) -> dict:
    err: dict = {"code": top, "message": message}
    if inner:
        detail = INNER_MESSAGES.get(inner)
        err["innererror"] = {
            "code": inner,
            "message": f"{detail} {message}" if detail and detail != message else message,
        }
    return err


def render_error(request: Request, exc: OcrgwError) -> Response:
    """FR/DI error envelope, always JSON; Retry-After only on a 429 (azure-core retries anything else
    that carries one)."""
    status, top, inner = codes_for(exc.code)
    if isinstance(exc, InnerCodeError):
        inner = exc.inner
    headers = {"apim-request-id": str(uuid.uuid4())}
    message = exc.message
    if exc.code in (E.MISSING_KEY, E.INVALID_KEY):
        message = MSG_KEY_MISSING if exc.code is E.MISSING_KEY else MSG_KEY_INVALID
        realm = "documentintelligence" if request.url.path.startswith("/documentintelligence") else "formrecognizer"
        headers["WWW-Authenticate"] = key_challenge(request, realm)
    elif exc.code is E.ROUTE_NOT_FOUND:
        message = "Resource not found"
    elif exc.code is E.BACKLOG_FULL and exc.retry_after is not None:
        message = f"Rate limit is exceeded. Try again in {int(exc.retry_after)} seconds. {exc.message}"
    if status == 429 and exc.retry_after is not None:
        headers["Retry-After"] = str(max(1, int(exc.retry_after)))
    body = json.dumps({"error": error_object(top, message, inner)}).encode()
    return Response(body, status_code=status, media_type="application/json", headers=headers)
