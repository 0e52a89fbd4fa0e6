"""The worker pipeline end to end through a real server: a skewed page is measured, straightened and
read, its `angle` is reported, and the boxes come back in the coordinates of the page as submitted."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from tests.conftest import Server, submit_and_wait

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
LINES = ["Gateways keep documents at home", "while clients speak the vendor API", "and nothing else changes"]


def _page(angle: float) -> tuple[bytes, tuple[int, int]]:
    font = ImageFont.truetype(str(DEJAVU), 40) if DEJAVU.exists() else ImageFont.load_default(size=40)
    img = Image.new("L", (1400, 600), 255)
    draw = ImageDraw.Draw(img)
    for i, text in enumerate(LINES):
        draw.text((100, 120 + i * 120), text, fill=0, font=font)
    img = img.rotate(-angle, expand=True, fillcolor=255, resample=Image.BICUBIC)  # PIL turns anticlockwise
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue(), img.size


def test_skewed_page_is_straightened_and_boxes_map_back(server: Server) -> None:
    body, (width, height) = _page(5.0)
    result = submit_and_wait(server, body)
    assert result["status"] == "succeeded", result
    page = result["analyzeResult"]["readResults"][0]
    assert (page["width"], page["height"]) == (width, height)
    assert abs(page["angle"] - 5.0) < 0.5, page["angle"]
    texts = [ln["text"] for ln in page["lines"]]
    assert texts == LINES, texts
    for line in page["lines"]:
        box = line["boundingBox"]
        assert all(-2 <= x <= width + 2 for x in box[0::2]) and all(-2 <= y <= height + 2 for y in box[1::2])
        # The top edge (TL -> TR) runs down to the right by the page's angle: a true quad, not an upright box.
        slope = math.degrees(math.atan2(box[3] - box[1], box[2] - box[0]))
        assert abs(slope - 5.0) < 1.0, (line["text"], slope)
    # The applied steps are stored with the page (Azure's shape has no place for them).
    rows = [
        r[0] if isinstance(r[0], list) else json.loads(r[0])
        for r in server.query("select preprocessing from pages where width = :w and height = :h", w=width, h=height)
    ]
    assert rows and any(s["step"] == "deskew" and s.get("applied", True) for s in rows[-1]), rows


def test_upright_page_reports_no_rotation(server: Server) -> None:
    body, _ = _page(0.0)
    page = submit_and_wait(server, body)["analyzeResult"]["readResults"][0]
    assert abs(page["angle"]) < 0.5
    assert [ln["text"] for ln in page["lines"]] == LINES
    first = page["lines"][0]["boundingBox"]
    assert first[1] == first[3] and first[0] == first[6]  # axis-aligned when nothing was turned


def test_stored_steps_say_where_the_time_went(server: Server) -> None:
    """Every stage a worker runs on a page is stored with its wall time (``ms``), so the throughput bench
    can split a page's time by stage: decoding first, the preprocessing steps, the engine's reading, and
    the line styles after it. A step the clean page does not need is recorded as skipped, with the time
    its measurement took."""
    body, (width, height) = _page(0.0)
    assert submit_and_wait(server, body)["status"] == "succeeded"
    rows = server.query(
        "select preprocessing from pages where width = :w and height = :h order by id", w=width, h=height
    )
    steps = rows[-1][0] if isinstance(rows[-1][0], list) else json.loads(rows[-1][0])  # this test's page
    by_name = {s["step"]: s for s in steps}
    assert steps[0]["step"] == "decode", steps
    for name in ("decode", "border", "contrast", "denoise", "deskew", "binarize", "upscale", "recognize", "style"):
        assert name in by_name and by_name[name]["ms"] >= 0, (name, steps)
    assert by_name["recognize"]["engine"] == "tesseract"
    assert by_name["border"]["applied"] is False and by_name["contrast"]["applied"] is False, steps
    assert [s["step"] for s in steps].index("recognize") > [s["step"] for s in steps].index("deskew")
