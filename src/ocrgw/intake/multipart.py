"""Intake for multipart/form-data bodies, streamed: ``form_events`` turns a body into fields, file parts
(whatever their name: one with a filename or a non-text type) and their data chunks, so each file can go
into the blob store as it arrives; ``stream_first_file`` is the common case of one document per form.
Vendor-neutral: Image Analysis, OCR.space, the native API and the Flask-style batch API post forms."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from python_multipart.multipart import MultipartParser, parse_options_header

from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.intake.jsonbody import SPOOL_AT, Spooled, spool_file

OVERHEAD = 1024 * 1024  # form fields and part headers allowed on top of the upload limit
FIELD_BYTES = 1024 * 1024  # all text fields of one form together


@dataclass(slots=True)
class MultipartForm:
    """What a form held besides its first file: the text fields (lower-cased names), how many file
    parts there were (vendors refuse two sources), and the first file part's name and filename."""

    fields: dict[str, str] = field(default_factory=dict)
    files: int = 0
    first: FilePart | None = None
    long: dict[str, Spooled] = field(default_factory=dict)  # fields allowed to be long, spooled to files


def boundary_of(content_type: str) -> bytes | None:
    """The boundary of a multipart/form-data Content-Type, or None when it is not one."""
    ctype, params = parse_options_header(content_type)
    if ctype.lower() != b"multipart/form-data":
        return None
    boundary = params.get(b"boundary")
    if not boundary:
        raise OcrgwError(ErrorCode.INVALID_PARAMETER, "multipart/form-data needs a boundary parameter.")
    return boundary


class FormError(OcrgwError):
    """The request body as a whole is bad (malformed, over the total cap): never one item's error."""


@dataclass(frozen=True, slots=True)
class Field:
    """A text part, whole: its lower-cased name and its value."""

    name: str
    value: str


@dataclass(frozen=True, slots=True)
class LongField:
    """A text part allowed to be long (OCR.space's base64Image) that was: its value in a file."""

    name: str
    value: Spooled


@dataclass(slots=True)
class FilePart:
    """The start of a file part; its ``Data`` chunks and an ``End`` follow."""

    name: str
    filename: str | None


@dataclass(frozen=True, slots=True)
class Data:
    chunk: bytes


@dataclass(frozen=True, slots=True)
class End:
    """The end of the current file part."""


Event = Field | LongField | FilePart | Data | End


async def form_events(
    chunks: AsyncIterator[bytes],
    boundary: bytes,
    cap: int,
    long: frozenset[str] = frozenset(),
    spool_dir: Path | None = None,
) -> AsyncIterator[Event]:
    """A multipart body as events, streamed: every file part (any name; one with a filename or a non-text
    type, as intake.multipart decides) arrives as a FilePart, its Data chunks and an End, so each can go to
    intake in turn without the body ever being held whole. Text fields come whole (bounded), but for the
    ``long`` ones (lower-case names), which come as LongFields: spooled to a file in ``spool_dir`` past
    SPOOL_AT, and not counted in FIELD_BYTES."""
    st: dict = {"headers": {}, "field": b"", "value": b"", "kind": None, "name": "", "buf": bytearray(), "fields": 0}
    out: list[Event] = []

    def on_part_begin() -> None:
        st["headers"], st["kind"], st["buf"] = {}, None, bytearray()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        st["field"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        st["value"] += data[start:end]

    def on_header_end() -> None:
        st["headers"][st["field"].decode("latin-1").lower()] = st["value"]
        st["field"], st["value"] = b"", b""

    def on_headers_finished() -> None:
        _, disp = parse_options_header(st["headers"].get("content-disposition", b""))
        ctype = st["headers"].get("content-type", b"").decode("latin-1").lower()
        st["name"] = disp.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" in disp or (ctype and not ctype.startswith("text/")):
            st["kind"] = "file"
            filename = disp[b"filename"].decode("utf-8", "replace") if b"filename" in disp else None
            out.append(FilePart(st["name"], filename))
        else:
            st["kind"] = "field"

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if st["kind"] == "file":
            out.append(Data(data[start:end]))
        elif st["kind"] is not None:
            _text_data(st, data[start:end], long, spool_dir)

    def on_part_end() -> None:
        if st["kind"] == "file":
            out.append(End())
        elif st["kind"] == "spool":
            out.append(LongField(st["name"].lower(), st["spool"]))
        elif st["kind"] == "field":
            out.append(Field(st["name"].lower(), st["buf"].decode("utf-8", "replace")))

    callbacks: Any = {  # python-multipart types its callback table loosely
        "on_part_begin": on_part_begin,
        "on_part_data": on_part_data,
        "on_part_end": on_part_end,
        "on_header_field": on_header_field,
        "on_header_value": on_header_value,
        "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished,
    }
    parser = MultipartParser(boundary, callbacks)
    total = 0
    try:
        async for chunk in chunks:
            total += len(chunk)
            if total > cap:
                raise FormError(ErrorCode.TOO_LARGE, "The request body is too large.")
            parser.write(chunk)
            while out:
                yield out.pop(0)
        parser.finalize()
    except OcrgwError:
        raise
    except Exception as exc:  # python-multipart's MultipartParseError and friends
        raise FormError(ErrorCode.INVALID_PARAMETER, f"The multipart/form-data body is malformed: {exc}") from exc
    while out:
        yield out.pop(0)


def _text_data(st: dict, chunk: bytes, long: frozenset[str], spool_dir: Path | None) -> None:
    """A text part's data: kept (all fields together at most FIELD_BYTES), or for a ``long`` field past
    SPOOL_AT, written to its file."""
    if st["kind"] == "spool":
        st["spool"].write(chunk)
    elif st["name"].lower() in long and len(st["buf"]) + len(chunk) > SPOOL_AT:
        st["kind"], st["spool"] = "spool", Spooled(spool_file(spool_dir or Path(tempfile.gettempdir())))
        st["spool"].write(bytes(st["buf"]) + chunk)
    else:
        st["buf"] += chunk
        st["fields"] += len(chunk)
        if st["fields"] > FIELD_BYTES:
            raise FormError(ErrorCode.TOO_LARGE, "The form's text fields are too large.")


class FileReader:
    """One file part of a ``form_events`` stream, as a body for intake (forms with several documents);
    remembers whether its end was reached, so what intake left unread (it stops early on an oversize
    file) can be skipped exactly."""

    def __init__(self, events: AsyncIterator[Event]) -> None:
        self.events = events
        self.done = False

    async def chunks(self) -> AsyncIterator[bytes]:
        async for event in self.events:
            if isinstance(event, End):
                self.done = True
                return
            if isinstance(event, Data):
                yield event.chunk

    async def skip(self) -> None:
        if not self.done:
            async for _ in self.chunks():
                pass


async def stream_first_file(
    chunks: AsyncIterator[bytes],
    boundary: bytes,
    cap: int,
    form: MultipartForm,
    long: frozenset[str] = frozenset(),
    spool_dir: Path | None = None,
) -> AsyncIterator[bytes]:
    """Streams the first file part (any name: one with a filename or a non-text type) as it arrives and
    collects the other parts as fields (the ``long`` ones that were long in ``form.long``); counts the
    file parts."""
    first = False
    async for event in form_events(chunks, boundary, cap, long, spool_dir):
        if isinstance(event, LongField):
            form.long[event.name] = event.value
        elif isinstance(event, Field):
            form.fields[event.name] = event.value
        elif isinstance(event, FilePart):
            form.files += 1
            first = form.files == 1
            if first:
                form.first = event
        elif isinstance(event, Data) and first:
            yield event.chunk
