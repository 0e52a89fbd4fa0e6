"""Computer Vision v2.1 Batch Read (shared/contracts/azure.md §0, §2, §5-§7) against the real server: the
official SDK 0.5.0 (installed apart, it cannot share the venv with 0.9.1) and the raw HTTP contract,
flat v2 error bodies included."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from PIL import Image, ImageDraw, ImageFont
from rapidfuzz.distance import Levenshtein
from starlette.requests import Request
from tests.conftest import REPO, Server, doc, manifest_row
from tests.dialects.azure.sdk_clients import batch_read_in_subprocess

from ocrgw.dialects.azure.v21.errors import render_error
from ocrgw.dialects.azure.v21.render import operation
from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.jobs.schemas import JobSpec, JobView, LineResult, PageResult, WordResult
from ocrgw.jobs.states import JobStatus

SDK_VERSION = "0.5.0"
# Beside the venv that runs the tests, where ./dev.sh installs it (the checkout's .venv when not in a venv).
SDK_DIR = (Path(sys.prefix) if sys.prefix != sys.base_prefix else REPO / ".venv") / "sdk" / f"cv-{SDK_VERSION}"
PHOTOTEST = "page/tess_phototest.tif"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
MSG_INVALID_KEY = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key "
    "for an active subscription and use a correct regional API endpoint for your resource."
)
MSG_MISSING_KEY = (
    "Access denied due to missing subscription key. Make sure to include subscription key when making "
    "requests to an API."
)


# --- helpers ---------------------------------------------------------------------------------------------


def cer(hyp: str, ref: str) -> float:
    h, r = " ".join(hyp.split()).casefold(), " ".join(ref.split()).casefold()
    return Levenshtein.distance(h, r) / max(1, len(r))


def text_png(lines: tuple[str, ...], size: tuple[int, int], turn: int = 0) -> bytes:
    """Black text on white; `turn` degrees clockwise (PIL rotates anticlockwise, hence the minus)."""
    im = Image.new("L", size, 255)
    font = ImageFont.truetype(str(FONT), 40) if FONT.exists() else ImageFont.load_default(40)
    draw = ImageDraw.Draw(im)
    for i, line in enumerate(lines):
        draw.text((60, 60 + 90 * i), line, fill=0, font=font)
    if turn:
        im = im.rotate(-turn, expand=True, fillcolor=255)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


PNG = text_png(("Hello World 2024",), (640, 160))
PAGE_LINES = (
    "Gateways keep documents at home",
    "while clients speak the vendor API",
    "and nothing else changes at all",
    "the quick brown fox jumps over",
)


def analyze_url(srv: Server) -> str:
    return f"{srv.url}/vision/v2.1/read/core/asyncBatchAnalyze"


def post(
    srv: Server,
    body: bytes = PNG,
    *,
    content_type: str = "application/octet-stream",
    query: str = "",
    headers: dict | None = None,
) -> httpx.Response:
    hdrs = {**srv.headers, "Content-Type": content_type, **(headers or {})}
    return httpx.post(analyze_url(srv) + query, content=body, headers=hdrs, timeout=60)


def accepted(r: httpx.Response, srv: Server) -> str:
    """202, empty body, absolute Operation-Location ending in a canonical UUID, no query, no Location."""
    assert r.status_code == 202, (r.status_code, r.text)
    assert r.content == b""
    assert "location" not in r.headers
    loc = r.headers["Operation-Location"]
    assert re.fullmatch(re.escape(srv.url) + f"/vision/v2.1/read/operations/{UUID}", loc), loc
    return loc


def poll_v21(srv: Server, location: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        r = httpx.get(location, headers=srv.headers, timeout=30)
        assert r.status_code == 200, r.text
        body = r.json()
        if body["status"] in ("Succeeded", "Failed") or time.monotonic() > deadline:
            return body
        time.sleep(0.1)


def check_succeeded(body: dict) -> list[dict]:
    assert body["status"] == "Succeeded", body
    assert set(body) == {"status", "recognitionResults"}, body
    pages = body["recognitionResults"]
    assert pages
    for n, page in enumerate(pages, 1):
        assert set(page) == {"page", "clockwiseOrientation", "width", "height", "unit", "lines"}, page
        assert page["page"] == n
        assert page["unit"] == "pixel"
        assert isinstance(page["width"], int) and isinstance(page["height"], int)
        assert 0 <= page["clockwiseOrientation"] < 360
        for line in page["lines"]:
            assert set(line) == {"boundingBox", "text", "words"}, line
            assert len(line["boundingBox"]) == 8 and all(isinstance(v, int) for v in line["boundingBox"])
            assert line["text"] and line["words"]
            for word in line["words"]:
                assert set(word) in ({"boundingBox", "text"}, {"boundingBox", "text", "confidence"}), word
                assert word.get("confidence", "Low") == "Low"
                assert len(word["boundingBox"]) == 8 and all(isinstance(v, int) for v in word["boundingBox"])
    return pages


def assert_flat_error(r: httpx.Response, status: int, code: str) -> dict:
    """v2's flat body: exactly code/message/requestId, JSON, Retry-After only on a 429."""
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].split(";")[0].strip() == "application/json", r.headers
    body = r.json()
    assert set(body) == {"code", "message", "requestId"}, body
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"].strip(), body
    assert re.fullmatch(UUID, body["requestId"]), body
    if status != 429:
        assert "retry-after" not in r.headers
    return body


