"""JSON request bodies read without holding them (intake; the dialects' parse modules call it before
``jobs.service.accept`` stores the document). The body is scanned as it arrives, in a thread a batch at a
time; a string member longer than SPOOL_AT (a base64 document) goes, unescaped, to an anonymous file, and
the rest of the JSON (names and options, at most SKELETON_CAP) is parsed by the json module with a
placeholder where each long string was. The document member then becomes a ``Base64Source`` that decodes
its file a block at a time into ``from_stream``. So a request holds a few MB of the API process whatever
its body, and the CPU work of a 60 MB body never runs on the event loop. No maintained library streams a
string's value (ijson and json-stream build each string whole), hence this scanner.

A key that can only be in the body is looked for in the body's first KEY_WITHIN bytes (``head``): a
caller that sends a large body without a good key is refused after one MB, not after all of it."""

from __future__ import annotations

import binascii
import json
import re
import secrets
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import IO, TYPE_CHECKING

import anyio

from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.formats import ImageLimits
from ocrgw.intake.core import KEY_WITHIN, from_stream
from ocrgw.settings import Settings
from ocrgw.storage import BlobStore, StoredBlob

if TYPE_CHECKING:
    from hashlib import _Hash as Hash

SPOOL_AT = 64 * 1024  # a string longer than this goes to a file
SKELETON_CAP = 1024 * 1024  # everything else the JSON holds
BATCH = 1024 * 1024  # bytes scanned per thread hop
INLINE = 64 * 1024  # a whole body this small is scanned on the event loop: a thread hop costs more
BLOCK = 1024 * 1024  # base64 text decoded per thread hop

_ESC = re.compile(rb"\\(?:u([dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|[0-9a-fA-F]{4})|(.))", re.S)
_HIGH_END = re.compile(rb"\\u[dD][89abAB][0-9a-fA-F]{2}\Z")  # half a surrogate pair, its other half to come
_SIMPLE = {ord(k): v for k, v in zip('"\\/bfnrt', [b'"', b"\\", b"/", b"\b", b"\f", b"\n", b"\r", b"\t"], strict=True)}
_WS = b" \t\r\n\f\v"


class JsonSyntaxError(ValueError):
    """The body is not JSON; the dialect says so in its own words."""


@dataclass(slots=True)
class Spooled:
    """A long string member's text, its JSON escapes undone, in an anonymous file (gone when closed, or
    when the process dies)."""

    file: IO[bytes]
    size: int = 0

    def write(self, data: bytes) -> None:
        self.file.write(data)
        self.size += len(data)

    def blocks(self, size: int = BLOCK) -> Iterator[bytes]:
        self.file.seek(0)
        while block := self.file.read(size):
            yield block

    def close(self) -> None:
        self.file.close()


def spool_file(spool_dir: Path) -> IO[bytes]:
    """An anonymous file in ``spool_dir`` (the data directory's tmp, not /tmp: that may be RAM)."""
    spool_dir.mkdir(parents=True, exist_ok=True)
    return tempfile.TemporaryFile(dir=spool_dir)  # its Spooled closes it


def _unescape(seg: bytes) -> bytes:
    if b"\\" not in seg:
        return seg
    if b"\\\\" not in seg:  # every backslash starts an escape: PHP's `\/` for each `/` undone in C
        seg = seg.replace(b"\\/", b"/")
        if b"\\" not in seg:
            return seg

    def one(m: re.Match[bytes]) -> bytes:
        if m[1] is not None:  # one code point, or a surrogate pair's two escapes (JSON's way past U+FFFF)
            units = bytes.fromhex(m[1].replace(b"\\u", b"").decode())
            return units.decode("utf-16-be", "surrogatepass").encode("utf-8", "surrogatepass")
        if (out := _SIMPLE.get(m[2][0])) is None:
            raise JsonSyntaxError(f"invalid escape \\{m[2].decode('latin-1')}")
        return out

    return _ESC.sub(one, seg)


