"""AWS Signature Version 4 (`AWS4-HMAC-SHA256`) as Textract's front end verifies it (contract §A.2): the
canonical request is rebuilt from what was *received* (the path as sent, Host with its port, the raw body
bytes), the signing key derived from the SK through the credential scope's own date, region and service.

Pure functions, no I/O: parse.py hashes the body as it streams in, finds the AK's SK and calls ``verify``.
Each refusal names the exception Textract answers it with (``SignatureError.code``)."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, unquote

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "textract"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
CONTENT_SHA256 = "x-amz-content-sha256"
BAD_SIGNATURE = (
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
    "Access Key and signing method. Consult the service documentation for details."
)
_SPACES = re.compile(r"\s+")


class SignatureError(Exception):
    """Why a signed request was refused: ``code`` is Textract's `__type` for it (InvalidSignatureException,
    IncompleteSignatureException, UnrecognizedClientException, MissingAuthenticationTokenException)."""

    def __init__(self, message: str, code: str = "InvalidSignatureException") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Authorization:
    access_key: str
    date: str  # yyyymmdd of the credential scope
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


def _incomplete(detail: str) -> SignatureError:
    return SignatureError(detail, "IncompleteSignatureException")


def parse_authorization(value: str | None) -> Authorization:
    """`AWS4-HMAC-SHA256 Credential=AK/yyyymmdd/region/service/aws4_request, SignedHeaders=a;b, Signature=hex`."""
    if not value or not value.strip():
        raise SignatureError("Missing Authentication Token", "MissingAuthenticationTokenException")
    alg, _, params = value.strip().partition(" ")
    if alg != ALGORITHM:
        raise _incomplete(f"Unsupported signing algorithm {alg!r}: sign the request with {ALGORITHM} (SigV4).")
    parts: dict[str, str] = {}
    for item in params.split(","):
        name, sep, val = item.strip().partition("=")
        if sep:
            parts[name.strip()] = val.strip()
    missing = [k for k in ("Credential", "SignedHeaders", "Signature") if not parts.get(k)]
    if missing:
        raise _incomplete(f"Authorization header requires '{missing[0]}' parameter. Authorization={value.strip()}")
    scope = parts["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request" or not all(scope):
        raise _incomplete(
            "Credential should be scoped to a valid region, service and date: "
            f"'{parts['Credential']}' is not AK/yyyymmdd/region/service/aws4_request."
        )
    signature = parts["Signature"]
    if not re.fullmatch(r"[0-9a-fA-F]{64}", signature):
        raise _incomplete("Signature must be 64 hexadecimal characters.")
    headers = tuple(h.strip().lower() for h in parts["SignedHeaders"].split(";") if h.strip())
    return Authorization(scope[0], scope[1], scope[2], scope[3], headers, signature.lower())


def canonical_uri(path: str) -> str:
    """botocore's rule for services other than S3: dot-segments removed, each segment URI-encoded with only
    `~` safe (so `%2F` inside a segment stays encoded), `/` for an empty path."""
    out: list[str] = []
    for seg in path.split("/"):
        if seg == "..":
            if out:
                out.pop()
        elif seg not in (".", ""):
            out.append(quote(unquote(seg), safe="~"))
    uri = "/" + "/".join(out)
    return uri + "/" if path.endswith("/") and uri != "/" else uri


def canonical_query(items: Iterable[tuple[str, str]]) -> str:
    pairs = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in items)
    return "&".join(f"{k}={v}" for k, v in pairs)


def _header_value(value: str) -> str:
    return _SPACES.sub(" ", value.strip())


def canonical_request(
    method: str,
    path: str,
    query: Iterable[tuple[str, str]],
    headers: Mapping[str, str],
    signed_headers: tuple[str, ...],
    payload_hash: str,
) -> str:
    lines = "".join(f"{name}:{_header_value(headers.get(name, ''))}\n" for name in signed_headers)
    return "\n".join(
        [method.upper(), canonical_uri(path), canonical_query(query), lines, ";".join(signed_headers), payload_hash]
    )


def string_to_sign(amz_date: str, scope: str, canonical: str) -> str:
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{hashlib.sha256(canonical.encode('utf-8')).hexdigest()}"


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    """kDate = HMAC("AWS4"+SK, yyyymmdd), then the region, the service and "aws4_request"."""
    k = _hmac(("AWS4" + secret_key).encode("utf-8"), date)
    for part in (region, service, "aws4_request"):
        k = _hmac(k, part)
    return k


def signature(secret_key: str, auth: Authorization, to_sign: str) -> str:
    key = signing_key(secret_key, auth.date, auth.region, auth.service)
    return hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def parse_amz_date(value: str) -> datetime:
    try:
        return datetime.strptime(value.strip(), DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise _incomplete("X-Amz-Date is missing or not in yyyyMMddTHHmmssZ form.") from None


def check_header(auth: Authorization, headers: Mapping[str, str], now: datetime, max_skew_seconds: float) -> str:
    """What can be checked before the body is read: the scope (service, date), the signed headers, the
    clock. Returns X-Amz-Date. The AK is looked up by the caller between this and ``verify``."""
    if auth.service != SERVICE:
        raise SignatureError(
            f"Credential should be scoped to correct service: '{SERVICE}'. ", "InvalidSignatureException"
        )
    if "host" not in auth.signed_headers:
        raise SignatureError("'Host' must be a 'SignedHeader' in the AWS Authorization.")
    missing = [h for h in auth.signed_headers if h not in headers]
    if missing:
        raise SignatureError(f"The signed header(s) {', '.join(missing)} were not sent.")
    amz_date = headers.get("x-amz-date", "").strip()
    if not amz_date or "x-amz-date" not in auth.signed_headers:
        raise _incomplete("Authorization header requires existence of a signed 'X-Amz-Date' header.")
    when = parse_amz_date(amz_date)
    if amz_date[:8] != auth.date:
        raise SignatureError(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{auth.date}' != '{amz_date[:8]}'"
        )
    skew = (now - when).total_seconds()
    if abs(skew) > max_skew_seconds:
        minutes = f"{max_skew_seconds / 60:g}"
        bound = now.timestamp() - max_skew_seconds if skew > 0 else now.timestamp() + max_skew_seconds
        edge = datetime.fromtimestamp(bound, UTC).strftime(DATE_FORMAT)
        word, sign = ("earlier", "-") if skew > 0 else ("later", "+")
        raise SignatureError(
            f"Signature {'expired' if skew > 0 else 'not yet current'}: {amz_date} is now {word} than {edge} "
            f"({now.strftime(DATE_FORMAT)} {sign} {minutes} min.)"
        )
    return amz_date


def verify(
    *,
    auth: Authorization,
    secret_key: str,
    method: str,
    path: str,
    query: Iterable[tuple[str, str]],
    headers: Mapping[str, str],
    body_sha256: str,
    now: datetime,
    max_skew_seconds: float,
) -> None:
    """Raise SignatureError unless the request carries a valid, fresh signature. ``headers`` keyed by
    lower-case name (Starlette's are); ``body_sha256`` the hex SHA-256 of the raw body as it arrived."""
    amz_date = check_header(auth, headers, now, max_skew_seconds)
    body_hash = body_sha256.lower()
    declared = headers.get(CONTENT_SHA256)
    if declared is None:
        payload_hash = body_hash
    elif declared.strip() == UNSIGNED_PAYLOAD:
        payload_hash = UNSIGNED_PAYLOAD
    elif declared.strip().lower() == body_hash:
        payload_hash = body_hash
    else:
        raise SignatureError("The provided 'x-amz-content-sha256' header does not match what was computed.")
    canonical = canonical_request(method, path, query, headers, auth.signed_headers, payload_hash)
    expected = signature(secret_key, auth, string_to_sign(amz_date, auth.scope, canonical))
    if not hmac.compare_digest(expected, auth.signature):
        raise SignatureError(BAD_SIGNATURE)
