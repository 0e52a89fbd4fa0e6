"""A key's limits as Huawei Cloud OCR and OCR.space refuse them (shared/contracts/ocrspace-huawei.md), with
the clients the other tests use, on both deployments: Huawei's SDK gets APIG.0308 (with APIG's
"limit:N,time:1 minute"), ModelArts.4401 and ModelArts.4204 as ClientRequestException; the PyPI `ocrspace`
client and the npm wrapper get OCR.space's 403 throttling string, and a file over the key's (its plan's)
size limit is OCR.space's 200 error JSON in KB."""

from __future__ import annotations

import base64
import io
import os
import threading
import time
from pathlib import Path

import httpx
import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkocr.v1 import (
    GeneralTextRequestBody,
    OcrClient,
    PassportRequestBody,
    RecognizeGeneralTextRequest,
    RecognizePassportRequest,
)
from PIL import Image

from ocrgw.dialects.huawei.errors import rate_wording
from tests.conftest import Server, slow_page
from tests.dialects.ocrspace.test_ocrspace_clients import npm_client, pypi_client
from tests.limits import apply_tier, new_key, refusals, require_subscriptions, retry_after, set_limits, small_page

PROJECT = "0a1b2c3d4e5f"
THROTTLING = "The throttling threshold has been reached: policy user over ratelimit,"


# ------------------------------------------------------------------------------------------------ Huawei
def huawei(srv: Server, ak_sk: tuple[str, str] | None) -> OcrClient:
    assert ak_sk is not None
    creds = BasicCredentials(ak_sk[0], ak_sk[1], PROJECT)
    return OcrClient.new_builder().with_credentials(creds).with_endpoint(srv.url).build()


def live_jobs(srv: Server, key_id: str) -> int:
    sql = "SELECT count(*) FROM jobs WHERE owner_key_id = :k AND status IN ('queued', 'running')"
    return srv.query(sql, k=key_id)[0][0]


def general_text(client: OcrClient, image: bytes) -> object:
    body = GeneralTextRequestBody(image=base64.b64encode(image).decode())
    return client.recognize_general_text(RecognizeGeneralTextRequest(body=body))


def test_huawei_rate_wording() -> None:
    """APIG counts per minute where the limit is a whole number a minute, else in its own unit."""
    assert rate_wording(1, 60) == "limit:1,time:1 minute"
    assert rate_wording(10, 1) == "limit:600,time:1 minute"
    assert rate_wording(500, 86400) == "limit:500,time:1 day"
    assert rate_wording(7, 7200) == "limit:7,time:2 hour"
    assert rate_wording(3, 7) == "limit:3,time:7 second"


def test_huawei_sdk_throttled_is_apig_0308(server: Server) -> None:
    _, key_id, ak_sk = new_key(server, aksk=True)
    set_limits(server, key_id, "huawei-general-text", rate=1, rate_seconds=60, burst=1)
    client = huawei(server, ak_sk)
    assert general_text(client, small_page()).status_code == 200
    with pytest.raises(ClientRequestException) as raised:
        general_text(client, small_page())
    err = raised.value
    assert err.status_code == 429 and err.error_code == "APIG.0308"
    assert err.error_msg == THROTTLING + "limit:1,time:1 minute"
    assert err.request_id
    assert refusals(server, key_id)[("huawei-general-text", "RateLimited")] == 1


def test_huawei_sdk_not_subscribed_is_modelarts_4204(server: Server) -> None:
    """Subscribed to general text only: a passport call is ModelArts.4204 (400, the status Huawei's API
    pages list it under), general text still reads."""
    from tests.specimens import make_passport

    _, key_id, ak_sk = new_key(server, aksk=True)
    require_subscriptions(server, key_id, "huawei-general-text")
    client = huawei(server, ak_sk)
    passport = base64.b64encode(make_passport(3).image).decode()
    with pytest.raises(ClientRequestException) as raised:
        client.recognize_passport(RecognizePassportRequest(body=PassportRequestBody(image=passport)))
    err = raised.value
    assert err.status_code == 400 and err.error_code == "ModelArts.4204"
    assert err.error_msg == "Request api error! The API passport is not subscribed."
    assert general_text(client, small_page()).status_code == 200


