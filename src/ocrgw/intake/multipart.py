"""Intake for multipart/form-data bodies: streams the first file part (whatever its name: one with a
filename or a non-text type) into the blob store as it arrives, and keeps the small text parts as fields.
Vendor-neutral: Image Analysis and OCR.space both post forms."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from python_multipart.multipart import MultipartParser, parse_options_header

from ocrgw.errors import ErrorCode, OcrgwError

OVERHEAD = 1024 * 1024  # form fields and part headers allowed on top of the upload limit


@dataclass(slots=True)
class MultipartForm:
    """What a form held besides its first file: the text fields (lower-cased names) and how many file
    parts there were (vendors refuse two sources)."""

    fields: dict[str, str] = field(default_factory=dict)
    files: int = 0


def boundary_of(content_type: str) -> bytes | None:
    """The boundary of a multipart/form-data Content-Type, or None when it is not one."""
    ctype, params = parse_options_header(content_type)
    if ctype.lower() != b"multipart/form-data":
        return None
    boundary = params.get(b"boundary")
    if not boundary:
        raise OcrgwError(ErrorCode.INVALID_PARAMETER, "multipart/form-data needs a boundary parameter.")
    return boundary


async def stream_first_file(chunks: AsyncIterator[bytes], boundary: bytes, cap: int,
                            form: MultipartForm) -> AsyncIterator[bytes]:
    """Streams the first file part (any name: one with a filename or a non-text type) as it arrives and
    collects the other parts as fields; counts the file parts."""
    st: dict = {"headers": {}, "field": b"", "value": b"", "kind": None, "name": "", "buf": bytearray()}
    out: list[bytes] = []

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
            form.files += 1
            st["kind"] = "file" if form.files == 1 else "skip"
        else:
            st["kind"] = "field"

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if st["kind"] == "file":
            out.append(data[start:end])
        elif st["kind"] == "field":
            st["buf"] += data[start:end]

    def on_part_end() -> None:
        if st["kind"] == "field":
            form.fields[st["name"].lower()] = st["buf"].decode("utf-8", "replace")

    parser = MultipartParser(boundary, {  # type: ignore[arg-type]
        "on_part_begin": on_part_begin, "on_part_data": on_part_data, "on_part_end": on_part_end,
        "on_header_field": on_header_field, "on_header_value": on_header_value,
        "on_header_end": on_header_end, "on_headers_finished": on_headers_finished})
    total = 0
    try:
        async for chunk in chunks:
            total += len(chunk)
            if total > cap:
                raise OcrgwError(ErrorCode.TOO_LARGE, "The multipart request body is too large.")
            parser.write(chunk)
            while out:
                yield out.pop(0)
        parser.finalize()
    except OcrgwError:
        raise
    except Exception as exc:  # python-multipart's MultipartParseError and friends
        raise OcrgwError(ErrorCode.INVALID_PARAMETER, f"The multipart/form-data body is malformed: {exc}") from exc
    while out:
        yield out.pop(0)
