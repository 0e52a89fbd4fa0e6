"""Google Cloud Vision requests -> Orders and Sources for the job core (``jobs.service.accept``). The key
(`x-goog-api-key`, `?key=`, or `Authorization: Bearer <key>`) is checked before the body is read; the body
(`BatchAnnotateImagesRequest` / `BatchAnnotateFilesRequest` as proto3 JSON: camelCase or snake_case names,
enums as names or numbers, bytes as base64) is scanned by ``intake.jsonbody``, so each image's base64 is
spooled to a file, never held whole. What the proto's JSON mapping itself refuses (not JSON, an unknown
field name, an unknown enum name, bad base64) fails the whole request as Google's front end does; what
is wrong with one image (no image, a gs:// URI, an unsupported feature or hint) is that image's error."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import anyio
from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from ocrgw import intake, languages
from ocrgw.auth import Principal
from ocrgw.context import AppContext
from ocrgw.dialects.gvision import schemas
from ocrgw.dialects.gvision.errors import MSG_BAD_IMAGE, VisionError
from ocrgw.errors import ErrorCode as E
from ocrgw.errors import OcrgwError
from ocrgw.formats import ImageLimits
from ocrgw.intake import jsonbody
from ocrgw.intake.sources import UrlSource
from ocrgw.jobs.schemas import JobSpec
from ocrgw.jobs.service import Order, Source
from ocrgw.settings import Settings
from ocrgw.storage import BlobStore, StoredBlob

# Vision's documented limits (B.8): a 10 MB JSON request, 20 MB images, 16 images a call, 1 file of at
# most 5 pages a files:annotate call. An operator's lower upload limit still applies to each image.
JSON_BYTES = 10 * 1024 * 1024
IMAGE_BYTES = 20 * 1024 * 1024
MAX_IMAGES = 16
MAX_FILE_PAGES = 5
FILE_TYPES = ("application/pdf", "image/tiff", "image/gif")
MODELS = ("builtin/stable", "builtin/latest", "builtin/weekly")
# Feature.Type (B.2): the SDK sends numbers, Google's curl samples names.
FEATURES = {
    "TYPE_UNSPECIFIED": 0,
    "FACE_DETECTION": 1,
    "LANDMARK_DETECTION": 2,
    "LOGO_DETECTION": 3,
    "LABEL_DETECTION": 4,
    "TEXT_DETECTION": 5,
    "DOCUMENT_TEXT_DETECTION": 11,
    "SAFE_SEARCH_DETECTION": 6,
    "IMAGE_PROPERTIES": 7,
    "CROP_HINTS": 9,
    "WEB_DETECTION": 10,
    "PRODUCT_SEARCH": 12,
    "OBJECT_LOCALIZATION": 19,
}
TEXT_DETECTION, DOCUMENT_TEXT_DETECTION = 5, 11
# Language hints are BCP-47; none means Vision identifies the language itself, as the worker then does.
LANGUAGES = languages.Vocabulary(bcp47=True, detect=True, param="languageHints")
# The fields of each message a request is checked against (proto3 JSON: unknown names are refused).
_IMAGES_BATCH = ("requests", "parent", "labels")
_IMAGE_REQUEST = ("image", "features", "imageContext")
_FILE_REQUEST = ("inputConfig", "features", "imageContext", "pages", "outputConfig")
_FEATURE = ("type", "maxResults", "model")
_SNAKE = re.compile(r"_([a-z0-9])")


# ------------------------------------------------------------------------------------------- the caller
def key_of(request: Request) -> str | None:
    """The API key as Google's clients send it: the SDK's header, the curl samples' `?key=`, or (an ocrgw
    convenience for clients built with a static token) `Authorization: Bearer <key>`."""
    auth = request.headers.get("authorization", "")
    bearer = auth[7:].strip() if auth[:7].lower() == "bearer " else None
    return request.headers.get("x-goog-api-key") or request.query_params.get("key") or bearer


async def principal(request: Request, ctx: AppContext) -> Principal:
    return await ctx.keys.resolve(key_of(request))


def enum_ints(request: Request) -> bool:
    """Whether the client asked for integer enums (`$alt=json;enum-encoding=int`, what the REST SDK sends);
    names otherwise (plain REST callers read `"blockType": "TEXT"`)."""
    alt = request.query_params.get("$alt", "")
    return "enum-encoding=int" in alt.replace(" ", "").lower()


# ------------------------------------------------------------------------------------------- the body
def invalid_json(detail: str) -> VisionError:
    return VisionError(E.INVALID_PARAMETER, f"Invalid JSON payload received. {detail}".strip(), whole=True)


async def read_body(request: Request, settings: Settings) -> jsonbody.JsonBody:
    """The body scanned under Vision's 10 MB request limit, long strings (the images) spooled."""
    cap = JSON_BYTES
    try:
        doc = await jsonbody.read(intake.body(request, cap), cap=cap, settings=settings)
    except jsonbody.JsonSyntaxError as exc:
        raise invalid_json(f"Unexpected token: {exc}.") from None
    except OcrgwError as exc:
        if exc.code is E.TOO_LARGE:
            raise VisionError(E.TOO_LARGE, f"Request payload size exceeds the limit: {cap} bytes.") from None
        raise
    if doc.members() is None:
        doc.close()
        raise invalid_json('Expected an object: the body must be a JSON object such as {"requests": [...]}.')
    return doc


