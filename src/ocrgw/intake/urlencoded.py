"""application/x-www-form-urlencoded bodies read without holding them (intake; OCR.space's parse module
calls it, where the PyPI client posts `base64Image=data:...` this way): python-multipart's
QuerystringParser splits the fields as the body arrives, in a thread a batch at a time; a value longer than
jsonbody.SPOOL_AT is percent-decoded into an anonymous file (a ``jsonbody.Spooled``, decoded from there by
a ``Base64Source``), the others are kept as text, at most jsonbody.SKELETON_CAP of them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_to_bytes

import anyio
from python_multipart.multipart import QuerystringParser

from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.intake.jsonbody import INLINE, SKELETON_CAP, SPOOL_AT, Spooled, feed_batches, spool_file
from ocrgw.settings import Settings


def _unquote(raw: bytes) -> bytes:
    return unquote_to_bytes(raw.replace(b"+", b" "))


@dataclass(slots=True)
class _Fields:
    """The parser's callbacks and what they built: each field's name, then its value as text or in a file."""

    settings: Settings
    fields: dict[str, str | Spooled] = field(default_factory=dict)
    name: bytearray = field(default_factory=bytearray)
    value: bytearray = field(default_factory=bytearray)  # percent-encoded, while short
    spool: Spooled | None = None
    carry: bytes = b""  # a `%X` cut by a batch's end
    kept: int = 0

    def on_field_start(self) -> None:
        self.name, self.value, self.spool, self.carry = bytearray(), bytearray(), None, b""

    def on_field_name(self, data: bytes, start: int, end: int) -> None:
        self._count(end - start)
        self.name += data[start:end]

    def on_field_data(self, data: bytes, start: int, end: int) -> None:
        if self.spool is None and len(self.value) + end - start <= SPOOL_AT:
            self.value += data[start:end]
            return
        if self.spool is None:
            self.spool = Spooled(spool_file(self.settings.data_dir / "tmp"))
            self.value, raw = bytearray(), bytes(self.value) + data[start:end]
        else:
            raw = self.carry + data[start:end]
        cut = raw.rfind(b"%", max(0, len(raw) - 2))
        raw, self.carry = (raw[:cut], raw[cut:]) if cut >= 0 else (raw, b"")
        self.spool.write(_unquote(raw))

    def on_field_end(self) -> None:
        name = _unquote(bytes(self.name)).decode("utf-8", "replace").lower()
        if self.spool is not None:
            self.spool.write(_unquote(self.carry))
            self.fields[name] = self.spool
        else:
            self._count(len(self.value))
            self.fields[name] = _unquote(bytes(self.value)).decode("utf-8", "replace")

    def _count(self, n: int) -> None:
        self.kept += n
        if self.kept > SKELETON_CAP:
            raise OcrgwError(
                ErrorCode.TOO_LARGE, f"The form's fields other than the document are over {SKELETON_CAP // 1024} KB."
            )

    def close(self) -> None:
        for value in self.fields.values():
            if isinstance(value, Spooled):
                value.close()
        if self.spool is not None:
            self.spool.close()


async def read(chunks: AsyncIterator[bytes], *, cap: int, settings: Settings) -> dict[str, str | Spooled]:
    """The fields of a body of at most ``cap`` bytes, by lower-cased name (a later one wins, as with a
    dict of ``parse_qsl``); the caller closes the files of the long ones it does not hand on."""
    state = _Fields(settings)
    callbacks: Any = {  # python-multipart types its callback table loosely
        "on_field_start": state.on_field_start,
        "on_field_name": state.on_field_name,
        "on_field_data": state.on_field_data,
        "on_field_end": state.on_field_end,
    }
    parser = QuerystringParser(callbacks)
    try:
        if await feed_batches(chunks, cap, parser.write) <= INLINE:
            parser.finalize()
        else:
            await anyio.to_thread.run_sync(parser.finalize)
    except BaseException:
        state.close()
        raise
    return state.fields
