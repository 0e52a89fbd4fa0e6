"""Where a document comes from, as the one object ``jobs.service.accept`` stores: a streamed body, a URL
(fetched under the SSRF guard), the first file of a multipart form, or a blob already stored (base64 in
JSON or a form is ``intake.jsonbody.Base64Source``). Each ``save`` goes through the same intake steps
(size limit, type sniff, header checks against the API's pixel limits), and ``accept`` deletes what was
saved when the submit fails later on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from starlette.requests import Request

from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.formats import ImageLimits
from ocrgw.intake import multipart
from ocrgw.intake.core import declared_size, from_stream, from_url
from ocrgw.settings import Settings
from ocrgw.storage import BlobStore, StoredBlob


@dataclass(slots=True)
class StreamSource:
    """A raw request body (application/octet-stream, image/*), stored while it arrives; refused unread
    when its ``declared`` size (Content-Length) is over the limit."""

    chunks: AsyncIterator[bytes]
    declared: int | None = None

    @classmethod
    def of(cls, request: Request) -> StreamSource:
        return cls(request.stream(), declared_size(request))

    async def save(self, store: BlobStore, settings: Settings, limits: ImageLimits) -> StoredBlob:
        return await from_stream(self.chunks, store=store, settings=settings, limits=limits, declared=self.declared)


@dataclass(slots=True)
class UrlSource:
    """A URL to fetch; only http(s), checked by the SSRF guard when it is fetched."""

    url: str
    invalid: str = "The URL must be an http or https URL."
    param: str = "url"

    async def save(self, store: BlobStore, settings: Settings, limits: ImageLimits) -> StoredBlob:
        if not self.url.strip().lower().startswith(("http://", "https://")):
            raise OcrgwError(ErrorCode.INVALID_URL, self.invalid, param=self.param)
        return await from_url(self.url.strip(), store=store, settings=settings, limits=limits)


@dataclass(slots=True)
class StoredSource:
    """A blob a dialect already stored (one file of a multi-file form): accept only owns its cleanup."""

    blob: StoredBlob

    async def save(self, store: BlobStore, settings: Settings, limits: ImageLimits) -> StoredBlob:
        return self.blob


@dataclass(slots=True)
class FormSource:
    """The first file of a multipart/form-data body, streamed into the store; the form's text fields
    (lower-cased names) and its number of file parts are known once ``save`` returns, which is why a
    dialect that takes its options from the form hands ``accept`` a deferred spec."""

    chunks: AsyncIterator[bytes]
    boundary: bytes
    cap: int
    no_file: str = "The multipart/form-data body has no file part with the document."
    form: multipart.MultipartForm = field(default_factory=multipart.MultipartForm)
    long: frozenset[str] = frozenset()  # text fields that may be long (a base64 document): spooled to files

    async def save(self, store: BlobStore, settings: Settings, limits: ImageLimits) -> StoredBlob:
        tmp = settings.data_dir / "tmp"
        body = multipart.stream_first_file(self.chunks, self.boundary, self.cap, self.form, self.long, tmp)
        try:
            return await from_stream(body, store=store, settings=settings, limits=limits)
        except OcrgwError as exc:
            if exc.code is ErrorCode.EMPTY_BODY and self.form.files == 0:
                raise OcrgwError(ErrorCode.EMPTY_BODY, self.no_file) from exc
            raise
