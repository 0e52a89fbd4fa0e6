"""Huawei Cloud's AK/SK request signatures (`SDK-HMAC-SHA256`), verified the way Huawei's API gateway does
(contract §2.6): the canonical request is rebuilt from what was *received* (Host with its port, User-Agent,
the raw body bytes), so a proxy that rewrites a signed header breaks verification, as on Huawei.

Pure functions, no I/O: parse.py reads the body, looks up the AK and calls ``verify``."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, unquote

ALGORITHM = "SDK-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
CONTENT_SHA256 = "x-sdk-content-sha256"
_AUTH = re.compile(r"^\s*(?P<alg>\S+)\s+(?P<params>.*)$", re.S)


class SignatureError(Exception):
    """Why a signed request was refused; the message goes into APIG.0301's error_msg."""


@dataclass(frozen=True, slots=True)
class Authorization:
    access_key: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(value: str) -> Authorization:
    """`SDK-HMAC-SHA256 Access=AK, SignedHeaders=a;b, Signature=hex`: the parts in any order, spaces optional."""
    m = _AUTH.match(value or "")
    if not m:
        raise SignatureError("the Authorization header is malformed")
    if m.group("alg") != ALGORITHM:
        raise SignatureError(f"unsupported signing algorithm {m.group('alg')!r}; use {ALGORITHM}")
    parts: dict[str, str] = {}
    for item in m.group("params").split(","):
        name, sep, val = item.strip().partition("=")
        if sep:
            parts[name.strip()] = val.strip()
    try:
        access, signed, signature = parts["Access"], parts["SignedHeaders"], parts["Signature"]
    except KeyError as exc:
        raise SignatureError(f"the Authorization header lacks {exc.args[0]}") from None
    headers = tuple(h for h in signed.split(";") if h)
    if not access or not headers or not re.fullmatch(r"[0-9a-fA-F]{64}", signature):
        raise SignatureError("the Authorization header is malformed")
    return Authorization(access, headers, signature.lower())


def canonical_uri(path: str) -> str:
    """Each segment re-quoted (only `~` kept safe) and a trailing `/` added: the signer does this although
    the request itself goes out without the slash."""
    segments = [quote(seg, safe="~") for seg in unquote(path).split("/")]
    uri = "/".join(segments)
    return uri if uri.endswith("/") else uri + "/"


def canonical_query(items: Iterable[tuple[str, str]]) -> str:
    return "&".join(f"{quote(k, safe='~')}={quote(v, safe='~')}" for k, v in sorted(items))


def canonical_request(
    method: str,
    path: str,
    query: Iterable[tuple[str, str]],
    headers: Mapping[str, str],
    signed_headers: tuple[str, ...],
    payload_hash: str,
) -> str:
    lines = "".join(f"{name}:{headers.get(name, '').strip()}\n" for name in signed_headers)
    return "\n".join(
        [method.upper(), canonical_uri(path), canonical_query(query), lines, ";".join(signed_headers), payload_hash]
    )


def string_to_sign(canonical: str, sdk_date: str) -> str:
    return f"{ALGORITHM}\n{sdk_date}\n{hashlib.sha256(canonical.encode('utf-8')).hexdigest()}"


def sign(secret_key: str, to_sign: str) -> str:
    """The SK keys the HMAC directly: no date or region key derivation in this scheme."""
    return hmac.new(secret_key.encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def parse_sdk_date(value: str) -> datetime:
    try:
        return datetime.strptime(value.strip(), DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise SignatureError("X-Sdk-Date is missing or not in YYYYMMDDTHHMMSSZ form") from None


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
    """Raise SignatureError unless the request carries a valid, fresh signature. ``headers`` must be keyed
    by lower-case name (Starlette's Headers are); ``body_sha256`` is the hex SHA-256 of the raw body, hashed
    as it streamed in (the body itself is never held whole)."""
    signed = auth.signed_headers
    if "host" not in signed or "x-sdk-date" not in signed:
        raise SignatureError("host and x-sdk-date must be signed headers")
    missing = [h for h in signed if h not in headers]
    if missing:
        raise SignatureError(f"signed header(s) {', '.join(missing)} were not sent")
    sdk_date = headers["x-sdk-date"].strip()
    skew = abs((now - parse_sdk_date(sdk_date)).total_seconds())
    if skew > max_skew_seconds:
        raise SignatureError(
            f"the request time (X-Sdk-Date {sdk_date}) is more than "
            f"{max_skew_seconds / 60:g} minutes from the server's clock"
        )
    body_hash = body_sha256.lower()
    declared = headers.get(CONTENT_SHA256)
    if declared is None:
        payload_hash = body_hash
    elif declared.strip() == UNSIGNED_PAYLOAD:
        payload_hash = UNSIGNED_PAYLOAD  # the client chose not to sign the body; Huawei allows that
    elif declared.strip().lower() == body_hash:
        payload_hash = body_hash
    else:
        raise SignatureError("X-Sdk-Content-Sha256 does not match the body")
    canonical = canonical_request(method, path, query, headers, signed, payload_hash)
    expected = sign(secret_key, string_to_sign(canonical, sdk_date))
    if not hmac.compare_digest(expected, auth.signature):
        raise SignatureError("verify aksk signature fail")
