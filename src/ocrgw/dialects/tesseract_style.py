"""What the two Tesseract-server APIs share, between their routes and the job core: the Flask-style API
(``dialects.flaskapi``) and the streaming server's (``dialects.streamapi``), both small synchronous
servers around pytesseract in the tutorials ocrgw grew from. Where the key may be, Tesseract-style language
codes (a Vocabulary), the pixel limits (the engine's own), the text and mean confidence they answer with,
and the HTTP status of each error (both answer a plain JSON error: 400 input, 401 key, 403 not admin, 413,
415, 429 + Retry-After, 500, 504; a key's limits 429 or 403 with the
limit named in `limit`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi.security import APIKeyHeader, HTTPBearer
from starlette.requests import Request
from starlette.responses import Response

from ocrgw import languages
from ocrgw.auth import Principal
from ocrgw.context import AppContext
from ocrgw.dialects import json_response, limit_member, retry_after_header
from ocrgw.errors import HTTP_STATUS, OcrgwError
from ocrgw.errors import ErrorCode as E
from ocrgw.formats import ENGINE_LIMITS
from ocrgw.jobs.schemas import JobSpec, JobView
from ocrgw.jobs.service import Order

# `eng`, `deu`, `eng+deu` (Tesseract's own codes, as pytesseract's `lang=`), or BCP-47 codes such as `en`
# for convenience; each must be installed. Empty: the server's default (there is no `auto`).
VOCABULARY = languages.Vocabulary(model_names=True, bcp47=True, auto=frozenset(), param="lang")
# The tutorials' servers handed any image to pytesseract: only what the engine needs applies.
LIMITS = ENGINE_LIMITS


# -------------------------------------------------------------------------------------------- keys
def key_from(request: Request, fields: Mapping[str, object] | None = None) -> str | None:
    """The key as the tutorials' clients send it: `X-API-Key`, `Authorization: Bearer`, `?api_key=`, or
    an `api_key` form field / JSON member (only known once the body is read, hence ``fields``)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    bearer = token if scheme.lower() == "bearer" else None
    places = (
        request.headers.get("x-api-key"),
        bearer,
        request.query_params.get("api_key"),
        (fields or {}).get("api_key"),
    )
    return next((key.strip() for key in places if isinstance(key, str) and key.strip()), None)


async def principal_early(ctx: AppContext, request: Request) -> Principal | None:
    """Resolve a key sent outside the body before the body is read, so a bad one costs no upload;
    None when the key can only be in the body (or auth is off and none was sent)."""
    secret = key_from(request)
    if secret is None and ctx.settings.auth != "off":
        return None
    return await ctx.keys.resolve(secret)


async def principal(ctx: AppContext, request: Request, fields: Mapping[str, object]) -> Principal:
    """The key wherever it was, the body's ``fields`` included (read by then)."""
    return await ctx.keys.resolve(key_from(request, fields))


# -------------------------------------------------------------------------------------------- jobs
def order(lang: object) -> Order:
    """The tutorials' only reading option is the language (`lang`, or `language`)."""
    code = lang if isinstance(lang, str) else None
    return Order(JobSpec(language_hint=code), VOCABULARY.ask(code))


def text_of(view: JobView) -> str:
    """Lines joined by newlines, pages by a form feed (Tesseract's own page separator)."""
    pages = sorted(view.pages or [], key=lambda p: p.page_no)
    return "\f".join("\n".join(ln.text for ln in page.lines) for page in pages)


def confidence_of(view: JobView) -> float:
    """Mean word confidence on 0..100, as tutorials compute it from pytesseract's image_to_data (the plain
    mean over words); 0.0 when nothing was read."""
    confs = [w.confidence for page in view.pages or [] for ln in page.lines for w in ln.words]
    return round(100.0 * sum(confs) / len(confs), 2) if confs else 0.0