def _camel(name: str) -> str:
    return _SNAKE.sub(lambda m: m[1].upper(), name)


def members(value: object, where: str, known: tuple[str, ...] | None = None, *, item: bool = False) -> dict[str, Any]:
    """A message's fields by their camelCase names (proto3 JSON also takes the proto's own snake_case);
    null is an absent message, but no element of a list; an unknown name is refused as Google's JSON
    mapping refuses it."""
    if value is None and not item:
        return {}
    if not isinstance(value, dict):
        raise invalid_json(f"Invalid value at '{where}': expected an object.")
    out = {_camel(k): v for k, v in value.items()}
    for name in out:
        if known is not None and name not in known:
            at = f" at '{where}'" if where else ""
            raise invalid_json(f'Unknown name "{name}"{at}: Cannot find field.')
    return out


def typed(value: object, kinds: type | tuple[type, ...], where: str, what: str) -> Any:
    """A scalar field of the type proto3 JSON allows (null: unset), else the request is refused."""
    allowed = kinds if isinstance(kinds, tuple) else (kinds,)
    wrong = not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed)
    if value is not None and wrong:
        raise invalid_json(f"Invalid value at '{where}' ({what}), {json.dumps(value)}")
    return value


def check_shape(model: type[BaseModel], data: object) -> None:
    """The body against the request's message types (``schemas``: what the spec promises to refuse), as
    Google's JSON mapping checks it before the service sees it; the long strings are placeholders here."""
    try:
        model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"]).lstrip(".")
        raise invalid_json(f"Invalid value at '{where}': {first['msg']}.") from None


def request_list(data: dict[str, Any], limit: int, what: str) -> list[object]:
    typed(data.get("parent"), str, "parent", "TYPE_STRING")
    reqs = data.get("requests")
    if reqs is None:
        reqs = []
    if not isinstance(reqs, list):
        raise invalid_json("Invalid value at 'requests': expected a list.")
    if not reqs:
        raise VisionError(E.INVALID_PARAMETER, "No requests specified: send at least one request in 'requests'.")
    if len(reqs) > limit:
        raise VisionError(E.INVALID_PARAMETER, f"Too many {what} in one call: at most {limit} are allowed.")
    return reqs


@dataclass(frozen=True, slots=True)
class Features:
    """What one request asked for: the OCR features, and whether anything else was asked."""

    text: bool = False
    document: bool = False
    other: tuple[int, ...] = ()

    @property
    def ocr(self) -> bool:
        return self.text or self.document


