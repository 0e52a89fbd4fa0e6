"""Issue 17's memory budget for base64 bodies, against a real server (uvicorn on 127.0.0.1, SQLite, local
workers): five concurrent ~60 MB base64 submits, one per JSON dialect and OCR.space's form, grow the API process by
less than 200 MB (they are scanned and decoded a block at a time through files, never held whole), and a
key that can only be in the body is looked for in its first MB only (refused then, counted in bytes the
client got to send, not in time)."""

from __future__ import annotations

import base64
import json
import random
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from tests.conftest import Server
from tests.dialects.ocrspace.test_ocrspace import PNG
from tests.test_hardening import FILE_PART, IN_FLIGHT, JSON, MIB, MULTIPART, request_head, send_until_answered

DECODED = 44 * MIB  # each document: a small text PNG, then random bytes after its IEND (which no reader reads)
LIMIT = 48 * MIB


def _rss(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field}")


@pytest.fixture(scope="module")
def big_server(tmp_path_factory: pytest.TempPathFactory) -> Server:
    srv = Server(tmp_path_factory.mktemp("budget"), env={"OCRGW_MAX_UPLOAD_BYTES": str(LIMIT)}).start()
    yield srv  # type: ignore[misc]
    srv.stop()


def test_four_large_json_bodies_keep_the_api_process_within_its_budget(big_server: Server) -> None:
    """The issue's probe: 4 x 60 MB base64 JSON with a valid key grew the API process by 660-790 MB. Each
    JSON dialect once, concurrently: native (`base64`, its slashes escaped as PHP's json_encode sends
    them), Document Intelligence (`base64Source`), Huawei (`image`) and the stream API (`image`, its
    key a member before it); and OCR.space's form-encoded `base64Image`, as its PyPI client posts it.
    Each is accepted and read; the API process's peak (VmHWM, reset first) stays under +200 MB."""
    srv = big_server
    text = base64.b64encode(PNG + random.Random(17).randbytes(DECODED - len(PNG))).decode()
    key = {"X-API-Key": srv.key}
    bodies = [
        ("/v1/jobs", key, json.dumps({"base64": text, "languages": "eng"}).replace("/", "\\/")),
        (
            "/documentintelligence/documentModels/prebuilt-read:analyze?api-version=2024-11-30",
            {"Ocp-Apim-Subscription-Key": srv.key},
            json.dumps({"base64Source": text}),
        ),
        ("/v2/0123456789abcdef/ocr/general-text", {"X-Auth-Token": srv.key}, json.dumps({"image": text})),
        ("/ocr", {}, json.dumps({"api_key": srv.key, "lang": "eng", "image": "data:image/png;base64," + text})),
        (
            "/parse/image",
            {"Content-Type": "application/x-www-form-urlencoded"},
            urlencode({"apikey": srv.key, "base64Image": "data:image/png;base64," + text}),
        ),
    ]
    encoded = [(path, headers, body.encode()) for path, headers, body in bodies]
    del text, bodies
    pid = srv.proc.pid  # type: ignore[union-attr]
    httpx.get(srv.url + "/health", timeout=10)
    base = _rss(pid, "VmRSS")
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := VmRSS
    answers: dict[str, httpx.Response] = {}
    health: list[float] = []

    def post(path: str, headers: dict[str, str], body: bytes) -> None:
        hdrs = {"Content-Type": "application/json", **headers}
        answers[path] = httpx.post(srv.url + path, content=body, headers=hdrs, timeout=300)

    threads = [threading.Thread(target=post, args=item) for item in encoded]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        started = time.monotonic()
        httpx.get(srv.url + "/health", timeout=30)
        health.append(time.monotonic() - started)
        time.sleep(0.05)
    for t in threads:
        t.join()
    grown = _rss(pid, "VmHWM") - base
    print(f"API process: +{grown / MIB:.0f} MB at its peak; /health slowest {max(health) * 1000:.0f} ms")
    for path, r in answers.items():
        assert r.status_code in (200, 202), (path, r.status_code, r.text[:300])
    assert "Hello" in answers["/ocr"].text, answers["/ocr"].text[:300]
    assert "Hello" in answers["/parse/image"].text, answers["/parse/image"].text[:300]
    assert grown < 200 * MIB, grown / MIB


@pytest.mark.parametrize(
    ("path", "ctype", "prefix", "mark"),
    [
        ("/ocr", JSON, b'{"lang": "eng", "image": "', b"key"),
        ("/ocr", JSON, b'{"api_key": "not-a-key", "image": "', b"key"),
        ("/ocr_process", MULTIPART, FILE_PART, b'"success": false'),
        ("/batch_process", MULTIPART, FILE_PART, b'"success": false'),
    ],
)
def test_a_key_only_the_body_can_hold_is_looked_for_in_its_first_mb(
    embedded_server: Server, path: str, ctype: bytes, prefix: bytes, mark: bytes
) -> None:
    """No key in a header or the query: the key can only be in the body, so at most its first MB is read
    looking for a good one (the issue's probe: four 69 MB bodies to /ocr read whole before the 401)."""
    from ocrgw.intake.core import KEY_WITHIN

    sent, got, body = send_until_answered(embedded_server.port, request_head(path, ctype), prefix=prefix, chunked=True)
    assert got == 401 and mark in body, (got, body[:300])
    assert sent < KEY_WITHIN + IN_FLIGHT, sent


def test_ocrspace_multipart_base64image_may_be_longer_than_the_form_fields_cap(embedded_server: Server) -> None:
    """The OCR.space npm wrapper posts a base64 image as a multipart text field `base64Image`: past the 1 MiB
    all text fields may hold, that one field is spooled to a file (as a JSON member is) and read."""
    from ocrgw.intake.multipart import FIELD_BYTES

    data = PNG + random.Random(5).randbytes(2 * FIELD_BYTES)
    uri = "data:image/png;base64," + base64.b64encode(data).decode()
    r = httpx.post(
        embedded_server.url + "/parse/image",
        headers={"apikey": embedded_server.key},
        files={"base64Image": (None, uri), "language": (None, "eng")},
        timeout=120,
    )
    assert r.status_code == 200 and r.json()["OCRExitCode"] == 1, r.text[:300]
    assert "Hello" in r.json()["ParsedResults"][0]["ParsedText"]
    bad = httpx.post(
        embedded_server.url + "/parse/image",
        headers={"apikey": embedded_server.key},
        files={"base64Image": (None, uri[:-5] + "*" * 5)},
        timeout=120,
    )
    assert bad.json()["OCRExitCode"] != 1 and "base64" in bad.text, bad.text[:300]
