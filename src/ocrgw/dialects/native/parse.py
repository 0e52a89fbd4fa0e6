"""Native `/v1` requests -> what the job core takes (between routes and ``jobs.service.accept``): the
reading options (form fields, the query string or JSON members) as an Order, the document as a Source
(multipart upload, raw body, JSON with a URL or base64), the callback URL checked as its delivery will be,
the Idempotency-Key, and the result format asked for."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request

from ocrgw import intake, languages, net
from ocrgw.context import public_base_url
from ocrgw.dialects.native import schemas as S
from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.intake import jsonbody, multipart
from ocrgw.intake.sources import FormSource, StreamSource, UrlSource
from ocrgw.jobs.pages import PageSelection
from ocrgw.jobs.schemas import JobSpec
from ocrgw.jobs.service import Deferred, Order, Source
from ocrgw.settings import Settings

# BCP-47 codes (`de`) and Tesseract model names (`deu`, `chi_sim`), mixed as wanted; no `auto` (an empty
# value means: identify each page's language, reading it with the server's default first).
VOCABULARY = languages.Vocabulary(bcp47=True, model_names=True, auto=frozenset(), detect=True)
JSON_CAP_OVERHEAD = 64 * 1024
RAW_TYPES = ("", "application/octet-stream", "application/pdf")  # and image/*
# Each result format and the Accept media types that ask for it.
MEDIA = {
    "json": ("application/json",),
    "text": ("text/plain",),
    "hocr": ("application/xhtml+xml",),
    "html": ("text/html",),
    "markdown": ("text/markdown",),
    "alto": ("application/alto+xml", "application/xml", "text/xml"),
    "tsv": ("text/tab-separated-values",),
    "pdf": ("application/pdf",),
}
ACCEPT = {media: fmt for fmt, types in MEDIA.items() for media in types}
Callback = tuple[str, str] | None


def _invalid(exc: ValidationError, prefix: str = "", default: str = "") -> OcrgwError:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or default
    return OcrgwError(ErrorCode.INVALID_PARAMETER, f"{prefix}{where}: {first.get('msg')}.", param=where or None)


def options(fields: dict[str, Any]) -> S.SubmitOptions:
    """Options from form fields or the query string. An empty value, or the string "null" that Swagger
    UI's "Try it out" sends for every optional field left alone, means the field was not given."""
    known = {k: v for k, v in fields.items() if k in S.SubmitOptions.model_fields and v not in ("", "null", None)}
    if not known:  # most submits: the raw bytes and no options; validated once (a submit's CPU: ~3 %)
        return _NO_OPTIONS
    try:
        return S.SubmitOptions.model_validate(known)
    except ValidationError as exc:
        raise _invalid(exc) from None


def order(opts: S.SubmitOptions) -> Order:
    if opts is _NO_OPTIONS:
        return _NO_OPTIONS_ORDER
    return _order(opts)


def _order(opts: S.SubmitOptions) -> Order:
    spec = JobSpec(
        **opts.model_dump(include={"reading_order", "mode", "engine"}),
        language_hint=opts.languages,
        pages=PageSelection.parse(opts.pages).ranges,
        outputs=(*(("searchable_pdf",) if opts.searchable_pdf else ()), *(("layout",) if opts.layout else ())),
    )
    return Order(spec, VOCABULARY.ask(opts.languages))


_NO_OPTIONS = S.SubmitOptions.model_validate({})  # shared: never changed (Order and JobSpec are frozen)
_NO_OPTIONS_ORDER = _order(_NO_OPTIONS)


async def callback(opts: S.SubmitOptions, request: Request, settings: Settings) -> Callback:
    """Check a callback URL at submit (the same guard as URL sources), so a bad one fails the submit
    instead of every delivery attempt; delivery checks it again, against DNS changes."""
    if not opts.callback_url:
        return None
    try:
        await net.resolve_checked(opts.callback_url, settings)
    except OcrgwError as exc:
        message = "callback_url: " + exc.message.replace("Image URL", "the URL")
        raise OcrgwError(exc.code, message, param="callback_url") from None
    return opts.callback_url, public_base_url(request, settings)


async def _form_order(form: FormSource) -> Order:
    return order(options(form.form.fields))


async def _form_callback(form: FormSource, request: Request, settings: Settings) -> Callback:
    return await callback(options(form.form.fields), request, settings)


