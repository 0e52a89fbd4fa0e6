"""Huawei Cloud OCR requests -> an Order for the job core. The caller is known by `X-Auth-Token` (an ocrgw
key, checked before the body is read) or by an AK/SK signature over the exact body bytes, so the JSON body
is read whole, as one Source (``Body``): signature, options (checked as Huawei does; its language codes as a
Vocabulary), then the image (plain base64) or url, stored under the endpoint's pixel limits."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from ocrgw import intake, languages
from ocrgw.auth import ANONYMOUS, KeyResolver, Principal
from ocrgw.clock import utcnow
from ocrgw.context import AppContext
from ocrgw.dialects.huawei import signing
from ocrgw.dialects.huawei.errors import AUTH_FAILED, AUTH_PREFIX, HuaweiError
from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.formats import ImageLimits
from ocrgw.intake import jsonbody, multipart
from ocrgw.intake.sources import UrlSource
from ocrgw.jobs.schemas import JobSpec, StoredBlob
from ocrgw.jobs.service import Order, Source
from ocrgw.settings import Settings
from ocrgw.storage import BlobStore

# Each endpoint's documented pixel limits (API reference, RecognizeGeneralText and RecognizePassport):
# general text 15 to 30000 px a side and at most 160 million pixels; passports 15 to 8192 px a side.
GENERAL_TEXT_LIMITS = ImageLimits("Huawei general text OCR", min_side=15, max_side=30_000, max_megapixels=160)
PASSPORT_LIMITS = ImageLimits("Huawei passport OCR", min_side=15, max_side=8192)
PASSPORT_TYPES = ("image/png", "image/jpeg", "image/bmp", "image/tiff")
FLAGS = ("detect_direction", "quick_mode", "character_mode", "single_orientation_mode", "return_markdown_result")
# Huawei's `language` values -> Tesseract models; none (or auto) reads Chinese and English together.
# fmt: off
LANGUAGES = languages.Vocabulary(
    codes={
        "zh": ("chi_sim", "eng"), "ms": ("msa",), "uk": ("ukr",), "hi": ("hin",), "ru": ("rus",), "vi": ("vie",),
        "id": ("ind",), "th": ("tha",), "ar": ("ara",), "de": ("deu",), "la": ("lat",), "fr": ("fra",),
        "it": ("ita",), "es": ("spa",), "pt": ("por",), "ro": ("ron",), "pl": ("pol",), "am": ("amh",),
        "ja": ("jpn",), "ko": ("kor",), "tr": ("tur",), "no": ("nor",), "da": ("dan",), "sv": ("swe",),
        "km": ("khm",), "he": ("heb",), "en": ("eng",),
    },
    several=False,
    default=("chi_sim", "eng"),
)
# fmt: on


# ------------------------------------------------------------------------------------------- auth
def _auth_error(detail: str, code: ErrorCode = ErrorCode.INVALID_KEY) -> HuaweiError:
    return HuaweiError(code, AUTH_FAILED, AUTH_PREFIX + detail, 401)


async def token_principal(request: Request, ctx: AppContext) -> Principal | None:
    """An `X-Auth-Token` (an ocrgw key; there is no IAM here), checked before the body is read; None for
    a signed request (or with auth off), which is known only once its body is."""
    if ctx.settings.auth == "off" or request.headers.get("authorization"):
        return None
    token = request.headers.get("x-auth-token")
    if not token:
        raise _auth_error(
            "x-auth-token not found: send X-Auth-Token (an ocrgw key) or sign the request "
            "with an AK/SK pair (SDK-HMAC-SHA256)",
            ErrorCode.MISSING_KEY,
        )
    try:
        return await ctx.keys.resolve(token)
    except OcrgwError:
        raise _auth_error("decrypt token fail: the X-Auth-Token is not a valid ocrgw key") from None


async def signed_principal(request: Request, keys: KeyResolver, body_sha256: str, settings: Settings) -> Principal:
    """Verify an SDK-HMAC-SHA256 signature against the received request (Host with port, raw body)."""
    try:
        auth = signing.parse_authorization(request.headers["authorization"])
        found = await keys.resolve_access_key(auth.access_key)
        if found is None:
            raise signing.SignatureError("verify aksk signature fail: the access key is unknown or revoked")
        principal, secret_key = found
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        signing.verify(
            auth=auth,
            secret_key=secret_key,
            method=request.method,
            path=raw_path.decode("latin-1").split("?", 1)[0],
            query=request.query_params.multi_items(),
            headers=request.headers,
            body_sha256=body_sha256,
            now=utcnow(),
            max_skew_seconds=settings.huawei_clock_skew_seconds,
        )
    except signing.SignatureError as exc:
        raise _auth_error(str(exc)) from None
    return principal


# ------------------------------------------------------------------------------------------- body
def _not_json() -> HuaweiError:
    return HuaweiError(
        ErrorCode.INVALID_PARAMETER,
        "ModelArts.4105",
        'The JSON format of the input data is incorrect: send a JSON object such as {"image": "<base64>"}.',
    )


def _invalid(detail: str, param: str | None = None) -> OcrgwError:
    return OcrgwError(ErrorCode.INVALID_PARAMETER, detail, param=param)


def boolean(data: dict[str, Any], name: str) -> bool:
    """A flag as JSON `true`/`false` or the strings; absent (or null) is false."""
    value = data.get(name)
    text = value.strip().lower() if isinstance(value, str) else None
    if value is None or isinstance(value, bool) or text in ("true", "false"):
        return value is True or text == "true"
    raise _invalid(f"{name} must be true or false.", name)


def _str(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _invalid(f"{name} must be a string.", name)
    return value.strip() or None


def _bad_image() -> HuaweiError:
    """Plain base64 is what Huawei wants; a `data:` URI prefix (which Huawei refuses) is forgiven."""
    return HuaweiError(
        ErrorCode.INVALID_IMAGE, "AIS.0102", "The image format is not supported: `image` is not valid base64."
    )


def spec_of(data: dict[str, Any], passport: bool) -> JobSpec:
    """The options, checked before any work; the language is resolved later by the job core."""
    if passport:
        return JobSpec(languages=("eng",), outputs=("mrz",), options={"country_code": _str(data, "country_code") or ""})
    for name in FLAGS:
        boolean(data, name)
    page_no = data.get("pdf_page_number", 1)
    if isinstance(page_no, bool) or not isinstance(page_no, int) or page_no < 1:
        raise _invalid("pdf_page_number must be a whole number from 1.", "pdf_page_number")
    return JobSpec(language_hint=_str(data, "language"), pages=((page_no, page_no),))


def check_passport(blob: StoredBlob) -> None:
    if blob.media_type not in PASSPORT_TYPES:
        raise HuaweiError(
            ErrorCode.UNSUPPORTED_FORMAT,
            "AIS.0102",
            "The image format is not supported: passport images must be PNG, JPEG, BMP or TIFF.",
        )


@dataclass(slots=True)
class Body:
    """One general-text or passport request as the Source ``accept`` stores, with its deferred owner and
    order: the image or url is stored only once the caller is known and the options are valid."""

    request: Request
    keys: KeyResolver
    passport: bool
    principal: Principal | None = None  # from X-Auth-Token, before the body is read
    data: dict[str, Any] = field(default_factory=dict)
    spec: JobSpec | None = None
    blob: StoredBlob | None = None

    async def save(self, store: BlobStore, settings: Settings, limits: ImageLimits) -> StoredBlob:
        cap = settings.max_upload_bytes * 4 // 3 + multipart.OVERHEAD
        digest = hashlib.sha256()
        try:
            doc = await jsonbody.read(intake.body(self.request, cap), cap=cap, settings=settings, digest=digest)
        except jsonbody.JsonSyntaxError:
            doc = None
        try:
            if self.principal is None:
                signed = settings.auth != "off"
                self.principal = (
                    await signed_principal(self.request, self.keys, digest.hexdigest(), settings)
                    if signed
                    else ANONYMOUS
                )
            source = self._source(doc)
        except BaseException:
            if doc is not None:
                doc.close()
            raise
        self.blob = await source.save(store, settings, limits)
        return self.blob

    def _source(self, doc: jsonbody.JsonBody | None) -> Source:
        """The options checked, then exactly one of `image` (a long one spooled) and `url`."""
        data = doc.members() if doc is not None else None
        if doc is None or data is None:
            raise _not_json()
        self.data = data
        self.spec = spec_of(data, self.passport)
        image, url = doc.text(data.get("image")), _str(data, "url")
        if data.get("image") is not None and image is None:
            raise _invalid("image must be a string.", "image")
        if isinstance(image, str):
            image = image.strip() or None
        if bool(image) == bool(url):
            raise _invalid("Send either image or url, not both." if image else "image or url is required.")
        if image:
            return jsonbody.Base64Source(image, invalid=_bad_image)
        return UrlSource(str(url), invalid="url must be an http or https URL.")

    async def owner(self) -> Principal:
        assert self.principal is not None  # known once the body is saved
        return self.principal

    async def order(self) -> Order:
        assert self.spec is not None and self.blob is not None  # known once the body is saved
        if self.passport:
            check_passport(self.blob)
            return Order(self.spec)
        spec = self.spec
        if self.blob.frames == 1:
            spec = spec.model_copy(update={"pages": None})  # pdf_page_number only means something for documents
        return Order(spec, LANGUAGES.ask(spec.language_hint))
