"""Idempotency-Key fingerprints (native API, between the route and the job row): what a submit sent, so a
retry with the same key is told apart from a different request reusing it. A retry replays the original
job; a reuse is refused (400 IdempotencyKeyReused, as Stripe answers; the IETF draft's 422 would be a
status the native API documents nowhere else, and the spec keeps 422 for no route).

The fingerprint is of the request as the client meant it, not of its bytes on the wire: the media type,
the query parameters, and the body, where a multipart body counts by its parts (headers and data) and
not by its boundary, which clients draw at random on every send. Deciding needs the body, so a replay
reads it (hashing, storing nothing, under the same size cap as a submit); replays were answered before
reading, but then a different document under a reused key was silently given the first job."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

from python_multipart.multipart import MultipartParser, parse_options_header
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from starlette.requests import Request
from starlette.types import Message, Receive

from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.jobs.models import Job

REUSED = (
    "This Idempotency-Key was already used for a different request (another document or other options): "
    "keys for idempotent requests can only be reused with the same request. Send a new key."
)


class Fingerprint:
    """sha256 over a request's media type, query and body, fed the body's chunks as they arrive."""

    def __init__(self, request: Request) -> None:
        self._hash = hashlib.sha256()
        media, params = parse_options_header(request.headers.get("content-type", ""))
        query = sorted(request.query_params.multi_items())
        self._hash.update(media.lower() + b"\0" + repr(query).encode() + b"\0")
        self._parser: MultipartParser | None = None
        boundary = params.get(b"boundary")
        if media.lower() == b"multipart/form-data" and boundary:
            self._parser = MultipartParser(boundary, self._callbacks())

    def _callbacks(self) -> Any:  # python-multipart types its callback table loosely
        h = self._hash

        def data(tag: bytes) -> Any:
            return lambda buf, start, end: h.update(tag + buf[start:end])

        return {
            "on_part_begin": lambda: h.update(b"\0part\0"),
            "on_header_field": data(b"\0f"),
            "on_header_value": data(b"\0v"),
            "on_part_data": data(b"\0d"),
        }

    def feed(self, chunk: bytes) -> None:
        if self._parser is None:
            self._hash.update(chunk)
            return
        try:
            self._parser.write(chunk)
        except Exception:  # a malformed form: its submit fails on its own; hash what is left as bytes
            self._parser = None
            self._hash.update(chunk)

    def receive(self, receive: Receive) -> Receive:
        """``receive`` that feeds each body chunk to the fingerprint on its way to the app."""

        async def receiving() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                self.feed(message.get("body", b""))
            return message

        return receiving

    async def consume(self, chunks: AsyncIterator[bytes], cap: int) -> None:
        """Hash a whole body that is not otherwise read (a replay), refusing it past ``cap`` bytes."""
        size = 0
        async for chunk in chunks:
            size += len(chunk)
            if size > cap:
                raise OcrgwError(ErrorCode.TOO_LARGE, f"The request body is larger than {cap} bytes.")
            self.feed(chunk)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


async def record(db: async_sessionmaker, job_id: str, fingerprint: str) -> None:
    """Keep the fingerprint of the request that made ``job_id``; a job that already has one (a concurrent
    submit with the same key made it first) keeps it, and a different request is refused."""
    async with db.begin() as s:
        await s.execute(
            update(Job)
            .where(Job.id == job_id, Job.request_fingerprint.is_(None))
            .values(request_fingerprint=fingerprint)
        )
        kept = await s.scalar(select(Job.request_fingerprint).where(Job.id == job_id))
    check(kept, fingerprint)


async def recorded(db: async_sessionmaker, job_id: str) -> str | None:
    async with db() as s:
        return await s.scalar(select(Job.request_fingerprint).where(Job.id == job_id))


def check(kept: str | None, fingerprint: str) -> None:
    """A job with no fingerprint (made before they were kept) replays as it always did."""
    if kept is not None and kept != fingerprint:
        raise OcrgwError(ErrorCode.IDEMPOTENCY_KEY_REUSED, REUSED, param="Idempotency-Key")
