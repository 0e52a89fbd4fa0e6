"""Azure's errors: the one place where core error codes become each Azure API's status and codes (one table,
a column per API), the words and headers API Management adds, and Read's envelope
{"error": {"code", "message", "innererror": {"code", "message"}}}, always JSON."""

from __future__ import annotations

import math
from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response

from ocrgw import ids
from ocrgw.dialects import json_response
from ocrgw.errors import ErrorCode as E
from ocrgw.errors import OcrgwError

# core code -> (HTTP status, Read's inner code, v2.1's code, FR/DI's inner code); None: no inner error. Keyed
# by str as well: a failed job's code is stored as text (ErrorCode is a StrEnum, so either looks it up).
CODES: dict[str, tuple[int, str | None, str, str | None]] = {
    E.MISSING_KEY: (401, None, "401", None),
    E.INVALID_KEY: (401, None, "401", None),
    E.NOT_FOUND: (404, "OperationNotFound", "NotFound", "OperationNotFound"),
    E.ROUTE_NOT_FOUND: (404, None, "NotFound", None),
    E.METHOD_NOT_ALLOWED: (405, None, "MethodNotAllowed", None),
    E.INVALID_PARAMETER: (400, "BadArgument", "BadArgument", "InvalidParameter"),
    E.INVALID_PAGE_RANGE: (400, "InvalidPageRange", "BadArgument", "InvalidParameter"),
    E.INVALID_READING_ORDER: (400, "InvalidReadingOrder", "BadArgument", "InvalidParameter"),
    E.INVALID_MODEL: (400, "InvalidModel", "BadArgument", "InvalidParameter"),
    E.UNSUPPORTED_LANGUAGE: (400, "NotSupportedLanguage", "NotSupportedLanguage", "InvalidParameter"),
    E.UNSUPPORTED_FEATURE: (400, "NotSupportedVisualFeature", "NotSupportedVisualFeature", "InvalidParameter"),
    E.MODEL_NOT_FOUND: (404, "ModelNotFound", "NotFound", "ModelNotFound"),
    E.UNSUPPORTED_API_VERSION: (400, "NotSupportedApiVersion", "BadArgument", "NotSupportedApiVersion"),
    E.UNSUPPORTED_MEDIA_TYPE: (415, None, "UnsupportedMediaType", None),
    E.EMPTY_BODY: (400, "InvalidImage", "InvalidImageSize", "InvalidContentLength"),
    E.TOO_LARGE: (400, "InvalidImageSize", "InvalidImageSize", "InvalidContentLength"),
    E.UNSUPPORTED_FORMAT: (400, "UnsupportedImageFormat", "InvalidImageFormat", "UnsupportedContent"),
    E.INVALID_IMAGE: (400, "InvalidImageFormat", "InvalidImageFormat", "InvalidContent"),
    E.INVALID_DIMENSIONS: (400, "InvalidImageDimension", "InvalidImageSize", "InvalidContentDimensions"),
    E.TOO_MANY_PAGES: (400, "InvalidImage", "InvalidImageSize", "InvalidContent"),
    E.ENCRYPTED_DOCUMENT: (400, "InvalidImage", "NotSupportedImage", "InvalidContent"),
    E.INVALID_URL: (400, "InvalidImageUrl", "InvalidImageUrl", "InvalidContentSourceFormat"),
    E.URL_FORBIDDEN: (400, "InvalidImageUrl", "InvalidImageUrl", "ContentSourceNotAccessible"),
    E.DOWNLOAD_FAILED: (400, "FailedToDownloadImage", "FailedToDownloadImage", "ContentSourceNotAccessible"),
    E.DOWNLOAD_TIMEOUT: (400, "FailedToDownloadImage", "FailedToDownloadImage", "ContentSourceTimeout"),
    E.BACKLOG_FULL: (429, None, "429", None),
    E.RATE_LIMITED: (429, None, "429", None),
    E.CONCURRENCY_LIMITED: (429, None, "429", None),
    E.QUOTA_EXCEEDED: (403, None, "403", None),
    E.NOT_SUBSCRIBED: (401, None, "401", None),
    E.TIMEOUT: (500, "Timeout", "Timeout", "Timeout"),
    E.WORKER_CRASHED: (500, "FailedToProcess", "FailedToProcess", "Unknown"),
    E.PROCESSING_FAILED: (500, "FailedToProcess", "FailedToProcess", "Unknown"),
    E.INTERNAL: (500, "InternalServerError", "InternalServerError", "Unknown"),
}
# Read's envelope answers a synchronous call's (Image Analysis's) job errors too. azure-core retries a POST that
# gets a 500, 503 or 504 three times: each retry would be a new OCR job, and a document that crashes workers
# would crash them four times over. So in Read's words a wait that ran out is a 408 and a poison document a 400.
READ_STATUS: dict[str, int] = {E.TIMEOUT: 408, E.WORKER_CRASHED: 400}
# The top-level code by status; API Management's own answers (bad key, unknown route, full backlog) carry the
# status number, and FR/DI call a bad parameter (inner InvalidParameter) "InvalidArgument".
TOP = {
    400: "InvalidRequest",
    404: "NotFound",
    405: "MethodNotAllowed",
    408: "Timeout",
    415: "UnsupportedMediaType",
    500: "InternalServerError",
}
# API Management's own refusals: a key's limits are its subscription's (a key of a resource not subscribed
# to the service is, to Azure, a key of another resource: 401 with the bad key's words).
GATEWAY = (
    E.MISSING_KEY,
    E.INVALID_KEY,
    E.ROUTE_NOT_FOUND,
    E.BACKLOG_FULL,
    E.RATE_LIMITED,
    E.CONCURRENCY_LIMITED,
    E.QUOTA_EXCEEDED,
    E.NOT_SUBSCRIBED,
)
THROTTLED = (E.BACKLOG_FULL, E.RATE_LIMITED, E.CONCURRENCY_LIMITED)  # 429, the only ones with Retry-After
GATEWAY_MESSAGES = {
    E.MISSING_KEY: "Access denied due to missing subscription key. Make sure to include subscription key when "
    "making requests to an API.",
    E.INVALID_KEY: "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a "
    "valid key for an active subscription and use a correct regional API endpoint for your resource.",
    E.ROUTE_NOT_FOUND: "Resource not found",
}
GATEWAY_MESSAGES[E.NOT_SUBSCRIBED] = GATEWAY_MESSAGES[E.INVALID_KEY]
# The F0 tiers' words for a spent quota (a 403: azure-core would retry it if it carried a Retry-After).
QUOTA_MESSAGE = (
    "Out of call volume quota for {service} F0 pricing tier. Please retry after {days} days. "
    "To increase your rate limit switch to a paid tier."
)