# -------------------------------------------------------------------------------------------- errors
_STATUS = {**HTTP_STATUS, E.UNSUPPORTED_FORMAT: 415}  # a type we know but do not read is a wrong type


class StatusError(OcrgwError):
    """A domain error whose status the dialect fixes itself (403 for a non-admin key on generate_api_key,
    which has no domain code of its own)."""

    def __init__(self, code: E, message: str, *, status: int) -> None:
        super().__init__(code, message)
        self.status = status


def status_of(exc: OcrgwError) -> int:
    """The HTTP status for a domain error. A body that is no image we know at all (the sniffer's "expected
    PDF, JPEG, ...") is a wrong type, 415; one we know but whose data is corrupt stays a 400."""
    if isinstance(exc, StatusError):
        return exc.status
    if exc.code is E.INVALID_IMAGE and "expected" in exc.message:
        return 415
    return _STATUS.get(exc.code, 400)


def error_response(body: dict, exc: OcrgwError) -> Response:
    """``body`` with the key's limit that refused the call, if one did (``limit``), and Retry-After."""
    return json_response(body | limit_member(exc), status_of(exc), retry_after_header(exc))


# -------------------------------------------------------------------------------------------- OpenAPI
def request_body(content: dict[str, Any], required: bool = True) -> dict[str, Any]:
    """An operation's `openapi_extra`: its request body by media type, written inline (these APIs'
    clients are hand-written, so named schemas would only add names nobody uses)."""
    return {"requestBody": {"required": required, "content": content}}


def object_schema(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"schema": {"type": "object", **({"required": required} if required else {}), "properties": properties}}


# What each status of ``status_of`` means to a caller of either API; every route can answer them all (a
# route whose statuses these are not names its own, as generate_api_key's 403).
ERROR_STATUSES = {
    400: "Bad input: no or an unreadable image, a bad option, a bad or refused URL.",
    401: "Missing or invalid API key.",
    413: "The body or a file is over the upload limit.",
    415: "Not a media type or image format the route takes.",
    403: "The key is not subscribed to this API.",
    429: "Backlog full, or the key's rate, concurrent jobs or page quota reached (named in `limit`): "
    "retry after `Retry-After` seconds.",
    500: "Reading the image failed.",
    504: "Reading took longer than the server waits.",
}


# The spec's security schemes of both APIs (``key_from`` reads the key itself, also from the query or the
# body): route dependencies that only document where the key goes.
KEY_SCHEMES = (
    APIKeyHeader(
        name="X-API-Key",
        scheme_name="TesseractStyleApiKey",
        auto_error=False,
        description="An ocrgw API key; also `?api_key=` or an `api_key` form field or JSON member.",
    ),
    HTTPBearer(scheme_name="TesseractStyleBearer", auto_error=False, description="`Authorization: Bearer <key>`."),
)


# ``dialects.limit_member``: the key's limit a refusal met (the native API's LimitDetail, inline).
LIMIT = {
    "type": "object",
    "description": "The key's limit that refused the call: `count` calls per `seconds`, jobs at once, pages "
    "per `period` or bytes per file, for `service` (0: not subscribed to it).",
    "required": ["service", "count"],
    "properties": {
        "service": {"type": "string"},
        "count": {"type": "integer"},
        "seconds": {"type": "integer"},
        "period": {"type": "string", "enum": ["day", "month"]},
        "tier": {"type": "string"},
    },
}


def error_responses(error: dict[str, Any], **more: str) -> dict[int | str, dict[str, Any]]:
    """An operation's `responses` for its errors, each in the API's plain JSON ``error`` schema (with the
    optional ``limit`` of a key's refusal); ``more`` adds statuses (``e403="..."``)."""
    extra = {int(k.removeprefix("e")): text for k, text in more.items()}
    error = {**error, "properties": {**error["properties"], "limit": LIMIT}}
    return {
        status: {"description": text, "content": {"application/json": {"schema": error}}}
        for status, text in sorted({**ERROR_STATUSES, **extra}.items())
    }
