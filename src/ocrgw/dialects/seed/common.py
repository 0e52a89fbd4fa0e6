"""What the two seed-system dialects share, between their routes and the job core: where the key may be,
Tesseract-style language codes, submit + bounded wait, the one text/confidence rendering, and a
multipart reader that hands every file part (with its filename) to intake as it streams in."""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta

import anyio
from starlette.requests import Request

from ocrgw import languages
from ocrgw.auth import Principal
from ocrgw.context import AppContext
from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.intake.multipart import Event, FilePart, FormError, form_events  # noqa: F401 - used as common.*
from ocrgw.jobs import service
from ocrgw.jobs.schemas import JobSpec, JobView, StoredBlob
from ocrgw.jobs.states import JobStatus
from ocrgw.settings import Settings


# -------------------------------------------------------------------------------------------- keys
def key_from(request: Request, fields: Mapping[str, object] | None = None) -> str | None:
    """The key as the tutorials' clients send it: `X-API-Key`, `Authorization: Bearer`, `?api_key=`, or
    an `api_key` form field / JSON member (only known once the body is read, hence ``fields``)."""
    header = request.headers.get("x-api-key", "").strip()
    if header:
        return header
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    query = request.query_params.get("api_key", "").strip()
    if query:
        return query
    value = (fields or {}).get("api_key")
    return value.strip() if isinstance(value, str) and value.strip() else None


async def principal_early(ctx: AppContext, request: Request) -> Principal | None:
    """Resolve a key sent outside the body before the body is read, so a bad one costs no upload;
    None when the key can only be in the body (or auth is off and none was sent)."""
    secret = key_from(request)
    if secret is None and ctx.settings.auth != "off":
        return None
    return await ctx.keys.resolve(secret)


# -------------------------------------------------------------------------------------------- languages
async def tesseract_languages(code: str | None, settings: Settings) -> tuple[str, ...]:
    """`eng`, `deu`, `eng+deu` (Tesseract's own codes, as pytesseract's `lang=`), or BCP-47 codes such as
    `en` for convenience; each must be installed. Empty: the server's default."""
    tessdata = settings.resolved_tessdata_dir
    code = (code or "").strip()
    if not code:
        return await anyio.to_thread.run_sync(languages.default_models, settings.default_language, tessdata)
    installed = await anyio.to_thread.run_sync(languages.installed, tessdata)
    known = set(languages.BCP47_TO_TESSERACT.values())
    models: list[str] = []
    for part in code.replace(",", "+").split("+"):
        part = part.strip()
        if not part:
            continue
        if part in known or part in installed:
            if part not in installed:
                raise OcrgwError(
                    ErrorCode.UNSUPPORTED_LANGUAGE,
                    f"The language {part!r} is not installed on this server "
                    f"(apt-get install {languages.debian_package(part)}).",
                    param="lang",
                )
            model = part
        else:
            model = languages.resolve_bcp47(part, tessdata)  # `en`, `de`; unknown codes raise here
        if model not in models:
            models.append(model)
    if not models:
        raise OcrgwError(ErrorCode.UNSUPPORTED_LANGUAGE, f"The language {code!r} is not valid.", param="lang")
    return tuple(models)


# -------------------------------------------------------------------------------------------- jobs
async def submit(
    ctx: AppContext, principal: Principal, dialect: str, blob: StoredBlob, models: tuple[str, ...]
) -> JobView:
    """One stored blob -> one queued job of this dialect (so no other API family can see it)."""
    spec = JobSpec(languages=models, language_hint="+".join(models))
    return await service.submit(
        db=ctx.db,
        queue=ctx.queue,
        store=ctx.store,
        settings=ctx.settings,
        owner_key_id=principal.key_id,
        dialect=dialect,
        spec=spec,
        blob=blob,
        retention=timedelta(hours=ctx.settings.retention_sync_hours),
    )


async def finish(ctx: AppContext, principal: Principal, job_id: str, timeout: float) -> JobView:
    """Wait (bounded, as the other synchronous dialects) and return the succeeded job, or raise its error:
    Timeout when it is still running, else the code the worker stored."""
    view = await service.wait(db=ctx.db, job_id=job_id, owner_key_id=principal.key_id, timeout=timeout)
    if view.status is JobStatus.SUCCEEDED:
        return view
    raise service.wait_error(view, timeout)


def text_of(view: JobView) -> str:
    """Lines joined by newlines, pages by a form feed (Tesseract's own page separator)."""
    pages = sorted(view.pages or [], key=lambda p: p.page_no)
    return "\f".join("\n".join(ln.text for ln in page.lines) for page in pages)


def confidence_of(view: JobView) -> float:
    """Mean word confidence on 0..100, as tutorials compute it from pytesseract's image_to_data (the plain
    mean over words); 0.0 when nothing was read."""
    confs = [w.confidence for page in view.pages or [] for ln in page.lines for w in ln.words]
    return round(100.0 * sum(confs) / len(confs), 2) if confs else 0.0


# -------------------------------------------------------------------------------------------- bodies
def decode_base64_image(value: object, name: str = "image") -> bytes:
    """Plain base64 or a `data:<type>;base64,` URI (what browser code sends); whitespace is ignored."""
    if not isinstance(value, str) or not value.strip():
        raise OcrgwError(ErrorCode.EMPTY_BODY, f"'{name}' is missing: send the image as a base64 string.", param=name)
    text = value.strip()
    if text[:5].lower() == "data:":
        head, sep, text = text.partition(",")
        if not sep or not head.lower().endswith(";base64"):
            raise OcrgwError(
                ErrorCode.INVALID_PARAMETER,
                f"'{name}' is not a valid data URI: expected data:<type>;base64,<data>.",
                param=name,
            )
    try:
        raw = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise OcrgwError(ErrorCode.INVALID_PARAMETER, f"'{name}' is not valid base64.", param=name) from exc
    if not raw:
        raise OcrgwError(ErrorCode.EMPTY_BODY, f"'{name}' is empty.", param=name)
    return raw


class FileReader:
    """One file part of a form_events stream, as a body for intake; remembers whether its end was
    reached, so what intake left unread (it stops early on an oversize file) can be skipped exactly."""

    def __init__(self, events: AsyncIterator[Event]) -> None:
        self.events = events
        self.done = False

    async def chunks(self) -> AsyncIterator[bytes]:
        async for kind, payload in self.events:
            if kind == "end":
                self.done = True
                return
            if kind == "data":
                yield payload  # type: ignore[misc]

    async def skip(self) -> None:
        if not self.done:
            async for _ in self.chunks():
                pass