# --- the real SDK 0.5.0 ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sdk_dir() -> Path:
    """SDK 0.5.0 in its own target dir (cached across runs), put first on PYTHONPATH to shadow 0.9.1."""
    if not (SDK_DIR / "azure" / "cognitiveservices" / "vision" / "computervision").is_dir():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-deps",
                "--target",
                str(SDK_DIR),
                f"azure-cognitiveservices-vision-computervision=={SDK_VERSION}",
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=300,
        )
    return SDK_DIR


def sdk_env(srv: Server, sdk: Path) -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(sdk), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "AZ_ENDPOINT": srv.url, "AZ_KEY": srv.key}


def test_sdk_batch_read_result_is_complete(server: Server, sdk_dir: Path) -> None:
    """SDK 0.5.0's flow as its quickstart ran it (`sdk_clients.computer_vision_batch_read`, polling once a
    second): it went through v2.1's routes, every field its models carry is filled, well under 10 s."""
    reading = batch_read_in_subprocess(server.url, server.key, doc(PHOTOTEST), sdk_dir)
    assert reading.problems == [], reading.problems
    assert "/vision/v2.1/read/operations/" in reading.operation_location
    assert "quick brown" in reading.text


SDK_SCRIPT = r"""
import json, os, sys, time
import azure.cognitiveservices.vision.computervision as cv
from azure.cognitiveservices.vision.computervision import ComputerVisionClient
from azure.cognitiveservices.vision.computervision.models import ComputerVisionErrorException
from msrest.authentication import CognitiveServicesCredentials

endpoint, key, image = os.environ["AZ_ENDPOINT"], os.environ["AZ_KEY"], sys.argv[1]
client = ComputerVisionClient(endpoint, CognitiveServicesCredentials(key))
out = {"sdk": cv.__file__, "statuses": []}
with open(image, "rb") as f:
    raw = client.batch_read_file_in_stream(f, raw=True)
op_id = raw.headers["Operation-Location"].split("/")[-1]
deadline = time.monotonic() + 60
while True:
    result = client.get_read_operation_result(op_id)
    out["statuses"].append(str(result.status.value if hasattr(result.status, "value") else result.status))
    if result.status not in ("NotStarted", "Running") or time.monotonic() > deadline:
        break
    time.sleep(0.25)
out["pages"] = [{"orientation": p.clockwise_orientation, "width": p.width, "height": p.height,
                 "unit": str(getattr(p.unit, "value", p.unit)),
                 "lines": [{"box": ln.bounding_box, "text": ln.text,
                            "words": [{"box": w.bounding_box, "text": w.text,
                                       "confidence": getattr(w.confidence, "value", w.confidence)}
                                      for w in ln.words or []]} for ln in p.lines or []]}
                for p in result.recognition_results or []]

def error(call):
    try:
        call()
    except ComputerVisionErrorException as exc:
        return {"status": exc.response.status_code, "code": exc.error.code, "message": exc.error.message,
                "request_id": exc.error.request_id}
    return None

out["bad_url"] = error(lambda: client.batch_read_file("http://127.0.0.1:9/page.png", raw=True))
bad = ComputerVisionClient(endpoint, CognitiveServicesCredentials("0" * 32))
out["bad_key"] = error(lambda: bad.get_read_operation_result(op_id))
print(json.dumps(out))
"""


