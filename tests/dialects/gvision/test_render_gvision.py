"""Google Cloud Vision bodies rendered from stored results without a server: `textAnnotations` (the whole
text first, then the words) and the `fullTextAnnotation` hierarchy for images (int pixel vertices) and for
files:annotate pages (normalized vertices, PDF sizes in points), enums as numbers or names as `$alt` asks,
confidences only where Vision sends them; every body parsed back by the official SDK's own message types
without ignoring unknown fields, so a field Vision does not have fails here. Then google.rpc.Status bodies
for every error code, per-image and whole-request.

Renderers: `ocrgw.dialects.gvision.render.image_response(view, pdf_dpi, style)` and `file_response(...)`,
`ocrgw.dialects.gvision.errors.render_error(request, exc)` / `image_error(exc)`.
Goldens: tests/data/results/golden/google-vision; rewrite with OCRGW_UPDATE_GOLDEN=1."""

from __future__ import annotations

import json

import pytest
from google.cloud import vision
from tests.results import SUCCEEDED, golden, http_request, load, response_json

from ocrgw.dialects.gvision import errors, render
from ocrgw.dialects.gvision.render import Style
from ocrgw.errors import ErrorCode, Limited, OcrgwError

DPI = 300


def sdk_parse(body: dict, message: type = vision.AnnotateImageResponse) -> object:
    """The body as the SDK's proto-plus type reads it, strictly (an unknown field raises)."""
    return message.from_json(json.dumps(body), ignore_unknown_fields=False)


def trimmed(body: dict) -> dict:
    """A response cut to its first two words (text annotations and hierarchy) for a golden of a readable size."""
    out = json.loads(json.dumps(body))
    if "textAnnotations" in out:
        out["textAnnotations"] = out["textAnnotations"][:3]
    for page in out.get("fullTextAnnotation", {}).get("pages", []):
        page["blocks"] = page["blocks"][:1]
        for para in page["blocks"][0]["paragraphs"][:1]:
            para["words"] = para["words"][:2]
    return out


def symbols_text(word: dict) -> str:
    return "".join(s["text"] for s in word["symbols"])


def rebuilt_text(page: dict) -> str:
    """The text Vision clients rebuild from symbols and their detected breaks."""
    out = []
    for block in page["blocks"]:
        for para in block["paragraphs"]:
            for word in para["words"]:
                out.append(symbols_text(word))
                brk = word["symbols"][-1]["property"]["detectedBreak"]["type"]
                out.append({"SPACE": " ", 1: " ", "EOL_SURE_SPACE": "\n", 3: "\n", "LINE_BREAK": "\n", 5: "\n"}[brk])
    return "".join(out)


@pytest.mark.parametrize("name", SUCCEEDED)
@pytest.mark.parametrize("ints", [True, False])
def test_image_response(name: str, ints: bool) -> None:
    view = load(name)
    body = render.image_response(view, DPI, Style(ints=ints, confidence=True))
    sdk_parse(body)
    page = (view.pages or [])[0]
    if not page.lines:
        assert body == {}  # no text: an empty response, as Vision answers
        return
    text = "".join(ln.text + "\n" for ln in page.lines if ln.text.strip())
    full = body["fullTextAnnotation"]
    assert full["text"] == body["textAnnotations"][0]["description"]
    assert " ".join(full["text"].split()) == " ".join(text.split())
    words = [w for ln in page.lines for w in ln.words]
    assert [a["description"] for a in body["textAnnotations"][1:]] == [w.text for w in words]
    assert body["textAnnotations"][0]["locale"] and "locale" not in body["textAnnotations"][1]
    (vpage,) = full["pages"]
    k = DPI if page.unit == "inch" else 1
    assert (vpage["width"], vpage["height"]) == (round(page.width * k), round(page.height * k))
    assert rebuilt_text(vpage) == full["text"]
    vwords = [w for b in vpage["blocks"] for p in b["paragraphs"] for w in p["words"]]
    assert [symbols_text(w) for w in vwords] == [w.text for w in words]
    for block in vpage["blocks"]:
        assert block["blockType"] == (1 if ints else "TEXT")
        assert 0 <= block["confidence"] <= 1
    for w, vw in zip(words, vwords, strict=True):
        pts = vw["boundingBox"]["vertices"]
        assert all(type(p["x"]) is int and type(p["y"]) is int for p in pts)
        assert (pts[0]["x"], pts[0]["y"]) == (round(w.bbox[0] * k), round(w.bbox[1] * k))
        # the first symbol starts where the word does, the last ends where it does
        first, last = vw["symbols"][0]["boundingBox"]["vertices"], vw["symbols"][-1]["boundingBox"]["vertices"]
        assert first[0] == pts[0] and last[1] == pts[1] and last[2] == pts[2] and first[3] == pts[3]
        assert vw["confidence"] == round(w.confidence, 3)
    if name == "phototest" and ints:
        golden("google-vision", "phototest", trimmed(body))


def test_breaks_and_confidences_by_feature() -> None:
    view = load("phototest")
    plain = render.image_response(view, DPI, Style(ints=False, confidence=False))
    page = plain["fullTextAnnotation"]["pages"][0]
    assert "confidence" not in page and "confidence" not in page["blocks"][0]
    word = page["blocks"][0]["paragraphs"][0]["words"][0]
    assert "confidence" not in word and all("confidence" not in s for s in word["symbols"])
    breaks = [
        w["symbols"][-1]["property"]["detectedBreak"]["type"]
        for b in page["blocks"]
        for p in b["paragraphs"]
        for w in p["words"]
    ]
    assert breaks[-1] == "LINE_BREAK" and set(breaks) <= {"SPACE", "EOL_SURE_SPACE", "LINE_BREAK"}
    assert breaks.count("LINE_BREAK") == sum(len(b["paragraphs"]) for b in page["blocks"])
    assert page["property"]["detectedLanguages"][0]["languageCode"] == "en"
    # the SDK reads the names back as its enums
    parsed = sdk_parse(plain)
    assert parsed.full_text_annotation.pages[0].blocks[0].block_type == vision.Block.BlockType.TEXT


