"""Streaming-server requests -> what the job core takes (between routes and ``jobs.service.accept``): the
configured path checked against every other route, the JSON body `{"image": "<base64>", "lang": ...}`,
and its image as a Source that decodes only once the backlog has been checked."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Iterator

from python_multipart.multipart import parse_options_header
from starlette.requests import Request
from starlette.routing import BaseRoute

from ocrgw import intake
from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.intake import jsonbody, multipart
from ocrgw.settings import Settings

# Paths of this server and of dialects mounted in other deployments or later (Huawei's /v2), so a name
# that works today does not start shadowing one after an upgrade.
_RESERVED = "v1 v2 v3 parse vision formrecognizer documentintelligence computervision health ready docs redoc"
RESERVED = frozenset(f"{_RESERVED} openapi.json ocr_process batch_process generate_api_key static".split())
_NAME = re.compile(r"^[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*$")
_JSON_TYPES = ("application/json", "text/plain", "")  # requests' json= and bare fetch() calls


def _paths(routes: Iterable[object], prefix: str = "") -> Iterator[str]:
    """Every route path, also inside routers FastAPI keeps as included-router objects (0.16x)."""
    for route in routes:
        path = getattr(route, "path", None)
        inner = getattr(route, "original_router", None)
        if isinstance(path, str):
            yield prefix + path
        elif inner is not None:
            context = getattr(route, "include_context", None)
            yield from _paths(inner.routes, prefix + (getattr(context, "prefix", "") or ""))


def api_path(settings: Settings, routes: Iterable[BaseRoute]) -> str:
    """`/` + the configured name, after checking it is a plain path that no other route (present or
    reserved) begins with; raises ValueError, which stops the server at startup with the reason."""
    name = settings.stream_api_name.strip().strip("/")
    if not _NAME.match(name) or name in (".", ".."):
        raise ValueError(
            f"OCRGW_STREAM_API_NAME={settings.stream_api_name!r} is not a plain URL path "
            "(letters, digits, . _ ~ - and /)."
        )
    first = name.split("/", 1)[0].lower()
    taken = {path.strip("/").split("/", 1)[0].lower() for path in _paths(routes)} - {""}
    if first in RESERVED or first in taken:
        raise ValueError(
            f"OCRGW_STREAM_API_NAME={settings.stream_api_name!r} collides with the existing "
            f"route /{first}; choose another name (default: ocr)."
        )
    return "/" + name


async def json_body(
    request: Request, settings: Settings, head: Callable[[dict[str, object]], Awaitable[None]] | None
) -> tuple[dict[str, object], jsonbody.JsonBody]:
    """The JSON object the tutorials' clients post (their Content-Type is JSON, text/plain or none),
    streamed (a long `image` to a file); ``head`` is given the members of its first MB (a key that can
    only be in the body is looked for there)."""
    ctype = parse_options_header(request.headers.get("content-type", ""))[0].decode("latin-1").lower()
    if ctype not in _JSON_TYPES and not ctype.endswith("+json"):
        raise OcrgwError(
            ErrorCode.UNSUPPORTED_MEDIA_TYPE, f'Unsupported Content-Type {ctype!r}: send JSON {{"image": "<base64>"}}.'
        )
    cap = settings.max_upload_bytes * 4 // 3 + multipart.OVERHEAD
    try:
        doc = await jsonbody.read(intake.body(request, cap), cap=cap, settings=settings, head=head)
    except jsonbody.JsonSyntaxError as exc:
        raise OcrgwError(ErrorCode.INVALID_PARAMETER, f"The body is not valid JSON: {exc}.") from None
    body = doc.members()
    if body is None:
        raise OcrgwError(ErrorCode.INVALID_PARAMETER, 'Send a JSON object: {"image": "<base64>"}.')
    return body, doc


def image_source(doc: jsonbody.JsonBody, value: object, name: str = "image") -> jsonbody.Base64Source:
    """Plain base64 or a `data:<type>;base64,` URI (what browser code sends); whitespace is ignored. Decoded
    (in a thread, a block at a time) only when ``accept`` stores it: after the backlog check, so a server
    that is too busy says so before it spends time on the image."""
    text = doc.text(value)
    if text is None or (isinstance(text, str) and not text.strip()):
        raise OcrgwError(ErrorCode.EMPTY_BODY, f"'{name}' is missing: send the image as a base64 string.", param=name)
    head, sep, _ = jsonbody.head_of(text).strip().partition(",")
    if head[:5].lower() == "data:" and not (sep and head.lower().endswith(";base64")):
        raise OcrgwError(
            ErrorCode.INVALID_PARAMETER,
            f"'{name}' is not a valid data URI: expected data:<type>;base64,<data>.",
            param=name,
        )
    return jsonbody.Base64Source(
        text,
        invalid=lambda: OcrgwError(ErrorCode.INVALID_PARAMETER, f"'{name}' is not valid base64.", param=name),
        empty=lambda: OcrgwError(ErrorCode.EMPTY_BODY, f"'{name}' is empty.", param=name),
    )
