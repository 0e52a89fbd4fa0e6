"""Google Cloud Vision's error shapes for anything under its paths: a whole-request failure is a
google.rpc.Status as JSON, `{"error": {"code": <HTTP status>, "message", "status": "<RPC code>", "details"}}`,
which google-api-core maps to an exception by the HTTP status; a failure of one image of a batch is a
google.rpc.Status inside the 200 (`responses[i].error`, `code` a gRPC code), which the SDK's helpers return
rather than raise (shared/contracts/textract-vision.md B.4).

Which errors end the whole request and which only one image: the caller's key, its limits, the server's
backlog and the body itself (not JSON, too large, too many images) end the request; everything about one
image (unreadable data, a refused URL, an unsupported language hint, a failed read) is that image's error."""

from __future__ import annotations

import functools

from starlette.requests import Request
from starlette.responses import Response

from ocrgw import dialects
from ocrgw.errors import ErrorCode as E
from ocrgw.errors import OcrgwError

SERVICE = "vision.googleapis.com"
# gRPC codes by name (google.rpc.Code), as per-image errors carry them and `status` names them.
RPC = {
    "INVALID_ARGUMENT": 3,
    "DEADLINE_EXCEEDED": 4,
    "NOT_FOUND": 5,
    "PERMISSION_DENIED": 7,
    "RESOURCE_EXHAUSTED": 8,
    "UNIMPLEMENTED": 12,
    "INTERNAL": 13,
    "UNAVAILABLE": 14,
}
MSG_BAD_KEY = "API key not valid. Please pass a valid API key."
MSG_NO_KEY = "The request is missing a valid API key."
MSG_BAD_IMAGE = "Bad image data."
# Google's own words where known (B.4); the Google Cloud reason a quota error carries in its ErrorInfo.
_LIMIT_REASON = {
    E.RATE_LIMITED: "RATE_LIMIT_EXCEEDED",
    E.CONCURRENCY_LIMITED: "RATE_LIMIT_EXCEEDED",
    E.QUOTA_EXCEEDED: "RESOURCE_EXHAUSTED",
}

# Our codes -> (HTTP status, RPC status name). Everything not listed is the caller's input: 400.
_TABLE: tuple[tuple[tuple[E, ...], int, str], ...] = (
    ((E.INVALID_KEY,), 400, "INVALID_ARGUMENT"),  # as Google answers a bad key; a 401 makes the SDK re-send
    ((E.MISSING_KEY, E.FORBIDDEN, E.NOT_SUBSCRIBED), 403, "PERMISSION_DENIED"),
    ((E.NOT_FOUND, E.ROUTE_NOT_FOUND), 404, "NOT_FOUND"),
    ((E.METHOD_NOT_ALLOWED,), 405, "UNIMPLEMENTED"),
    ((E.RATE_LIMITED, E.CONCURRENCY_LIMITED, E.QUOTA_EXCEEDED), 429, "RESOURCE_EXHAUSTED"),
    # The server's own overload, not the caller's quota: 503 is the one status batch_* calls retry, and
    # a refused submit left nothing behind, so a retry is safe.
    ((E.BACKLOG_FULL,), 503, "UNAVAILABLE"),
    ((E.TIMEOUT,), 504, "DEADLINE_EXCEEDED"),
    ((E.INTERNAL, E.WORKER_CRASHED, E.PROCESSING_FAILED), 500, "INTERNAL"),
)
_MAP = {code: (status, name) for codes, status, name in _TABLE for code in codes}
# Codes that end the whole request even when they come up for one image of a batch.
WHOLE_REQUEST = frozenset(
    {
        E.MISSING_KEY,
        E.INVALID_KEY,
        E.FORBIDDEN,
        E.NOT_SUBSCRIBED,
        E.RATE_LIMITED,
        E.CONCURRENCY_LIMITED,
        E.QUOTA_EXCEEDED,
        E.BACKLOG_FULL,
    }
)
MSG_URL_DENIED = "We're not allowed to access the URL on your behalf. Please download the content and pass it in."
MSG_URL_FAILED = "We can not access the URL currently. Please download the content and pass it in."
# Per-image errors: our code -> (gRPC code, Vision's words before ours).
_PER_IMAGE: dict[E, tuple[int, str]] = {
    **dict.fromkeys((E.INVALID_IMAGE, E.UNSUPPORTED_FORMAT, E.EMPTY_BODY), (3, MSG_BAD_IMAGE)),
    **dict.fromkeys((E.INVALID_DIMENSIONS, E.TOO_LARGE, E.TOO_MANY_PAGES), (3, MSG_BAD_IMAGE)),
    E.ENCRYPTED_DOCUMENT: (3, MSG_BAD_IMAGE),
    # Vision's words for a URL it may not or cannot fetch [recalled; unverified against the service].
    E.URL_FORBIDDEN: (7, MSG_URL_DENIED),
    E.DOWNLOAD_FAILED: (4, MSG_URL_FAILED),
    E.DOWNLOAD_TIMEOUT: (4, MSG_URL_FAILED),
    E.TIMEOUT: (4, ""),
    E.UNSUPPORTED_FEATURE: (12, ""),
    **dict.fromkeys((E.INTERNAL, E.WORKER_CRASHED, E.PROCESSING_FAILED), (13, "")),
}

