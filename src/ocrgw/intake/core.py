"""Body -> blob: reads chunks while counting bytes (a small body into memory, a large one streamed into the
blob store), then sniffs the type and checks the headers. The size limit holds for chunked uploads that
carry no Content-Length."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import NoReturn

import anyio
import httpx
from starlette.requests import Request

from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.formats import ImageLimits
from ocrgw.intake.sniff import check_type, inspect_document
from ocrgw.net import open_url
from ocrgw.settings import Settings
from ocrgw.storage import BlobStore, StoredBlob

HEAD_BYTES = 64
# Bodies up to this size are read into memory and stored in one go: streaming them through the store's
# writer cost a thread hop per chunk, plus open, close, inspect, mkdir and rename hops, per submit.
SMALL_BODY = 1024 * 1024
# After the limit is passed we keep reading (and dropping) this much more, so a client that is still
# uploading gets to read our error instead of a reset connection; beyond it we stop reading.
DRAIN_BYTES = 64 * 1024 * 1024
# A request with no key in its headers or query may carry it in its body (a form field, a JSON member); at
# most this much of the body is read looking for it before the key error is told. Clients send the key
# before the file (requests puts form fields first) or in a header.
KEY_WITHIN = 1024 * 1024


def _too_large(settings: Settings) -> OcrgwError:
    mb = settings.max_upload_bytes / (1024 * 1024)
    return OcrgwError(ErrorCode.TOO_LARGE, f"Input image is too large: at most {mb:g} MB are accepted.")


def declared_size(request: Request) -> int | None:
    """The body size a request declares (Content-Length), None when it declares none (chunked)."""
    value = request.headers.get("content-length", "").strip()
    return int(value) if value.isdigit() else None


async def body(request: Request, cap: int) -> AsyncIterator[bytes]:
    """The request body as it arrives, for a reader that refuses it past ``cap`` bytes; a body whose
    Content-Length already says it is over ``cap`` is refused before a byte of it is read (the check runs
    when the reader first asks for a chunk, so a key in a header is still told first). The connection is
    then closed rather than drained (``main.CloseUnreadBodies``)."""
    declared = declared_size(request)
    if declared is not None and declared > cap:
        raise OcrgwError(
            ErrorCode.TOO_LARGE,
            f"The request is too large: its body declares {declared:,} bytes; at most {cap:,} are accepted.",
        )
    async for chunk in request.stream():
        yield chunk


async def from_stream(
    chunks: AsyncIterator[bytes],
    *,
    store: BlobStore,
    settings: Settings,
    limits: ImageLimits,
    declared: int | None = None,
) -> StoredBlob:
    """Store a body as it arrives; refuse it as soon as it passes the size limit (before reading any of it
    when its ``declared`` size already does), and an image outside the API's pixel ``limits`` once its
    headers are in. A body that ends within ``SMALL_BODY`` bytes is kept in
    memory and then inspected and stored in one go (one thread hop on the local store); a larger one is
    spooled to the store's writer as it arrives."""
    if declared is not None and declared > settings.max_upload_bytes:
        raise _too_large(settings)
    stream = aiter(chunks)
    buf = bytearray()
    async for chunk in stream:
        buf += chunk
        if len(buf) > settings.max_upload_bytes:
            await _drain(stream, len(buf), settings)
        if len(buf) > SMALL_BODY:
            return await _spool(bytes(buf), stream, store=store, settings=settings, limits=limits)
    if not buf:
        raise OcrgwError(ErrorCode.EMPTY_BODY, "The request body is empty: send the image bytes.")
    data = bytes(buf)
    media_type = check_type(data[:HEAD_BYTES])
    key, (width, height, frames) = await store.put(data, partial(inspect_document, data, media_type, settings, limits))
    return StoredBlob(key=key, size=len(data), media_type=media_type, width=width, height=height, frames=frames)


async def _drain(stream: AsyncIterator[bytes], size: int, settings: Settings) -> NoReturn:
    """Past the size limit: read (and drop) up to DRAIN_BYTES more, then refuse the body."""
    async for more in stream:
        size += len(more)
        if size > settings.max_upload_bytes + DRAIN_BYTES:
            break
    raise _too_large(settings)


async def _spool(
    first: bytes, stream: AsyncIterator[bytes], *, store: BlobStore, settings: Settings, limits: ImageLimits
) -> StoredBlob:
    """A large body: written to the store's writer as it arrives, inspected from its file, then kept."""
    writer = await store.writer()
    size = len(first)
    try:
        await writer.write(first)
        async for chunk in stream:
            if not chunk:
                continue
            size += len(chunk)
            if size > settings.max_upload_bytes:
                await _drain(stream, size, settings)
            await writer.write(chunk)
        await writer.close()
        media_type = check_type(first[:HEAD_BYTES])
        width, height, frames = await anyio.to_thread.run_sync(
            inspect_document, writer.path, media_type, settings, limits
        )
        key = await writer.commit()
    except BaseException:
        await writer.abort()
        raise
    return StoredBlob(key=key, size=size, media_type=media_type, width=width, height=height, frames=frames)


async def from_url(url: str, *, store: BlobStore, settings: Settings, limits: ImageLimits) -> StoredBlob:
    """Fetch a URL source under the SSRF guard, the size limit and an overall time limit."""
    try:
        with anyio.fail_after(settings.url_fetch_timeout):
            async with open_url(url, settings) as resp:
                declared = resp.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > settings.max_upload_bytes:
                    raise _too_large(settings)
                return await from_stream(resp.aiter_bytes(), store=store, settings=settings, limits=limits)
    except TimeoutError as exc:
        raise OcrgwError(ErrorCode.DOWNLOAD_TIMEOUT, "Timed out downloading the image URL.") from exc
    except httpx.HTTPError as exc:
        raise OcrgwError(ErrorCode.DOWNLOAD_FAILED, f"Image URL is not accessible: {exc}.") from exc


async def key_within(
    chunks: AsyncIterator[bytes], has_key: Callable[[bytes], bool], *, keep_head: bool
) -> AsyncIterator[bytes]:
    """The body's chunks, refused with the missing-key error once more than KEY_WITHIN bytes went by and
    ``has_key`` (given the first KEY_WITHIN bytes when ``keep_head``, else b"") found no key in them."""
    seen, head = 0, bytearray()
    async for chunk in chunks:
        if seen <= KEY_WITHIN:
            seen += len(chunk)
            if keep_head:
                head += chunk
            if seen > KEY_WITHIN:
                if not has_key(bytes(head[:KEY_WITHIN])):
                    raise OcrgwError(ErrorCode.MISSING_KEY, "No API key in the first MB of the body.")
                head = bytearray()
        yield chunk


async def read_capped(chunks: AsyncIterator[bytes], cap: int) -> bytes:
    """Read a small body (JSON) whole, refusing it past ``cap`` bytes."""
    buf = bytearray()
    async for chunk in chunks:
        buf += chunk
        if len(buf) > cap:
            raise OcrgwError(ErrorCode.TOO_LARGE, f"The request body is larger than {cap} bytes.")
    return bytes(buf)
