"""Huawei Cloud OCR dialect against real servers (embedded and scale-out, real workers and Tesseract):
the official `huaweicloudsdkocr` with AK/SK credentials from `ocrgw keys create --aksk`, signatures made by
the SDK's own signer and then broken (wrong SK, stale date, tampered body), `X-Auth-Token` calls, both
real clients (Huawei's and OCR.space's) on one server, and Huawei's error shapes for bad input."""

from __future__ import annotations

import base64
import io
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer
from huaweicloudsdkocr.v1 import (
    GeneralTextRequestBody,
    OcrClient,
    PassportRequestBody,
    RecognizeGeneralTextRequest,
    RecognizePassportRequest,
)
from PIL import Image
from rapidfuzz.distance import Levenshtein
from tests.conftest import SHARED_ENV, Server, doc, manifest_row

IMAGE = "page/tess_phototest.tif"
PROJECT = "0a1b2c3d4e5f"


def cer(hyp: str, ref: str) -> float:
    h, r = " ".join(hyp.split()).casefold(), " ".join(ref.split()).casefold()
    return Levenshtein.distance(h, r) / max(1, len(r))


def aksk(srv: Server) -> tuple[str, str]:
    cached = getattr(srv, "_huawei_aksk", None)
    if cached is None:
        _, ak, sk = srv.cli("keys", "create", "--name", "huawei-tests", "--aksk", "-q").split()
        cached = srv._huawei_aksk = (ak, sk)  # type: ignore[attr-defined]
    return cached


def sdk(srv: Server, ak: str | None = None, sk: str | None = None) -> OcrClient:
    a, s = aksk(srv)
    creds = BasicCredentials(ak or a, sk or s, PROJECT)
    return OcrClient.new_builder().with_credentials(creds).with_endpoint(srv.url).build()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def phototest() -> bytes:
    return doc(IMAGE).read_bytes()


def png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def token_post(srv: Server, api: str, body: object, token: str | None = "key", **kw) -> httpx.Response:
    headers = {"X-Auth-Token": srv.key if token == "key" else token} if token else {}
    return httpx.post(f"{srv.url}/v2/{PROJECT}/ocr/{api}", json=body, headers=headers, timeout=120, **kw)


def huawei_error(r: httpx.Response, status: int, code: str) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error_code"] == code, body
    assert isinstance(body["error_msg"], str) and body["error_msg"]
    assert r.headers.get("x-request-id")
    return body["error_msg"]


# ----------------------------------------------------------------------------------------- real SDK
def test_sdk_general_text_with_aksk(server: Server) -> None:
    row = manifest_row(IMAGE)
    resp = sdk(server).recognize_general_text(
        RecognizeGeneralTextRequest(body=GeneralTextRequestBody(image=b64(phototest()), detect_direction=True))
    )
    assert resp.status_code == 200 and resp.x_request_id
    res = resp.result
    assert res.words_block_count == len(res.words_block_list) > 5
    text = "\n".join(b.words for b in res.words_block_list)
    assert cer(text, row["text"]) <= 0.05, text
    assert res.direction == 0
    width, height = Image.open(doc(IMAGE)).size
    for block in res.words_block_list:
        assert 0 < block.confidence <= 1
        assert len(block.location) == 4
        (x0, y0), (x1, y1), (x2, y2), (x3, y3) = block.location
        assert all(isinstance(v, int) for pt in block.location for v in pt)
        assert x0 < x1 and y1 < y2 and x3 < x2 and y0 < y3  # clockwise from the top left
        assert 0 <= x0 <= width and 0 <= y3 <= height


def test_sdk_passport_with_aksk(server: Server) -> None:
    from tests.specimens import make_passport

    spec = make_passport(7)
    resp = sdk(server).recognize_passport(RecognizePassportRequest(body=PassportRequestBody(image=b64(spec.image))))
    res = resp.result
    truth = spec.fields
    assert res.passport_number == truth["document_number"]
    assert res.surname == truth["surname"] and res.given_name == truth["given_names"]
    assert res.nationality == truth["nationality"] and res.country_code == truth["country_code"]
    assert res.sex == truth["sex"]
    assert res.date_of_birth == truth["date_of_birth"] and res.date_of_expiry == truth["date_of_expiry"]
    assert res.passport_type == truth["document_type"]
    assert set(res.confidence) >= {"passport_number", "surname", "date_of_birth"}
    assert all(0 < float(v) <= 1 for v in res.confidence.values())
    assert res.extra_info["check_digits_valid"] is True
    assert all(v in (True, None) for v in res.extra_info["check_digits"].values())