def test_huawei_concurrency_and_quota(server: Server) -> None:
    """One call at a time: a call while another's job runs is ModelArts.4401 (429); a page quota spent is
    APIG.0308 naming the quota and its period, with Retry-After until the period ends."""
    key, key_id, ak_sk = new_key(server, aksk=True)
    set_limits(server, key_id, "huawei-general-text", concurrent_jobs=1)
    client = huawei(server, ak_sk)
    slow: list[object] = []
    thread = threading.Thread(target=lambda: slow.append(general_text(client, slow_page())))
    thread.start()
    deadline = time.monotonic() + 30
    while not live_jobs(server, key_id) and time.monotonic() < deadline:  # the slow call's job is admitted
        time.sleep(0.02)
    with pytest.raises(ClientRequestException) as raised:
        general_text(client, small_page())
    thread.join(120)
    refused = raised.value
    assert refused.status_code == 429
    assert refused.error_code == "ModelArts.4401" and refused.error_msg == "Max concurrency error."
    assert slow and slow[0].status_code == 200

    key, key_id, ak_sk = new_key(server, aksk=True)
    set_limits(server, key_id, "huawei-general-text", pages_quota=1, quota_period="day")
    client = huawei(server, ak_sk)
    assert general_text(client, small_page()).status_code == 200
    r = httpx.post(
        f"{server.url}/v2/{PROJECT}/ocr/general-text",
        json={"image": base64.b64encode(small_page()).decode()},
        headers={"X-Auth-Token": key},
        timeout=60,
    )
    assert r.status_code == 429 and r.json()["error_code"] == "APIG.0308"
    assert r.json()["error_msg"].startswith(THROTTLING + "limit:1,time:1 day (")
    assert 1 <= retry_after(r) <= 86400


# ------------------------------------------------------------------------------------------------ OCR.space
def test_ocrspace_clients_throttled_get_the_403_string(server: Server, tmp_path: Path) -> None:
    """1 request per 600 s: the PyPI client raises OCR.space's sentence as is; the npm wrapper gets a 403
    whose data is that string. A spent page quota is the same sentence over the quota's period."""
    key, key_id, _ = new_key(server)
    set_limits(server, key_id, "ocrspace", rate=1, rate_seconds=600, burst=1)
    page = tmp_path / "page.png"
    page.write_bytes(small_page())
    sentence = "You may only perform this action upto maximum 1 number of times within 600 seconds"
    assert "limits" in pypi_client(server, key=key).ocr_file(str(page)).lower()
    api = pypi_client(server, key=key)
    with pytest.raises(Exception) as raised:
        api.ocr_file(str(page))
    assert str(raised.value) == sentence and api.raw == sentence
    if (
        os.environ.get("CI", "").lower() == "true"
        or (Path(__file__).parent / "dialects/ocrspace/npm/node_modules").is_dir()
    ):
        rc, body = npm_client(server, str(page), "file", key=key)
        assert rc == 2 and body["thrown"]["status"] == 403 and body["thrown"]["data"] == sentence
    r = httpx.post(server.url + "/parse/image", data={"apikey": key}, files={"file": page.read_bytes()}, timeout=60)
    assert r.status_code == 403 and r.json() == sentence and 590 <= retry_after(r) <= 600

    key, key_id, _ = new_key(server)
    set_limits(server, key_id, "ocrspace", pages_quota=1, quota_period="day")
    pypi_client(server, key=key).ocr_file(str(page))
    with pytest.raises(Exception) as raised:
        pypi_client(server, key=key).ocr_file(str(page))
    assert str(raised.value).startswith(
        "You may only perform this action upto maximum 1 number of times within 86400 seconds. "
    )


def noisy_png(side: int) -> bytes:
    """A PNG that does not compress: ~3 bytes a pixel."""
    buf = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(buf, "PNG")
    return buf.getvalue()


def test_ocrspace_free_plan_file_size_is_its_200_json(server: Server, tmp_path: Path) -> None:
    """The ocrspace-free tier's 1 MB: a 1.5 MB file is OCR.space's own 200 error JSON, "...limit of 1024 KB",
    which the PyPI client raises with the whole sentence."""
    key, key_id, _ = new_key(server)
    apply_tier(server, key_id, "ocrspace-free")
    big = tmp_path / "big.png"
    big.write_bytes(noisy_png(720))
    assert big.stat().st_size > 1024 * 1024
    api = pypi_client(server, key=key)
    with pytest.raises(Exception) as raised:
        api.ocr_file(str(big))
    message = "File failed validation. File size exceeds the maximum permissible file size limit of 1024 KB"
    assert str(raised.value) == message
    assert isinstance(api.raw, dict) and api.raw["OCRExitCode"] == 3 and api.raw["IsErroredOnProcessing"] is True
    assert api.raw["ErrorMessage"] == [message]
    assert refusals(server, key_id)[("ocrspace", "TooLarge")] == 1


def test_ocrspace_not_subscribed_is_a_403_string(server: Server) -> None:
    key, key_id, _ = new_key(server)
    require_subscriptions(server, key_id, "native")
    r = httpx.post(server.url + "/parse/image", data={"apikey": key}, files={"file": small_page()}, timeout=60)
    assert r.status_code == 403 and r.json() == "The API key is not allowed to use this API"
    assert "retry-after" not in r.headers
