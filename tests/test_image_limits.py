"""Each API's pixel limits through a real server (uvicorn, worker processes, real Tesseract), as each vendor
documents them: a text line cropped 44 px high is refused by every Azure API (50 px minimum) in its own
envelope, naming the limit and the size, and read end to end by the APIs that take it: Huawei's general text
from 15 px, OCR.space (no documented pixel limits) and ocrgw's own from the engine's 10 px. Below 10 px the
latter refuse it in their own shapes."""

from __future__ import annotations

import base64
import io
import time

import httpx
import pytest
from PIL import Image
from rapidfuzz.distance import Levenshtein

from tests.bodies import assert_azure_error
from tests.conftest import Server, doc, manifest_row

LINE = "line/rendered_956x44.png"  # 956 x 44, 31 px of ink
LOW = "line/rendered_12px.png"  # 276 x 12, the ink touching top and bottom
PROJECT = "0a1b2c3d4e5f"


def cer(hyp: str, ref: str) -> float:
    h, r = " ".join(hyp.split()).casefold(), " ".join(ref.split()).casefold()
    return Levenshtein.distance(h, r) / max(1, len(r))


def blank(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("L", (width, height), 255).save(buf, format="PNG")
    return buf.getvalue()


def too_low(api: str, size: str, limits: str) -> str:
    """The message every API carries for an image under its minimum (Azure's words before the colon)."""
    low = next(word for word in limits.split() if word.isdigit())
    return (
        f"Image must be at least {low} pixels in width and height: it is {size} px ({api} needs {limits} px per side)."
    )


def azure_post(srv: Server, path: str, body: bytes) -> httpx.Response:
    headers = {**srv.headers, "Content-Type": "application/octet-stream"}
    return httpx.post(f"{srv.url}{path}", content=body, headers=headers, timeout=60)


# ---------------------------------------------------------------------------------------------- Azure
@pytest.mark.parametrize(
    ("path", "api", "limits", "inner"),
    [
        ("/vision/v3.2/read/analyze", "Azure Read", "50 to 10000", "InvalidImageDimension"),
        ("/vision/v3.1/read/analyze", "Azure Read", "50 to 10000", "InvalidImageDimension"),
        (
            "/computervision/imageanalysis:analyze?api-version=2024-02-01&features=read",
            "Azure Image Analysis",
            "50 to 16000",
            "InvalidImageDimension",
        ),
        (
            "/documentintelligence/documentModels/prebuilt-read:analyze?api-version=2024-11-30",
            "Azure Document Intelligence",
            "50 to 10000",
            "InvalidContentDimensions",
        ),
        (
            "/formrecognizer/documentModels/prebuilt-read:analyze?api-version=2023-07-31",
            "Azure Form Recognizer",
            "50 to 10000",
            "InvalidContentDimensions",
        ),
    ],
)
def test_azure_apis_refuse_a_line_crop_in_their_envelope(server: Server, path: str, api: str, limits, inner) -> None:
    err = assert_azure_error(azure_post(server, path, doc(LINE).read_bytes()), 400, "InvalidRequest", inner)
    assert err["message"] == too_low(api, "956 x 44", limits), err
    assert err["innererror"]["message"] == err["message"]


def test_azure_v21_refuses_it_in_its_flat_error(server: Server) -> None:
    r = azure_post(server, "/vision/v2.1/read/core/asyncBatchAnalyze", doc(LINE).read_bytes())
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["code"] == "InvalidImageSize" and body["requestId"], body
    assert body["message"] == too_low("Azure Batch Read v2.1", "956 x 44", "50 to 10000")


def test_azure_takes_50_px(server: Server) -> None:
    """On the limit is inside it: Read accepts a 956 x 50 image (it is blank; nothing to read)."""
    r = azure_post(server, "/vision/v3.2/read/analyze", blank(956, 50))
    assert r.status_code == 202, r.text


# ---------------------------------------------------------------------------------------------- Huawei
def huawei_post(srv: Server, api: str, image: bytes) -> httpx.Response:
    body = {"image": base64.b64encode(image).decode()}
    return httpx.post(f"{srv.url}/v2/{PROJECT}/ocr/{api}", json=body, headers={"X-Auth-Token": srv.key}, timeout=120)


def test_huawei_general_text_reads_a_line_from_15_px(server: Server) -> None:
    r = huawei_post(server, "general-text", doc(LINE).read_bytes())
    assert r.status_code == 200, r.text
    words = " ".join(b["words"] for b in r.json()["result"]["words_block_list"])
    assert cer(words, manifest_row(LINE)["text"]) <= 0.02, words
    r = huawei_post(server, "general-text", doc(LOW).read_bytes())  # 12 px: under Huawei's 15
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["error_code"] == "AIS.0103" and r.headers["x-request-id"], body
    assert body["error_msg"] == "The image size does not meet the requirements. " + too_low(
        "Huawei general text OCR", "276 x 12", "15 to 30000"
    )


def test_huawei_passport_takes_at_most_8192_px(server: Server) -> None:
    r = huawei_post(server, "passport", blank(8193, 100))
    assert r.status_code == 400, r.text
    assert r.json()["error_code"] == "AIS.0103"
    assert r.json()["error_msg"] == (
        "The image size does not meet the requirements. Image must be at most 8192 pixels in width and height: "
        "it is 8193 x 100 px (Huawei passport OCR needs 15 to 8192 px per side)."
    )


# ---------------------------------------------------------------------------------------------- OCR.space
def ocrspace_post(srv: Server, image: bytes) -> dict:
    r = httpx.post(
        f"{srv.url}/parse/image",
        files={"file": ("line.png", image)},
        data={"apikey": srv.key, "isOverlayRequired": "true"},
        timeout=120,
    )
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize("name", [LINE, LOW])
def test_ocrspace_reads_line_crops(server: Server, name: str) -> None:
    body = ocrspace_post(server, doc(name).read_bytes())
    assert body["IsErroredOnProcessing"] is False and body["OCRExitCode"] == 1, body
    parsed = body["ParsedResults"][0]
    assert cer(parsed["ParsedText"], manifest_row(name)["text"]) <= 0.02, parsed["ParsedText"]
    width, height = Image.open(doc(name)).size
    for line in parsed["TextOverlay"]["Lines"]:
        for word in line["Words"]:
            assert word["Left"] >= 0 and word["Left"] + word["Width"] <= width + 1, word
            assert word["Top"] >= 0 and word["Top"] + word["Height"] <= height + 1, word


def test_ocrspace_refuses_under_10_px_in_its_shape(server: Server) -> None:
    body = ocrspace_post(server, blank(956, 9))
    assert body["IsErroredOnProcessing"] is True and body["OCRExitCode"] == 3, body
    assert body["ErrorMessage"] == [too_low("the OCR engine", "956 x 9", "at least 10")]
    assert body["ErrorDetails"] == "InvalidDimensions"


# ---------------------------------------------------------------------------------------------- native
def native_submit(srv: Server, image: bytes) -> httpx.Response:
    return httpx.post(
        f"{srv.url}/v1/jobs", headers={"X-API-Key": srv.key}, files={"file": ("line.png", image)}, timeout=60
    )


def native_result(srv: Server, location: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        op = httpx.get(location, headers={"X-API-Key": srv.key}, timeout=30).json()
        if op["status"] in ("succeeded", "failed"):
            break
        assert time.monotonic() < deadline, op
        time.sleep(0.2)
    assert op["status"] == "succeeded", op
    return httpx.get(op["links"]["result"], headers={"X-API-Key": srv.key}, timeout=30).json()


@pytest.mark.parametrize("name", [LINE, LOW])
def test_native_reads_line_crops(server: Server, name: str) -> None:
    r = native_submit(server, doc(name).read_bytes())
    assert r.status_code == 202, r.text
    result = native_result(server, r.headers["location"])
    assert cer(result["text"], manifest_row(name)["text"]) <= 0.02, result["text"]
    page = result["pages"][0]
    width, height = Image.open(doc(name)).size
    assert (page["width"], page["height"]) == (width, height)
    steps = [s["step"] for s in page["preprocessing"]]
    assert "segmentation" in steps and "margin" in steps, steps
    for line in page["lines"]:
        for word in line["words"]:
            xs, ys = word["bbox"][0::2], word["bbox"][1::2]
            assert min(xs) >= -1 and max(xs) <= width + 1 and min(ys) >= -1 and max(ys) <= height + 1, word


def test_native_takes_10_px_and_refuses_less(server: Server) -> None:
    assert native_submit(server, blank(956, 10)).status_code == 202
    r = native_submit(server, blank(956, 9))
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["code"] == "InvalidDimensions", err
    assert err["message"] == too_low("the OCR engine", "956 x 9", "at least 10")


# ---------------------------------------------------------------------------------------------- tutorials
def test_tutorial_apis_read_a_line_and_refuse_under_10_px(server: Server) -> None:
    key = {"X-API-Key": server.key}
    r = httpx.post(
        f"{server.url}/ocr_process", files={"file": ("l.png", doc(LOW).read_bytes())}, headers=key, timeout=120
    )
    assert r.status_code == 200 and r.json()["success"] is True, r.text
    assert cer(r.json()["text"], manifest_row(LOW)["text"]) <= 0.02, r.text
    r = httpx.post(f"{server.url}/ocr_process", files={"file": ("l.png", blank(9, 300))}, headers=key, timeout=60)
    assert r.status_code == 400, r.text
    assert r.json() == {"error": too_low("the OCR engine", "9 x 300", "at least 10"), "success": False}
    image = base64.b64encode(doc(LINE).read_bytes()).decode()
    r = httpx.post(f"{server.url}/ocr", json={"image": image}, headers=key, timeout=120)
    assert r.status_code == 200, r.text
    assert cer(r.json()["text"], manifest_row(LINE)["text"]) <= 0.02, r.text
    r = httpx.post(f"{server.url}/ocr", json={"image": base64.b64encode(blank(956, 9)).decode()}, headers=key)
    assert r.status_code == 400 and r.json() == {"error": too_low("the OCR engine", "956 x 9", "at least 10")}, r.text