def features_of(value: object, where: str) -> tuple[Features, VisionError | None]:
    if not isinstance(value, list):
        value = [] if value is None else None
    if value is None:
        raise invalid_json(f"Invalid value at '{where}.features': expected a list.")
    types, error = [], None
    for j, raw in enumerate(value):
        feat = members(raw, f"{where}.features[{j}]", _FEATURE, item=True)
        kind = feat.get("type")
        kind = 0 if kind is None else kind  # proto3 JSON: null is the default, TYPE_UNSPECIFIED
        if isinstance(kind, str) and kind in FEATURES:
            kind = FEATURES[kind]
        if isinstance(kind, bool) or not isinstance(kind, int):
            raise invalid_json(
                f"Invalid value at '{where}.features[{j}].type' "
                f'(type.googleapis.com/google.cloud.vision.v1.Feature.Type), "{kind}"'
            )
        model = typed(feat.get("model"), str, f"{where}.features[{j}].model", "TYPE_STRING")
        results = typed(feat.get("maxResults"), (int, str), f"{where}.features[{j}].maxResults", "TYPE_INT32")
        if isinstance(results, str) and not results.strip().lstrip("-").isdigit():
            raise invalid_json(f"Invalid value at '{where}.features[{j}].maxResults' (TYPE_INT32), \"{results}\"")
        if model not in (None, "", *MODELS):
            error = VisionError(E.INVALID_MODEL, f"Invalid model {model!r}: use one of {', '.join(MODELS)}.")
        types.append(kind)
    if not types:
        error = error or VisionError(E.INVALID_PARAMETER, "Request must specify image and features.")
    other = tuple(t for t in types if t not in (TEXT_DETECTION, DOCUMENT_TEXT_DETECTION))
    found = Features(TEXT_DETECTION in types, DOCUMENT_TEXT_DETECTION in types, other)
    if types and not found.ocr:
        names = {v: k for k, v in FEATURES.items()}
        asked = ", ".join(names.get(t, str(t)) for t in other)
        error = error or VisionError(
            E.UNSUPPORTED_FEATURE,
            f"Feature(s) {asked} are not supported by this server: only TEXT_DETECTION and "
            "DOCUMENT_TEXT_DETECTION are.",
            rpc="UNIMPLEMENTED",
        )
    return found, error


def context_of(value: object, where: str) -> tuple[str | None, bool]:
    """`imageContext`: the language hints (BCP-47; a `-t-i0-handwrit` extension dropped: the engine picks
    print or handwriting itself) and whether word and symbol confidences were asked for TEXT_DETECTION."""
    ctx = members(value, f"{where}.imageContext")
    hints = ctx.get("languageHints") or []
    if not isinstance(hints, list) or not all(isinstance(h, str) for h in hints):
        raise invalid_json(f"Invalid value at '{where}.imageContext.languageHints': expected a list of strings.")
    codes = [h.split("-t-")[0].strip() for h in hints if h.strip()]
    params = members(ctx.get("textDetectionParams"), f"{where}.imageContext.textDetectionParams")
    score = typed(
        params.get("enableTextDetectionConfidenceScore"),
        bool,
        f"{where}.imageContext.textDetectionParams.enableTextDetectionConfidenceScore",
        "TYPE_BOOL",
    )
    return (",".join(codes) or None), score is True


async def check_base64(doc: jsonbody.JsonBody, value: object, where: str) -> jsonbody.Spooled | str | None:
    """A bytes field as proto3 JSON requires it (standard base64), checked before any job is made: Google
    refuses the whole request when one image's base64 does not decode."""
    text = doc.text(value)
    if value is not None and text is None:
        raise invalid_json(f"Invalid value at '{where}' (TYPE_BYTES): expected a base64 string.")
    if text is None:
        return None
    try:
        await anyio.to_thread.run_sync(_decodes, text)
    except ValueError:
        head = jsonbody.head_of(text, 20)
        raise invalid_json(f"Invalid value at '{where}' (TYPE_BYTES), Base64 decoding failed for \"{head}\"") from None
    empty = not text.strip() if isinstance(text, str) else text.size == 0
    return None if empty else text  # proto3: empty bytes are no bytes