def test_passport_broken_check_digit_is_reported_not_corrected(server: Server) -> None:
    from tests.specimens import make_passport

    spec = make_passport(11, noise="clean", break_check="date_of_birth")
    r = token_post(server, "passport", {"image": b64(spec.image)})
    assert r.status_code == 200, r.text
    res = r.json()["result"]
    assert res["date_of_birth"] == spec.fields["date_of_birth"]  # as printed, not "corrected"
    assert res["extra_info"]["check_digits"]["date_of_birth"] is False
    assert res["extra_info"]["check_digits_valid"] is False
    assert res["confidence"]["date_of_birth"] < res["confidence"]["surname"]


def test_passport_without_mrz_is_ais_0104(server: Server) -> None:
    huawei_error(token_post(server, "passport", {"image": b64(phototest())}), 400, "AIS.0104")


def test_sdk_wrong_sk_is_apig_0301(server: Server) -> None:
    with pytest.raises(ClientRequestException) as exc:
        sdk(server, sk="0" * 40).recognize_general_text(
            RecognizeGeneralTextRequest(body=GeneralTextRequestBody(image=b64(phototest())))
        )
    assert exc.value.status_code == 401 and exc.value.error_code == "APIG.0301"
    assert "verify aksk signature fail" in exc.value.error_msg
    assert exc.value.request_id


def test_sdk_unknown_ak_is_apig_0301(server: Server) -> None:
    with pytest.raises(ClientRequestException) as exc:
        sdk(server, ak="NOSUCHACCESSKEY00000").recognize_general_text(
            RecognizeGeneralTextRequest(body=GeneralTextRequestBody(image=b64(phototest())))
        )
    assert exc.value.status_code == 401 and exc.value.error_code == "APIG.0301"


def _signed(srv: Server, body: bytes, *, when: datetime | None = None, sk: str | None = None) -> dict[str, str]:
    """Headers the SDK's own signer produces for ``body`` (optionally dated ``when``)."""
    ak, real_sk = aksk(srv)
    headers = {
        "Content-Type": "application/json;charset=utf-8",
        "User-Agent": "ocrgw-tests/1.0",
        "X-Project-Id": PROJECT,
    }
    if when is not None:
        headers["X-Sdk-Date"] = when.strftime("%Y%m%dT%H%M%SZ")
    host = srv.url.split("://", 1)[1]
    req = SdkRequest(
        method="POST",
        schema="http",
        host=host,
        resource_path=f"/v2/{PROJECT}/ocr/general-text",
        query_params=[],
        header_params=headers,
        body=body,
    )
    Signer(BasicCredentials(ak, sk or real_sk, PROJECT)).sign(req)
    return dict(req.header_params)


def _send(srv: Server, headers: dict[str, str], body: bytes) -> httpx.Response:
    return httpx.post(f"{srv.url}/v2/{PROJECT}/ocr/general-text", content=body, headers=headers, timeout=120)


def test_sdk_signed_request_then_replayed_and_tampered(server: Server) -> None:
    body = f'{{"image": "{b64(phototest())}"}}'.encode()
    fresh = _signed(server, body)
    assert _send(server, fresh, body).status_code == 200  # the signer's own output is accepted ...
    stale = _signed(server, body, when=datetime.now(UTC) - timedelta(minutes=20))
    msg = huawei_error(_send(server, stale, body), 401, "APIG.0301")  # ... but not 20 minutes later
    assert "15 minutes" in msg
    future = _signed(server, body, when=datetime.now(UTC) + timedelta(minutes=20))
    huawei_error(_send(server, future, body), 401, "APIG.0301")
    tampered = body.replace(b'"image"', b'"url": "http://example.invalid/", "image"')
    assert "verify aksk signature fail" in huawei_error(_send(server, fresh, tampered), 401, "APIG.0301")


