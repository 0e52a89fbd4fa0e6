"""OCR.space's error shapes for anything under `/parse/`: processing and parameter errors are HTTP 200
with `IsErroredOnProcessing: true`, `OCRExitCode` 3/4/99 and `ErrorMessage` as a list of strings; a bad
key or a full backlog (OCR.space's throttling) is HTTP 403 with a bare JSON string."""

from __future__ import annotations

import json
import time

from starlette.requests import Request
from starlette.responses import Response

from ocrgw.errors import ErrorCode as E
from ocrgw.errors import OcrgwError

VALID_PARAMETERS = (
    "apikey,url,language,isoverlayrequired,base64image,iscreatesearchablepdf,"
    "issearchablepdfhidetextlayer,filetype,addressparsing,scale,detectorientation,istable,"
    "ocrengine,detectcheckbox,checkboxtemplate,checkboxtemplateregex"
)
URL_HINT = "Please check if you need to URL encode the URL passed in request parameters."
MSG_INVALID_KEY = "The API key is invalid"
MSG_NO_KEY = "No API key was provided. Send it in the apikey header or the apikey parameter"
MSG_FILE_TYPE = ("Unable to recognize the file type", "E216:Unable to detect the file extension")

_FORBIDDEN = {E.MISSING_KEY, E.INVALID_KEY, E.BACKLOG_FULL}
_FATAL = {E.INTERNAL, E.WORKER_CRASHED}  # OCRExitCode 4: fatal error while parsing
_FILE = {
    E.INVALID_IMAGE,
    E.UNSUPPORTED_FORMAT,
    E.INVALID_DIMENSIONS,
    E.TOO_LARGE,
    E.TOO_MANY_PAGES,
    E.ENCRYPTED_DOCUMENT,
    E.DOWNLOAD_FAILED,
    E.DOWNLOAD_TIMEOUT,
    E.PROCESSING_FAILED,
    E.TIMEOUT,
    E.EMPTY_BODY,
}  # OCRExitCode 3: the file (or all its pages) failed
_ROUTE_STATUS = {E.ROUTE_NOT_FOUND: 404, E.METHOD_NOT_ALLOWED: 405, E.NOT_FOUND: 404}


class OcrSpaceError(OcrgwError):
    """An OcrgwError with OCR.space's own message list (and exit code) to show."""

    def __init__(
        self, code: E, messages: list[str], *, exit_code: int = 99, details: str = "", param: str | None = None
    ) -> None:
        super().__init__(code, messages[0], param=param)
        self.messages = messages
        self.exit_code = exit_code
        self.details = details


def invalid_parameter_name(name: str) -> OcrSpaceError:
    return OcrSpaceError(
        E.INVALID_PARAMETER,
        [f"Parameter name '{name}' is invalid. Valid parameters: {VALID_PARAMETERS}", URL_HINT],
        param=name,
    )


def invalid_value(name: str, detail: str) -> OcrSpaceError:
    return OcrSpaceError(
        E.INVALID_PARAMETER, [f"Value for parameter '{name}' is invalid. {detail}".strip()], param=name
    )


def error_body(exit_code: int, messages: list[str], details: str = "", elapsed_ms: int = 0) -> dict:
    return {
        "OCRExitCode": exit_code,
        "IsErroredOnProcessing": True,
        "ErrorMessage": messages,
        "ErrorDetails": details,
        "ProcessingTimeInMilliseconds": str(elapsed_ms),
    }


def json_response(body: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status_code=status, media_type="application/json; charset=utf-8", headers=headers)


def render_error(request: Request, exc: OcrgwError) -> Response:
    """Any domain or framework error on a `/parse/` path, in OCR.space's shape."""
    elapsed = 0
    started = getattr(request.state, "ocrspace_started", None)
    if started is not None:
        elapsed = max(0, round((time.monotonic() - started) * 1000))
    if exc.code in _FORBIDDEN:
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
        text = {E.MISSING_KEY: MSG_NO_KEY, E.INVALID_KEY: MSG_INVALID_KEY}.get(exc.code, exc.message)
        return json_response(text, 403, headers)
    if isinstance(exc, OcrSpaceError):
        return json_response(
            error_body(exc.exit_code, exc.messages, exc.details, elapsed), _ROUTE_STATUS.get(exc.code, 200)
        )
    if exc.code is E.UNSUPPORTED_FORMAT or (exc.code is E.INVALID_IMAGE and "expected" in exc.message):
        messages = [*MSG_FILE_TYPE, exc.message]  # nothing we recognise: OCR.space's E216
    elif exc.code is E.TOO_LARGE:
        messages = [f"File failed validation. {exc.message}"]
    else:
        messages = [exc.message]
    if exc.code in _FATAL:
        code = 4
    elif exc.code in _FILE:
        code = 3
    else:
        code = 99
    details = "" if exc.code is E.UNSUPPORTED_LANGUAGE else exc.code.value  # a parameter error, as OCR.space's
    return json_response(error_body(code, messages, details, elapsed), _ROUTE_STATUS.get(exc.code, 200))
