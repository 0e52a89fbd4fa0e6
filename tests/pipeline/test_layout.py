"""Reading order (``layout.order_lines``): rows inside columns for ``basic``, Tesseract's blocks for
``natural``. Geometry tests build lines the way the engine reports them; one test reads a two-column
page of tests/data with real Tesseract."""

from __future__ import annotations

import itertools
from pathlib import Path

from tests.conftest import doc, manifest_row

from ocrgw.pipeline.engines.tesseract import RawLine, RawWord
from ocrgw.pipeline.layout import order_lines

TESSDATA = Path("/usr/share/tesseract-ocr/5/tessdata")


def line(text: str, x0: int, y0: int, x1: int, y1: int, block: int = 0) -> RawLine:
    """A line whose words share its width evenly, as Tesseract would box them."""
    words = text.split()
    step = (x1 - x0) / max(1, len(words))
    return RawLine(
        (x0, y0, x1, y1),
        0.9,
        block,
        [RawWord(w, (round(x0 + i * step), y0, round(x0 + (i + 1) * step) - 5, y1), 0.9) for i, w in enumerate(words)],
    )


def texts(lines: list[RawLine]) -> list[str]:
    return [" ".join(w.text for w in ln.words) for ln in lines]


def two_columns(pitch_right: int = 30) -> list[RawLine]:
    """A title spanning both columns, then two columns of running text whose lines sit at the same
    heights (the hard case: every row of the page has a line in both columns)."""
    out = [line("A title over both columns of the page", 100, 20, 1100, 60, block=0)]
    for i in range(8):
        y = 100 + 30 * i
        out.append(line(f"left column sentence number {i} runs on", 100, y, 580, y + 20, block=1))
    for i in range(8):
        y = 100 + pitch_right * i
        out.append(line(f"right column sentence number {i} runs on", 620, y, 1100, y + 20, block=2))
    return out


def test_basic_keeps_aligned_text_columns_whole() -> None:
    got = texts(order_lines(two_columns(), "basic"))
    assert got[0].startswith("A title")
    assert [t.split()[0] for t in got[1:]] == ["left"] * 8 + ["right"] * 8
    assert got[1:9] == [f"left column sentence number {i} runs on" for i in range(8)]


def test_basic_reads_a_sidebar_of_short_lines_as_its_own_column() -> None:
    body = [
        line(f"body text line {i} with several words in it", 100, 100 + 40 * i, 700, 125 + 40 * i) for i in range(10)
    ]
    side = [line(f"Name {i}", 760, 110 + 33 * i, 900, 128 + 33 * i) for i in range(10)]
    got = texts(order_lines(body + side, "basic"))
    assert got == texts(body) + texts(side)


def test_basic_keeps_table_rows_together_left_to_right() -> None:
    table = []
    for r in range(6):
        y = 100 + 40 * r
        table += [
            line(f"Item {r}", 100, y, 300, y + 20, block=r),
            line(f"{r}.00", 600, y + 1, 700, y + 21, block=10 + r),
            line(f"{r * 3}", 900, y, 950, y + 20, block=20 + r),
        ]
    got = texts(order_lines(table, "basic"))
    assert got == [t for r in range(6) for t in (f"Item {r}", f"{r}.00", f"{r * 3}")]


def test_natural_keeps_tesseract_order() -> None:
    lines = two_columns()
    shuffled = lines[::-1]
    assert order_lines(shuffled, "natural") == shuffled


def test_sections_separated_by_a_wide_gap_are_read_one_after_the_other() -> None:
    """A 2x2 print: the top pair of pages is read (by columns) before the bottom pair."""
    top = two_columns()[1:]
    bottom = [
        RawLine(
            (ln.box[0], ln.box[1] + 600, ln.box[2], ln.box[3] + 600),
            ln.confidence,
            ln.block,
            [RawWord(w.text.replace("column", "page"), w.box, w.confidence) for w in ln.words],
        )
        for ln in top
    ]
    got = texts(order_lines(top + bottom, "basic"))
    assert got[:16] == texts(order_lines(top, "basic"))
    assert all("page" in t for t in got[16:])


