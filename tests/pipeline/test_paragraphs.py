"""Paragraphs and their roles (``pipeline.structure.paragraphs``): a real Tesseract reading of the rendered
report page of tests/data, which has every role, and the grouping and page-number rules on lines built the
way the engine reports them."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from tests.conftest import doc

from ocrgw.pipeline.engines.tesseract import RawLine, RawWord, TesseractEngine
from ocrgw.pipeline.layout import order_lines
from ocrgw.pipeline.orient import read_page
from ocrgw.pipeline.structure.paragraphs import PAGE_NUMBER, Paragraph, find_paragraphs, group_lines
from ocrgw.settings import Settings


@pytest.fixture(scope="module")
def report() -> tuple[list[Paragraph], list[str]]:
    engine = TesseractEngine(Settings().resolved_tessdata_dir, "eng")
    with Image.open(doc("page/roles_report.png")) as im:
        reading = read_page(np.asarray(im.convert("L")), None, engine, None)
    engine.close()
    assert reading.image is not None
    lines = order_lines(reading.lines, "basic")
    paragraphs = find_paragraphs(reading.image, lines)
    texts = [" ".join(w.text for i in p.lines for w in lines[i].words) for p in paragraphs]
    return paragraphs, texts


def role_of(report: tuple[list[Paragraph], list[str]], start: str) -> str | None:
    paragraphs, texts = report
    found = [p.role for p, t in zip(paragraphs, texts, strict=True) if t.startswith(start)]
    assert len(found) == 1, (start, texts)
    return found[0]


def test_report_page_roles(report: tuple[list[Paragraph], list[str]]) -> None:
    assert role_of(report, "Riverbend Water Board Annual") == "pageHeader"
    assert role_of(report, "Water Quality in the Upper Basin") == "title"
    for heading in ("1. Sampling", "2. Results", "3. Outlook"):
        assert role_of(report, heading) == "sectionHeading"
    assert role_of(report, "1 Readings below") == "footnote"
    # the engine reads the running foot and the page number beside it as one line
    assert role_of(report, "Riverbend Water Board, Mill Lane") in ("pageFooter", "pageNumber")


def test_report_page_body_paragraphs(report: tuple[list[Paragraph], list[str]]) -> None:
    """Each section's text is one paragraph of body text, whole, in reading order."""
    paragraphs, texts = report
    body = [(p, t) for p, t in zip(paragraphs, texts, strict=True) if p.role is None]
    assert [t.split()[0] for _, t in body] == ["Samples", "Nitrate", "The"]
    assert all(len(p.lines) >= 2 for p, _ in body)
    order = [i for p in paragraphs for i in p.lines]
    assert order == sorted(order)  # consecutive runs of the lines given
    for p in paragraphs:
        assert p.box[0] < p.box[2] and p.box[1] < p.box[3]


def line(text: str, x0: int, y0: int, x1: int, y1: int) -> RawLine:
    words = text.split()
    step = (x1 - x0) / max(1, len(words))
    return RawLine(
        (x0, y0, x1, y1),
        0.9,
        0,
        [RawWord(w, (round(x0 + i * step), y0, round(x0 + (i + 1) * step) - 5, y1), 0.9) for i, w in enumerate(words)],
    )


def test_grouping_breaks_at_gaps_sizes_and_cells() -> None:
    lines = [
        line("A heading set large", 100, 100, 600, 150),
        line("body text of the first paragraph runs", 100, 170, 900, 195),
        line("on to a second line of the same one", 100, 200, 900, 225),
        line("after a gap a new paragraph starts here", 100, 280, 900, 305),
        line("cell", 1000, 280, 1100, 305),  # beside, not below: a table's next cell
    ]
    assert group_lines(lines) == [[0], [1, 2], [3], [4]]


def test_page_numbers() -> None:
    for text in ("7", "- 12 -", "Page 3", "page 3 of 10", "iv", "3 / 5", "(2)"):
        assert PAGE_NUMBER.match(text), text
    for text in ("1975", "Table 3", "7 October 2019", "Chapter 2", "iv. Results"):
        assert not PAGE_NUMBER.match(text), text


def test_a_line_repeated_top_and_bottom_is_a_running_head_and_foot() -> None:
    """A classification printed at the head and the foot of the page (set large, and right above the
    section title, so neither gap nor size would tell)."""
    image = np.full((1400, 1000), 255, np.uint8)
    lines = [
        line("RESTRICTED", 400, 40, 600, 80),
        line("I. INTRODUCTION", 350, 90, 650, 130),
        *[
            line(f"body text line number {i} of the page runs on", 100, 200 + 40 * i, 900, 225 + 40 * i)
            for i in range(20)
        ],
        line("RESTRICTED", 400, 1320, 600, 1360),
    ]
    paragraphs = find_paragraphs(image, lines)
    roles = {tuple(p.lines): p.role for p in paragraphs}
    assert roles[(0,)] == "pageHeader"
    assert roles[(len(lines) - 1,)] == "pageFooter"
    assert roles[(1,)] == "title"


def memo_lines() -> list[RawLine]:
    """tests/data/note/memo_handwritten.jpg as the engine reads it (engine-image pixels): a bold heading,
    three lines set with 1.75 times their height of leading, two handwritten lines, a signature line."""
    lines = [
        line("MEMO: copier paper", 91, 80, 585, 123),
        line("The supplier has raised the price of copier paper by four percent from", 87, 180, 1229, 213),
        line("the first of next month. Orders placed before then keep the old price.", 88, 238, 1212, 271),
        line("Please check the stock in the store room and tell us what we need.", 89, 296, 1170, 322),
        line("Call Mrs. Harper about the invoice on Monday", 129, 430, 1000, 492),
        line("Approved, send the order before Friday", 129, 530, 938, 592),
        line("Purchasing office, room 214", 89, 661, 544, 694),
    ]
    for ln in lines[4:6]:
        ln.style = "handwriting"
    return lines


def test_a_short_page_set_with_open_leading_keeps_its_paragraph_and_notes_are_no_title() -> None:
    """On a short page the steps between its few blocks outnumber the text's own leading: the page's
    pitch must still be the text's (its three lines are one paragraph), and the handwritten note, the
    largest text there, is neither its title nor a heading."""
    lines = memo_lines()
    assert group_lines(lines)[1] == [1, 2, 3]
    paragraphs = find_paragraphs(np.full((1000, 1400), 255, np.uint8), lines)
    roles = {tuple(p.lines): p.role for p in paragraphs}
    assert roles[(1, 2, 3)] is None
    assert all(roles[key] not in ("title", "sectionHeading") for key in roles if key[0] in (4, 5))
    for ln in lines[4:6]:
        ln.style = None  # the same lines in print: the largest text, apart, is the title
    assert "title" in {p.role for p in find_paragraphs(np.full((1000, 1400), 255, np.uint8), lines)}
