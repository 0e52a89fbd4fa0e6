"""AK/SK verification against the contract's vectors (one made with the SDK's own signer, one from
Huawei's documentation) and the ways a signature must fail: wrong SK, stale date, tampered body."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from ocrgw.dialects.huawei import signing

BODY = b'{"image": "aGVsbG8=", "detect_direction": true}'
HEADERS = {
    "content-type": "application/json;charset=utf-8",
    "host": "127.0.0.1:8000",
    "user-agent": "ua-test",
    "x-project-id": "proj123",
    "x-sdk-date": "20240101T000000Z",
}
SIGNED = ("content-type", "host", "user-agent", "x-project-id", "x-sdk-date")
AUTH = (
    "SDK-HMAC-SHA256 Access=AKEXAMPLE, SignedHeaders=content-type;host;user-agent;x-project-id;x-sdk-date, "
    "Signature=a2908297bfaae8af54ce49848a8dfb8c2882b580cbc46cd126e8006035350070"
)
NOW = datetime(2024, 1, 1, 0, 5, tzinfo=UTC)


def _verify(
    auth: str = AUTH,
    sk: str = "SKEXAMPLE",
    body: bytes = BODY,
    headers: dict | None = None,
    now: datetime = NOW,
    path: str = "/v2/proj123/ocr/general-text",
) -> None:
    signing.verify(
        auth=signing.parse_authorization(auth),
        secret_key=sk,
        method="POST",
        path=path,
        query=[],
        headers=headers or HEADERS,
        body_sha256=hashlib.sha256(body).hexdigest(),
        now=now,
        max_skew_seconds=900,
    )


def test_contract_vector_canonical_request_and_signature() -> None:
    canonical = signing.canonical_request(
        "POST",
        "/v2/proj123/ocr/general-text",
        [],
        HEADERS,
        SIGNED,
        "c305225c188eeddf52f50d299303f3ebf62b28d56a02aae895f3ef6c32e276d8",
    )
    assert canonical == (
        "POST\n/v2/proj123/ocr/general-text/\n\ncontent-type:application/json;charset=utf-8\nhost:127.0.0.1:8000\n"
        "user-agent:ua-test\nx-project-id:proj123\nx-sdk-date:20240101T000000Z\n\n"
        "content-type;host;user-agent;x-project-id;x-sdk-date\n"
        "c305225c188eeddf52f50d299303f3ebf62b28d56a02aae895f3ef6c32e276d8"
    )
    to_sign = signing.string_to_sign(canonical, "20240101T000000Z")
    assert to_sign.endswith("05714bc4fc3b5daf4f9a412cab72e9f2c43bbb4ba36d894a9e5277aed4d25bc7")
    assert signing.sign("SKEXAMPLE", to_sign) == "a2908297bfaae8af54ce49848a8dfb8c2882b580cbc46cd126e8006035350070"
    _verify()


def test_huawei_documentation_vector() -> None:
    to_sign = "SDK-HMAC-SHA256\n20191115T033655Z\nb25362e603ee30f4f25e7858e8a7160fd36e803bb2dfe206278659d71a9bcd7a"
    assert signing.sign("MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc", to_sign) == (
        "7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe"
    )


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"sk": "WRONG"}, "verify aksk signature fail"),
        ({"body": BODY.replace(b"true", b"false")}, "verify aksk signature fail"),
        ({"now": NOW + timedelta(minutes=16)}, "more than 15 minutes"),
        ({"now": NOW - timedelta(minutes=21)}, "more than 15 minutes"),
        ({"headers": {**HEADERS, "host": "127.0.0.1:8001"}}, "verify aksk signature fail"),
        ({"path": "/v2/other/ocr/general-text"}, "verify aksk signature fail"),
        ({"auth": AUTH.replace("content-type;host;", "content-type;")}, "host and x-sdk-date"),
        ({"auth": AUTH.replace("SDK-HMAC-SHA256", "SDK-HMAC-SM3")}, "unsupported signing algorithm"),
        ({"headers": {k: v for k, v in HEADERS.items() if k != "user-agent"}}, "were not sent"),
    ],
)
def test_refusals(kwargs: dict, reason: str) -> None:
    with pytest.raises(signing.SignatureError, match=reason):
        _verify(**kwargs)


def test_unsigned_payload_and_declared_hash() -> None:
    headers = {**HEADERS, "x-sdk-content-sha256": "UNSIGNED-PAYLOAD"}
    signed = (*SIGNED[:4], "x-sdk-content-sha256", "x-sdk-date")
    canonical = signing.canonical_request("POST", "/v2/p/ocr/general-text", [], headers, signed, "UNSIGNED-PAYLOAD")
    sig = signing.sign("SK", signing.string_to_sign(canonical, HEADERS["x-sdk-date"]))
    auth = f"SDK-HMAC-SHA256 Access=AK, SignedHeaders={';'.join(signed)}, Signature={sig}"
    _verify(auth=auth, sk="SK", headers=headers, path="/v2/p/ocr/general-text", body=b"anything")
    with pytest.raises(signing.SignatureError, match="does not match the body"):
        _verify(
            auth=auth, sk="SK", headers={**headers, "x-sdk-content-sha256": "0" * 64}, path="/v2/p/ocr/general-text"
        )


def test_canonical_uri_quotes_segments_and_adds_slash() -> None:
    assert signing.canonical_uri("/v2/%7Bproject_id%7D/ocr/x") == "/v2/%7Bproject_id%7D/ocr/x/"
    assert signing.canonical_uri("/a b/c~d/") == "/a%20b/c~d/"
    assert signing.canonical_query([("b", "2"), ("a", "x y")]) == "a=x%20y&b=2"
