"""structure.compose: a page read with layout (reader.read(layout=True)) on the order form of
test_docintel_layout (title, paragraph, ruled 4x3 table, two checkboxes): every line in exactly one
paragraph or one cell, a table's lines together and cell by cell, no line across two cells, the checkbox
outlines' junk words gone, each mark before its label."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest
from PIL import Image
from tests.dialects.azure.test_docintel_layout import ROWS, order_form

from ocrgw.jobs.schemas import JobSpec
from ocrgw.pipeline import reader
from ocrgw.pipeline.engines import Engines
from ocrgw.pipeline.engines.tesseract import OrientationDetector, RawLine, RawWord
from ocrgw.pipeline.rasterize import RasterPage
from ocrgw.pipeline.structure import compose
from ocrgw.pipeline.structure.tables import Cell, Table
from ocrgw.settings import Settings


@pytest.fixture(scope="module")
def read() -> reader.PageRead:
    settings = Settings()
    engines = Engines(settings.resolved_tessdata_dir, "default", settings.second_opinion_below)
    try:
        gray = np.asarray(Image.open(io.BytesIO(order_form())).convert("L"))
        engine, step, _ = engines.for_spec(JobSpec())
        osd = OrientationDetector(Settings().resolved_tessdata_dir)
        return reader.read(RasterPage(1, gray, 200), engine, osd, "basic", engine_step=step, layout=True)
    finally:
        engines.close()


def text(line: RawLine) -> str:
    return " ".join(w.text for w in line.words)


def test_every_line_is_in_one_paragraph_or_one_cell(read: reader.PageRead) -> None:
    layout = read.layout
    assert layout is not None and layout.lines is read.lines
    owners = [i for group, _ in layout.paragraphs for i in group]
    owners += [i for _, cells, _ in layout.tables for cell in cells for i in cell]
    assert sorted(owners) == list(range(len(read.lines)))


def test_table_lines_are_together_cell_by_cell(read: reader.PageRead) -> None:
    assert read.layout is not None
    ((table, cells, _),) = read.layout.tables
    assert (table.rows, table.cols) == (4, 3)
    ordered = [i for cell in cells for i in cell]
    assert ordered == list(range(ordered[0], ordered[0] + len(ordered)))  # contiguous, in cell order
    got = {
        (c.row, c.col): " ".join(text(read.lines[i]) for i in idx) for c, idx in zip(table.cells, cells, strict=True)
    }
    assert [[got[r, c] for c in range(3)] for r in range(4)] == [list(r) for r in ROWS]


def test_marks_come_before_their_labels_and_their_outlines_are_not_words(read: reader.PageRead) -> None:
    assert read.layout is not None
    marks = sorted(read.layout.marks, key=lambda mb: mb[0].box[1])
    assert [m.selected for m, _ in marks] == [True, False]
    assert [text(read.lines[before]) for _, before in marks] == ["Approved", "Urgent"]
    assert not any(w.text in ("☐", "☒", "O", "[]", "|", "□") for ln in read.lines for w in ln.words)


def test_a_line_across_cells_is_split_at_the_boundary() -> None:
    """Tesseract joined a row's two cells into one line: compose gives each cell its own piece."""
    cells = [Cell(0, 0, 1, 1, (0, 0, 100, 40)), Cell(0, 1, 1, 1, (100, 0, 200, 40))]
    table = Table((0, 0, 200, 40), 1, 2, cells)
    words = [RawWord("left", (10, 10, 60, 30), 0.9), RawWord("right", (110, 10, 170, 30), 0.8)]
    joined = RawLine((10, 10, 170, 30), 0.85, 3, words, style="other", style_confidence=0.9)
    before = RawLine((10, -50, 100, -30), 0.9, 1, [RawWord("Heading", (10, -50, 100, -30), 0.9)])
    lines, cell_lines = compose._split_into_cells([before, joined], [table])
    assert [text(ln) for ln in lines] == ["Heading", "left", "right"]
    assert cell_lines == [[[1], [2]]]
    assert lines[2].box == (110, 10, 170, 30) and lines[2].style == "other" and lines[2].block == 3


def test_without_the_table_models_layout_still_gives_paragraphs_and_says_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`pip install ocrgw` alone lacks the table models' wheels (installed --no-deps by dev.sh and the
    Dockerfile): a layout job then reads paragraphs and checkboxes, and its step names the package."""
    from ocrgw.pipeline.structure import tables

    monkeypatch.setitem(sys.modules, "rapid_table", None)  # as if not installed: import raises
    monkeypatch.setitem(sys.modules, "rapid_layout", None)
    monkeypatch.setattr(tables, "_default", tables.TableFinder())  # a finder whose models are not loaded yet
    settings = Settings()
    engines = Engines(settings.resolved_tessdata_dir, "default", settings.second_opinion_below)
    try:
        gray = np.asarray(Image.open(io.BytesIO(order_form())).convert("L"))
        engine, step, _ = engines.for_spec(JobSpec())
        got = reader.read(RasterPage(1, gray, 200), engine, None, "basic", engine_step=step, layout=True)
    finally:
        engines.close()
    assert got.layout is not None and got.layout.tables == [] and got.layout.paragraphs
    (layout_step,) = [s for s in got.steps if s["step"] == "layout"]
    assert layout_step["tables"].startswith("skipped: rapid_") and layout_step["tables"].endswith("is not installed")