@dataclass(frozen=True, slots=True)
class Submission:
    """A submit request as ``accept`` takes it. The options of a multipart upload are its form fields,
    known once the form is stored, hence a deferred order there. The callback URL (a DNS lookup) is
    checked once the body is stored, whatever its kind, so a bad document is told first as it always was."""

    source: Source
    order: Order | Deferred
    callback: Callable[[], Awaitable[Callback]]


def _known(opts: S.SubmitOptions, source: Source, request: Request, settings: Settings) -> Submission:
    return Submission(source, order(opts), partial(callback, opts, request, settings))


async def submission(request: Request, settings: Settings) -> Submission:
    """The document and its options: a multipart `file` with options as form fields, JSON with `url` or
    `base64` and the options as members, or the raw bytes with the options in the query string."""
    ctype = request.headers.get("content-type", "")
    boundary = multipart.boundary_of(ctype)
    media = ctype.split(";")[0].strip().lower()
    if boundary is not None or media == "application/json":
        _no_query_options(request)
    if boundary is not None:
        cap = settings.max_upload_bytes + multipart.OVERHEAD
        form = FormSource(intake.body(request, cap), boundary, cap)
        return Submission(form, partial(_form_order, form), partial(_form_callback, form, request, settings))
    if media == "application/json":
        return await _json_submission(request, settings)
    if media in RAW_TYPES or media.startswith("image/"):
        return _known(options(dict(request.query_params)), StreamSource.of(request), request, settings)
    raise OcrgwError(
        ErrorCode.UNSUPPORTED_MEDIA_TYPE,
        f"Content-Type {media!r} is not supported: send multipart/form-data, application/json "
        "or the document's bytes (application/octet-stream, application/pdf, image/*).",
    )


def _no_query_options(request: Request) -> None:
    """A multipart or JSON submit carries its options in the body; one in the query string would be
    silently unread (a job read in the wrong language), so it is refused."""
    for name in request.query_params:
        if name in S.SubmitOptions.model_fields:
            raise OcrgwError(
                ErrorCode.INVALID_PARAMETER,
                f"{name} goes in the body of a multipart or JSON submit; the query string carries the options "
                "of raw-body uploads only.",
                param=name,
            )


async def _json_submission(request: Request, settings: Settings) -> Submission:
    cap = settings.max_upload_bytes * 4 // 3 + JSON_CAP_OVERHEAD
    try:
        doc = await jsonbody.read(intake.body(request, cap), cap=cap, settings=settings)
    except jsonbody.JsonSyntaxError as exc:
        raise OcrgwError(ErrorCode.INVALID_PARAMETER, f"Invalid JSON body: {exc}.", param="body") from None
    try:
        body = S.SubmitRequest.model_validate(doc.value)
        if (body.url is None) == (body.base64 is None):
            raise OcrgwError(ErrorCode.INVALID_PARAMETER, "Send exactly one of url and base64.")
        opts = S.SubmitOptions.model_validate(body.model_dump(include=set(S.SubmitOptions.model_fields)))
    except ValidationError as exc:
        doc.close()
        raise _invalid(exc, "Invalid JSON body: ", "body") from None
    except BaseException:
        doc.close()
        raise
    if body.url is not None:
        source: Source = UrlSource(body.url, invalid="url must be an http or https URL.")
    else:
        source = jsonbody.Base64Source(doc.text(body.base64) or "", invalid=_bad_base64)
    return _known(opts, source, request, settings)


def _bad_base64() -> OcrgwError:
    return OcrgwError(ErrorCode.INVALID_PARAMETER, "base64 is not valid base64.", param="base64")


def idempotency_key(value: str) -> str:
    if not 1 <= len(value) <= 255:
        raise OcrgwError(
            ErrorCode.INVALID_PARAMETER, "Idempotency-Key must be 1 to 255 characters.", param="Idempotency-Key"
        )
    return value


def result_format(fmt: str | None, accept: str | None) -> str:
    """`format=` (`txt` is `text`), else the first Accept media type we know, else JSON."""
    if fmt:
        fmt = fmt.strip().lower()
        if fmt == "txt":
            fmt = "text"
        if fmt not in MEDIA:
            raise OcrgwError(ErrorCode.INVALID_PARAMETER, f"format must be one of {', '.join(MEDIA)}.", param="format")
        return fmt
    asked = (item.split(";")[0].strip().lower() for item in (accept or "").split(","))
    return next((ACCEPT[media] for media in asked if media in ACCEPT), "json")
