"""Worker side, after a page is read and ordered (``reader.read``), for jobs that asked for layout: the
page's structure from its three finders (``marks``: checkboxes, ``tables``: table grids, ``paragraphs``:
paragraphs and their roles), put together so every line is in exactly one paragraph or one table cell.

A line Tesseract read across a table's cells (it joins a row's cells when they sit close) is split at the
cell boundaries, and a table's lines are moved together, cell by cell, to where the table starts in the
reading order: the renderers then write each table as one block, as Document Intelligence does. The
words an engine read from a checkbox's outline (`☐`, `[]`, `O`) are dropped where a mark is found."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

import numpy as np

from ocrgw.pipeline.engines.tesseract import RawLine, RawWord
from ocrgw.pipeline.structure.marks import Mark, drop_covered, find_marks
from ocrgw.pipeline.structure.paragraphs import find_paragraphs
from ocrgw.pipeline.structure.tables import Table, assign_words, find_tables

Box = tuple[int, int, int, int]
log = logging.getLogger(__name__)


@dataclass(slots=True)
class RawLayout:
    """A page's structure in the engine image's pixels; indices are into ``lines``, which replace the
    page's lines (split at cells, tables moved together)."""

    lines: list[RawLine]
    paragraphs: list[tuple[list[int], str | None]] = field(default_factory=list)
    tables: list[tuple[Table, list[list[int]], list[list[int]]]] = field(default_factory=list)  # cells' lines, marks
    marks: list[tuple[Mark, int]] = field(default_factory=list)  # the mark, the line it comes before
    missing: str | None = None  # a model package that is not installed (its part of the layout was skipped)


def analyse(image: np.ndarray, lines: list[RawLine]) -> RawLayout:
    """The structure of a page read into ``lines`` (in reading order) from its engine image."""
    marks = find_marks(image, lines)
    lines = drop_covered(lines, marks)
    missing = None
    try:
        tables = find_tables(image, lines)
    except ModuleNotFoundError as exc:  # `pip install ocrgw` alone: the table models' wheels go --no-deps
        log.warning("tables skipped: %s is not installed (see docs/layout.md, the packages)", exc.name)
        tables, missing = [], exc.name
    for table in tables:
        table.cells.sort(key=lambda c: (c.row, c.col))  # the renderers write cells row by row
    lines, cell_lines = _split_into_cells(lines, tables)
    in_table = {i for cells in cell_lines for cell in cells for i in cell}
    free = [i for i in range(len(lines)) if i not in in_table]
    found = find_paragraphs(image, [lines[i] for i in free]) if free else []
    paragraphs = [([free[j] for j in p.lines], p.role) for p in found]
    covered = {i for group, _ in paragraphs for i in group}
    paragraphs += [([i], None) for i in free if i not in covered]  # every line is somewhere
    paragraphs.sort(key=lambda p: min(p[0]))
    before = [_before(m.box, lines) for m in marks]
    cell_marks = [[[k for k, m in enumerate(marks) if _inside(m.box, c.box)] for c in t.cells] for t in tables]
    return RawLayout(
        lines,
        paragraphs,
        [(t, cl, cm) for t, cl, cm in zip(tables, cell_lines, cell_marks, strict=True)],
        [(m, b) for m, b in zip(marks, before, strict=True)],
        missing,
    )


def _center(box: Box) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def _inside(box: Box, outer: Box) -> bool:
    x, y = _center(box)
    return outer[0] <= x <= outer[2] and outer[1] <= y <= outer[3]


def _split_into_cells(lines: list[RawLine], tables: list[Table]) -> tuple[list[RawLine], list[list[list[int]]]]:
    """Lines split at cell boundaries and reordered: each table's pieces, cell by cell (row by row, top to
    bottom within a cell), take the place of the table's first line. Words go to cells as
    ``tables.assign_words`` puts them (a word in two overlapping tables goes to the first). Returns the
    new lines and, per table and cell, the indices of its lines."""
    if not tables:
        return lines, []
    placed: dict[int, int] = {}  # id(word) -> its table
    cell_words: list[list[list[RawWord]]] = []
    for t, table in enumerate(tables):
        assigned = assign_words(table, lines)
        cell_words.append(
            [[w for w in assigned[(c.row, c.col)] if placed.setdefault(id(w), t) == t] for c in table.cells]
        )
    source = {id(w): line for line in lines for w in line.words}
    first: dict[int, int] = {}  # table -> position of its first line in the old order
    keep: list[tuple[int, RawLine | None, int]] = []  # (old position, a line outside tables | None, table)
    for pos, line in enumerate(lines):
        outside = [w for w in line.words if id(w) not in placed]
        for w in line.words:
            if id(w) in placed:
                first.setdefault(placed[id(w)], pos)
        if outside or not line.words:
            keep.append((pos, line if len(outside) == len(line.words) else line.with_words(outside), -1))
    keep += [(pos, None, t) for t, pos in first.items()]
    keep.sort(key=lambda k: (k[0], k[2] >= 0))
    out: list[RawLine] = []
    cell_lines: list[list[list[int]]] = [[[] for _ in t.cells] for t in tables]
    for _, kept, t in keep:
        if kept is not None:
            out.append(kept)
            continue
        for c, words in enumerate(cell_words[t]):
            for row in _rows(words):
                cell_lines[t][c].append(len(out))
                piece = source[id(row[0])].with_words(row)  # keeps its block, style and language
                chars = sum(len(w.text) for w in row) or 1
                out.append(replace(piece, confidence=sum(len(w.text) * w.confidence for w in row) / chars))
    return out, cell_lines


def _rows(words: list[RawWord]) -> list[list[RawWord]]:
    """Words in ``tables.reading_order`` (text rows top down, each left to right) cut into their rows:
    a row ends where the next word starts left of the one before."""
    rows: list[list[RawWord]] = []
    for word in words:
        if rows and word.box[0] >= rows[-1][-1].box[0]:
            rows[-1].append(word)
        else:
            rows.append([word])
    return rows


def _before(box: Box, lines: list[RawLine]) -> int:
    """The index of the line a mark precedes in reading order: the first line on its row to its right
    (a checkbox before its label), else the first line below it; ``len(lines)`` after the last."""
    x, y = _center(box)
    for i, line in enumerate(lines):
        if line.box[1] <= y <= line.box[3] and line.box[0] >= x:
            return i
    for i, line in enumerate(lines):
        if line.box[1] > y:
            return i
    return len(lines)
