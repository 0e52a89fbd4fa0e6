"""Huawei Cloud OCR routes at the host root (the SDK drops any path prefix of its endpoint):
`POST /v2/{project_id}/ocr/general-text` and `/passport`, answered synchronously over the job core.

Thin: the raw body is read first (AK/SK signatures cover its exact bytes), the caller is authenticated by
`X-Auth-Token` (an ocrgw key) or an `SDK-HMAC-SHA256` signature, the JSON is parsed into one JobSpec, the
image goes through intake, the job service submits and waits (bounded), and the JobView is rendered as
Huawei's `{"result": ...}`. Passport fields come from the worker's MRZ reading (JobSpec.outputs "mrz")."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from ocrgw import intake, languages
from ocrgw.auth import ANONYMOUS, Principal
from ocrgw.clock import utcnow
from ocrgw.context import AppContext, app_context
from ocrgw.dialects.huawei import signing
from ocrgw.dialects.huawei.errors import AUTH_FAILED, AUTH_PREFIX, HuaweiError, request_id
from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.intake import multipart
from ocrgw.jobs import service
from ocrgw.jobs.schemas import JobSpec, JobView, LineResult, PageResult, StoredBlob
from ocrgw.jobs.states import JobStatus
from ocrgw.settings import Settings

TAG = "Huawei Cloud OCR"
DIALECT = "huawei"
HUAWEI_MIN_SIDE = 15
PASSPORT_MAX_SIDE = 8192
PASSPORT_TYPES = ("image/png", "image/jpeg", "image/bmp", "image/tiff")

# Huawei's `language` values -> Tesseract models. Huawei's default reads Chinese and English together.
LANGUAGES: dict[str, tuple[str, ...]] = {
    "zh": ("chi_sim", "eng"),
    "ms": ("msa",),
    "uk": ("ukr",),
    "hi": ("hin",),
    "ru": ("rus",),
    "vi": ("vie",),
    "id": ("ind",),
    "th": ("tha",),
    "ar": ("ara",),
    "de": ("deu",),
    "la": ("lat",),
    "fr": ("fra",),
    "it": ("ita",),
    "es": ("spa",),
    "pt": ("por",),
    "ro": ("ron",),
    "pl": ("pol",),
    "am": ("amh",),
    "ja": ("jpn",),
    "ko": ("kor",),
    "tr": ("tur",),
    "no": ("nor",),
    "da": ("dan",),
    "sv": ("swe",),
    "km": ("khm",),
    "he": ("heb",),
    "en": ("eng",),
}
# MRZ field -> Huawei passport field.
PASSPORT_FIELDS = {
    "document_type": "passport_type",
    "country_code": "country_code",
    "document_number": "passport_number",
    "nationality": "nationality",
    "surname": "surname",
    "given_names": "given_name",
    "sex": "sex",
    "date_of_birth": "date_of_birth",
    "date_of_expiry": "date_of_expiry",
}


# ----------------------------------------------------------------------------------- request models (docs)
class GeneralTextRequestBody(BaseModel):
    """`image` (plain base64, no `data:` prefix) or `url`, exactly one."""

    image: str | None = Field(None, description="The image or PDF, base64-encoded.")
    url: str | None = Field(None, description="An http(s) URL the server fetches the image from.")
    detect_direction: bool = Field(False, description="Report the page's rotation as `direction`.")
    quick_mode: bool = Field(False, description="Accepted; single-line images read the same way.")
    character_mode: bool = Field(False, description="Add `char_list` (character boxes estimated from words).")
    language: str | None = Field(None, description="zh (default: Chinese and English), en, de, fr, ...")
    single_orientation_mode: bool = False
    pdf_page_number: int = Field(1, ge=1, description="The PDF page to read.")
    return_markdown_result: bool = False


class PassportRequestBody(BaseModel):
    """`image` or `url`; `country_code` GENERAL (MRZ only) or a country; every country reads its MRZ."""

    image: str | None = None
    url: str | None = None
    country_code: str | None = None


EXTRA_SCHEMAS: dict[str, type[BaseModel]] = {
    "HuaweiGeneralTextRequestBody": GeneralTextRequestBody,
    "HuaweiPassportRequestBody": PassportRequestBody,
}


# ------------------------------------------------------------------------------------------- auth
def _auth_error(detail: str, code: ErrorCode = ErrorCode.INVALID_KEY) -> HuaweiError:
    return HuaweiError(code, AUTH_FAILED, AUTH_PREFIX + detail, 401)


async def _token_principal(request: Request, ctx: AppContext) -> Principal | None:
    """An `X-Auth-Token` (an ocrgw key; there is no IAM here) is checked before the body is read."""
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


async def _signed_principal(request: Request, ctx: AppContext, body: bytes) -> Principal:
    """Verify an SDK-HMAC-SHA256 signature against the received request (Host with port, raw body)."""
    try:
        auth = signing.parse_authorization(request.headers["authorization"])
    except signing.SignatureError as exc:
        raise _auth_error(str(exc)) from None
    found = await ctx.keys.resolve_access_key(auth.access_key)
    if found is None:
        raise _auth_error("verify aksk signature fail: the access key is unknown or revoked")
    principal, secret_key = found
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    try:
        signing.verify(
            auth=auth,
            secret_key=secret_key,
            method=request.method,
            path=raw_path.decode("latin-1").split("?", 1)[0],
            query=request.query_params.multi_items(),
            headers=request.headers,
            body=body,
            now=utcnow(),
            max_skew_seconds=ctx.settings.huawei_clock_skew_seconds,
        )
    except signing.SignatureError as exc:
        raise _auth_error(str(exc)) from None
    return principal


# ------------------------------------------------------------------------------------------- body
def _parse_json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict):
        raise HuaweiError(
            ErrorCode.INVALID_PARAMETER,
            "ModelArts.4105",
            'The JSON format of the input data is incorrect: send a JSON object such as {"image": "<base64>"}.',
        )
    return data


def _invalid(detail: str, param: str | None = None) -> OcrgwError:
    return OcrgwError(ErrorCode.INVALID_PARAMETER, detail, param=param)


def _bool(data: dict[str, Any], name: str) -> bool:
    value = data.get(name)
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise _invalid(f"{name} must be true or false.", name)


def _str(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _invalid(f"{name} must be a string.", name)
    return value.strip() or None


def _decode_image(value: str) -> bytes:
    """Plain base64, as Huawei wants; a `data:` URI prefix (which Huawei refuses) is forgiven."""
    try:
        raw = intake.decode_base64(value)
    except ValueError:
        raw = b""
    if not raw:
        raise HuaweiError(
            ErrorCode.INVALID_IMAGE, "AIS.0102", "The image format is not supported: `image` is not valid base64."
        )
    return raw


async def _source(ctx: AppContext, data: dict[str, Any]) -> StoredBlob:
    image, url = _str(data, "image"), _str(data, "url")
    if image and url:
        raise _invalid("Send either image or url, not both.")
    if not image and not url:
        raise _invalid("image or url is required.")
    settings = ctx.settings.model_copy(update={"min_dimension": min(ctx.settings.min_dimension, HUAWEI_MIN_SIDE)})
    if image:
        raw = await anyio.to_thread.run_sync(_decode_image, image)
        return await intake.from_bytes(raw, store=ctx.store, settings=settings)
    assert url is not None
    if not url.lower().startswith(("http://", "https://")):
        raise OcrgwError(ErrorCode.INVALID_URL, "url must be an http or https URL.", param="url")
    return await intake.from_url(url, store=ctx.store, settings=settings)


async def _languages(code: str | None, settings: Settings) -> tuple[str, ...]:
    tessdata = settings.resolved_tessdata_dir
    installed = await anyio.to_thread.run_sync(languages.installed, tessdata)
    if code is None or code == "auto":
        wanted = tuple(m for m in LANGUAGES["zh"] if m in installed)  # Huawei's default, as far as installed
        if wanted == ("eng",) or not wanted:
            return await anyio.to_thread.run_sync(languages.default_models, settings.default_language, tessdata)
        return wanted
    models = LANGUAGES.get(code.lower())
    if models is None:
        raise OcrgwError(
            ErrorCode.UNSUPPORTED_LANGUAGE,
            f"language {code!r} is not one of auto, {', '.join(sorted(LANGUAGES))}.",
            param="language",
        )
    missing = [m for m in models if m not in installed]
    if missing:
        raise OcrgwError(
            ErrorCode.UNSUPPORTED_LANGUAGE,
            f"language {code!r} needs the Tesseract model(s) {', '.join(missing)}, not installed on "
            f"this server (apt-get install {' '.join(map(languages.debian_package, missing))}).",
            param="language",
        )
    return models


# ------------------------------------------------------------------------------------------- render
def _points(bbox: list[float], k: float) -> list[list[int]]:
    """Our quads are TL, TR, BR, BL already: Huawei's clockwise-from-top-left order."""
    return [[round(bbox[i] * k), round(bbox[i + 1] * k)] for i in range(0, 8, 2)]