json_response = functools.partial(dialects.json_response, media_type="application/json; charset=UTF-8")


class VisionError(OcrgwError):
    """An error in Vision's own words and codes: ``rpc`` a gRPC code name; ``status`` the HTTP status of
    a whole-request error (ignored where it is one image's); ``whole`` for what fails the whole request
    even when it is found in one image's part (the proto's JSON mapping refusing the body)."""

    def __init__(
        self, code: E, message: str, rpc: str = "INVALID_ARGUMENT", status: int = 400, *, whole: bool = False
    ) -> None:
        super().__init__(code, message)
        self.rpc = rpc
        self.status = status
        self.whole = whole


def _error_info(reason: str, **metadata: str) -> dict:
    return {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": reason,
        "domain": "googleapis.com",
        "metadata": {"service": SERVICE, **metadata},
    }


def status_of(exc: OcrgwError) -> tuple[int, dict]:
    """The HTTP status and the `error` object of a whole-request failure."""
    if isinstance(exc, VisionError):
        status, name, message = exc.status, exc.rpc, exc.message
    else:
        status, name = _MAP.get(exc.code, (400, "INVALID_ARGUMENT"))
        message = exc.message
    details: list[dict] = []
    if exc.code is E.INVALID_KEY:
        message, details = MSG_BAD_KEY, [_error_info("API_KEY_INVALID")]
    elif exc.code is E.MISSING_KEY:
        message = MSG_NO_KEY
    elif exc.code in _LIMIT_REASON:
        details = [_error_info(_LIMIT_REASON[exc.code], ocrgw_code=exc.code.value)]
    elif exc.code is E.NOT_SUBSCRIBED:
        details = [_error_info("SERVICE_DISABLED")]
    if exc.retry_after is not None:
        details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{exc.retry_after}s"})
    body = {"code": status, "message": message, "status": name}
    return status, {**body, "details": details} if details else body


def image_error(exc: OcrgwError) -> dict:
    """One image's google.rpc.Status (gRPC code and message), as `responses[i].error` carries it."""
    if isinstance(exc, VisionError):
        return {"code": RPC.get(exc.rpc, 3), "message": exc.message}
    code, words = _PER_IMAGE.get(exc.code, (3, ""))
    message = f"{words} {exc.message}".strip() if words and words not in exc.message else exc.message
    return {"code": code, "message": message}


def render_error(request: Request, exc: OcrgwError) -> Response:
    status, error = status_of(exc)
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
    return json_response({"error": error}, status, headers)
