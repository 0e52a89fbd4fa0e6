"""What every Azure API here shares, between its routes and the job core: the subscription key (header or
query) and its principal, Azure's language vocabulary (BCP-47), the image body as Azure's REST APIs take it
(raw bytes or JSON `{"url": ...}`), and Azure's timestamp and box formats."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, APIKeyQuery

from ocrgw import intake
from ocrgw.auth import Principal
from ocrgw.context import AppContext, app_context
from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.intake.sources import StreamSource, UrlSource
from ocrgw.jobs.service import Source
from ocrgw.languages import BCP47

JSON_BODY_CAP = 64 * 1024
LANGUAGES = BCP47

_key_header = APIKeyHeader(
    name="Ocp-Apim-Subscription-Key",
    scheme_name="AzureSubscriptionKey",
    auto_error=False,
    description="An ocrgw API key (`ocrgw keys create`).",
)
_key_query = APIKeyQuery(name="subscription-key", auto_error=False, scheme_name="AzureSubscriptionKeyQuery")


async def azure_principal(
    ctx: Annotated[AppContext, Depends(app_context)],
    header: Annotated[str | None, Depends(_key_header)],
    query: Annotated[str | None, Depends(_key_query)],
) -> Principal:
    return await ctx.keys.resolve(header or query)


Ctx = Annotated[AppContext, Depends(app_context)]
Caller = Annotated[Principal, Depends(azure_principal)]


async def image_source(request: Request) -> Source:
    """The document as Azure's REST APIs take it: the bytes (application/octet-stream or image/*), or JSON
    `{"url": "..."}` (read whole here: it is small)."""
    ctype = request.headers.get("content-type", "application/octet-stream").split(";")[0].strip().lower()
    if ctype == "application/json":
        raw = await intake.read_capped(request.stream(), JSON_BODY_CAP)
        try:
            url = json.loads(raw)["url"]
            if not isinstance(url, str):
                raise TypeError
        except (ValueError, KeyError, TypeError) as exc:
            raise OcrgwError(
                ErrorCode.INVALID_URL, 'The JSON body must be {"url": "<image URL>"}.', param="url"
            ) from exc
        return UrlSource(url, invalid="Image URL is badly formatted: only http(s) URLs are accepted.")
    if ctype in ("application/octet-stream", "") or ctype.startswith("image/"):
        return StreamSource(request.stream())
    raise OcrgwError(
        ErrorCode.UNSUPPORTED_MEDIA_TYPE,
        f"Content-Type {ctype!r} is not supported; send application/octet-stream with the image "
        'bytes, or application/json with {"url": ...}.',
    )


def timestamp(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def box(values: list[float], unit: str) -> list[float]:
    return [round(v) for v in values] if unit == "pixel" else [round(v, 4) for v in values]
