"""The seed systems' APIs (the Flask-style /ocr_process and /batch_process, the streaming server's
/{api_name}) rendered from stored results without a server: the text (lines by "\\n", pages by a form
feed), the mean word confidence on 0..100, a batch item's shape for a read and an unread document, and
the error bodies for a job that failed or was not done in time. A golden file per fixture.

Renderers: `ocrgw.dialects.tesseract_style.text_of` and `confidence_of`, `flaskapi.render.Item.render`, and
`flaskapi.errors.render_error` / `streamapi.errors.render_error`. The /ocr_process body and the streaming
`{"text": ...}` are built from the same values (flaskapi.render.ocr_process, streamapi.render.text), so
only the values they take from the job are checked here.
Goldens: tests/data/results/golden/seed; rewrite with OCRGW_UPDATE_GOLDEN=1."""

from __future__ import annotations

import pytest
from tests.results import FIXTURES, SUCCEEDED, golden, http_request, load, response_json

from ocrgw.dialects import tesseract_style as common
from ocrgw.dialects.flaskapi.errors import render_error as render_flask_error
from ocrgw.dialects.flaskapi.render import Item
from ocrgw.dialects.streamapi.errors import render_error as render_stream_error
from ocrgw.jobs import service

DIALECT = "seed"


@pytest.mark.parametrize("name", FIXTURES)
def test_seed_bodies_every_state(name: str) -> None:
    view = load(name)
    pages = view.pages or []
    if name in SUCCEEDED:
        text = common.text_of(view)
        assert text == "\f".join("\n".join(ln.text for ln in p.lines) for p in pages)
        words = [w.confidence for p in pages for ln in p.lines for w in ln.words]
        confidence = common.confidence_of(view)
        assert 0 <= confidence <= 100 and type(confidence) is float
        assert confidence == (round(100 * sum(words) / len(words), 2) if words else 0.0)
        by_file = Item(index=0, filename="scan.png", view=view).render()
        by_url = Item(index=1, url="https://example.com/scan.png", view=view).render()
        assert list(by_file) == ["index", "filename", "success", "text", "confidence"]
        assert list(by_url) == ["index", "url", "success", "text", "confidence"]
        assert by_file["success"] is True and by_file["text"] == text and by_file["confidence"] == confidence
        golden(DIALECT, name, {"text": text, "confidence": confidence, "batch_items": [by_file, by_url]})
        return
    exc = service.wait_error(view, 30.0)
    flask = render_flask_error(http_request("/ocr_process"), exc)
    stream = render_stream_error(http_request("/api/recognise"), exc)
    item = Item(index=2, filename="scan.png", error=exc).render()
    flask_body, stream_body = response_json(flask), response_json(stream)
    assert flask_body == {"error": exc.message, "success": False}
    assert stream_body == {"error": exc.message}
    assert item == {"index": 2, "filename": "scan.png", "success": False, "error": exc.message}
    # A corrupt upload is the caller's input (400); a job still running when the wait ends is a 504.
    assert flask.status_code == stream.status_code == (400 if name == "failed" else 504)
    golden(
        DIALECT,
        name,
        {
            "ocr_process": {"status": flask.status_code, "body": flask_body},
            "stream": {"status": stream.status_code, "body": stream_body},
            "batch_item": item,
        },
    )


def test_seed_text_separates_pages_with_a_form_feed() -> None:
    text = common.text_of(load("two_pages"))
    first, second = text.split("\f")
    assert first.startswith("Quarterly Report\n") and not first.endswith("\n")
    assert second == "Shipping label\nParcel 5 of 12\nKeep this side up"


def test_seed_blank_page_reads_as_empty_text_with_zero_confidence() -> None:
    view = load("blank")
    assert (common.text_of(view), common.confidence_of(view)) == ("", 0.0)
