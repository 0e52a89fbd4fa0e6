"""Flask-style requests -> what the job core takes (between routes and ``jobs.service.accept``): the one
upload of `/ocr_process` as a form Source with its options (`method`, `lang`) deferred until the form is
stored; the items of `/batch_process` (uploads stored as they stream in, URLs) and its fields, refusing
server-side paths; the small body of `/generate_api_key`."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from urllib.parse import parse_qsl

from python_multipart.multipart import parse_options_header
from starlette.requests import Request

from ocrgw import intake
from ocrgw.dialects import tesseract_style as shared
from ocrgw.dialects.flaskapi.render import Item
from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.intake import multipart
from ocrgw.intake.multipart import Event, Field, FilePart, FileReader, FormError, form_events
from ocrgw.intake.sources import FormSource, StreamSource
from ocrgw.jobs.service import Order
from ocrgw.settings import Settings
from ocrgw.storage import BlobStore

METHODS = ("tesseract",)
# Tutorials' batch endpoints read a folder or list of paths on the server; here that would let any key
# holder OCR (read) the server's own files, so any such field is refused outright.
PATH_FIELDS = frozenset(
    {"path", "paths", "file_path", "file_paths", "filepath", "filepaths", "directory", "dir", "folder"}
)
URL_FIELDS = frozenset({"url", "urls"})
FILE_FIELDS = frozenset({"file", "files", "image", "images"})  # reach add_field only when not uploads
OPTION_FIELDS = frozenset({"lang", "language", "method", "api_key"})
NAME_MAX = 100
KEY_FIELD = "api_key"  # the form field a key can be in (tesseract_style.key_from)
# What a key's name may hold: no control, format (bidi overrides, zero-width), line or paragraph separator
# code points, so that it prints as one honest line in `ocrgw keys list` and the logs. The one definition:
# the check below and the OpenAPI document (schemas.py) both use it, so the spec says what is refused.
NAME_PATTERN = r"^[^\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]*$"
_NAME_OK = re.compile(NAME_PATTERN)


def bad(message: str, param: str | None = None) -> OcrgwError:
    return OcrgwError(ErrorCode.INVALID_PARAMETER, message, param=param)


def order(fields: Mapping[str, str]) -> Order:
    """`method` (Tesseract only) and `lang` (or `language`)."""
    method = fields.get("method", "").strip().lower() or METHODS[0]
    if method not in METHODS:
        raise bad(f"Unsupported OCR method {method!r}: supported methods are {', '.join(METHODS)}.", "method")
    return shared.order(fields.get("lang") or fields.get("language"))


def _boundary(request: Request, hint: str) -> bytes:
    boundary = multipart.boundary_of(request.headers.get("content-type", ""))
    if boundary is None:
        raise OcrgwError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, f"Send multipart/form-data {hint}.")
    return boundary


# -------------------------------------------------------------------------------------------- /ocr_process
def upload(request: Request, settings: Settings, *, keyless: bool) -> FormSource:
    """The image or PDF: the form's first file part, under any name (`file`, `image`, ...). ``keyless``:
    the key can only be an `api_key` field, looked for in the body's first MB."""
    boundary = _boundary(request, "with the image as a file part named 'file'")
    no_file = "No image uploaded: send it as a multipart file part named 'file' (or 'image')."
    cap = settings.max_upload_bytes + multipart.OVERHEAD
    form = FormSource(intake.body(request, cap), boundary, cap, no_file=no_file)
    if keyless:
        form.chunks = intake.key_within(form.chunks, lambda _: KEY_FIELD in form.form.fields, keep_head=False)
    return form


async def upload_order(query: Mapping[str, str], form: FormSource) -> Order:
    """The options of an upload, from the query string and the form (stored by now): exactly one file."""
    if form.form.files > 1:
        raise bad(
            f"{form.form.files} files were uploaded; /ocr_process reads exactly one. Use /batch_process for several.",
            "file",
        )
    return order({**{k.lower(): v for k, v in query.items()}, **form.form.fields})


def filename(form: FormSource) -> str:
    part = form.form.first
    return (part.filename or part.name) if part else ""


# -------------------------------------------------------------------------------------------- bodies
async def members(
    request: Request,
    *,
    cap: int,
    example: str,
    send: str,
    on_file: Callable[[FilePart, AsyncIterator[Event]], Awaitable[None]] | None = None,
    keyless: bool = False,
) -> AsyncIterator[tuple[str, object]]:
    """A form's or a JSON object's members (name, value) in body order: multipart/form-data
    (streamed; each file part to ``on_file`` as it arrives, or skipped), form-encoded, or JSON (``example``
    says what object). An empty body has none; any other type is refused, telling what to ``send``.
    ``keyless``: the key can only be an `api_key` field, looked for in a form's first MB."""
    ctype = parse_options_header(request.headers.get("content-type", ""))[0].decode("latin-1").lower()
    if ctype == "multipart/form-data":
        names: set[str] = set()
        chunks = intake.body(request, cap)
        if keyless:
            chunks = intake.key_within(chunks, lambda _: KEY_FIELD in names, keep_head=False)
        events = form_events(chunks, _boundary(request, ""), cap)
        async for event in events:
            if isinstance(event, Field):
                names.add(event.name.lower())
                yield event.name, event.value
            elif isinstance(event, FilePart) and on_file is not None:
                await on_file(event, events)
        return
    is_json = ctype == "application/json" or ctype.endswith("+json")
    if not is_json and ctype not in ("application/x-www-form-urlencoded", ""):
        raise OcrgwError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, f"Unsupported Content-Type {ctype!r}: send {send}.")
    raw = await intake.read_capped(intake.body(request, multipart.OVERHEAD), multipart.OVERHEAD)
    if not raw.strip():
        return
    if not is_json:
        for member in parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True):
            yield member
        return
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise bad(f"The JSON body is malformed: {exc}.") from exc
    if not isinstance(body, dict):
        raise bad(f"The JSON body must be an object such as {example}.")
    for name, value in body.items():
        yield str(name), value


