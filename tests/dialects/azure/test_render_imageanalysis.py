"""Image Analysis 4.0 `readResult` JSON rendered from stored results without a server: pixels only
(PDF pages scaled by the render DPI), integer 4-point `boundingPolygon`s, one block for page 1, the
image's size in `metadata`, and, for a job that did not succeed, the Azure error the synchronous call
answers. A golden file per fixture, compared exactly.

Renderers: `ocrgw.dialects.azure.imageanalysis.render.render_result(view, settings)`, and for the states a
synchronous call cannot wait out `ocrgw.dialects.azure.errors.render_error(request, service.wait_error(...))`.
Goldens: tests/data/results/golden/azure-imageanalysis-4.0; rewrite with OCRGW_UPDATE_GOLDEN=1."""

from __future__ import annotations

from dataclasses import replace

import pytest
from tests.results import SUCCEEDED, conforms, golden, http_request, load, response_json, settings

from ocrgw.dialects.azure import errors
from ocrgw.dialects.azure.imageanalysis import render as imageanalysis
from ocrgw.dialects.azure.imageanalysis.schemas import ImageAnalysisResult
from ocrgw.jobs import service

DIALECT = "azure-imageanalysis-4.0"
WAITED = 30.0


@pytest.mark.parametrize("name", SUCCEEDED)
def test_image_analysis_result(name: str) -> None:
    view, s = load(name), settings()
    body = imageanalysis.render_result(view, s)
    conforms(ImageAnalysisResult, body)
    assert list(body) == ["modelVersion", "metadata", "readResult"]
    assert body["modelVersion"] == "2023-10-01"
    page = (view.pages or [])[0]  # Image Analysis reads page 1 only
    k = s.pdf_dpi if page.unit == "inch" else 1
    assert body["metadata"] == {"width": round(page.width * k), "height": round(page.height * k)}
    blocks = body["readResult"]["blocks"]
    assert len(blocks) == (1 if page.lines else 0)  # no empty block for a page without text
    lines = blocks[0]["lines"] if blocks else []
    assert [ln["text"] for ln in lines] == [ln.text for ln in page.lines]
    for line, stored in zip(lines, page.lines, strict=True):
        assert list(line) == ["text", "boundingPolygon", "words"]
        polygons = [line["boundingPolygon"]] + [w["boundingPolygon"] for w in line["words"]]
        for polygon in polygons:
            assert len(polygon) == 4 and all(list(p) == ["x", "y"] for p in polygon)
            assert all(type(p["x"]) is int and type(p["y"]) is int for p in polygon)
            assert all(-1 <= p["x"] <= body["metadata"]["width"] + 1 for p in polygon)
            assert all(-1 <= p["y"] <= body["metadata"]["height"] + 1 for p in polygon)
        assert line["boundingPolygon"][0] == {"x": round(stored.bbox[0] * k), "y": round(stored.bbox[1] * k)}
        for word, sw in zip(line["words"], stored.words, strict=True):
            assert list(word) == ["text", "boundingPolygon", "confidence"]
            assert word["text"] == sw.text and 0 <= word["confidence"] <= 1
    golden(DIALECT, name, body)


def test_image_analysis_pdf_page_is_in_pixels_at_the_render_dpi() -> None:
    body = imageanalysis.render_result(load("two_pages"), settings(pdf_dpi=200))
    assert body["metadata"] == {"width": 1700, "height": 2201}  # 8.5 x 11.0033 in at 200 dpi
    assert body["readResult"]["blocks"][0]["lines"][0]["text"] == "Quarterly Report"


def test_image_analysis_without_pages_gives_no_blocks() -> None:
    """Never for a read image (page 1 always exists); the renderer still answers a well-formed body."""
    view = replace(load("blank"), pages=[])
    body = imageanalysis.render_result(view, settings())
    assert body == {
        "modelVersion": "2023-10-01",
        "metadata": {"width": 0, "height": 0},
        "readResult": {"blocks": []},
    }


@pytest.mark.parametrize(
    ("name", "status", "inner"),
    [("failed", 400, "InvalidImageFormat"), ("running", 408, "Timeout"), ("queued", 408, "Timeout")],
)
def test_image_analysis_answers_an_unfinished_or_failed_job_with_an_azure_error(
    name: str, status: int, inner: str
) -> None:
    view = load(name)
    response = errors.render_error(
        http_request("/computervision/imageanalysis:analyze"), service.wait_error(view, WAITED)
    )
    assert response.status_code == status  # never 5xx: azure-core would retry a POST that got one
    assert response.media_type == "application/json"
    body = response_json(response)
    assert list(body) == ["error"] and list(body["error"]) == ["code", "message", "innererror"]
    assert body["error"]["innererror"]["code"] == inner
    if name == "failed":
        assert body["error"]["message"] == view.error_message
    else:
        assert view.id in body["error"]["message"]  # the job is not lost: the message names it
    golden(DIALECT, name, {"status": response.status_code, "body": body})