@pytest.mark.parametrize("ints", [True, False])
def test_file_response_pdf(ints: bool) -> None:
    view = load("two_pages")
    body = render.file_response(view, [2, 1], 7, DPI, Style(ints, True, True), {"mimeType": "application/pdf"})
    sdk_parse(body, vision.AnnotateFileResponse)
    assert body["totalPages"] == 7 and body["inputConfig"] == {"mimeType": "application/pdf"}
    assert [r["context"]["pageNumber"] for r in body["responses"]] == [2, 1]  # in the order asked
    pages = {p.page_no: p for p in view.pages or []}
    for r in body["responses"]:
        page = pages[r["context"]["pageNumber"]]
        vpage = r["fullTextAnnotation"]["pages"][0]
        assert (vpage["width"], vpage["height"]) == (round(page.width * 72), round(page.height * 72))  # points
        assert "textAnnotations" not in r
        for block in vpage["blocks"]:
            for v in block["boundingBox"]["normalizedVertices"]:
                assert 0 <= v["x"] <= 1 and 0 <= v["y"] <= 1
        assert " ".join(r["fullTextAnnotation"]["text"].split()) == " ".join(ln.text for ln in page.lines)
    if ints:
        golden("google-vision", "two_pages_files", {**body, "responses": [trimmed(r) for r in body["responses"]]})


def test_file_page_not_read_is_context_only() -> None:
    body = render.file_response(load("blank"), [1], 1, DPI, Style(), {"mimeType": "image/tiff"})
    assert body["responses"] == [{"context": {"pageNumber": 1}}]


# ------------------------------------------------------------------------------------------------ errors
def whole(exc: OcrgwError) -> tuple[int, dict, dict]:
    response = errors.render_error(http_request("/v1/images:annotate"), exc)
    return response.status_code, response_json(response)["error"], dict(response.headers)


def test_bad_key_is_400_api_key_invalid() -> None:
    status, error, _ = whole(OcrgwError(ErrorCode.INVALID_KEY, "nope"))
    assert (status, error["code"], error["status"]) == (400, 400, "INVALID_ARGUMENT")
    assert error["message"] == "API key not valid. Please pass a valid API key."
    assert error["details"][0]["reason"] == "API_KEY_INVALID"
    status, error, _ = whole(OcrgwError(ErrorCode.MISSING_KEY, "none"))
    assert (status, error["status"]) == (403, "PERMISSION_DENIED")


@pytest.mark.parametrize(
    ("code", "status", "rpc"),
    [
        (ErrorCode.RATE_LIMITED, 429, "RESOURCE_EXHAUSTED"),
        (ErrorCode.CONCURRENCY_LIMITED, 429, "RESOURCE_EXHAUSTED"),
        (ErrorCode.QUOTA_EXCEEDED, 429, "RESOURCE_EXHAUSTED"),
        (ErrorCode.NOT_SUBSCRIBED, 403, "PERMISSION_DENIED"),
        (ErrorCode.BACKLOG_FULL, 503, "UNAVAILABLE"),
        (ErrorCode.ROUTE_NOT_FOUND, 404, "NOT_FOUND"),
        (ErrorCode.METHOD_NOT_ALLOWED, 405, "UNIMPLEMENTED"),
        (ErrorCode.TOO_LARGE, 400, "INVALID_ARGUMENT"),
        (ErrorCode.INVALID_PARAMETER, 400, "INVALID_ARGUMENT"),
        (ErrorCode.INTERNAL, 500, "INTERNAL"),
        (ErrorCode.TIMEOUT, 504, "DEADLINE_EXCEEDED"),
    ],
)
def test_whole_request_status(code: ErrorCode, status: int, rpc: str) -> None:
    retry = 7 if status in (429, 503) else None
    limit = Limited("google-vision", 10, seconds=60) if status == 429 else None
    got, error, headers = whole(OcrgwError(code, "why", retry_after=retry, limit=limit))
    assert (got, error["code"], error["status"]) == (status, status, rpc)
    assert error["message"] == "why"
    if retry is not None:
        assert headers["retry-after"] == "7"
        assert {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"} in error["details"]
    if status == 429:
        assert error["details"][0]["reason"] in ("RATE_LIMIT_EXCEEDED", "RESOURCE_EXHAUSTED")
    assert code in errors.WHOLE_REQUEST or status not in (403, 429, 503)


@pytest.mark.parametrize(
    ("code", "rpc"),
    [
        (ErrorCode.INVALID_IMAGE, 3),
        (ErrorCode.UNSUPPORTED_LANGUAGE, 3),
        (ErrorCode.URL_FORBIDDEN, 7),
        (ErrorCode.DOWNLOAD_FAILED, 4),
        (ErrorCode.TIMEOUT, 4),
        (ErrorCode.PROCESSING_FAILED, 13),
    ],
)
def test_per_image_status(code: ErrorCode, rpc: int) -> None:
    error = errors.image_error(OcrgwError(code, "detail."))
    assert error["code"] == rpc and error["message"].endswith("detail.")
    assert code not in errors.WHOLE_REQUEST
    sdk_parse({"error": error})
