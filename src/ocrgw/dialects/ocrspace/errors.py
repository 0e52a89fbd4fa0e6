"""OCR.space's error shapes for anything under `/parse/`: processing and parameter errors are HTTP 200
with `IsErroredOnProcessing: true`, `OCRExitCode` 3/4/99 and `ErrorMessage` as a list of strings; a bad
key, a full backlog or a key's own limit (OCR.space's throttling) is HTTP 403 with a bare JSON string."""

from __future__ import annotations

import functools
import time

from starlette.requests import Request
from starlette.responses import Response

from ocrgw import dialects
from ocrgw.errors import ErrorCode as E
from ocrgw.errors import OcrgwError

VALID_PARAMETERS = (
    "apikey,url,language,isoverlayrequired,base64image,iscreatesearchablepdf,"
    "issearchablepdfhidetextlayer,filetype,addressparsing,scale,detectorientation,istable,"
    "ocrengine,detectcheckbox,checkboxtemplate,checkboxtemplateregex"
)
URL_HINT = "Please check if you need to URL encode the URL passed in request parameters."
MSG_FILE_TYPE = ("Unable to recognize the file type", "E216:Unable to detect the file extension")

# HTTP 403 with a bare JSON string: OCR.space's words for a key, the error's own (None) for throttling.
_FORBIDDEN = {
    E.MISSING_KEY: "No API key was provided. Send it in the apikey header or the apikey parameter",
    E.INVALID_KEY: "The API key is invalid",
    E.BACKLOG_FULL: None,
}
_BAD_FILE = (E.INVALID_IMAGE, E.UNSUPPORTED_FORMAT, E.INVALID_DIMENSIONS, E.TOO_LARGE, E.TOO_MANY_PAGES)
_NOT_READ = (E.ENCRYPTED_DOCUMENT, E.DOWNLOAD_FAILED, E.DOWNLOAD_TIMEOUT, E.PROCESSING_FAILED, E.TIMEOUT, E.EMPTY_BODY)
# OCRExitCode 4: fatal error while parsing; 3: the file (or all its pages) failed; 99 for the rest.
_EXIT_CODES = {E.INTERNAL: 4, E.WORKER_CRASHED: 4, **dict.fromkeys(_BAD_FILE + _NOT_READ, 3)}
_ROUTE_STATUS = {E.ROUTE_NOT_FOUND: 404, E.METHOD_NOT_ALLOWED: 405, E.NOT_FOUND: 404}

json_response = functools.partial(dialects.json_response, media_type="application/json; charset=utf-8")


class OcrSpaceError(OcrgwError):
    """A parameter or request error in OCR.space's own words (a message list, OCRExitCode 99)."""

    def __init__(self, code: E, *messages: str, param: str | None = None) -> None:
        super().__init__(code, messages[0], param=param)
        self.messages = list(messages)


def invalid_parameter_name(name: str) -> OcrSpaceError:
    message = f"Parameter name '{name}' is invalid. Valid parameters: {VALID_PARAMETERS}"
    return OcrSpaceError(E.INVALID_PARAMETER, message, URL_HINT, param=name)


def invalid_value(name: str, detail: str) -> OcrSpaceError:
    return OcrSpaceError(E.INVALID_PARAMETER, f"Value for parameter '{name}' is invalid. {detail}".strip(), param=name)


def elapsed_ms(request: Request) -> int:
    """`ProcessingTimeInMilliseconds`: since the route began (0 for an error before it did)."""
    started = getattr(request.state, "ocrspace_started", None)
    return 0 if started is None else max(0, round((time.monotonic() - started) * 1000))


# A key's own limits are OCR.space's throttling: 403 with its sentence (as observed: "You may only perform
# this action upto maximum 10 number of times within 600 seconds"), which the clients raise as is.
_LIMITED = (E.RATE_LIMITED, E.CONCURRENCY_LIMITED, E.QUOTA_EXCEEDED, E.NOT_SUBSCRIBED)
_PERIOD_SECONDS = {"day": 86400, "month": 30 * 86400}


def limit_message(exc: OcrgwError) -> str:
    """OCR.space's throttling sentence with the key's figure; a concurrency limit or a page quota (which
    OCR.space's wording has no words for) adds ocrgw's own sentence after it."""
    lim = exc.limit
    if exc.code is E.NOT_SUBSCRIBED or lim is None:
        return "The API key is not allowed to use this API" if exc.code is E.NOT_SUBSCRIBED else exc.message
    if exc.code is E.RATE_LIMITED:
        seconds = lim.seconds or 1
    elif exc.code is E.QUOTA_EXCEEDED:
        seconds = _PERIOD_SECONDS.get(lim.period or "", 86400)
    else:
        seconds = exc.retry_after or 1
    head = f"You may only perform this action upto maximum {lim.count} number of times within {seconds} seconds"
    return head if exc.code is E.RATE_LIMITED else f"{head}. {exc.message}"


def file_size_message(exc: OcrgwError) -> str:
    """OCR.space's own words for a file over the key's size limit (its plan's), in whole KB as it says it."""
    if exc.limit is None:
        return f"File failed validation. {exc.message}"
    kb = exc.limit.count // 1024
    return f"File failed validation. File size exceeds the maximum permissible file size limit of {kb} KB"


def render_error(request: Request, exc: OcrgwError) -> Response:
    """Any domain or framework error on a `/parse/` path, in OCR.space's shape."""
    if exc.code in _FORBIDDEN or exc.code in _LIMITED:
        headers = dialects.retry_after_header(exc)
        message = limit_message(exc) if exc.code in _LIMITED else _FORBIDDEN[exc.code] or exc.message
        return json_response(message, 403, headers)
    messages, exit_code, details = [exc.message], _EXIT_CODES.get(exc.code, 99), exc.code.value
    if isinstance(exc, OcrSpaceError):
        messages, exit_code, details = exc.messages, 99, ""
    elif exc.code is E.UNSUPPORTED_FORMAT or (exc.code is E.INVALID_IMAGE and "expected" in exc.message):
        messages = [*MSG_FILE_TYPE, exc.message]  # nothing we recognise: OCR.space's E216
    elif exc.code is E.TOO_LARGE:
        messages, details = [file_size_message(exc)], "" if exc.limit is not None else details
    elif exc.code is E.UNSUPPORTED_LANGUAGE:
        details = ""  # a parameter error, as OCR.space's
    body = {
        "OCRExitCode": exit_code,
        "IsErroredOnProcessing": True,
        "ErrorMessage": messages,
        "ErrorDetails": details,
        "ProcessingTimeInMilliseconds": str(elapsed_ms(request)),
    }
    return json_response(body, _ROUTE_STATUS.get(exc.code, 200))
