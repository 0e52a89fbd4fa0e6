"""Worker side, after a page is read and ordered (``reader.read``), for jobs that asked for layout: the
page's structure from its three finders (``marks``: checkboxes, ``tables``: table grids, ``paragraphs``:
paragraphs and their roles), put together so every line is in exactly one paragraph or one table cell.

A line Tesseract read across a table's cells (it joins a row's cells when they sit close) is split at the
cell boundaries, and a table's lines are moved together, cell by cell, to where the table starts in the
reading order: the renderers then write each table as one block, as Document Intelligence does. The
words an engine read from a checkbox's outline (`☐`, `[]`, `O`) are dropped where a mark is found."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from ocrgw.pipeline.engines.tesseract import RawLine, RawWord
from ocrgw.pipeline.structure.marks import Mark, drop_covered, find_marks
from ocrgw.pipeline.structure.paragraphs import find_paragraphs
from ocrgw.pipeline.structure.tables import Table, find_tables

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
    bottom within a cell), take the place of the table's first line. Returns the new lines and, per table
    and cell, the indices of its lines."""
    if not tables:
        return lines, []
    pieces: dict[tuple[int, int], list[tuple[RawWord, RawLine]]] = {}
    first: dict[int, int] = {}  # table -> position of its first line in the old order
    keep: list[tuple[int, RawLine | None, int]] = []  # (old position, a line outside tables | None, table)
    for pos, line in enumerate(lines):
        outside: list[RawWord] = []
        for word in line.words:
            where = _cell_of(word.box, tables)
            if where is None:
                outside.append(word)
            else:
                pieces.setdefault(where, []).append((word, line))
                first.setdefault(where[0], pos)
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
        for c in range(len(tables[t].cells)):
            for piece in _cell_lines(pieces.get((t, c), [])):
                cell_lines[t][c].append(len(out))
                out.append(piece)
    return out, cell_lines


def _cell_of(box: Box, tables: list[Table]) -> tuple[int, int] | None:
    for t, table in enumerate(tables):
        if not _inside(box, table.box):
            continue
        for c, cell in enumerate(table.cells):
            if _inside(box, cell.box):
                return t, c
    return None


def _cell_lines(words: list[tuple[RawWord, RawLine]]) -> list[RawLine]:
    """A cell's words as lines: grouped by vertical overlap, each left to right, top to bottom; a piece
    keeps the block, style and language of the line its first word came from."""
    rows: list[list[tuple[RawWord, RawLine]]] = []
    for word, line in sorted(words, key=lambda wl: (wl[0].box[1] + wl[0].box[3]) / 2):
        y = (word.box[1] + word.box[3]) / 2
        if rows and rows[-1][-1][0].box[1] <= y <= max(w.box[3] for w, _ in rows[-1]):
            rows[-1].append((word, line))
        else:
            rows.append([(word, line)])
    out = []
    for row in rows:
        row.sort(key=lambda wl: wl[0].box[0])
        ws = [w for w, _ in row]
        source = row[0][1]
        box = (
            min(w.box[0] for w in ws),
            min(w.box[1] for w in ws),
            max(w.box[2] for w in ws),
            max(w.box[3] for w in ws),
        )
        chars = sum(len(w.text) for w in ws) or 1
        conf = sum(len(w.text) * w.confidence for w in ws) / chars
        out.append(
            RawLine(
                box, conf, source.block, ws, source.vertical, source.style, source.style_confidence, source.language
            )
        )
    return out


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
