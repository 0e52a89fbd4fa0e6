"""Form Recognizer / Document Intelligence errors: FR/DI's column of Azure's code table (`InvalidArgument`/
`InvalidParameter` where Read says `InvalidRequest`/`BadArgument`), the inner codes' documented wording, and
their envelope, for refused requests (render_error) and failed operations alike (render.py)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ocrgw.dialects import json_response
from ocrgw.dialects.azure.errors import codes, error_object, gateway
from ocrgw.errors import ErrorCode as E
from ocrgw.errors import OcrgwError

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


def failure(code: str | None, message: str | None) -> dict:
    """The `error` of a failed operation, from the core code and message stored with the job."""
    _, top, inner = codes(code, "docintel")
    return error_object(top, inner, message or "An unexpected error occurred.", INNER_MESSAGES)


def render_error(request: Request, exc: OcrgwError) -> Response:
    """FR/DI's envelope, always JSON; the key challenge's realm names the service the path is under."""
    status, top, inner = codes(exc.code, "docintel")
    realm = "documentintelligence" if request.url.path.startswith("/documentintelligence") else "formrecognizer"
    message, headers = gateway(request, exc, realm)
    if exc.code is E.BACKLOG_FULL and exc.retry_after is not None:
        message = f"Rate limit is exceeded. Try again in {int(exc.retry_after)} seconds. {exc.message}"
    inner = exc.inner if isinstance(exc, InnerCodeError) else inner
    return json_response({"error": error_object(top, inner, message, INNER_MESSAGES)}, status, headers)