def _closing_quote(data: bytes, pos: int) -> int:
    """Where the string whose content starts at ``pos`` ends (-1: not in ``data``): the first quote after
    an even number of backslashes. memchr-fast, where a regex over the content runs at a tenth of it."""
    q = data.find(b'"', pos)
    while q >= 0:
        j = q
        while j > pos and data[j - 1] == 0x5C:
            j -= 1
        if (q - j) % 2 == 0:
            return q
        q = data.find(b'"', q + 1)
    return -1


def _starts_escape(seg: bytes, k: int) -> bool:
    """Whether the backslash at ``k`` starts an escape (it follows an even number of backslashes)."""
    j = k
    while j > 0 and seg[j - 1] == 0x5C:
        j -= 1
    return (k - j) % 2 == 0


def _open_escape(seg: bytes) -> int:
    """How many bytes at the end of a string's content are an escape cut by the batch's end, or the first
    half of a surrogate pair (kept for the next batch, so an escape is never unescaped in halves)."""
    keep = 0
    k = seg.rfind(b"\\", max(0, len(seg) - 6))
    if k >= 0 and _starts_escape(seg, k) and (k == len(seg) - 1 or (seg[k + 1] == 0x75 and len(seg) - k < 6)):
        keep = len(seg) - k  # "\" or "\u12"
    rest = seg[: len(seg) - keep]
    if _HIGH_END.search(rest) and _starts_escape(rest, len(rest) - 6):
        keep += 6
    return keep


@dataclass(slots=True)
class Scanner:
    """The state of one body's scan: outside or inside a string, the string so far (while short) or its
    file (once long), and the skeleton: the JSON text with a placeholder for each long string."""

    spool_dir: Path
    token: str = field(default_factory=lambda: "\\u0000ocrgw-spool-" + secrets.token_hex(6) + "-")
    skeleton: bytearray = field(default_factory=bytearray)
    spools: list[Spooled] = field(default_factory=list)
    in_string: bool = False
    short: bytearray = field(default_factory=bytearray)
    long: Spooled | None = None
    carry: bytes = b""
    error: str | None = None  # told at the end, so a signature over the whole body is still checked first

    def feed(self, data: bytes) -> None:
        data, self.carry = self.carry + data if self.carry else data, b""
        pos, n = 0, len(data)
        while pos < n:
            if not self.in_string:
                q = data.find(b'"', pos)
                self._keep(data[pos : n if q < 0 else q])
                if q < 0:
                    return
                self.in_string, pos = True, q + 1
                continue
            end = _closing_quote(data, pos)
            if end >= 0:
                self._content(data[pos:end], final=True)
                self.in_string, pos = False, end + 1
                continue
            seg = data[pos:n]
            cut = len(seg) - _open_escape(seg)
            self.carry = seg[cut:]
            self._content(seg[:cut], final=False)
            return

    def _keep(self, text: bytes) -> None:
        self.skeleton += text
        if len(self.skeleton) > SKELETON_CAP:
            raise OcrgwError(
                ErrorCode.TOO_LARGE,
                f"The JSON body's members other than the document are over {SKELETON_CAP // 1024} KB.",
            )

    def _content(self, seg: bytes, *, final: bool) -> None:
        if self.long is None and len(self.short) + len(seg) <= SPOOL_AT:
            self.short += seg
        else:
            if self.long is None:
                self.long = Spooled(spool_file(self.spool_dir))
                self.spools.append(self.long)
                self._spool(bytes(self.short))
                self.short.clear()
            self._spool(seg)
        if final:
            if self.long is None:
                self._keep(b'"' + self.short + b'"')
                self.short.clear()
            else:
                self._keep(f'"{self.token}{len(self.spools) - 1}"'.encode())
                self.long = None

    def _spool(self, seg: bytes) -> None:
        assert self.long is not None
        try:
            self.long.write(_unescape(seg))
        except JsonSyntaxError as exc:
            self.error = self.error or str(exc)

    def head(self) -> dict[str, object]:
        """The top-level members complete so far (a long string in progress is not one yet)."""
        return complete_members(self.skeleton.decode("utf-8", "replace"))

    def finish(self) -> JsonBody:
        if self.error:
            raise JsonSyntaxError(self.error)
        if self.in_string or self.carry:
            raise JsonSyntaxError("the body ends inside a string")
        try:
            value = json.loads(self.skeleton) if self.skeleton.strip() else None
        except ValueError as exc:
            raise JsonSyntaxError(str(exc)) from None
        token = json.loads(f'"{self.token}"')
        return JsonBody(value, {f"{token}{i}": s for i, s in enumerate(self.spools)})

    def close(self) -> None:
        for spool in self.spools:
            spool.close()