def _decodes(text: str | jsonbody.Spooled) -> None:
    if isinstance(text, str):
        jsonbody.decode_all(text, data_uri=False)
        return
    decoder = jsonbody.Base64Decoder(data_uri=False)
    for block in text.blocks():
        decoder.feed(block)
    decoder.end()


def bad_image() -> VisionError:
    return VisionError(E.INVALID_IMAGE, MSG_BAD_IMAGE)


@dataclass(slots=True)
class Capped:
    """A source stored under Vision's 20 MB image limit as well as the server's own upload limit."""

    inner: Source

    async def save(self, store: BlobStore, settings: Settings, limits: ImageLimits) -> StoredBlob:
        if settings.max_upload_bytes > IMAGE_BYTES:
            settings = settings.model_copy(update={"max_upload_bytes": IMAGE_BYTES})
        return await self.inner.save(store, settings, limits)


def uri_source(uri: object, where: str) -> Source:
    """`imageUri` (or the older `gcsImageUri`): http(s) through the SSRF guard; gs:// needs Cloud Storage,
    which this server has none of."""
    if not isinstance(uri, str) or not uri.strip():
        raise invalid_json(f"Invalid value at '{where}': expected a string.")
    uri = uri.strip()
    if uri.lower().startswith("gs://"):
        raise VisionError(
            E.INVALID_URL,
            f"Error opening file: {uri}. This server has no Google Cloud Storage: send the image as "
            "`content` (base64) or an http(s) `imageUri`.",
            rpc="PERMISSION_DENIED",
        )
    return Capped(UrlSource(uri, invalid=f"Invalid image URI {uri!r}: only http(s) and gs:// URIs are accepted."))


@dataclass(slots=True)
class ImageRequest:
    """One `AnnotateImageRequest`: its source and order for ``accept``, what to render, or its error."""

    features: Features = field(default_factory=Features)
    confidence: bool = False
    source: Source | None = None
    order: Order | None = None
    error: OcrgwError | None = None


async def image_requests(doc: jsonbody.JsonBody) -> list[ImageRequest]:
    data = members(doc.members(), "", _IMAGES_BATCH)
    check_shape(schemas.VisionBatchAnnotateImagesRequest, data)
    out = []
    for i, raw in enumerate(request_list(data, MAX_IMAGES, "images")):
        where = f"requests[{i}]"
        req = members(raw, where, _IMAGE_REQUEST, item=True)
        found, error = features_of(req.get("features"), where)
        hints, confidence = context_of(req.get("imageContext"), where)
        image = members(req.get("image"), f"{where}.image", ("content", "source"))
        content = await check_base64(doc, image.get("content"), f"{where}.image.content")
        item = ImageRequest(found, confidence, error=error)
        out.append(item)
        if item.error is not None:
            continue
        try:
            source = members(image.get("source"), f"{where}.image.source")
            for name in ("imageUri", "gcsImageUri"):
                typed(source.get(name), str, f"{where}.image.source.{name}", "TYPE_STRING")
            item.source = _image_source(content, source, where)
        except VisionError as exc:
            if exc.whole:
                raise
            item.error = exc
            continue
        item.order = Order(JobSpec(language_hint=hints, pages=((1, 1),)), LANGUAGES.ask(hints))
    return out


def _image_source(content: str | jsonbody.Spooled | None, source: dict[str, Any], where: str) -> Source:
    """`content` wins over `source`, `imageUri` over `gcsImageUri` (the proto's documented precedence)."""
    if content is not None:
        return jsonbody.Base64Source(content, invalid=bad_image, data_uri=False)
    uri = source.get("imageUri") or source.get("gcsImageUri")
    if not uri:
        raise VisionError(E.EMPTY_BODY, "No image present.")
    return uri_source(uri, f"{where}.image.source")