# -------------------------------------------------------------------------------------------- /batch_process
class Batch:
    """The items of one batch in input order, with the cap checked as they arrive, and its other fields.
    Its uploads are stored as they stream in, before the fields after them (the key, `lang`) are known,
    so the batch owns them until each is handed to ``accept``: ``discard`` deletes the ones never handed
    over."""

    def __init__(self, settings: Settings, store: BlobStore) -> None:
        self.settings, self.store = settings, store
        self.items: list[Item] = []
        self.fields: dict[str, str] = {}

    def add(self, **kw: str | None) -> Item:
        cap = self.settings.batch_max_items
        if len(self.items) >= cap:
            raise bad(f"Too many images: a batch takes at most {cap} files and URLs together.")
        item = Item(index=len(self.items), **kw)  # type: ignore[arg-type]
        self.items.append(item)
        return item

    def add_field(self, name: str, value: object) -> None:
        """A form field or JSON member: URLs become items, server-side paths are refused."""
        key = name.strip().lower().removesuffix("[]")  # `files[]`, `urls[]` (PHP/JS conventions)
        if key in PATH_FIELDS:
            raise bad(
                f"Field {name!r}: server-side file paths are not accepted. Upload the files, or send "
                "http(s) URLs under 'urls'.",
                name,
            )
        if key in FILE_FIELDS:  # a text part or JSON member where a file was meant: not silently dropped
            raise bad(
                f"Field {name!r} must be an uploaded file (a multipart part with a filename); send URLs under 'urls'.",
                name,
            )
        if key not in URL_FIELDS:
            if isinstance(value, str):
                self.fields[name.lower()] = value
            elif value is not None and key in OPTION_FIELDS:  # JSON's {"lang": ["eng"]}: not silently unread
                raise bad(f"{name!r} must be a string.", name)
            return
        for v in value if isinstance(value, list) else [value]:
            if not isinstance(v, str):
                raise bad("'urls' must be a list of http(s) URL strings.", "urls")
            for url in v.split():  # one URL per field, or several separated by whitespace/newlines
                self.add(url=url)

    async def add_file(self, part: FilePart, events: AsyncIterator[Event]) -> None:
        """Store one upload as it streams in; a bad file fails only its item, except one over the size
        limit: the parts after it are reached only by reading it to its end (up to the batch's cap of about
        1 GB), so it refuses the batch (413) and the rest is never read."""
        item = self.add(filename=part.filename or part.name)
        reader = FileReader(events)
        try:
            item.blob = await StreamSource(reader.chunks()).save(self.store, self.settings, shared.LIMITS)
        except FormError:
            raise
        except OcrgwError as exc:
            if exc.code is ErrorCode.TOO_LARGE:  # skipping the rest of it means reading it: refuse the batch
                raise FormError(ErrorCode.TOO_LARGE, f"{item.filename}: {exc.message}") from exc
            item.error = exc
        await reader.skip()

    async def read(self, request: Request, *, keyless: bool) -> dict[str, str]:
        """The body's items and, with the query string's, its other fields."""
        self.fields.update({k.lower(): v for k, v in request.query_params.items()})
        async for name, value in members(
            request,
            cap=(self.settings.max_upload_bytes + multipart.OVERHEAD) * self.settings.batch_max_items,
            example='{"urls": ["https://..."]}',
            send='multipart/form-data (files and/or urls fields) or JSON {"urls": [...]}',
            on_file=self.add_file,
            keyless=keyless,
        ):
            self.add_field(name, value)
        return self.fields

    async def discard(self) -> None:
        for item in self.items:
            if item.blob is not None:
                await self.store.delete(item.blob.key)
                item.blob = None


# -------------------------------------------------------------------------------------------- /generate_api_key
async def key_fields(request: Request) -> dict[str, object]:
    """`name` (and `api_key`) from a JSON, form-encoded or multipart body; an empty body is fine."""
    body = members(request, cap=multipart.OVERHEAD, example='{"name": "my-app"}', send="JSON or a form")
    return {name.lower(): value async for name, value in body}


def key_name(fields: Mapping[str, object]) -> str:
    name = fields.get("name")
    name = "generated" if name is None or name == "" else name
    # Lone surrogates (JSON's "\ud800") cannot be stored as UTF-8; no portable pattern can name them.
    if (
        not isinstance(name, str)
        or len(name) > NAME_MAX
        or not _NAME_OK.match(name)
        or any("\ud800" <= c <= "\udfff" for c in name)
    ):
        raise bad(f"'name' must be a printable string of at most {NAME_MAX} characters.", "name")
    return name.strip() or "generated"
