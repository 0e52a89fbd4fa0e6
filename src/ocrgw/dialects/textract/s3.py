"""S3 documents for Textract's `Document.S3Object` / `DocumentLocation.S3Object` (contract §A.7): read from
the S3-compatible store the operator configures (OCRGW_S3_ENDPOINT_URL and its credentials: MinIO, Ceph,
AWS itself), since ocrgw cannot act with the caller's IAM identity as Textract does. A Source for
``jobs.service.accept``: the object is streamed into the blob store as any upload, through the same intake.

botocore is the client: S3's own SigV4 flavour (signed payload hash, per-segment key encoding, path-style
addressing), its redirects, region errors and retries are what every S3-compatible server is tested
against, and it is the library the Textract callers already use. Its calls block, so each runs in a thread.
Any S3 failure is Textract's InvalidS3ObjectException, at submit, as Textract answers it."""

from __future__ import annotations

import functools
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import anyio

from ocrgw.dialects.textract.errors import INVALID_S3, S3_MESSAGE, TOO_LARGE, TextractError, invalid
from ocrgw.errors import ErrorCode as E
from ocrgw.formats import ImageLimits
from ocrgw.intake.core import from_stream
from ocrgw.settings import Settings
from ocrgw.storage import BlobStore, StoredBlob

CHUNK = 1024 * 1024
_BUCKET = re.compile(r"[0-9A-Za-z.\-_]{3,255}")


def s3_error(detail: str) -> TextractError:
    return TextractError(E.DOWNLOAD_FAILED, INVALID_S3, f"{S3_MESSAGE} ({detail})")


@functools.cache
def _client(endpoint: str, region: str, access_key: str | None, secret_key: str | None, timeout: float) -> Any:
    """One botocore client per configuration (thread-safe, kept for the process's life)."""
    import botocore.session
    from botocore.config import Config

    config = Config(
        s3={"addressing_style": "path"},
        retries={"max_attempts": 2, "mode": "standard"},
        connect_timeout=timeout,
        read_timeout=timeout,
        signature_version="s3v4",
    )
    session = botocore.session.get_session()
    return session.create_client(
        "s3",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=config,
    )


def client(settings: Settings) -> Any:
    if not settings.s3_endpoint_url:
        raise s3_error("this server has no S3 store configured: set OCRGW_S3_ENDPOINT_URL and its credentials")
    return _client(
        settings.s3_endpoint_url,
        settings.s3_region,
        settings.s3_access_key_id,
        settings.s3_secret_access_key,
        settings.s3_timeout_seconds,
    )


def check_location(value: object) -> tuple[str, str, str | None]:
    """`{"Bucket", "Name", "Version"}` checked as Textract's model says (bucket 1-255, name 1-1024)."""
    if not isinstance(value, dict):
        raise invalid("S3Object must be an object with Bucket and Name.")
    bucket, name, version = value.get("Bucket"), value.get("Name"), value.get("Version")
    if not isinstance(bucket, str) or not _BUCKET.fullmatch(bucket):
        raise invalid("S3Object.Bucket must be 3 to 255 characters of letters, digits, '.', '-' and '_'.")
    if not isinstance(name, str) or not 1 <= len(name) <= 1024:
        raise invalid("S3Object.Name must be 1 to 1024 characters.")
    if version is not None and (not isinstance(version, str) or not 1 <= len(version) <= 1024):
        raise invalid("S3Object.Version must be 1 to 1024 characters.")
    return bucket, name, version


@dataclass(slots=True)
class S3Source:
    """An S3 object to store as the job's document; ``max_bytes``: the operation's size limit."""

    bucket: str
    name: str
    version: str | None
    max_bytes: int

    def _get(self, settings: Settings) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        args = {"Bucket": self.bucket, "Key": self.name}
        if self.version:
            args["VersionId"] = self.version
        try:
            return client(settings).get_object(**args)
        except ClientError as exc:
            err = exc.response.get("Error", {})
            raise s3_error(f"{err.get('Code', 'error')}: s3://{self.bucket}/{self.name}") from None
        except BotoCoreError as exc:
            raise s3_error(f"the S3 store could not be reached: {exc}") from None

    async def save(self, store: BlobStore, settings: Settings, limits: ImageLimits) -> StoredBlob:
        got = await anyio.to_thread.run_sync(self._get, settings)
        body = got["Body"]
        try:
            size = got.get("ContentLength")
            if size is not None and size > self.max_bytes:
                why = f"The S3 object is {size:,} bytes; at most {self.max_bytes:,} are accepted for this operation."
                raise TextractError(E.TOO_LARGE, TOO_LARGE, why)
            return await from_stream(self._chunks(body), store=store, settings=settings, limits=limits, declared=size)
        finally:
            body.close()

    async def _chunks(self, body: Any) -> AsyncIterator[bytes]:
        from botocore.exceptions import BotoCoreError

        while True:
            try:
                chunk = await anyio.to_thread.run_sync(body.read, CHUNK)
            except (BotoCoreError, OSError) as exc:
                raise s3_error(f"reading the object failed: {exc}") from None
            if not chunk:
                return
            yield chunk
