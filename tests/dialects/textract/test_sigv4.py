"""SigV4 verification (dialects/textract/sigv4.py) against the worked vector of the contract (§A.2: made by
boto3 1.44.18 with its clock pinned to 2024-01-01T00:00:00Z, recomputed independently), then broken one part
at a time: each refusal carries the `__type` Textract answers it with."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from ocrgw.dialects.textract import sigv4

AK, SK = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
BODY = b'{"Document": {"Bytes": "aGVsbG8="}}'
NOW = datetime(2024, 1, 1, tzinfo=UTC)
HEADERS = {
    "content-type": "application/x-amz-json-1.1",
    "host": "127.0.0.1:8000",
    "x-amz-date": "20240101T000000Z",
    "x-amz-target": "Textract.DetectDocumentText",
}
SIGNATURE = "905aa3917298506a8388910fbdf27093eea5e67aded02499844774f21de876fb"
AUTH = (
    f"AWS4-HMAC-SHA256 Credential={AK}/20240101/us-east-1/textract/aws4_request, "
    f"SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature={SIGNATURE}"
)
CANONICAL = """POST
/

content-type:application/x-amz-json-1.1
host:127.0.0.1:8000
x-amz-date:20240101T000000Z
x-amz-target:Textract.DetectDocumentText

content-type;host;x-amz-date;x-amz-target
6a08af5447585e852f956727bfc7c7adf97fb92de6cfad070bb055df4290c96d"""


def verify(auth: str = AUTH, headers: dict | None = None, body: bytes = BODY, **kw) -> None:
    kw.setdefault("now", NOW)
    sigv4.verify(
        auth=sigv4.parse_authorization(auth),
        secret_key=kw.pop("secret_key", SK),
        method="POST",
        path=kw.pop("path", "/"),
        query=[],
        headers=headers or HEADERS,
        body_sha256=hashlib.sha256(body).hexdigest(),
        max_skew_seconds=900,
        **kw,
    )


def test_worked_vector_step_by_step() -> None:
    auth = sigv4.parse_authorization(AUTH)
    assert (auth.access_key, auth.region, auth.service, auth.date) == (AK, "us-east-1", "textract", "20240101")
    assert hashlib.sha256(BODY).hexdigest() == CANONICAL.rsplit("\n", 1)[1]
    canonical = sigv4.canonical_request("POST", "/", [], HEADERS, auth.signed_headers, hashlib.sha256(BODY).hexdigest())
    assert canonical == CANONICAL
    to_sign = sigv4.string_to_sign("20240101T000000Z", auth.scope, canonical)
    assert to_sign.rsplit("\n", 1)[1] == "499d82a655dff68a2c907fb2b663187f47896cbd62a074b657821af9ea323a5c"
    key = sigv4.signing_key(SK, "20240101", "us-east-1", "textract")
    assert key.hex() == "79e6c366c239f5a1d5404c08e5ee6ff56fcdeb026a5acc19082bd797f5f968ba"
    assert sigv4.signature(SK, auth, to_sign) == SIGNATURE
    verify()


def test_worked_vector_with_session_token() -> None:
    headers = {**HEADERS, "x-amz-security-token": "TOKEN123"}
    sig = "bd954164d8ac7afbc02702d10ac916f3998195d5496f1456d312617cfb022e74"
    auth = (
        f"AWS4-HMAC-SHA256 Credential={AK}/20240101/us-east-1/textract/aws4_request, "
        f"SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, Signature={sig}"
    )
    verify(auth, headers)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"secret_key": SK[:-1] + "X"}, "InvalidSignatureException"),
        ({"body": BODY.replace(b"aGVs", b"aGVz")}, "InvalidSignatureException"),
        ({"headers": {**HEADERS, "host": "localhost:8000"}}, "InvalidSignatureException"),
        ({"path": "/other"}, "InvalidSignatureException"),
        ({"now": NOW + timedelta(minutes=16)}, "InvalidSignatureException"),
        ({"now": NOW - timedelta(minutes=16)}, "InvalidSignatureException"),
        ({"headers": {k: v for k, v in HEADERS.items() if k != "x-amz-target"}}, "InvalidSignatureException"),
        ({"auth": AUTH.replace("/textract/", "/s3/")}, "InvalidSignatureException"),
        ({"auth": AUTH.replace("/20240101/", "/20240102/")}, "InvalidSignatureException"),
        ({"auth": AUTH.replace("SignedHeaders=", "Signed=")}, "IncompleteSignatureException"),
        ({"auth": "AWS4-HMAC-SHA1 " + AUTH.split(" ", 1)[1]}, "IncompleteSignatureException"),
        ({"auth": ""}, "MissingAuthenticationTokenException"),
    ],
)
def test_refusals(change: dict, code: str) -> None:
    with pytest.raises(sigv4.SignatureError) as exc:
        verify(**change)
    assert exc.value.code == code


def test_clock_window_is_fifteen_minutes_both_ways() -> None:
    verify(now=NOW + timedelta(minutes=14, seconds=59))
    verify(now=NOW - timedelta(minutes=14, seconds=59))
    with pytest.raises(sigv4.SignatureError, match=r"Signature expired: 20240101T000000Z is now earlier than"):
        verify(now=NOW + timedelta(minutes=15, seconds=1))


def test_declared_payload_hash() -> None:
    """A client that sends x-amz-content-sha256 (S3-style signers) must mean the body it sent."""
    headers = {**HEADERS, "x-amz-content-sha256": "0" * 64}
    with pytest.raises(sigv4.SignatureError, match="x-amz-content-sha256"):
        verify(headers=headers)


def test_canonical_uri_rules() -> None:
    assert sigv4.canonical_uri("/") == "/"
    assert sigv4.canonical_uri("") == "/"
    assert sigv4.canonical_uri("/aws/textract") == "/aws/textract"
    assert sigv4.canonical_uri("/a/./b/../c") == "/a/c"
    assert sigv4.canonical_uri("/a b/%7Ex") == "/a%20b/~x"