def test_sdk_batch_read_in_stream(server: Server, sdk_dir: Path) -> None:
    """batch_read_file_in_stream -> split the id off Operation-Location -> get_read_operation_result, as the
    0.5.0-era quickstart; then the flat error body as the SDK deserialises it."""
    out = subprocess.run(
        [sys.executable, "-c", SDK_SCRIPT, str(doc(PHOTOTEST))],
        env=sdk_env(server, sdk_dir),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    data = json.loads(out.stdout)
    assert data["sdk"].startswith(str(sdk_dir)), data["sdk"]
    statuses = data["statuses"]
    assert statuses[-1] == "Succeeded", statuses
    assert set(statuses) <= {"NotStarted", "Running", "Succeeded"}, statuses
    [page] = data["pages"]
    assert page["unit"] == "pixel" and page["width"] > 0 and page["height"] > 0
    assert page["orientation"] is not None and (page["orientation"] < 1 or page["orientation"] > 359)
    assert page["lines"]
    for line in page["lines"]:
        assert len(line["box"]) == 8 and line["words"]
        for word in line["words"]:
            assert len(word["box"]) == 8 and word["text"]
            assert word["confidence"] in (None, "Low")
    text = "\n".join(line["text"] for line in page["lines"])
    score = cer(text, manifest_row(PHOTOTEST)["text"])
    assert score <= 0.05, f"CER {score:.3f}: {text!r}"
    assert data["bad_url"]["status"] == 400 and data["bad_url"]["code"] == "InvalidImageUrl", data["bad_url"]
    assert data["bad_url"]["message"] and re.fullmatch(UUID, data["bad_url"]["request_id"])
    assert data["bad_key"] == {**data["bad_key"], "status": 401, "code": "401", "message": MSG_INVALID_KEY}


# --- raw HTTP contract -------------------------------------------------------------------------------------


def test_submit_poll_running_then_succeeded(server: Server) -> None:
    body = doc(PHOTOTEST).read_bytes()
    loc = accepted(post(server, body), server)
    r = httpx.get(loc, headers=server.headers, timeout=30)  # straight after the 202: not done yet
    assert r.status_code == 200
    assert r.headers["content-type"].split(";")[0] == "application/json"
    assert r.json() in ({"status": "NotStarted"}, {"status": "Running"}), r.text
    pages = check_succeeded(poll_v21(server, loc))
    assert len(pages) == 1
    text = "\n".join(ln["text"] for ln in pages[0]["lines"])
    assert cer(text, manifest_row(PHOTOTEST)["text"]) <= 0.05, text
    # the id is the last path segment; a lowercase lookup of the same operation works too
    assert httpx.get(loc.lower(), headers=server.headers, timeout=30).json()["status"] == "Succeeded"


@pytest.mark.parametrize(
    ("content_type", "query"),
    [
        ("image/png", ""),
        ("application/octet-stream", "?mode=Printed"),
        ("application/octet-stream", "?mode=Handwritten"),
    ],
)
def test_raw_image_bodies_and_mode_are_accepted(server: Server, content_type: str, query: str) -> None:
    loc = accepted(post(server, content_type=content_type, query=query), server)
    pages = check_succeeded(poll_v21(server, loc))
    assert (pages[0]["width"], pages[0]["height"]) == (640, 160)
    assert [ln["text"] for ln in pages[0]["lines"]] == ["Hello World 2024"]


def test_chunked_upload(server: Server) -> None:
    def chunks():
        for i in range(0, len(PNG), 1000):
            yield PNG[i : i + 1000]

    r = httpx.post(
        analyze_url(server),
        content=chunks(),
        timeout=60,
        headers={**server.headers, "Content-Type": "application/octet-stream"},
    )
    assert "content-length" not in r.request.headers
    check_succeeded(poll_v21(server, accepted(r, server)))


def test_forwarded_host_in_operation_location(server: Server) -> None:
    r = post(server, headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "ocr.example.com"})
    assert r.status_code == 202
    loc = r.headers["Operation-Location"]
    assert re.fullmatch(f"https://ocr.example.com/vision/v2.1/read/operations/{UUID}", loc), loc
    local = f"{server.url}/vision/v2.1/read/operations/{loc.rsplit('/', 1)[-1]}"
    check_succeeded(poll_v21(server, local))


def test_page_turned_90_degrees_clockwise(server: Server) -> None:
    body = text_png(PAGE_LINES, (1200, 460), turn=90)
    page = check_succeeded(poll_v21(server, accepted(post(server, body), server)))[0]
    assert page["clockwiseOrientation"] == pytest.approx(90, abs=1.0), page["clockwiseOrientation"]
    assert (page["width"], page["height"]) == (460, 1200)
    assert cer("\n".join(ln["text"] for ln in page["lines"]), "\n".join(PAGE_LINES)) <= 0.05, page["lines"]