# ----------------------------------------------------------------------------------------- X-Auth-Token
def test_x_auth_token(server: Server) -> None:
    r = token_post(server, "general-text", {"image": b64(phototest()), "return_markdown_result": True})
    assert r.status_code == 200, r.text
    assert r.headers["x-request-id"]
    res = r.json()["result"]
    assert res["direction"] == -1  # not asked for
    assert res["markdown_result"] == "\n".join(b["words"] for b in res["words_block_list"])
    assert "char_list" not in res["words_block_list"][0]
    assert huawei_error(token_post(server, "general-text", {"image": "x"}, token=None), 401, "APIG.0301").startswith(
        "Incorrect IAM authentication information"
    )
    huawei_error(token_post(server, "general-text", {"image": "x"}, token="0" * 32), 401, "APIG.0301")


# ----------------------------------------------------------------------------------------- options
@pytest.fixture(scope="module")
def embedded(embedded_server: Server) -> Server:
    """The shared embedded server: private URLs refused, an 8 MiB upload limit for the oversize case."""
    return embedded_server


def test_character_mode_and_rotation(embedded: Server) -> None:
    im = Image.open(doc(IMAGE)).convert("L")
    r = token_post(
        embedded,
        "general-text",
        {"image": b64(png(im.rotate(90, expand=True))), "detect_direction": True, "character_mode": True},
    )
    assert r.status_code == 200, r.text
    res = r.json()["result"]
    assert res["direction"] in (90.0, 270.0)
    block = max(res["words_block_list"], key=lambda b: len(b["words"]))
    chars = block["char_list"]
    assert "".join(c["char"] for c in chars) == block["words"].replace(" ", "")
    assert all(len(c["char_location"]) == 4 and 0 < c["char_confidence"] <= 1 for c in chars)
    assert cer("\n".join(b["words"] for b in res["words_block_list"]), manifest_row(IMAGE)["text"]) <= 0.05


def test_pdf_page_number(embedded: Server) -> None:
    from tests.dialects.ocrspace.test_ocrspace import text_image

    pages = [text_image(("First page here",)).convert("RGB"), text_image(("Second page now",)).convert("RGB")]
    buf = io.BytesIO()
    pages[0].save(buf, format="PDF", save_all=True, append_images=pages[1:], resolution=150)
    for n, want in ((1, "First page here"), (2, "Second page now")):
        r = token_post(embedded, "general-text", {"image": b64(buf.getvalue()), "pdf_page_number": n})
        assert r.status_code == 200, r.text
        assert cer(" ".join(b["words"] for b in r.json()["result"]["words_block_list"]), want) <= 0.1
    huawei_error(
        token_post(embedded, "general-text", {"image": b64(buf.getvalue()), "pdf_page_number": 3}), 400, "AIS.0101"
    )


def test_data_uri_prefix_is_forgiven_and_language(embedded: Server) -> None:
    from tests.dialects.ocrspace.test_ocrspace import text_image

    data = png(text_image(("Hello World 2024",)))
    r = token_post(embedded, "general-text", {"image": "data:image/png;base64," + b64(data), "language": "en"})
    assert r.status_code == 200, r.text
    assert r.json()["result"]["words_block_list"][0]["words"] == "Hello World 2024"