def _char_list(line: LineResult, k: float) -> list[dict]:
    """Character boxes, which Tesseract's word-level result does not have: each word's quad is divided
    evenly among its characters, so they are estimates, and every character gets its word's confidence."""
    chars = []
    for word in line.words:
        n = len(word.text)
        tl, tr, br, bl = ((word.bbox[i], word.bbox[i + 1]) for i in range(0, 8, 2))
        for i, ch in enumerate(word.text):
            a, b = i / n, (i + 1) / n

            def at(p: tuple[float, float], q: tuple[float, float], t: float) -> list[int]:
                return [round((p[0] + (q[0] - p[0]) * t) * k), round((p[1] + (q[1] - p[1]) * t) * k)]

            chars.append(
                {
                    "char": ch,
                    "char_location": [at(tl, tr, a), at(tl, tr, b), at(bl, br, b), at(bl, br, a)],
                    "char_confidence": word.confidence,
                }
            )
    return chars


def _scale(page: PageResult, settings: Settings) -> float:
    return float(settings.pdf_dpi) if page.unit == "inch" else 1.0  # PDF pages: pixels at the render dpi


def render_general_text(view: JobView, data: dict[str, Any], settings: Settings) -> dict:
    page = (view.pages or [None])[0]
    lines = page.lines if page else []
    k = _scale(page, settings) if page else 1.0
    character_mode = _bool(data, "character_mode")
    blocks = []
    for line in lines:
        block: dict[str, Any] = {"words": line.text, "confidence": line.confidence, "location": _points(line.bbox, k)}
        if character_mode:
            block["char_list"] = _char_list(line, k)
        blocks.append(block)
    result: dict[str, Any] = {
        "direction": float((-page.angle) % 360) if page and _bool(data, "detect_direction") else -1,
        "words_block_count": len(blocks),
        "words_block_list": blocks,
    }
    if _bool(data, "return_markdown_result"):
        result["markdown_result"] = "\n".join(line.text for line in lines)
    return result