def test_openapi_lists_the_v21_routes(server: Server) -> None:
    doc = httpx.get(f"{server.url}/openapi.json", timeout=30).json()
    submit = doc["paths"]["/vision/v2.1/read/core/asyncBatchAnalyze"]["post"]
    get = doc["paths"]["/vision/v2.1/read/operations/{operation_id}"]["get"]
    assert submit["operationId"] == "azureBatchReadV21Analyze"
    assert get["operationId"] == "azureBatchReadV21GetResult"
    assert submit["tags"] == get["tags"] == ["Azure Computer Vision v2.1 Batch Read"]
    schemas = doc["components"]["schemas"]
    assert {"BatchReadOperationResult", "TextRecognitionResult", "ComputerVisionErrorV21"} <= set(schemas)
    assert schemas["BatchReadOperationResult"]["properties"]["status"]["enum"] == [
        "NotStarted",
        "Running",
        "Failed",
        "Succeeded",
    ]


# --- errors: the flat v2 body ------------------------------------------------------------------------------


def test_text_file_is_invalid_image_format(server: Server) -> None:
    text = b"This is a plain text file, not an image.\n" * 20
    assert_flat_error(post(server, text), 400, "InvalidImageFormat")
    assert_flat_error(post(server, text, content_type="text/plain"), 415, "UnsupportedMediaType")


def test_empty_body(server: Server) -> None:
    assert_flat_error(post(server, b""), 400, "InvalidImageSize")


def test_too_small_image(server: Server) -> None:
    buf = io.BytesIO()
    Image.new("L", (20, 20), 255).save(buf, format="PNG")
    body = assert_flat_error(post(server, buf.getvalue()), 400, "InvalidImageSize")
    assert body["message"].startswith("Image must be at least 50 pixels in width and height"), body


@pytest.mark.parametrize(
    "payload",
    [b'{"url": "not a url"}', b'{"url": "ftp://example.com/a.png"}', b'{"nourl": 1}', b"{broken json", b'{"url": 5}'],
)
def test_bad_url_json(server: Server, payload: bytes) -> None:
    assert_flat_error(post(server, payload, content_type="application/json"), 400, "InvalidImageUrl")


def test_loopback_url_is_refused(server: Server) -> None:
    payload = json.dumps({"url": f"{server.url}/health"}).encode()
    assert_flat_error(post(server, payload, content_type="application/json; charset=utf-8"), 400, "InvalidImageUrl")


# A fresh uuid each run, under a fixed test id: pytest-xdist needs every worker to collect the same ids.
@pytest.mark.parametrize("op_id", [pytest.param(str(uuid.uuid4()), id="random-uuid"), "not-a-uuid", "%3Fx=1"])
def test_unknown_operation_id(server: Server, op_id: str) -> None:
    r = httpx.get(f"{server.url}/vision/v2.1/read/operations/{op_id}", headers=server.headers, timeout=30)
    assert_flat_error(r, 404, "NotFound")


def _check_401(r: httpx.Response, message: str) -> None:
    assert assert_flat_error(r, 401, "401")["message"] == message
    auth = r.headers["www-authenticate"]
    assert auth.startswith("AzureApiManagementKey ")
    assert 'name="Ocp-Apim-Subscription-Key"' in auth and 'type="header"' in auth


def test_wrong_and_missing_key(server: Server) -> None:
    bad = {"Ocp-Apim-Subscription-Key": "0" * 32, "Content-Type": "application/octet-stream"}
    _check_401(httpx.post(analyze_url(server), content=b"junk", headers=bad, timeout=30), MSG_INVALID_KEY)
    op = f"{server.url}/vision/v2.1/read/operations/{uuid.uuid4()}"
    _check_401(httpx.get(op, headers=bad, timeout=30), MSG_INVALID_KEY)
    _check_401(httpx.get(op, timeout=30), MSG_MISSING_KEY)
    _check_401(
        httpx.post(analyze_url(server), content=PNG, timeout=30, headers={"Content-Type": "application/octet-stream"}),
        MSG_MISSING_KEY,
    )