def test_real_two_column_page_is_read_column_by_column() -> None:
    """multicol/report_two_column.jpg (a two-column report, with Tesseract): in ``basic`` order the
    ground-truth lines follow each other in the output, as in ``natural``."""
    from rapidfuzz import fuzz

    from ocrgw.jobs.pages import PageSelection
    from ocrgw.pipeline import rasterize
    from ocrgw.pipeline.engines.tesseract import TesseractEngine
    from ocrgw.pipeline.reader import read
    from ocrgw.settings import Settings

    image = "multicol/report_two_column.jpg"
    row = manifest_row(image)
    page = next(rasterize.iter_pages(doc(image), "image/jpeg", PageSelection(None), set(), Settings()))
    engine = TesseractEngine(TESSDATA, "eng")
    try:
        got = texts(read(page, engine, None, "basic").lines)
    finally:
        engine.close()
    positions = []
    for gt in row["text"].splitlines():
        if len(gt) >= 25:
            best = max(range(len(got)), key=lambda i: fuzz.ratio(gt, got[i]))
            if fuzz.ratio(gt, got[best]) > 80:
                positions.append(best)
    assert len(positions) > 40
    adjacent = sum(1 for a, b in itertools.pairwise(positions) if b == a + 1) / (len(positions) - 1)
    assert adjacent > 0.9


def test_lines_joined_across_a_gutter_are_split_into_their_columns() -> None:
    """Facing pages of a 4-up transcript set close together: Tesseract returns each row of both pages
    as one line. The words leave a gutter; both halves are full lines of running text, so each page is
    read whole, left then right."""
    joined = []
    for i in range(12):
        y = 100 + 40 * i
        left = [
            RawWord(t, (100 + 90 * k, y, 170 + 90 * k, y + 22), 0.9)
            for k, t in enumerate(f"left page line {i} has words".split())
        ]
        right = [
            RawWord(t, (700 + 90 * k, y, 770 + 90 * k, y + 22), 0.9)
            for k, t in enumerate(f"right page line {i} has words".split())
        ]
        joined.append(RawLine((100, y, 1220, y + 22), 0.9, 0, left + right))
    got = texts(order_lines(joined, "basic"))
    assert got == [f"left page line {i} has words" for i in range(12)] + [
        f"right page line {i} has words" for i in range(12)
    ]
    assert order_lines(joined, "natural") == joined  # natural keeps Tesseract's lines


def test_joined_table_rows_of_figures_stay_rows() -> None:
    """A table whose rows Tesseract read as single lines (label, then figures far to the right) keeps
    them: the figures are not running text."""
    rows_ = []
    for i in range(12):
        y = 100 + 40 * i
        words = [
            RawWord(t, (100 + 90 * k, y, 170 + 90 * k, y + 22), 0.9)
            for k, t in enumerate(f"Sector number {i} total".split())
        ]
        words += [
            RawWord(t, (700 + 90 * k, y, 770 + 90 * k, y + 22), 0.9)
            for k, t in enumerate(f"{i} 1,{i}91 {i}58 594".split())
        ]
        rows_.append(RawLine((100, y, 1040, y + 22), 0.9, 0, words))
    assert order_lines(rows_, "basic") == rows_


def test_noise_words_are_dropped_and_symbols_of_real_text_kept() -> None:
    """Rules and specks read as punctuation go; a label's colon, an ampersand, a price's $ and a
    confident dash stay; a line of nothing but a rule disappears, and a cell's box shrinks to its words."""
    cell = RawLine(
        (0, 0, 400, 20),
        0.9,
        0,
        [
            RawWord("|", (0, 0, 4, 20), 0.95),
            RawWord("Total", (20, 0, 90, 20), 0.9),
            RawWord(":", (95, 0, 100, 20), 0.9),
            RawWord("$", (110, 0, 120, 20), 0.8),
            RawWord("12.50", (125, 0, 190, 20), 0.9),
            RawWord("&", (200, 0, 210, 20), 0.9),
            RawWord("—", (220, 0, 260, 20), 0.9),
            RawWord("-", (270, 0, 280, 20), 0.3),
            RawWord("©", (300, 0, 320, 20), 0.6),
            RawWord("]", (390, 0, 400, 20), 0.4),
        ],
    )
    rule = RawLine((0, 40, 400, 44), 0.9, 0, [RawWord("_____", (0, 40, 400, 44), 0.9)])
    text = line("Next line of text", 0, 60, 400, 80)
    out = order_lines([cell, rule, text], "natural")
    assert texts(out) == ["Total : $ 12.50 &", "Next line of text"]
    assert out[0].box == (20, 0, 210, 20)
