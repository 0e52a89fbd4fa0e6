"""OCR.space JSON rendered from stored results without a server: one ParsedResult per page, `ParsedText`
lines ending "\\r\\n" ("\\t\\r\\n" with isTable), the TextOverlay's Lines/Words with Left/Top/Height/Width
in pixels (integers for images, 2-decimal floats for PDF pages scaled by the render DPI), the string-typed
`TextOrientation` and `ProcessingTimeInMilliseconds`, and, for a job that failed or was not done in time,
the HTTP-200 error body with an `ErrorMessage` list. A golden file per fixture, compared exactly.

Renderers: `ocrgw.dialects.ocrspace.render.render_result(view, opts, settings, pdf_url, elapsed_ms)` with
options parsed by `parse.parse_options`, and for errors
`ocrgw.dialects.ocrspace.errors.render_error(request, service.wait_error(...))`.
Goldens: tests/data/results/golden/ocrspace; rewrite with OCRGW_UPDATE_GOLDEN=1."""

from __future__ import annotations

import pytest
from tests.results import SUCCEEDED, golden, http_request, load, response_json, settings

from ocrgw.dialects.ocrspace import errors
from ocrgw.dialects.ocrspace.parse import parse_options
from ocrgw.dialects.ocrspace.render import NOT_REQUESTED_OVERLAY, NOT_REQUESTED_PDF, render_result
from ocrgw.jobs import service
from ocrgw.jobs.schemas import PageResult

DIALECT = "ocrspace"
ELAPSED_MS = 437
OVERLAY = {"isoverlayrequired": "true", "detectorientation": "true", "language": "eng"}


def render(name: str, params: dict[str, str], pdf_url: str | None = None) -> dict:
    return render_result(load(name), parse_options(params), settings(), pdf_url, ELAPSED_MS)


def check_overlay(overlay: dict, page: PageResult, dpi: int) -> None:
    assert list(overlay) == ["Lines", "HasOverlay", "Message"] and overlay["HasOverlay"] is True
    lines = [ln for ln in page.lines if ln.words]
    assert overlay["Message"] == f"Total lines: {len(lines)}"
    assert [ln["LineText"] for ln in overlay["Lines"]] == [ln.text for ln in lines]
    k, scaled = (dpi, True) if page.unit == "inch" else (1, False)
    for out, stored in zip(overlay["Lines"], lines, strict=True):
        assert list(out) == ["LineText", "Words", "MaxHeight", "MinTop"]
        assert [w["WordText"] for w in out["Words"]] == [w.text for w in stored.words]
        for word, sw in zip(out["Words"], stored.words, strict=True):
            assert list(word) == ["WordText", "Left", "Top", "Height", "Width"]
            xs, ys = sw.bbox[0::2], sw.bbox[1::2]
            want = (min(xs) * k, min(ys) * k, (max(ys) - min(ys)) * k, (max(xs) - min(xs)) * k)
            got = (word["Left"], word["Top"], word["Height"], word["Width"])
            if scaled:
                assert got == tuple(round(v, 2) for v in want)
            else:
                assert all(type(v) is int for v in got) and got == tuple(round(v) for v in want)
        assert out["MaxHeight"] == max(w["Height"] for w in out["Words"])
        assert out["MinTop"] == min(w["Top"] for w in out["Words"])


@pytest.mark.parametrize("name", SUCCEEDED)
def test_ocrspace_result_with_overlay(name: str) -> None:
    view = load(name)
    body = render(name, OVERLAY)
    assert list(body) == [
        "ParsedResults",
        "OCRExitCode",
        "IsErroredOnProcessing",
        "ProcessingTimeInMilliseconds",
        "SearchablePDFURL",
    ]
    assert (body["OCRExitCode"], body["IsErroredOnProcessing"]) == (1, False)
    assert body["ProcessingTimeInMilliseconds"] == str(ELAPSED_MS)  # a string of digits, as OCR.space's
    assert body["SearchablePDFURL"] == NOT_REQUESTED_PDF
    pages = view.pages or []
    assert len(body["ParsedResults"]) == len(pages)  # one per page, in page order
    for result, page in zip(body["ParsedResults"], pages, strict=True):
        assert list(result) == [
            "TextOverlay",
            "TextOrientation",
            "FileParseExitCode",
            "ParsedText",
            "ErrorMessage",
            "ErrorDetails",
        ]
        assert result["ParsedText"] == "".join(ln.text + "\r\n" for ln in page.lines)
        assert (result["FileParseExitCode"], result["ErrorMessage"], result["ErrorDetails"]) == (1, "", "")
        assert result["TextOrientation"] in ("0", "90", "180", "270")
        check_overlay(result["TextOverlay"], page, settings().pdf_dpi)
    golden(DIALECT, name, body)


def test_ocrspace_orientation_is_reported_only_when_asked() -> None:
    asked = render("two_pages", OVERLAY)["ParsedResults"]
    assert [r["TextOrientation"] for r in asked] == ["0", "270"]  # page 2's text is turned a quarter
    plain = render("two_pages", {})["ParsedResults"]
    assert [r["TextOrientation"] for r in plain] == ["0", "0"]


def test_ocrspace_without_overlay_as_a_table_with_a_searchable_pdf() -> None:
    url = "https://ocr.example.com/parse/searchablepdf/job.pdf"
    body = render("phototest", {"istable": "true", "iscreatesearchablepdf": "true"}, pdf_url=url)
    [result] = body["ParsedResults"]
    assert result["TextOverlay"] == {"Lines": [], "HasOverlay": False, "Message": NOT_REQUESTED_OVERLAY}
    assert result["ParsedText"].endswith("days.\t\r\n") and result["ParsedText"].count("\t\r\n") == 7
    assert body["SearchablePDFURL"] == url
    golden(DIALECT, "phototest-table-pdf", body)


@pytest.mark.parametrize("name", ["failed", "running", "queued"])
def test_ocrspace_job_not_read_is_an_http_200_error(name: str) -> None:
    view = load(name)
    response = errors.render_error(http_request("/parse/image"), service.wait_error(view, 30.0))
    assert response.status_code == 200  # OCR.space reports processing errors with 200
    body = response_json(response)
    assert list(body) == [
        "OCRExitCode",
        "IsErroredOnProcessing",
        "ErrorMessage",
        "ErrorDetails",
        "ProcessingTimeInMilliseconds",
    ]
    assert body["IsErroredOnProcessing"] is True
    assert body["OCRExitCode"] == 3  # "image, or all PDF pages, failed": a bad file and a timeout alike
    assert isinstance(body["ErrorMessage"], list) and body["ErrorMessage"]  # clients take [0]
    assert body["ProcessingTimeInMilliseconds"] == "0"
    if name == "failed":
        assert body["ErrorMessage"] == [view.error_message] and body["ErrorDetails"] == view.error_code
    golden(DIALECT, name, body)
