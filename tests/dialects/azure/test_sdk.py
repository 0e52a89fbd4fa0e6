"""The official Azure Computer Vision SDK, used exactly as Microsoft's quickstart uses it
(`sdk_clients.computer_vision_read`), against a real server: it must read real documents, the text must
match the ground truth, and the SDK's result models must come back complete."""

from __future__ import annotations

import pytest
from rapidfuzz.distance import Levenshtein
from tests.conftest import Server, doc, manifest_row
from tests.dialects.azure.sdk_clients import computer_vision_read


def cer(hyp: str, ref: str) -> float:
    h, r = " ".join(hyp.split()).casefold(), " ".join(ref.split()).casefold()
    return Levenshtein.distance(h, r) / max(1, len(r))


@pytest.mark.parametrize("image, max_cer", [("page/tess_phototest.tif", 0.05), ("line/uw3_0768_010009.png", 0.05)])
def test_quickstart_reads_real_document(server: Server, image: str, max_cer: float) -> None:
    row = manifest_row(image)
    result = computer_vision_read(server.url, server.key, doc(image)).result
    pages = result.analyze_result.read_results
    assert len(pages) == 1 and pages[0].unit == "pixel" and pages[0].width > 0 and pages[0].height > 0
    lines = pages[0].lines
    assert lines, "no lines"
    for line in lines:
        assert len(line.bounding_box) == 8
        assert line.words and all(0.0 <= w.confidence <= 1.0 and len(w.bounding_box) == 8 for w in line.words)
    text = "\n".join(line.text for line in lines)
    score = cer(text, row["text"])
    assert score <= max_cer, f"CER {score:.3f} > {max_cer}: {text!r}"


def test_endpoint_with_trailing_slash(server: Server) -> None:
    reading = computer_vision_read(server.url + "/", server.key, doc("line/uw3_0768_010009.png"))
    assert reading.result.analyze_result.read_results[0].lines


def test_quickstart_result_is_complete(server: Server) -> None:
    """Every field the SDK's models carry is filled: dates, version and model version, each page's
    number, angle, size and unit, 8-number boxes and confidences on every word; the operation id the
    quickstart splits off Operation-Location has no query; a page takes well under 10 s."""
    reading = computer_vision_read(server.url, server.key, doc("page/tess_phototest.tif"))
    assert reading.problems == [], reading.problems
    assert "/vision/v3.2/read/analyzeResults/" in reading.operation_location
    assert "quick brown" in reading.text
