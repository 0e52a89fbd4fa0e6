"""Domain errors with stable, vendor-neutral codes. Raised anywhere in the core; each dialect maps the
code to its vendor's status, error code and envelope, so vendor wording never leaks into the core."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ErrorCode(StrEnum):
    MISSING_KEY = "MissingKey"
    INVALID_KEY = "InvalidKey"
    FORBIDDEN = "Forbidden"  # a valid key that may not do this (an admin-only operation)
    NOT_FOUND = "NotFound"
    ROUTE_NOT_FOUND = "RouteNotFound"
    METHOD_NOT_ALLOWED = "MethodNotAllowed"
    INVALID_PARAMETER = "InvalidParameter"
    INVALID_PAGE_RANGE = "InvalidPageRange"
    INVALID_READING_ORDER = "InvalidReadingOrder"
    INVALID_MODEL = "InvalidModel"
    UNSUPPORTED_LANGUAGE = "UnsupportedLanguage"
    UNSUPPORTED_FEATURE = "UnsupportedFeature"  # e.g. an Image Analysis visual feature other than read
    MODEL_NOT_FOUND = "ModelNotFound"
    UNSUPPORTED_API_VERSION = "UnsupportedApiVersion"
    UNSUPPORTED_MEDIA_TYPE = "UnsupportedMediaType"
    EMPTY_BODY = "EmptyBody"
    TOO_LARGE = "TooLarge"
    UNSUPPORTED_FORMAT = "UnsupportedFormat"  # recognised but not (yet) accepted, e.g. PDF
    INVALID_IMAGE = "InvalidImage"  # not an image we can identify, or corrupt
    INVALID_DIMENSIONS = "InvalidDimensions"
    TOO_MANY_PAGES = "TooManyPages"
    ENCRYPTED_DOCUMENT = "EncryptedDocument"
    INVALID_URL = "InvalidUrl"
    URL_FORBIDDEN = "UrlForbidden"
    DOWNLOAD_FAILED = "DownloadFailed"
    DOWNLOAD_TIMEOUT = "DownloadTimeout"
    BACKLOG_FULL = "BacklogFull"
    # A key's own limits (``tenancy``): ``OcrgwError.limit`` says which figure was met, for dialects whose
    # vendor names it in the message (Huawei's "limit:XX,time:1 minute", OCR.space's "upto maximum N").
    RATE_LIMITED = "RateLimited"  # its request rate (429, Retry-After)
    CONCURRENCY_LIMITED = "ConcurrencyLimited"  # its jobs not yet ended (429, Retry-After)
    QUOTA_EXCEEDED = "QuotaExceeded"  # its pages for the period (Azure: 403; Retry-After: the period's end)
    NOT_SUBSCRIBED = "NotSubscribed"  # a service the key is not subscribed to (Huawei ModelArts.4204)
    WORKER_CRASHED = "WorkerCrashed"
    TIMEOUT = "Timeout"
    NOT_READY = "NotReady"  # a result asked for before the job has succeeded
    NOT_REQUESTED = "NotRequested"  # a rendering the job was not asked at submit to make (waiting will not help)
    PROCESSING_FAILED = "ProcessingFailed"
    IDEMPOTENCY_KEY_REUSED = "IdempotencyKeyReused"  # the same Idempotency-Key with another request
    INTERNAL = "InternalError"


# The HTTP status a plain REST API answers each code with; everything else is the caller's input (400).
# The native API and the tutorials' APIs use it as it is; the vendors' dialects keep their own tables.
HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.MISSING_KEY: 401,
    ErrorCode.INVALID_KEY: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.ROUTE_NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.NOT_READY: 409,
    ErrorCode.TOO_LARGE: 413,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: 415,
    ErrorCode.BACKLOG_FULL: 429,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.CONCURRENCY_LIMITED: 429,
    ErrorCode.QUOTA_EXCEEDED: 429,
    ErrorCode.NOT_SUBSCRIBED: 403,
    ErrorCode.TIMEOUT: 504,
    ErrorCode.INTERNAL: 500,
    ErrorCode.WORKER_CRASHED: 500,
    ErrorCode.PROCESSING_FAILED: 500,
}


@dataclass(frozen=True, slots=True)
class Limited:
    """The limit a refused call met: ``count`` per ``seconds`` (a rate), ``count`` jobs (concurrency),
    ``count`` pages per ``period`` (a quota), the tier it was copied from and the service."""

    service: str
    count: int
    seconds: int | None = None
    period: str | None = None
    tier: str | None = None


class OcrgwError(Exception):
    """An error with a stable code; ``param`` names the offending request parameter when there is one."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        param: str | None = None,
        retry_after: int | None = None,
        limit: Limited | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.param = param
        self.retry_after = retry_after  # whole seconds, for 429s
        self.limit = limit

    def __repr__(self) -> str:
        return f"OcrgwError({self.code.value!r}, {self.message!r})"
