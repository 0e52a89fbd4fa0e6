"""Huawei Cloud OCR's error shape for anything under `/v2/`: `{"error_code": "AIS.xxxx", "error_msg": ...}`
with the status Huawei documents (AIS.* 400; the API gateway's APIG.* 401/404/413/429/504) and an
`X-Request-Id` header, which the SDK reports as the exception's request_id (successes carry it too:
``json_response``)."""

from __future__ import annotations

import json
import uuid

from starlette.requests import Request
from starlette.responses import Response

from ocrgw.errors import ErrorCode as E
from ocrgw.errors import OcrgwError
from ocrgw.ops.context import current_request_id

AUTH_FAILED = "APIG.0301"
AUTH_PREFIX = "Incorrect IAM authentication information: "

# code -> (error_code, error_msg prefix, HTTP status). The message sent is the prefix plus ours, so the
# vendor's wording that scripts grep for is there and the detail that helps a person is too.
_MAP: dict[E, tuple[str, str, int]] = {
    E.MISSING_KEY: (AUTH_FAILED, AUTH_PREFIX, 401),
    E.INVALID_KEY: (AUTH_FAILED, AUTH_PREFIX, 401),
    E.BACKLOG_FULL: ("APIG.0308", "The throttling threshold has been reached: ", 429),
    E.ROUTE_NOT_FOUND: ("APIG.0101", "The API does not exist or has not been published in the environment. ", 404),
    E.METHOD_NOT_ALLOWED: ("APIG.0101", "The API does not exist or has not been published in the environment. ", 404),
    E.NOT_FOUND: ("APIG.0101", "The API does not exist or has not been published in the environment. ", 404),
    E.TOO_LARGE: ("APIG.0201", "Request entity too large. ", 413),
    E.TIMEOUT: ("APIG.0201", "Backend timeout. ", 504),
    E.INVALID_PARAMETER: ("AIS.0101", "The input parameter is invalid. ", 400),
    E.EMPTY_BODY: ("AIS.0101", "The input parameter is invalid. ", 400),
    E.INVALID_PAGE_RANGE: ("AIS.0101", "The input parameter is invalid. ", 400),
    E.UNSUPPORTED_LANGUAGE: ("AIS.0101", "The input parameter is invalid. ", 400),
    E.UNSUPPORTED_FEATURE: ("AIS.0101", "The input parameter is invalid. ", 400),
    E.UNSUPPORTED_MEDIA_TYPE: ("ModelArts.4105", "The JSON format of the input data is incorrect. ", 400),
    E.INVALID_IMAGE: ("AIS.0102", "The image format is not supported. ", 400),
    E.UNSUPPORTED_FORMAT: ("AIS.0102", "The image format is not supported. ", 400),
    E.ENCRYPTED_DOCUMENT: ("AIS.0102", "The image format is not supported. ", 400),
    E.INVALID_DIMENSIONS: ("AIS.0103", "The image size does not meet the requirements. ", 400),
    E.TOO_MANY_PAGES: ("AIS.0103", "The image size does not meet the requirements. ", 400),
    E.INVALID_URL: ("ModelArts.4601", "The URL is not allowed. ", 400),
    E.URL_FORBIDDEN: ("ModelArts.4601", "The URL is not allowed. ", 400),
    E.DOWNLOAD_FAILED: ("ModelArts.4603", "Obtaining the file from the URL failed. ", 400),
    E.DOWNLOAD_TIMEOUT: ("ModelArts.4603", "Obtaining the file from the URL failed. ", 400),
    E.PROCESSING_FAILED: ("AIS.0105", "Recognition failed. ", 400),
    E.WORKER_CRASHED: ("AIS.0105", "Recognition failed. ", 400),
    E.INTERNAL: ("AIS.0105", "Recognition failed. ", 500),
}


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
        rid = request.state.huawei_request_id = current_request_id() or uuid.uuid4().hex
    return rid


def json_response(request: Request, body: dict, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """Huawei's JSON with the request's `X-Request-Id`, which the SDK reports (as the error's request_id)."""
    return Response(
        json.dumps(body),
        status_code=status,
        media_type="application/json;charset=utf-8",
        headers={"X-Request-Id": request_id(request), **(headers or {})},
    )


def error_response(
    request: Request, error_code: str, message: str, status: int, headers: dict[str, str] | None = None
) -> Response:
    body = {"error_code": error_code, "error_msg": message, "request_id": request_id(request)}
    return json_response(request, body, status, headers)


def render_error(request: Request, exc: OcrgwError) -> Response:
    if isinstance(exc, HuaweiError):
        return error_response(request, exc.error_code, exc.message, exc.status)
    error_code, prefix, status = _MAP.get(exc.code, ("AIS.0101", "The input parameter is invalid. ", 400))
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
    return error_response(request, error_code, (prefix + exc.message).strip(), status, headers)