def complete_members(text: str) -> dict[str, object]:
    """The members of a JSON object's text that are complete, however the text ends (a number at its very
    end may still go on, so it is left out)."""
    decoder, out = json.JSONDecoder(), dict[str, object]()
    i = _ws(text, 0)
    if text[i : i + 1] != "{":
        return out
    i += 1
    try:
        while True:
            i = _ws(text, i)
            name, i = decoder.raw_decode(text, i)
            i = _ws(text, i)
            if text[i] != ":":
                return out
            value, i = decoder.raw_decode(text, _ws(text, i + 1))
            if i >= len(text):
                return out
            if isinstance(name, str):
                out[name] = value
            i = _ws(text, i)
            if text[i] != ",":
                return out
            i += 1
    except (ValueError, IndexError):
        return out


def _ws(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i


@dataclass(slots=True)
class JsonBody:
    """A parsed body: ``value`` as json.loads gives it, with a placeholder string where each long string
    was; ``text(v)`` gives such a string's file. ``close`` removes the files (``Base64Source.save``
    closes the one it decodes)."""

    value: object
    spools: dict[str, Spooled]

    def members(self) -> dict[str, object] | None:
        return self.value if isinstance(self.value, dict) else None

    def text(self, value: object) -> str | Spooled | None:
        """A string member as given, or its file when it was long; None when it is no string."""
        if isinstance(value, str):
            return self.spools.get(value, value)
        return None

    def close(self) -> None:
        for spool in self.spools.values():
            spool.close()


async def read(
    chunks: AsyncIterator[bytes],
    *,
    cap: int,
    settings: Settings,
    head: Callable[[dict[str, object]], Awaitable[None]] | None = None,
    digest: Hash | None = None,
) -> JsonBody:
    """Scan a body of at most ``cap`` bytes. ``head``, when given, is called once with the members complete
    in the first KEY_WITHIN bytes (or in the whole body when it is shorter), and raises to refuse it.
    ``digest`` is fed the raw body (for a signature over it) in the same thread hops."""
    scanner = Scanner(settings.data_dir / "tmp")
    waiting = head

    async def after(size: int) -> None:
        nonlocal waiting
        if waiting is not None and size >= KEY_WITHIN:
            await waiting(scanner.head())
            waiting = None

    try:
        await feed_batches(chunks, cap, partial(_feed, scanner, digest=digest), after)
        body = scanner.finish()
    except BaseException:
        scanner.close()
        raise
    if waiting is not None:
        try:
            await waiting(body.members() or {})
        except BaseException:
            body.close()
            raise
    return body


async def feed_batches(
    chunks: AsyncIterator[bytes],
    cap: int,
    feed: Callable[[bytes], object],
    after: Callable[[int], Awaitable[None]] | None = None,
) -> int:
    """Hand a body of at most ``cap`` bytes to ``feed`` a BATCH at a time, in a thread (on the event loop
    when the whole body is under INLINE); ``after`` hears the bytes read so far after each batch."""
    pending, size = bytearray(), 0
    async for chunk in chunks:
        size += len(chunk)
        if size > cap:
            raise OcrgwError(ErrorCode.TOO_LARGE, f"The request body is larger than {cap:,} bytes.")
        pending += chunk
        if len(pending) >= BATCH:
            await anyio.to_thread.run_sync(feed, bytes(pending))
            pending.clear()
            if after is not None:
                await after(size)
    if size <= INLINE:
        feed(bytes(pending))
    else:
        await anyio.to_thread.run_sync(feed, bytes(pending))
    return size


def _feed(scanner: Scanner, data: bytes, digest: Hash | None) -> None:
    if digest is not None:
        digest.update(data)
    scanner.feed(data)


# ------------------------------------------------------------------------------------------ base64 documents
@dataclass(slots=True)
class Base64Decoder:
    """Base64 decoded a block at a time, as ``base64.b64decode(validate=True)`` would decode it whole:
    whitespace ignored, padding only at the end, a `data:<type>;base64,` prefix allowed when ``data_uri``."""

    data_uri: bool = True
    head: bytes | None = b""  # the first bytes, until the prefix question is settled (then None)
    rest: bytes = b""  # fewer than 4 characters carried to the next block
    padded: bool = False

    def feed(self, block: bytes) -> bytes:
        block = block.translate(None, _WS)
        if self.head is not None:
            self.head += block
            if b"," not in self.head[:256] and len(self.head) < 256:
                return b""
            block, self.head = self._prefix(self.head), None
        text = self.rest + block
        cut = len(text) - len(text) % 4
        self.rest = text[cut:]
        return self._decode(text[:cut])

    def end(self) -> bytes:
        out = b""
        if self.head is not None:
            out, self.head = self._decode(self._prefix(self.head)), None
        if self.rest:
            out += self._decode(self.rest)  # raises: base64 comes in fours
        return out

    def _prefix(self, head: bytes) -> bytes:
        scheme, sep, payload = head.partition(b",")
        return payload if sep and self.data_uri and scheme[:5].lower() == b"data:" else head

    def _decode(self, text: bytes) -> bytes:
        if not text:
            return b""
        if self.padded:
            raise ValueError("data after the padding")
        self.padded = text.endswith(b"=")
        try:
            return binascii.a2b_base64(text, strict_mode=True)
        except binascii.Error as exc:
            raise ValueError(str(exc)) from None


def decode_all(text: str | bytes, *, data_uri: bool = True) -> bytes:
    """A short base64 string whole, by the same rules as a long one."""
    raw = text.encode("ascii") if isinstance(text, str) else text  # non-ASCII: UnicodeError, a ValueError
    decoder = Base64Decoder(data_uri)
    return decoder.feed(raw) + decoder.end()


@dataclass(slots=True)
class Base64Source:
    """A base64 document member (short, or spooled when long), decoded into the store a block at a time
    once ``accept`` stores it: after the backlog check. ``invalid`` and ``empty`` make the dialect's own
    errors (``empty`` defaults to ``invalid``)."""

    value: str | Spooled
    invalid: Callable[[], Exception]
    empty: Callable[[], Exception] | None = None
    data_uri: bool = True

    async def save(self, store: BlobStore, settings: Settings, limits: ImageLimits) -> StoredBlob:
        try:
            return await from_stream(self._decoded(), store=store, settings=settings, limits=limits)
        finally:
            if isinstance(self.value, Spooled):
                self.value.close()

    async def _decoded(self) -> AsyncIterator[bytes]:
        try:
            if isinstance(self.value, str):
                work = partial(decode_all, self.value, data_uri=self.data_uri)
                data = work() if len(self.value) <= INLINE else await anyio.to_thread.run_sync(work)
                if not data:
                    raise (self.empty or self.invalid)()
                yield data
                return
            decoder, blocks, size, done = Base64Decoder(self.data_uri), self.value.blocks(), 0, False
            while not done:
                out, done = await anyio.to_thread.run_sync(_step, decoder, blocks)
                size += len(out)
                if out:
                    yield out
        except ValueError:
            raise self.invalid() from None
        if size == 0:
            raise (self.empty or self.invalid)()


def _step(decoder: Base64Decoder, blocks: Iterator[bytes]) -> tuple[bytes, bool]:
    """One block of a spooled string read and decoded (in a thread); True once it was the last."""
    block = next(blocks, None)
    return (decoder.end(), True) if block is None else (decoder.feed(block), False)


def head_of(value: str | Spooled, size: int = 256) -> str:
    """A base64 member's first characters (to tell a malformed `data:` prefix in the dialect's words)."""
    if isinstance(value, str):
        return value[:size]
    value.file.seek(0)
    return value.file.read(size).decode("latin-1")
