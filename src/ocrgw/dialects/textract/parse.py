"""AWS Textract requests (JSON 1.1: `POST /`, the operation in `X-Amz-Target: Textract.<Op>`) -> the caller,
an Order and a Source for the job core. The caller is known only by a SigV4 signature over the exact body
bytes, so the body is read first (its `Document.Bytes` spooled to a file as it arrives, hashed in the same
pass), the signature verified, then the members checked as Textract checks them (botocore validates only
types and required members client-side, contract §A.3)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from ocrgw import intake, languages
from ocrgw.auth import ANONYMOUS, Principal
from ocrgw.clock import utcnow
from ocrgw.context import AppContext
from ocrgw.dialects.textract import sigv4
from ocrgw.dialects.textract.errors import TOO_LARGE, UNSUPPORTED, TextractError, invalid
from ocrgw.dialects.textract.s3 import S3Source, check_location
from ocrgw.errors import ErrorCode as E
from ocrgw.errors import OcrgwError
from ocrgw.formats import ImageLimits
from ocrgw.intake import jsonbody
from ocrgw.jobs.schemas import JobSpec, StoredBlob
from ocrgw.jobs.service import Order, Source
from ocrgw.settings import Settings
from ocrgw.storage import BlobStore

PREFIX = "Textract."
SYNC_OPS = ("DetectDocumentText", "AnalyzeDocument")
START_OPS = ("StartDocumentTextDetection", "StartDocumentAnalysis")
GET_OPS = ("GetDocumentTextDetection", "GetDocumentAnalysis")
OPERATIONS = (*SYNC_OPS, *START_OPS, *GET_OPS)
API = {"DetectDocumentText": "text", "StartDocumentTextDetection": "text", "GetDocumentTextDetection": "text"}
FEATURES = ("TABLES", "FORMS", "QUERIES", "SIGNATURES", "LAYOUT")
SERVED = ("TABLES", "FORMS", "LAYOUT")
SYNC_MAX_BYTES = 10 * 1024 * 1024  # the decoded document (contract §A.6)
ASYNC_MAX_BYTES = 500 * 1024 * 1024  # PDF/TIFF from S3; the server's OCRGW_MAX_UPLOAD_BYTES bounds it too
SMALL_BODY_CAP = 256 * 1024  # the JSON of every call but the two with Document.Bytes
TYPES = ("image/jpeg", "image/png", "application/pdf", "image/tiff")
LIMITS = ImageLimits("AWS Textract", min_side=10, max_side=10_000)
MAX_RESULTS = 1000
_TOKEN = re.compile(r"[a-zA-Z0-9\-_]{1,64}")
_TAG = re.compile(r"[a-zA-Z0-9_.\-:]{1,64}")
# Textract reads English, German, French, Spanish, Italian and Portuguese without being told which: no
# language member exists, so every page's language is identified (pipeline.langdetect), as Azure's are.
VOCABULARY = languages.Vocabulary(detect=True)


@dataclass(slots=True)
class Call:
    """One verified request: its operation, caller, members and the body (for a spooled Document.Bytes)."""

    op: str
    principal: Principal
    data: dict[str, Any]
    body: jsonbody.JsonBody


def operation(request: Request) -> str:
    target = request.headers.get("x-amz-target", "").strip()
    op = target.removeprefix(PREFIX) if target.startswith(PREFIX) else ""
    if op not in OPERATIONS:
        why = f"The operation {target!r} is not one this server answers: X-Amz-Target must be Textract.<Operation>."
        raise TextractError(E.ROUTE_NOT_FOUND, "UnknownOperationException", why)
    return op


async def _signer(request: Request, ctx: AppContext) -> tuple[sigv4.Authorization, str, Principal]:
    """The Authorization header parsed, its AK looked up, its date checked: before the body is read."""
    try:
        auth = sigv4.parse_authorization(request.headers.get("authorization"))
        found = await ctx.keys.resolve_access_key(auth.access_key)
        if found is None:
            raise sigv4.SignatureError(
                "The security token included in the request is invalid.", "UnrecognizedClientException"
            )
        sigv4.check_header(auth, request.headers, utcnow(), ctx.settings.aws_clock_skew_seconds)
    except sigv4.SignatureError as exc:
        raise _refused(exc) from None
    principal, secret = found
    return auth, secret, principal


def _refused(exc: sigv4.SignatureError) -> TextractError:
    code = E.MISSING_KEY if exc.code == "MissingAuthenticationTokenException" else E.INVALID_KEY
    return TextractError(code, exc.code, str(exc))


async def read_call(request: Request, ctx: AppContext) -> Call:
    """Authenticate and read a request: the signature's header checked first (a stranger's body is not
    read), then the body (capped for the operation) hashed as it is scanned, then the signature itself."""
    signed = None if ctx.settings.auth == "off" else await _signer(request, ctx)
    op = operation(request)
    cap = SYNC_MAX_BYTES * 4 // 3 + SMALL_BODY_CAP if op in SYNC_OPS else SMALL_BODY_CAP
    digest = hashlib.sha256()
    try:
        body = await jsonbody.read(intake.body(request, cap), cap=cap, settings=ctx.settings, digest=digest)
    except jsonbody.JsonSyntaxError:
        body = None
    except OcrgwError as exc:
        if exc.code is E.TOO_LARGE and not isinstance(exc, TextractError):
            why = f"The request is over {cap:,} bytes: a synchronous document may be at most 10 MB."
            raise TextractError(E.TOO_LARGE, TOO_LARGE, why) from None
        raise
    try:
        principal = ANONYMOUS if signed is None else _verified(request, signed, digest.hexdigest(), ctx.settings)
        data = body.members() if body is not None else None
        if body is None or data is None:
            raise TextractError(E.INVALID_PARAMETER, "SerializationException", "The request body is not a JSON object.")
    except BaseException:
        if body is not None:
            body.close()
        raise
    return Call(op, principal, data, body)


def _verified(
    request: Request, signed: tuple[sigv4.Authorization, str, Principal], body_hash: str, s: Settings
) -> Principal:
    auth, secret, principal = signed
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    try:
        sigv4.verify(
            auth=auth,
            secret_key=secret,
            method=request.method,
            path=raw_path.decode("latin-1").split("?", 1)[0],
            query=request.query_params.multi_items(),
            headers=request.headers,
            body_sha256=body_hash,
            now=utcnow(),
            max_skew_seconds=s.aws_clock_skew_seconds,
        )
    except sigv4.SignatureError as exc:
        raise _refused(exc) from None
    return principal


# ------------------------------------------------------------------------------------------ members
def _string(data: dict[str, Any], name: str, pattern: re.Pattern[str] | None = None, limit: int = 1024) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= limit or (pattern and not pattern.fullmatch(value)):
        raise invalid(f"Request has invalid parameters: {name} is not valid.")
    return value


def features(data: dict[str, Any]) -> tuple[str, ...]:
    """FeatureTypes: TABLES, FORMS and LAYOUT are served; QUERIES and SIGNATURES are refused, as Textract
    refuses a feature where it does not offer it, rather than answered without their blocks."""
    value = data.get("FeatureTypes")
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise invalid("Request has invalid parameters: FeatureTypes must list one or more of " + ", ".join(FEATURES))
    unknown = [v for v in value if v not in FEATURES]
    if unknown:
        raise invalid(f"Request has invalid parameters: unknown FeatureTypes {', '.join(unknown)}.")
    unserved = [v for v in value if v not in SERVED] + (["QUERIES"] if data.get("QueriesConfig") else [])
    if unserved:
        raise invalid(
            f"Request has invalid parameters: FeatureTypes {', '.join(dict.fromkeys(unserved))} are not supported by "
            "this server; it serves TABLES, FORMS and LAYOUT."
        )
    if data.get("AdaptersConfig"):
        raise invalid("Request has invalid parameters: adapters (AdaptersConfig) are not supported by this server.")
    return tuple(f for f in SERVED if f in value)


def order(op: str, data: dict[str, Any]) -> Order:
    api = API.get(op, "analysis")
    wanted = features(data) if api == "analysis" else ()
    options = {"api": api, "features": ",".join(wanted), "mode": "sync" if op in SYNC_OPS else "async"}
    tag = _string(data, "JobTag", _TAG, 64)
    if tag:
        options["jobTag"] = tag
    if op in START_OPS:  # what a ClientRequestToken promises to mean (IdempotentParameterMismatchException)
        asked = {k: data.get(k) for k in ("DocumentLocation", "FeatureTypes", "JobTag")}
        options["request"] = hashlib.sha256(json.dumps(asked, sort_keys=True).encode()).hexdigest()[:32]
    spec = JobSpec(options=options, outputs=("layout",) if wanted else ())
    return Order(spec, VOCABULARY.ask(None))


def client_token(data: dict[str, Any]) -> str | None:
    return _string(data, "ClientRequestToken", _TOKEN, 64)


def source(call: Call) -> Source:
    """Exactly one of Document.Bytes and Document.S3Object (sync), DocumentLocation.S3Object (async)."""
    if call.op in SYNC_OPS:
        doc = call.data.get("Document")
        if not isinstance(doc, dict) or ("Bytes" in doc) == ("S3Object" in doc):
            raise invalid("Request has invalid parameters: Document must have exactly one of Bytes and S3Object.")
        if "Bytes" in doc:
            text = call.body.text(doc["Bytes"])
            if not text:
                raise invalid("Request has invalid parameters: Document.Bytes must be base64-encoded document bytes.")
            inner: Source = jsonbody.Base64Source(text, invalid=_bad_base64, data_uri=False)
        else:
            inner = S3Source(*check_location(doc["S3Object"]), max_bytes=SYNC_MAX_BYTES)
        return Checked(inner, sync=True, max_bytes=SYNC_MAX_BYTES)
    location = call.data.get("DocumentLocation")
    if not isinstance(location, dict) or "S3Object" not in location:
        raise invalid("Request has invalid parameters: DocumentLocation.S3Object is required.")
    return Checked(S3Source(*check_location(location["S3Object"]), max_bytes=ASYNC_MAX_BYTES), sync=False)


def _bad_base64() -> TextractError:
    return TextractError(E.INVALID_IMAGE, "BadDocumentException", "Document.Bytes is not valid base64.")


@dataclass(slots=True)
class Checked:
    """A source stored under the operation's size limit and refused unless it is JPEG, PNG, PDF or TIFF,
    and (sync) a single page: Textract's synchronous calls refuse a multi-page document rather than read
    its first page."""

    inner: Source
    sync: bool
    max_bytes: int = ASYNC_MAX_BYTES

    async def save(self, store: BlobStore, settings: Settings, limits: ImageLimits) -> StoredBlob:
        capped = settings
        if self.max_bytes < settings.max_upload_bytes:
            capped = settings.model_copy(update={"max_upload_bytes": self.max_bytes})
        try:
            blob = await self.inner.save(store, capped, limits)
        except OcrgwError as exc:
            if exc.code is E.TOO_LARGE and not isinstance(exc, TextractError):
                raise TextractError(E.TOO_LARGE, TOO_LARGE, exc.message) from None
            raise
        why = None
        if blob.media_type not in TYPES:
            why = f"Request has unsupported document format: {blob.media_type}; send JPEG, PNG, PDF or TIFF."
        elif self.sync and blob.frames > 1:
            why = (
                f"Request has unsupported document format: the document has {blob.frames} pages; synchronous "
                "operations take one page (use StartDocumentTextDetection or StartDocumentAnalysis)."
            )
        if why:
            await store.delete(blob.key)
            raise TextractError(E.UNSUPPORTED_FORMAT, UNSUPPORTED, why)
        return blob


# -------------------------------------------------------------------------------------------- Get*
def get_args(data: dict[str, Any]) -> tuple[str, int, str | None]:
    job_id = _string(data, "JobId", _TOKEN, 64)
    if job_id is None:
        raise invalid("Request has invalid parameters: JobId is required.")
    limit = data.get("MaxResults", MAX_RESULTS)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise invalid("Request has invalid parameters: MaxResults must be a whole number from 1.")
    return job_id, min(limit, MAX_RESULTS), _string(data, "NextToken", None, 1024)


def _mac(secret: bytes, text: str) -> str:
    return hmac.new(secret, text.encode(), hashlib.sha256).hexdigest()[:24]


def next_token(secret: bytes, job_id: str, offset: int) -> str:
    """Opaque, signed and stateless: the job and the first block of the next page (survives a restart)."""
    text = f"{job_id}:{offset}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=") + "." + _mac(secret, text)


def token_offset(secret: bytes, job_id: str, token: str | None) -> int:
    if token is None:
        return 0
    raw, _, mac = token.partition(".")
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
        owner, _, offset = text.rpartition(":")
        if owner == job_id and hmac.compare_digest(mac, _mac(secret, text)):
            return int(offset)
    except (ValueError, UnicodeDecodeError):
        pass
    raise invalid("Request has invalid parameters: NextToken is not one this job's results gave.")
