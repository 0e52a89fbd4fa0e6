"""Azure Read v3.0/v3.1/v3.2 and Computer Vision v2.1 Batch Read JSON, rendered from stored results
(tests/data/results) without a server: the contract's member names and casing, the status word of every
state, 8-number boxes (integer pixels for images, inches for PDF pages), page numbers from 1, angles, and
a golden file per (API, fixture) compared exactly.

Renderers: `ocrgw.dialects.azure.read.render.operation(view, version)` and `ocrgw.dialects.azure.v21.render.operation`.
Goldens: tests/data/results/golden/azure-read-v3.x and azure-read-v2.1; rewrite them with
OCRGW_UPDATE_GOLDEN=1 (then review the diff: a changed golden is a changed wire format)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime

import pytest
from tests.results import FIXTURES, SUCCEEDED, conforms, golden, load

from ocrgw.dialects.azure.read import render
from ocrgw.dialects.azure.read.schemas import ReadOperationResult
from ocrgw.dialects.azure.v21 import render as v21
from ocrgw.dialects.azure.v21.schemas import BatchReadOperationResult
from ocrgw.jobs.schemas import JobView, PageResult

STATUS_V3 = {"queued": "notStarted", "running": "running", "succeeded": "succeeded", "failed": "failed"}
STATUS_V21 = {"queued": "NotStarted", "running": "Running", "succeeded": "Succeeded", "failed": "Failed"}
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
MODEL_VERSION = re.compile(r"^(latest|\d{4}-\d{2}-\d{2})(-preview)?$")


def _ms(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _check_box(box: list, page: PageResult) -> None:
    """8 numbers, TL TR BR BL; integers for pixel pages, inches to 4 decimals for PDF pages; on the page."""
    assert len(box) == 8
    if page.unit == "pixel":
        assert all(type(v) is int for v in box), box
    else:
        assert all(isinstance(v, int | float) and round(v, 4) == v for v in box), box
    xs, ys = box[0::2], box[1::2]
    slack = 1 if page.unit == "pixel" else 0.01
    assert all(-slack <= x <= page.width + slack for x in xs), (box, page.width)
    assert all(-slack <= y <= page.height + slack for y in ys), (box, page.height)


def _check_pages(pages: list[dict], view: JobView, *, v3: bool, with_style: bool) -> None:
    stored = view.pages or []
    assert [p["page"] for p in pages] == list(range(1, len(stored) + 1))  # numbered from 1, in order
    for out, page in zip(pages, stored, strict=True):
        assert out["unit"] == page.unit in ("pixel", "inch")
        if page.unit == "pixel":
            assert (out["width"], out["height"]) == (round(page.width), round(page.height))
            assert type(out["width"]) is int and type(out["height"]) is int
        else:
            assert (out["width"], out["height"]) == (page.width, page.height)
        if v3:
            keys = ["page", "angle", "width", "height", "unit", "lines"]
            if page.language:
                keys.insert(1, "language")
                assert out["language"] == page.language
            assert list(out) == keys
            assert -180 < out["angle"] <= 180 and out["angle"] == page.angle
        else:
            assert list(out) == ["page", "clockwiseOrientation", "width", "height", "unit", "lines"]
            assert 0 <= out["clockwiseOrientation"] < 360
            assert out["clockwiseOrientation"] == pytest.approx(page.angle % 360, abs=0.006)
        assert len(out["lines"]) == len(page.lines)
        for line, stored_line in zip(out["lines"], page.lines, strict=True):
            assert line["text"] == stored_line.text
            _check_box(line["boundingBox"], page)
            if with_style:
                assert list(line) == ["boundingBox", "text", "appearance", "words"]
                assert line["appearance"] == {"style": {"name": "other", "confidence": 0.5}}
            else:
                assert list(line) == ["boundingBox", "text", "words"]
            assert [w["text"] for w in line["words"]] == [w.text for w in stored_line.words]
            for word, stored_word in zip(line["words"], stored_line.words, strict=True):
                _check_box(word["boundingBox"], page)
                if v3:
                    assert list(word) == ["boundingBox", "text", "confidence"]
                    assert 0 <= word["confidence"] <= 1 and word["confidence"] == round(stored_word.confidence, 3)
                elif stored_word.confidence < v21.LOW_CONFIDENCE:
                    assert word["confidence"] == "Low"
                else:
                    assert list(word) == ["boundingBox", "text"]


# ------------------------------------------------------------------------------------------------ v3.x
@pytest.mark.parametrize("name", FIXTURES)
def test_read_v32_every_state(name: str) -> None:
    view = load(name)
    body = render.operation(view, "v3.2")
    conforms(ReadOperationResult, {k: v for k, v in body.items() if k != "error"})
    assert body["status"] == STATUS_V3[view.status.value]
    for key, stored in (("createdDateTime", view.created_at), ("lastUpdatedDateTime", view.updated_at)):
        assert TIMESTAMP.match(body[key]), body[key]
        assert _ms(body[key]) == stored.replace(microsecond=stored.microsecond // 1000 * 1000)
    if name in SUCCEEDED:
        assert list(body) == ["status", "createdDateTime", "lastUpdatedDateTime", "analyzeResult"]
        result = body["analyzeResult"]
        assert list(result) == ["version", "modelVersion", "readResults"]
        assert result["version"] == "3.2.0"
        assert MODEL_VERSION.match(result["modelVersion"]) and result["modelVersion"] == render.LATEST_MODEL
        _check_pages(result["readResults"], view, v3=True, with_style=True)
    elif name == "failed":
        assert list(body) == ["status", "createdDateTime", "lastUpdatedDateTime", "error"]
        assert body["error"] == {
            "code": "InvalidRequest",
            "message": view.error_message,
            "innererror": {"code": "InvalidImageFormat", "message": view.error_message},
        }
    else:  # queued, running: no result yet, nothing else
        assert list(body) == ["status", "createdDateTime", "lastUpdatedDateTime"]
    golden("azure-read-v3.2", name, body)


@pytest.mark.parametrize("version", ["v3.0", "v3.1"])
def test_read_v30_v31_have_no_model_version_or_appearance(version: str) -> None:
    view = load("phototest")
    body = render.operation(view, version)
    result = body["analyzeResult"]
    assert list(result) == ["version", "readResults"]
    assert result["version"] == version[1:] + ".0"
    _check_pages(result["readResults"], view, v3=True, with_style=False)
    assert render.operation(load("queued"), version)["status"] == "notStarted"
    golden(f"azure-read-{version}", "phototest", body)


def test_read_pdf_pages_are_in_inches_and_keep_their_angle() -> None:
    pages = render.operation(load("two_pages"), "v3.2")["analyzeResult"]["readResults"]
    assert [(p["unit"], p["width"], p["height"]) for p in pages] == [("inch", 8.5, 11.0033), ("inch", 4.0, 6.0033)]
    assert "language" not in pages[0]  # none detected: the member is left out, not null
    turned = pages[1]
    assert turned["angle"] == pytest.approx(-90.05)
    # The label's text runs upwards: its line boxes are tall and narrow, in the page's own coordinates.
    box = turned["lines"][0]["boundingBox"]
    assert abs(box[1] - box[3]) > 5 * abs(box[0] - box[2] or 0.01)


def test_read_model_version_echoes_a_pinned_model() -> None:
    view = load("phototest")
    pinned = replace(view, spec=view.spec.model_copy(update={"model_version": "2021-04-12"}))
    assert render.operation(pinned, "v3.2")["analyzeResult"]["modelVersion"] == "2021-04-12"


def test_read_unknown_failure_code_is_an_internal_error() -> None:
    view = replace(load("failed"), error_code="SomethingNew", error_message=None)
    err = render.operation(view, "v3.2")["error"]
    assert err["code"] == "InternalServerError" and err["message"] == "The operation failed."


# ------------------------------------------------------------------------------------------------ v2.1
@pytest.mark.parametrize("name", FIXTURES)
def test_batch_read_v21_every_state(name: str) -> None:
    view = load(name)
    body = v21.operation(view)
    conforms(BatchReadOperationResult, body)
    assert body["status"] == STATUS_V21[view.status.value]
    if name in SUCCEEDED:
        assert list(body) == ["status", "recognitionResults"]
        _check_pages(body["recognitionResults"], view, v3=False, with_style=False)
    else:  # v2.1 has no timestamps and no error member: the status says it all
        assert list(body) == ["status"]
    golden("azure-read-v2.1", name, body)


def test_batch_read_v21_marks_only_doubtful_words_and_turns_angles_clockwise() -> None:
    words = [
        w for p in v21.operation(load("passport"))["recognitionResults"] for line in p["lines"] for w in line["words"]
    ]
    assert {w.get("confidence") for w in words} == {None, "Low"}  # the MRZ line reads doubtfully
    pages = v21.operation(load("two_pages"))["recognitionResults"]
    assert [p["clockwiseOrientation"] for p in pages] == [359.95, 269.95]