# ----------------------------------------------------------------------------------------- bad input
def test_bad_input_in_huawei_shapes(embedded: Server) -> None:
    good = b64(phototest())
    cases = [
        ({"image": good, "url": "http://127.0.0.1/x.png"}, 400, "AIS.0101"),
        ({}, 400, "AIS.0101"),
        ({"image": "not base64 !!"}, 400, "AIS.0102"),
        ({"image": b64(b"%PDF-1.7 truncated")}, 400, "AIS.0102"),
        ({"image": b64(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)}, 400, "AIS.0102"),
        ({"image": good, "detect_direction": "maybe"}, 400, "AIS.0101"),
        ({"image": good, "language": "xx"}, 400, "AIS.0101"),
        ({"image": good, "pdf_page_number": 0}, 400, "AIS.0101"),
        ({"url": "http://169.254.169.254/latest/meta-data/"}, 400, "ModelArts.4601"),
        ({"url": "http://127.0.0.1:1/x.png"}, 400, "ModelArts.4601"),
        ({"url": "file:///etc/passwd"}, 400, "ModelArts.4601"),
    ]
    for body, status, code in cases:
        huawei_error(token_post(embedded, "general-text", body), status, code)
    # A pixel bomb: a tiny PNG whose header claims 60000 x 60000 pixels.
    bomb = io.BytesIO()
    Image.new("1", (20000, 20000)).save(bomb, format="PNG")
    huawei_error(token_post(embedded, "general-text", {"image": b64(bomb.getvalue())}), 400, "AIS.0103")
    # Not JSON at all, and a JSON array.
    headers = {"X-Auth-Token": embedded.key, "Content-Type": "application/json"}
    for raw in (b"{not json", b"[1, 2]"):
        r = httpx.post(f"{embedded.url}/v2/{PROJECT}/ocr/general-text", content=raw, headers=headers)
        huawei_error(r, 400, "ModelArts.4105")
    # Too big for the server's limit (8 MiB here, so a body past 8 MiB as base64 plus 1 MiB of JSON).
    too_big = int(SHARED_ENV["OCRGW_MAX_UPLOAD_BYTES"]) * 4 // 3 + 2 * 1024 * 1024
    huawei_error(token_post(embedded, "general-text", {"image": "A" * too_big}), 413, "APIG.0201")
    # Wrong paths and methods are the gateway's 404.
    huawei_error(token_post(embedded, "no-such-api", {"image": good}), 404, "APIG.0101")
    huawei_error(httpx.get(f"{embedded.url}/v2/{PROJECT}/ocr/general-text"), 404, "APIG.0101")
    # Passports: PDF is not a passport format.
    huawei_error(token_post(embedded, "passport", {"image": b64(b"%PDF-1.4\n")}), 400, "AIS.0102")
    # And the server still serves.
    assert token_post(embedded, "general-text", {"image": good}).status_code == 200


def test_both_real_clients_on_one_server(embedded: Server) -> None:
    """The PyPI OCR.space client (file, then base64) and `huaweicloudsdkocr` with an AK/SK pair, a project
    id given (so the SDK never asks IAM for one) and a bounded HTTP config, against the same server: every
    call succeeds, and a 200 always carries a `result` (the SDK does not raise on one without)."""
    from huaweicloudsdkcore.http.http_config import HttpConfig
    from tests.dialects.ocrspace.test_ocrspace import pypi_client_reads
    from tests.specimens import make_passport

    ref = manifest_row(IMAGE)["text"]
    for mode, text in pypi_client_reads(embedded, doc(IMAGE)).items():
        assert cer(text, ref) <= 0.05, (mode, text)

    ak, sk = aksk(embedded)
    config = HttpConfig.get_default_config()
    config.timeout = (10, 60)
    client = (
        OcrClient.new_builder()
        .with_http_config(config)
        .with_credentials(BasicCredentials(ak, sk, PROJECT))
        .with_endpoint(embedded.url)
        .build()
    )
    resp = client.recognize_general_text(
        RecognizeGeneralTextRequest(body=GeneralTextRequestBody(image=b64(phototest()), detect_direction=True))
    )
    assert resp.status_code == 200 and resp.result is not None, resp.raw_content
    assert resp.result.words_block_count == len(resp.result.words_block_list) and resp.x_request_id
    assert cer("\n".join(b.words for b in resp.result.words_block_list), ref) <= 0.05
    spec = make_passport(3)
    resp = client.recognize_passport(RecognizePassportRequest(body=PassportRequestBody(image=b64(spec.image))))
    assert resp.status_code == 200 and resp.result is not None, resp.raw_content
    assert resp.result.passport_number == spec.fields["document_number"]
    assert resp.result.surname == spec.fields["surname"]