@pytest.mark.parametrize(
    "path",
    [
        "/vision/v2.1/ocr",
        "/vision/v2.1/read/operations",
        "/vision/v2.1/read/core/asyncBatchAnalyze/extra",
        "/vision/v2.1/",
    ],
)
def test_unknown_route(server: Server, path: str) -> None:
    for method in ("GET", "POST"):
        r = httpx.request(method, server.url + path, headers=server.headers, timeout=30)
        assert assert_flat_error(r, 404, "NotFound")["message"] == "Resource not found"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/vision/v2.1/read/core/asyncBatchAnalyze"),
        ("PUT", "/vision/v2.1/read/core/asyncBatchAnalyze"),
        pytest.param("DELETE", f"/vision/v2.1/read/operations/{uuid.uuid4()}", id="DELETE-operations-uuid"),
    ],
)
def test_wrong_method(server: Server, method: str, path: str) -> None:
    r = httpx.request(method, server.url + path, headers=server.headers, timeout=30)
    assert_flat_error(r, 405, "MethodNotAllowed")
    assert "allow" in r.headers


def test_full_backlog_is_a_flat_429_with_retry_after(make_server) -> None:
    srv = make_server(workers=1, env={"OCRGW_MAX_BACKLOG": "1", "OCRGW_BACKLOG_RETRY_AFTER_SECONDS": "3"}).start()
    page = doc("multicol/tess_8071_093.3B.tif").read_bytes()  # ~1 s: one runs, one waits
    with ThreadPoolExecutor(4) as pool:
        responses = list(pool.map(lambda _: post(srv, page), range(8)))
    refused = [r for r in responses if r.status_code != 202]
    assert refused and len(refused) < len(responses), [r.status_code for r in responses]
    for r in refused:
        assert_flat_error(r, 429, "429")
        assert r.headers["Retry-After"] == "3"


@pytest.mark.parametrize(
    ("code", "status", "v2_code"),
    [
        (ErrorCode.INTERNAL, 500, "InternalServerError"),
        (ErrorCode.TIMEOUT, 500, "Timeout"),
        (ErrorCode.DOWNLOAD_FAILED, 400, "FailedToDownloadImage"),
        (ErrorCode.INVALID_DIMENSIONS, 400, "InvalidImageSize"),
        (ErrorCode.TOO_LARGE, 400, "InvalidImageSize"),
    ],
)
def test_render_error_mapping(code: ErrorCode, status: int, v2_code: str) -> None:
    """Codes a live server cannot be made to raise on demand, rendered directly."""
    request = Request(
        {
            "type": "http",
            "method": "GET",
            "path": "/vision/v2.1/read/operations/x",
            "headers": [],
            "query_string": b"",
            "scheme": "http",
            "server": ("127.0.0.1", 80),
        }
    )
    r = render_error(request, OcrgwError(code, "Something went wrong."))
    assert r.status_code == status and r.media_type == "application/json"
    body = json.loads(r.body)
    assert body == {"code": v2_code, "message": "Something went wrong.", "requestId": body["requestId"]}
    assert body["requestId"] == r.headers["apim-request-id"] and "retry-after" not in r.headers


def test_render_low_confidence_and_orientation() -> None:
    """Only words under 0.5 carry confidence "Low"; angles in (-180, 180] map into [0, 360)."""
    now = datetime.now(UTC)
    words = [
        WordResult("sure", [0.4, 1, 10, 1, 10, 5.6, 0, 5], 0.93),
        WordResult("maybe", [11, 1, 20, 1, 20, 5, 11, 5], 0.2),
    ]
    pages = [
        PageResult(
            n, 100.0, 50.0, "pixel", angle, None, [], [LineResult("sure maybe", [0, 1, 20, 1, 20, 5, 0, 5], 0.6, words)]
        )
        for n, angle in enumerate((-90.0, 180.0, -0.001, 349.59), 1)
    ]
    view = JobView(
        id=str(uuid.uuid4()),
        dialect="azure-read-v2.1",
        status=JobStatus.SUCCEEDED,
        spec=JobSpec(),
        created_at=now,
        updated_at=now,
        attempts=1,
        pages_total=4,
        pages_done=4,
        error_code=None,
        error_message=None,
        pages=pages,
    )
    body = operation(view)
    assert [p["clockwiseOrientation"] for p in body["recognitionResults"]] == [270.0, 180.0, 0.0, 349.59]
    line = body["recognitionResults"][0]["lines"][0]
    assert line["words"] == [
        {"boundingBox": [0, 1, 10, 1, 10, 6, 0, 5], "text": "sure"},
        {"boundingBox": [11, 1, 20, 1, 20, 5, 11, 5], "text": "maybe", "confidence": "Low"},
    ]
    for status, name in (
        (JobStatus.QUEUED, "NotStarted"),
        (JobStatus.RUNNING, "Running"),
        (JobStatus.FAILED, "Failed"),
    ):
        view.status = status
        assert operation(view) == {"status": name}