def codes(code: str | None, api: str) -> tuple[int, str, str | None]:
    """(status, top-level code, inner code) of ``api`` ("read" or "docintel"; v2.1 has one flat code) for a
    raised or stored core code; one the table does not know (or none) is an internal error."""
    core = code if code and code in CODES else E.INTERNAL
    status, read_inner, _, doc_inner = CODES[core]
    inner = read_inner if api == "read" else doc_inner
    status = READ_STATUS.get(core, status) if api == "read" else status
    top = str(status) if core in GATEWAY else TOP[status]
    return status, "InvalidArgument" if inner == "InvalidParameter" else top, inner


def error_object(top: str, inner: str | None, message: str, details: Mapping[str, str] | None = None) -> dict:
    """{"code", "message", "innererror"}; ``details``: an inner code's documented wording, put first."""
    err: dict = {"code": top, "message": message}
    if inner:
        detail = (details or {}).get(inner)
        full = f"{detail} {message}" if detail and detail != message else message
        err["innererror"] = {"code": inner, "message": full}
    return err


def gateway(request: Request, exc: OcrgwError, realm: str) -> tuple[str, dict[str, str]]:
    """The message and headers API Management decides: its own words for a bad key (the challenge's realm
    names the API's path), an unknown route, a key's rate and quota, a request id, and Retry-After only on
    a 429 (azure-core retries anything that carries one, a 403 included)."""
    headers = {"apim-request-id": ids.new_id()}
    if exc.code in (E.MISSING_KEY, E.INVALID_KEY, E.NOT_SUBSCRIBED):
        base = f"{request.url.scheme}://{request.headers.get('host', 'localhost')}"
        headers["WWW-Authenticate"] = (
            f'AzureApiManagementKey realm="{base}/{realm}",name="Ocp-Apim-Subscription-Key",type="header"'
        )
    if exc.code in THROTTLED and exc.retry_after is not None:
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
    if exc.code in (E.RATE_LIMITED, E.CONCURRENCY_LIMITED):
        return f"Rate limit is exceeded. Try again in {headers.get('Retry-After', '1')} seconds.", headers
    if exc.code is E.QUOTA_EXCEEDED:
        days = max(1, math.ceil((exc.retry_after or 0) / 86400))
        service = "ComputerVision" if realm == "vision" else "FormRecognizer"
        return QUOTA_MESSAGE.format(service=service, days=days), headers
    return GATEWAY_MESSAGES.get(exc.code, exc.message), headers


def render_error(request: Request, exc: OcrgwError) -> Response:
    """Read's envelope, which Image Analysis and paths no API owns share."""
    status, top, inner = codes(exc.code, "read")
    message, headers = gateway(request, exc, "vision")
    return json_response({"error": error_object(top, inner, message)}, status, headers)