# ------------------------------------------------------------------------------------------- files
def page_numbers(asked: object, total: int) -> list[int]:
    """`pages` (1-based, negative from the end, at most 5; none: the first 5) as page numbers."""
    if asked is None:
        asked = []
    if not isinstance(asked, list) or any(isinstance(p, bool) or not isinstance(p, int) for p in asked):
        raise VisionError(E.INVALID_PAGE_RANGE, "pages must be a list of page numbers.")
    if len(asked) > MAX_FILE_PAGES:
        raise VisionError(E.INVALID_PAGE_RANGE, f"At most {MAX_FILE_PAGES} pages can be annotated in one call.")
    if not asked:
        return list(range(1, min(total, MAX_FILE_PAGES) + 1))
    out = []
    for p in asked:
        n = total + 1 + p if p < 0 else p
        if p == 0 or not 1 <= n <= total:
            raise VisionError(E.INVALID_PAGE_RANGE, f"Invalid page number {p}: the file has {total} page(s).")
        out.append(n)
    return out


@dataclass(slots=True)
class FileRequest:
    """One `AnnotateFileRequest`: a PDF, TIFF or GIF given inline, the pages to read (known once the file is
    stored: ``order`` is deferred), and the file's page count for `totalPages`."""

    features: Features
    confidence: bool
    hints: str | None
    mime_type: str
    asked: object
    source: Source | None = None
    blob: StoredBlob | None = None
    pages: list[int] = field(default_factory=list)
    error: OcrgwError | None = None

    async def save(self, store: BlobStore, settings: Settings, limits: ImageLimits) -> StoredBlob:
        assert self.source is not None
        self.blob = await self.source.save(store, settings, limits)
        return self.blob

    async def order(self) -> Order:
        assert self.blob is not None  # known once saved
        if self.blob.media_type not in FILE_TYPES:
            raise VisionError(
                E.UNSUPPORTED_FORMAT, f"{MSG_BAD_IMAGE} files:annotate reads PDF, TIFF and GIF files only."
            )
        self.pages = page_numbers(self.asked, self.blob.frames)
        spec = JobSpec(language_hint=self.hints, pages=tuple((p, p) for p in sorted(set(self.pages))))
        return Order(spec, LANGUAGES.ask(self.hints))


async def file_requests(doc: jsonbody.JsonBody) -> list[FileRequest]:
    data = members(doc.members(), "", _IMAGES_BATCH)
    check_shape(schemas.VisionBatchAnnotateFilesRequest, data)
    out = []
    for i, raw in enumerate(request_list(data, 1, "files")):
        where = f"requests[{i}]"
        req = members(raw, where, _FILE_REQUEST, item=True)
        found, error = features_of(req.get("features"), where)
        hints, confidence = context_of(req.get("imageContext"), where)
        config = members(req.get("inputConfig"), f"{where}.inputConfig", ("gcsSource", "content", "mimeType"))
        content = await check_base64(doc, config.get("content"), f"{where}.inputConfig.content")
        mime = typed(config.get("mimeType"), str, f"{where}.inputConfig.mimeType", "TYPE_STRING") or ""
        pages = req.get("pages")
        if pages is not None and (
            not isinstance(pages, list) or any(isinstance(p, bool) or not isinstance(p, int) for p in pages)
        ):
            raise invalid_json(f"Invalid value at '{where}.pages' (TYPE_INT32): expected a list of numbers.")
        item = FileRequest(found, confidence, hints, mime, pages, error=error)
        out.append(item)
        if item.error is not None:
            continue
        if content is None:
            gcs = members(config.get("gcsSource"), f"{where}.inputConfig.gcsSource").get("uri")
            item.error = uri_error(gcs) if gcs else VisionError(E.EMPTY_BODY, "No content or gcsSource in inputConfig.")
        elif mime not in FILE_TYPES:
            why = f"Unsupported mimeType {mime!r}: use application/pdf, image/tiff or image/gif."
            item.error = VisionError(E.UNSUPPORTED_FORMAT, why)
        else:
            item.source = jsonbody.Base64Source(content, invalid=bad_image, data_uri=False)
    return out


def uri_error(uri: object) -> VisionError:
    try:
        uri_source(uri, "gcsSource.uri")
    except VisionError as exc:
        return exc
    return VisionError(E.INVALID_URL, f"Error opening file: {uri}: files are read from `content` only here.")