def render_passport(view: JobView) -> dict:
    mrz = (view.analysis or {}).get("mrz") or {}
    if not mrz.get("lines"):
        raise HuaweiError(
            ErrorCode.PROCESSING_FAILED,
            "AIS.0104",
            "The image is not supported or the image quality is poor: no machine-readable zone "
            "(the two or three lines of `<`-filled text at the foot of the data page) was found.",
        )
    result: dict[str, Any] = {theirs: mrz.get(ours, "") for ours, theirs in PASSPORT_FIELDS.items()}
    confidence = mrz.get("confidence") or {}
    result["confidence"] = {theirs: confidence[ours] for ours, theirs in PASSPORT_FIELDS.items() if ours in confidence}
    # Huawei keeps local-language text here; for MRZ-only passports it is {} there. The check digits go here,
    # because the SDK's PassportResult drops keys it does not model, and a caller must be able to see them.
    result["extra_info"] = {
        "mrz_format": mrz.get("format"),
        "mrz_lines": mrz.get("lines"),
        "check_digits": mrz.get("checks"),
        "check_digits_valid": mrz.get("valid"),
        "optional_data": mrz.get("optional_data", ""),
    }
    result["machine_code"] = "".join(mrz.get("lines") or [])
    return result


# ------------------------------------------------------------------------------------------- routes
def _json(request: Request, body: object) -> Response:
    rid = request_id(request)
    return Response(json.dumps(body), media_type="application/json;charset=utf-8", headers={"X-Request-Id": rid})


