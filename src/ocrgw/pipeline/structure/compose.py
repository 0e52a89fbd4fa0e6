"""Worker side, after a page is read and ordered (``reader.read``), for jobs that asked for layout: the
page's structure from its four finders (``marks``: checkboxes, ``tables``: table grids, ``figures``: charts,
pictures and their captions, ``paragraphs``: paragraphs and their roles), put together so every line is in
exactly one paragraph or one table cell (a figure's text and caption are paragraphs of their own).

A line Tesseract read across a table's cells (it joins a row's cells when they sit close) is split at the
cell boundaries, and a table's lines are moved together, cell by cell, to where the table starts in the
reading order: the renderers then write each table as one block, as Document Intelligence does. A figure's
lines (its caption first, then the lines whose centre lies in it) are moved together the same way, to where
its first line was. A table lying in a figure is the figure's text (the table finder reads the grids of bar
charts and screenshots as tables). The words an engine read from a checkbox's outline (`☐`, `[]`, `O`) are
dropped where a mark is found."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

import numpy as np

from ocrgw.pipeline.engines.tesseract import RawLine, RawWord
from ocrgw.pipeline.structure.figures import Figure, find_figures
from ocrgw.pipeline.structure.marks import Mark, drop_covered, find_marks
from ocrgw.pipeline.structure.paragraphs import find_paragraphs
from ocrgw.pipeline.structure.tables import Table, assign_words, find_tables, layout_model

Box = tuple[int, int, int, int]
log = logging.getLogger(__name__)
# A table that lies this much inside a figure is the figure's text; a figure this much inside a table is
# the table's (a logo in a cell).
SAME_REGION = 0.5


@dataclass(slots=True)
class RawFigure:
    """A figure as laid out: its box (without the caption), its paragraphs (indices into
    ``RawLayout.paragraphs``, in order), its caption's paragraph, and the line it precedes in reading order
    (its first line's index, or for a figure without text the first line after it)."""

    box: Box
    paragraphs: list[int]
    caption: int | None
    before: int


@dataclass(slots=True)
class RawLayout:
    """A page's structure in the engine image's pixels; indices are into ``lines``, which replace the
    page's lines (split at cells, tables moved together)."""

    lines: list[RawLine]
    paragraphs: list[tuple[list[int], str | None]] = field(default_factory=list)
    tables: list[tuple[Table, list[list[int]], list[list[int]]]] = field(default_factory=list)  # cells' lines, marks
    marks: list[tuple[Mark, int]] = field(default_factory=list)  # the mark, the line it comes before
    missing: str | None = None  # a model package that is not installed (its part of the layout was skipped)
    figures: list[RawFigure] = field(default_factory=list)


def analyse(image: np.ndarray, lines: list[RawLine]) -> RawLayout:
    """The structure of a page read into ``lines`` (in reading order) from its engine image."""
    marks = find_marks(image, lines)
    lines = drop_covered(lines, marks)
    missing = None
    try:
        tables = find_tables(image, lines)
        figures = find_figures(image, lines, layout_model().regions(image))
    except ModuleNotFoundError as exc:  # `pip install ocrgw` alone: the table models' wheels go --no-deps
        log.warning("tables skipped: %s is not installed (see docs/layout.md, the packages)", exc.name)
        tables, figures, missing = [], [], exc.name
    tables = [t for t in tables if not any(_inside_share(t.box, f.box) >= SAME_REGION for f in figures)]
    figures = [f for f in figures if not any(_inside_share(f.box, t.box) >= SAME_REGION for t in tables)]
    for table in tables:
        table.cells.sort(key=lambda c: (c.row, c.col))  # the renderers write cells row by row
    lines, cell_lines = _split_into_cells(lines, tables)
    in_table = {i for cells in cell_lines for cell in cells for i in cell}
    captions, contents = _figure_lines(figures, lines, in_table)
    lines, moved = _gather_figures(lines, captions, contents)
    cell_lines = [[[moved[i] for i in cell] for cell in cells] for cells in cell_lines]
    captions = [[moved[i] for i in group] for group in captions]
    contents = [[moved[i] for i in group] for group in contents]
    in_figure = {i for group in (*captions, *contents) for i in group}
    free = [i for i in range(len(lines)) if i not in in_table and i not in in_figure]
    found = find_paragraphs(image, [lines[i] for i in free]) if free else []
    paragraphs = [([free[j] for j in p.lines], p.role) for p in found]
    covered = {i for group, _ in paragraphs for i in group}
    paragraphs += [([i], None) for i in free if i not in covered]  # every line is somewhere
    owner: dict[int, tuple[int, str]] = {}  # a figure paragraph's first line -> (figure, "caption" | "content")
    for k, (caption, content) in enumerate(zip(captions, contents, strict=True)):
        if caption:
            paragraphs.append((caption, None))
            owner[caption[0]] = (k, "caption")
        for group in _figure_paragraphs(image, lines, content):
            paragraphs.append((group, None))
            owner[group[0]] = (k, "content")
    paragraphs.sort(key=lambda p: min(p[0]))
    raw_figures = [RawFigure(f.box, [], None, 0) for f in figures]
    for n, (group, _) in enumerate(paragraphs):
        if group[0] in owner:
            k, part = owner[group[0]]
            if part == "caption":
                raw_figures[k].caption = n
            else:
                raw_figures[k].paragraphs.append(n)
    for fig, caption, content in zip(raw_figures, captions, contents, strict=True):
        fig.before = min(caption + content) if caption or content else _before(fig.box, lines)
    # in reading order, where the renderers put them: a figure's id ("{page}.{n}") counts in this order
    raw_figures.sort(key=lambda f: f.before - (0 if f.paragraphs or f.caption is not None else 0.5))
    before = [_before(m.box, lines) for m in marks]
    cell_marks = [[[k for k, m in enumerate(marks) if _inside(m.box, c.box)] for c in t.cells] for t in tables]
    return RawLayout(
        lines,
        paragraphs,
        [(t, cl, cm) for t, cl, cm in zip(tables, cell_lines, cell_marks, strict=True)],
        [(m, b) for m, b in zip(marks, before, strict=True)],
        missing,
        raw_figures,
    )


def _figure_lines(
    figures: list[Figure], lines: list[RawLine], in_table: set[int]
) -> tuple[list[list[int]], list[list[int]]]:
    """Per figure, its caption's lines (those in its caption region, or the caption line and the lines
    that continue it) and its own (those whose centre lies in it), in reading order; a line goes to the
    first figure that claims it, a caption before a figure's content."""
    taken = set(in_table)
    captions: list[list[int]] = []
    for fig in figures:
        group: list[int] = []
        if fig.caption_box is not None:
            group = [
                i for i, ln in enumerate(lines) if i not in taken and ln.words and _inside(ln.box, fig.caption_box)
            ]
        elif fig.caption_line is not None:  # the same line object unless a table took some of its words
            first = next((i for i, ln in enumerate(lines) if ln is fig.caption_line), None)
            group = _continued(first, lines, taken) if first is not None else []
        taken.update(group)
        captions.append(group)
    contents: list[list[int]] = []
    for fig in figures:
        group = [i for i, ln in enumerate(lines) if i not in taken and ln.words and _inside(ln.box, fig.box)]
        taken.update(group)
        contents.append(group)
    return captions, contents


def _continued(first: int, lines: list[RawLine], taken: set[int]) -> list[int]:
    """A caption line and the lines that continue it: each next line in reading order that starts within
    a line's height below the last, overlapping it sideways (at most 4 lines in all)."""
    if first in taken:
        return []
    group = [first]
    for i in range(first + 1, min(len(lines), first + 4)):
        last, line = lines[group[-1]].box, lines[i].box
        height = last[3] - last[1]
        if i in taken or not lines[i].words or not 0 <= line[1] - last[3] <= height:
            break
        if min(last[2], line[2]) - max(last[0], line[0]) <= 0:
            break
        group.append(i)
    return group


def _gather_figures(
    lines: list[RawLine], captions: list[list[int]], contents: list[list[int]]
) -> tuple[list[RawLine], list[int]]:
    """Lines reordered so each figure's caption and lines follow each other where its first line was;
    returns the new lines and, for each old index, the new one."""
    members: dict[int, int] = {}
    for k, (caption, content) in enumerate(zip(captions, contents, strict=True)):
        for i in caption + content:
            members[i] = k
    order: list[int] = []
    placed: set[int] = set()
    for i in range(len(lines)):
        owner = members.get(i)
        if owner is None:
            order.append(i)
        elif owner not in placed:
            placed.add(owner)
            order += captions[owner] + contents[owner]
    moved = [0] * len(lines)
    for new, old in enumerate(order):
        moved[old] = new
    return [lines[i] for i in order], moved


def _figure_paragraphs(image: np.ndarray, lines: list[RawLine], group: list[int]) -> list[list[int]]:
    """A figure's lines as paragraphs (as the body's are grouped; no roles: a chart's labels are neither
    titles nor headings), every line in one."""
    if not group:
        return []
    found = find_paragraphs(image, [lines[i] for i in group])
    out = [[group[j] for j in p.lines] for p in found]
    covered = {i for g in out for i in g}
    out += [[i] for i in group if i not in covered]
    return sorted(out, key=min)


def _inside_share(a: Box, b: Box) -> float:
    """Share of ``a`` that lies inside ``b``."""
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    return ix * iy / max(1, (a[2] - a[0]) * (a[3] - a[1]))


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
