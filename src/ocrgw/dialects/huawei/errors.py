"""Huawei Cloud OCR's error shape for anything under `/v2/`: `{"error_code": "AIS.xxxx", "error_msg": ...}`
with the status Huawei documents (AIS.* 400; the API gateway's APIG.* 401/404/413/429/504) and an
`X-Request-Id` header, which the SDK reports as the exception's request_id (successes carry it too:
``json_response``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ocrgw import dialects, ids
from ocrgw.errors import ErrorCode as E
from ocrgw.errors import OcrgwError
from ocrgw.ops.context import current_request_id

AUTH_FAILED = "APIG.0301"
AUTH_PREFIX = "Incorrect IAM authentication information: "
NO_API = "The API does not exist or has not been published in the environment. "
BAD_IMAGE = "The image format is not supported. "
INVALID = ("AIS.0101", "The input parameter is invalid. ", 400)  # for every code not in the table

# Our codes -> (error_code, error_msg prefix, HTTP status). The message sent is the prefix plus ours, so the
# vendor's wording that scripts grep for is there and the detail that helps a person is too.
_TABLE: tuple[tuple[tuple[E, ...], str, str, int], ...] = (
    ((E.MISSING_KEY, E.INVALID_KEY), AUTH_FAILED, AUTH_PREFIX, 401),
    ((E.BACKLOG_FULL,), "APIG.0308", "The throttling threshold has been reached: ", 429),
    ((E.ROUTE_NOT_FOUND, E.METHOD_NOT_ALLOWED, E.NOT_FOUND), "APIG.0101", NO_API, 404),
    ((E.TOO_LARGE,), "APIG.0201", "Request entity too large. ", 413),
    ((E.TIMEOUT,), "APIG.0201", "Backend timeout. ", 504),
    ((E.UNSUPPORTED_MEDIA_TYPE,), "ModelArts.4105", "The JSON format of the input data is incorrect. ", 400),
    ((E.INVALID_IMAGE, E.UNSUPPORTED_FORMAT, E.ENCRYPTED_DOCUMENT), "AIS.0102", BAD_IMAGE, 400),
    ((E.INVALID_DIMENSIONS, E.TOO_MANY_PAGES), "AIS.0103", "The image size does not meet the requirements. ", 400),
    ((E.INVALID_URL, E.URL_FORBIDDEN), "ModelArts.4601", "The URL is not allowed. ", 400),
    ((E.DOWNLOAD_FAILED, E.DOWNLOAD_TIMEOUT), "ModelArts.4603", "Obtaining the file from the URL failed. ", 400),
    ((E.PROCESSING_FAILED, E.WORKER_CRASHED), "AIS.0105", "Recognition failed. ", 400),
    ((E.INTERNAL,), "AIS.0105", "Recognition failed. ", 500),
)
_MAP = {code: (error_code, prefix, status) for codes, error_code, prefix, status in _TABLE for code in codes}


class HuaweiError(OcrgwError):
    """A vendor code the generic mapping cannot pick, e.g. AIS.0104 (no passport found) or
    ModelArts.4105 (a body that is not JSON)."""

    def __init__(self, code: E, error_code: str, message: str, status: int = 400) -> None:
        super().__init__(code, message)
        self.error_code = error_code
        self.status = status


def request_id(request: Request) -> str:
    """One id per request, reused by the success and the error path: the id the logs and the job carry
    (ocrgw.ops), so an id a Huawei caller reports can be found in the server's logs."""
    rid = getattr(request.state, "huawei_request_id", None)
    if rid is None:
        rid = request.state.huawei_request_id = current_request_id() or ids.new_hex()
    return rid


def json_response(request: Request, body: dict, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """Huawei's JSON with the request's `X-Request-Id`, which the SDK reports (as the error's request_id)."""
    headers = {"X-Request-Id": request_id(request), **(headers or {})}
    return dialects.json_response(body, status, headers, media_type="application/json;charset=utf-8")


# A key's own limits (``tenancy``), in the codes Huawei documents for them:
# - its rate is the API gateway's throttling policy, APIG.0308 with APIG's per-unit wording;
# - its concurrent jobs, ModelArts' "Max concurrency error.";
# - its page quota too is a throttle to a Huawei caller (APIG's policies count calls per second, minute,
#   hour or day; there is no other documented code for "used up until a date"), so APIG.0308 with the
#   quota's figure and period, and Retry-After saying when it ends; a caller that backs off on APIG.0308
#   backs off here too, where a 403 ModelArts.4203 would read as a permission to fix;
# - a service it is not subscribed to, ModelArts.4204. 400, not 403: the OCR API pages list ModelArts.4204
#   among their 400 responses, the only status Huawei publishes for it; the SDK raises the same
#   ClientRequestException (error_code, error_msg) for either.
THROTTLED = "APIG.0308"
THROTTLING = "The throttling threshold has been reached: policy user over ratelimit,"
NOT_SUBSCRIBED = "ModelArts.4204"
MAX_CONCURRENCY = "ModelArts.4401"
_UNITS = ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second"))
_PERIOD_UNITS = {"day": "1 day", "month": "1 month"}


def rate_wording(count: int, seconds: int) -> str:
    """APIG's "limit:N,time:1 minute" for ``count`` calls per ``seconds``: per minute when that is a whole
    number of calls (10 a second: 600 a minute), else in the largest unit the window is a whole number of."""
    if (count * 60) % seconds == 0:
        return f"limit:{count * 60 // seconds},time:1 minute"
    unit, name = next((u, n) for u, n in _UNITS if seconds % u == 0)
    return f"limit:{count},time:{seconds // unit} {name}"


def limit_error(exc: OcrgwError) -> tuple[str, str, int] | None:
    """(error_code, error_msg, status) of a refusal by the key's limits, None for other errors."""
    lim = exc.limit
    if exc.code is E.RATE_LIMITED and lim is not None:
        return THROTTLED, THROTTLING + rate_wording(lim.count, lim.seconds or 1), 429
    if exc.code is E.QUOTA_EXCEEDED and lim is not None:
        period = _PERIOD_UNITS.get(lim.period or "", lim.period or "")
        return THROTTLED, f"{THROTTLING}limit:{lim.count},time:{period} ({exc.message})", 429
    if exc.code is E.CONCURRENCY_LIMITED:
        return MAX_CONCURRENCY, "Max concurrency error.", 429
    if exc.code is E.NOT_SUBSCRIBED:
        api = (lim.service if lim is not None else "").removeprefix("huawei-") or "requested"
        return NOT_SUBSCRIBED, f"Request api error! The API {api} is not subscribed.", 400
    return None


def render_error(request: Request, exc: OcrgwError) -> Response:
    if isinstance(exc, HuaweiError):
        error_code, message, status = exc.error_code, exc.message, exc.status
    elif (limited := limit_error(exc)) is not None:
        error_code, message, status = limited
    else:
        error_code, prefix, status = _MAP.get(exc.code, INVALID)
        message = (prefix + exc.message).strip()
    headers = dialects.retry_after_header(exc)
    body = {"error_code": error_code, "error_msg": message, "request_id": request_id(request)}
    return json_response(request, body, status, headers)