async def _run(request: Request, ctx: AppContext, kind: str) -> tuple[JobView, dict[str, Any]]:
    principal = await _token_principal(request, ctx)
    await service.check_backlog(db=ctx.db, settings=ctx.settings)
    cap = ctx.settings.max_upload_bytes * 4 // 3 + multipart.OVERHEAD
    body = await intake.read_capped(request.stream(), cap)
    if principal is None:
        principal = ANONYMOUS if ctx.settings.auth == "off" else await _signed_principal(request, ctx, body)
    data = await anyio.to_thread.run_sync(_parse_json, body)
    if kind == "passport":
        spec = JobSpec(languages=("eng",), outputs=("mrz",), options={"country_code": _str(data, "country_code") or ""})
    else:
        for flag in (
            "detect_direction",
            "quick_mode",
            "character_mode",
            "single_orientation_mode",
            "return_markdown_result",
        ):
            _bool(data, flag)  # refuse a bad value before any work
        page_no = data.get("pdf_page_number", 1)
        if isinstance(page_no, bool) or not isinstance(page_no, int) or page_no < 1:
            raise _invalid("pdf_page_number must be a whole number from 1.", "pdf_page_number")
        language = _str(data, "language")
        spec = JobSpec(
            languages=await _languages(language, ctx.settings), language_hint=language, pages=((page_no, page_no),)
        )
    blob = await _source(ctx, data)
    if kind == "passport":
        if blob.media_type not in PASSPORT_TYPES:
            await ctx.store.delete(blob.key)
            raise HuaweiError(
                ErrorCode.UNSUPPORTED_FORMAT,
                "AIS.0102",
                "The image format is not supported: passport images must be PNG, JPEG, BMP or TIFF.",
            )
        if max(blob.width, blob.height) > PASSPORT_MAX_SIDE:
            await ctx.store.delete(blob.key)
            raise OcrgwError(
                ErrorCode.INVALID_DIMENSIONS,
                f"Passport images may be at most {PASSPORT_MAX_SIDE} "
                f"pixels on a side; this one is {blob.width}x{blob.height}.",
            )
    elif blob.frames == 1:
        spec = spec.model_copy(update={"pages": None})  # pdf_page_number only means something for documents
    job = await service.submit(
        db=ctx.db,
        queue=ctx.queue,
        store=ctx.store,
        settings=ctx.settings,
        owner_key_id=principal.key_id,
        dialect=DIALECT,
        spec=spec,
        blob=blob,
        retention=timedelta(hours=ctx.settings.retention_sync_hours),
    )
    bound = ctx.settings.sync_wait_seconds
    view = await service.wait(db=ctx.db, job_id=job.id, owner_key_id=principal.key_id, timeout=bound)
    if view.status is not JobStatus.SUCCEEDED:
        raise service.wait_error(view, bound)
    return view, data


async def general_text(project_id: str, request: Request, ctx: Annotated[AppContext, Depends(app_context)]) -> Response:
    """Read all text on an image (or one PDF page): one block per line, with 4-point locations."""
    view, data = await _run(request, ctx, "general-text")
    return _json(request, {"result": render_general_text(view, data, ctx.settings)})


async def passport(project_id: str, request: Request, ctx: Annotated[AppContext, Depends(app_context)]) -> Response:
    """Read a passport's machine-readable zone: fields, per-field confidence and every check digit."""
    view, _ = await _run(request, ctx, "passport")
    return _json(request, {"result": render_passport(view)})


def _body(model: str) -> dict:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model}"}}},
        }
    }


_AUTH_DOC = (
    "Authenticate with `X-Auth-Token: <ocrgw key>` or sign with an AK/SK pair from "
    "`ocrgw keys create --aksk` (SDK-HMAC-SHA256, as huaweicloudsdkocr does). Errors are "
    '`{"error_code": "AIS.xxxx", "error_msg": ...}`.'
)


def build_router() -> APIRouter:
    router = APIRouter(tags=[TAG])
    router.add_api_route(
        "/v2/{project_id}/ocr/general-text",
        general_text,
        methods=["POST"],
        operation_id="huaweiRecognizeGeneralText",
        summary="Huawei: general text",
        openapi_extra=_body("HuaweiGeneralTextRequestBody"),
        response_class=Response,
        description=_AUTH_DOC,
    )
    router.add_api_route(
        "/v2/{project_id}/ocr/passport",
        passport,
        methods=["POST"],
        operation_id="huaweiRecognizePassport",
        summary="Huawei: passport",
        openapi_extra=_body("HuaweiPassportRequestBody"),
        response_class=Response,
        description=_AUTH_DOC,
    )
    return router
