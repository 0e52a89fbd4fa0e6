"""Textract's error shape (contract §A.5): `{"__type": "<Exception>", "Message": "..."}` with 400 (or 500 for
ThrottlingException and InternalServerError), `Content-Type: application/x-amz-json-1.1` and an
`x-amzn-RequestId`, which botocore reports as ResponseMetadata.RequestId. The core's codes map onto the
exceptions botocore models, so `client.exceptions.<Code>` catches them; throttles carry `x-amz-retry-after`
(milliseconds), the one hint botocore's standard retry mode honours."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ocrgw import dialects, ids
from ocrgw.errors import ErrorCode as E
from ocrgw.errors import OcrgwError
from ocrgw.ops.context import current_request_id

MEDIA_TYPE = "application/x-amz-json-1.1"
INVALID_PARAMETER = "InvalidParameterException"
UNSUPPORTED = "UnsupportedDocumentException"
BAD_DOCUMENT = "BadDocumentException"
TOO_LARGE = "DocumentTooLargeException"
INVALID_S3 = "InvalidS3ObjectException"
INVALID_JOB = "InvalidJobIdException"
S3_MESSAGE = "Unable to get object metadata from S3. Check object key, region and/or access permissions."

# Our codes -> (__type, HTTP status). The throttles are the codes botocore retries (standard mode, 3 tries):
# a full backlog is the service being busy (ThrottlingException, 500), a key's own request rate its TPS
# quota (ProvisionedThroughputExceededException), its jobs in flight the concurrent-job limit
# (LimitExceededException). A page quota for the period has no Textract twin; LimitExceededException is
# the nearest documented one (botocore retries it 3 times, then the caller sees the message).
_TABLE: tuple[tuple[tuple[E, ...], str, int], ...] = (
    ((E.MISSING_KEY,), "MissingAuthenticationTokenException", 400),
    ((E.INVALID_KEY,), "UnrecognizedClientException", 400),
    ((E.FORBIDDEN, E.NOT_SUBSCRIBED), "AccessDeniedException", 400),
    ((E.NOT_FOUND,), INVALID_JOB, 400),
    ((E.ROUTE_NOT_FOUND, E.METHOD_NOT_ALLOWED), "UnknownOperationException", 400),
    ((E.TOO_LARGE,), TOO_LARGE, 400),
    ((E.UNSUPPORTED_FORMAT, E.TOO_MANY_PAGES), UNSUPPORTED, 400),
    ((E.INVALID_IMAGE, E.INVALID_DIMENSIONS, E.ENCRYPTED_DOCUMENT, E.PROCESSING_FAILED), BAD_DOCUMENT, 400),
    ((E.DOWNLOAD_FAILED, E.DOWNLOAD_TIMEOUT, E.INVALID_URL, E.URL_FORBIDDEN), INVALID_S3, 400),
    ((E.BACKLOG_FULL, E.TIMEOUT), "ThrottlingException", 500),
    ((E.RATE_LIMITED,), "ProvisionedThroughputExceededException", 400),
    ((E.CONCURRENCY_LIMITED, E.QUOTA_EXCEEDED), "LimitExceededException", 400),
    ((E.IDEMPOTENCY_KEY_REUSED,), "IdempotentParameterMismatchException", 400),
    ((E.INTERNAL, E.WORKER_CRASHED), "InternalServerError", 500),
)
_MAP = {code: (kind, status) for codes, kind, status in _TABLE for code in codes}
_UNIDENTIFIED = "expected"  # intake's wording when the bytes are no format it knows (sniff.py), not a corrupt one


class TextractError(OcrgwError):
    """An error whose Textract exception the generic mapping cannot pick (a signature refused, QUERIES
    asked for, a sync call given a multi-page document)."""

    def __init__(self, code: E, kind: str, message: str, status: int = 400) -> None:
        super().__init__(code, message)
        self.kind = kind
        self.status = status


def invalid(message: str) -> TextractError:
    return TextractError(E.INVALID_PARAMETER, INVALID_PARAMETER, message)


def request_id(request: Request) -> str:
    """One id per request for the success and the error path, the one the logs carry (ocrgw.ops)."""
    rid = getattr(request.state, "textract_request_id", None)
    if rid is None:
        rid = request.state.textract_request_id = current_request_id() or ids.new_id()
    return rid


def json_response(request: Request, body: dict, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    headers = {"x-amzn-RequestId": request_id(request), **(headers or {})}
    return dialects.json_response(body, status, headers, media_type=MEDIA_TYPE)


def kind_of(exc: OcrgwError) -> tuple[str, int]:
    if isinstance(exc, TextractError):
        return exc.kind, exc.status
    if exc.code is E.INVALID_IMAGE and _UNIDENTIFIED in exc.message:
        return UNSUPPORTED, 400
    return _MAP.get(exc.code, (INVALID_PARAMETER, 400))


def render_error(request: Request, exc: OcrgwError) -> Response:
    kind, status = kind_of(exc)
    headers = {"x-amzn-ErrorType": f"{kind}:"}
    if exc.retry_after is not None:
        headers["x-amz-retry-after"] = str(int(exc.retry_after * 1000))
        headers["Retry-After"] = str(int(exc.retry_after))
    return json_response(request, {"__type": kind, "Message": exc.message}, status, headers)
