"""Huawei Cloud OCR `{"result": ...}` bodies rendered from stored results without a server: general-text's
`words_block_list` (one block per line, `location` as four integer [x, y] points clockwise from top-left,
pixels also for PDF pages), `direction`, `char_list` and `markdown_result` when asked; passport fields from
the stored MRZ reading with per-field confidences and check digits; and the `{"error_code", "error_msg"}`
body for a job that failed or was not done in time. A golden file per fixture, compared exactly.

Renderers: `ocrgw.dialects.huawei.render.render_general_text(view, data, settings)` and
`render.render_passport(view)`, and for errors
`ocrgw.dialects.huawei.errors.render_error(request, exc)`.
Goldens: tests/data/results/golden/huawei-general-text and huawei-passport; rewrite with
OCRGW_UPDATE_GOLDEN=1."""

from __future__ import annotations

import re

import pytest
from tests.results import SUCCEEDED, golden, http_request, load, response_json, settings

from ocrgw.dialects.huawei import errors
from ocrgw.dialects.huawei.render import PASSPORT_FIELDS, render_general_text, render_passport
from ocrgw.errors import OcrgwError
from ocrgw.jobs import service

REQUEST_ID = "0123456789abcdef0123456789abcdef"
ASKED = {"detect_direction": True, "return_markdown_result": True}
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def check_points(points: list, width: float, height: float) -> None:
    assert len(points) == 4
    for point in points:
        assert len(point) == 2 and all(type(v) is int for v in point), points
        assert -1 <= point[0] <= width + 1 and -1 <= point[1] <= height + 1, (points, width, height)


@pytest.mark.parametrize("name", SUCCEEDED)
def test_general_text_with_direction_and_markdown(name: str) -> None:
    view, s = load(name), settings()
    result = render_general_text(view, ASKED, s)
    assert list(result) == ["direction", "words_block_count", "words_block_list", "markdown_result"]
    page = (view.pages or [])[0]  # general-text reads one page (pdf_page_number)
    k = s.pdf_dpi if page.unit == "inch" else 1
    assert isinstance(result["direction"], float) and 0 <= result["direction"] < 360
    assert result["direction"] == pytest.approx((-page.angle) % 360)  # counter-clockwise, as Huawei's
    blocks = result["words_block_list"]
    assert result["words_block_count"] == len(blocks) == len(page.lines)
    assert result["markdown_result"] == "\n".join(ln.text for ln in page.lines)
    for block, line in zip(blocks, page.lines, strict=True):
        assert list(block) == ["words", "confidence", "location"]
        assert block["words"] == line.text and 0 <= block["confidence"] <= 1
        check_points(block["location"], page.width * k, page.height * k)
        assert block["location"][0] == [round(line.bbox[0] * k), round(line.bbox[1] * k)]
    golden("huawei-general-text", name, {"result": result})


@pytest.mark.parametrize("name", ["phototest", "two_pages"])
def test_general_text_character_mode(name: str) -> None:
    view, s = load(name), settings()
    page = (view.pages or [])[0]
    k = s.pdf_dpi if page.unit == "inch" else 1
    result = render_general_text(view, {"character_mode": True}, s)
    for block, line in zip(result["words_block_list"], page.lines, strict=True):
        assert list(block) == ["words", "confidence", "location", "char_list"]
        chars = block["char_list"]
        assert "".join(c["char"] for c in chars) == "".join(w.text for w in line.words)
        for char in chars:
            assert list(char) == ["char", "char_location", "char_confidence"]
            check_points(char["char_location"], page.width * k, page.height * k)
            assert 0 <= char["char_confidence"] <= 1
        # Each word's box is shared out among its characters, left to right.
        first = line.words[0].bbox
        assert chars[0]["char_location"][0] == [round(first[0] * k), round(first[1] * k)]
    if name == "phototest":
        golden("huawei-general-text", "phototest-characters", {"result": result})


def test_general_text_defaults_leave_out_what_was_not_asked() -> None:
    result = render_general_text(load("phototest"), {}, settings())
    assert list(result) == ["direction", "words_block_count", "words_block_list"]
    assert result["direction"] == -1  # not asked for
    assert all(list(b) == ["words", "confidence", "location"] for b in result["words_block_list"])
    golden("huawei-general-text", "phototest-defaults", {"result": result})


def test_general_text_pdf_page_is_in_pixels_at_the_render_dpi() -> None:
    result = render_general_text(load("two_pages"), {}, settings())
    first = result["words_block_list"][0]
    assert first["words"] == "Quarterly Report"
    assert first["location"] == [[304, 316], [1138, 316], [1138, 402], [304, 402]]  # inches x 300 dpi


def test_passport_fields_from_the_stored_mrz() -> None:
    view = load("passport")
    mrz = (view.analysis or {})["mrz"]
    result = render_passport(view)
    assert list(result) == [*PASSPORT_FIELDS.values(), "confidence", "extra_info", "machine_code"]
    for ours, theirs in PASSPORT_FIELDS.items():
        assert isinstance(result[theirs], str) and result[theirs] == mrz[ours]
    assert result["passport_type"] == "P" and result["country_code"] == "ITA"
    assert DATE.match(result["date_of_birth"]) and DATE.match(result["date_of_expiry"])
    assert set(result["confidence"]) <= set(PASSPORT_FIELDS.values())
    assert all(0 <= v <= 1 for v in result["confidence"].values())
    assert result["extra_info"]["mrz_format"] == "TD3" and result["extra_info"]["check_digits_valid"] is True
    assert result["machine_code"] == "".join(mrz["lines"]) and len(result["machine_code"]) == 88  # 2 x 44
    golden("huawei-passport", "passport", {"result": result})


@pytest.mark.parametrize("name", ["phototest", "blank"])
def test_passport_without_a_machine_readable_zone_is_ais_0104(name: str) -> None:
    with pytest.raises(OcrgwError) as caught:
        render_passport(load(name))
    response = errors.render_error(http_request(state={"huawei_request_id": REQUEST_ID}), caught.value)
    assert response.status_code == 400 and response.headers["x-request-id"] == REQUEST_ID
    body = response_json(response)
    assert list(body) == ["error_code", "error_msg", "request_id"]
    assert body["error_code"] == "AIS.0104" and body["request_id"] == REQUEST_ID


@pytest.mark.parametrize(
    ("name", "status", "code"),
    [("failed", 400, "AIS.0102"), ("running", 504, "APIG.0201"), ("queued", 504, "APIG.0201")],
)
def test_job_not_read_is_a_huawei_error(name: str, status: int, code: str) -> None:
    view = load(name)
    response = errors.render_error(
        http_request(state={"huawei_request_id": REQUEST_ID}), service.wait_error(view, 30.0)
    )
    body = response_json(response)
    assert list(body) == ["error_code", "error_msg", "request_id"]
    assert (response.status_code, body["error_code"]) == (status, code)  # a corrupt image; a backend timeout
    assert isinstance(body["error_msg"], str) and body["error_msg"]
    assert response.headers["x-request-id"] == body["request_id"] == REQUEST_ID
    golden("huawei-general-text", name, {"status": response.status_code, "body": body})
