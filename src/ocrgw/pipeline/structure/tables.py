"""Worker side, after a page is read: the page's tables as grids of cells (row, column, spans, header
kind, box in the engine image's pixels), for the Document Intelligence ``prebuilt-layout`` tables.
``find_tables`` takes the grey engine image and the page's lines; ``assign_words`` puts the words in
the cells.

How a page is read (docs/layout.md has the measurements behind each choice): ruling lines with OpenCV
(tens of ms) and runs of text rows whose phrases line up in columns give the regions the rules can see;
the layout model (about 0.25 s) adds its table regions on pages where the rules saw a table or a few
rows break into columns, so a page of running text costs the rules alone. Every region's grid comes
from the structure model, SLANet-plus: it beat the rules' grids even on fully ruled tables. A table too
long for the model's 500 tokens is read in bands and stacked; row borders that cut through a line of
text are moved to the gap beside it; a header row the layout model left just above its box is taken in.
Header rows are the model's ``<thead>``, or else the top rows above the first row holding figures."""

from __future__ import annotations

import itertools
import re
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ocrgw.pipeline.engines.tesseract import RawLine, RawWord
from ocrgw.pipeline.structure import rules
from ocrgw.pipeline.structure.rules import Box, Grid

if TYPE_CHECKING:
    from ocrgw.pipeline.structure.models import LayoutModel, StructureModel

# A region (from the model or the rules) must hold at least this many words to be a table.
MIN_WORDS = 4
# Structure-model input is cropped with this margin (its training crops are tight, but a little white
# keeps the outer cells' text whole).
CROP_MARGIN = 4
# The layout model runs on a page (with ``gate``) when the rules found a table region or this many text
# rows break into 3 or more phrases at wide gaps.
GATE_ROWS = 4
# Two regions are one table when the smaller lies this much inside the larger.
SAME_REGION = 0.5
# SLANet-plus writes at most this many structure tokens; a table that needs more comes back cut short
# (its last rows missing), and is read again as an upper and a lower band (``TableFinder._grid``).
SLANET_MAX_TOKENS = 500
# A band is cut at most this many times over (a region read as up to 2**BAND_DEPTH bands).
BAND_DEPTH = 3
# ``snap_rows`` moves a row border at most this many text heights.
SNAP_REACH = 0.5
# ``row_above``: the text row above a table joins it when it lies within this many text heights.
HEADER_GAP = 2.0
# ``split_rows`` splits rows only in tables where at least this share of the filled body rows hold one
# line in every cell (where most rows wrap, a row of two lines in every cell is the table's habit).
SPLIT_SINGLE = 0.5
# A figure: a cell's text that is mostly digits, signs and currency (what body rows hold and headers do not).
_FIGURE = re.compile(r"^[\s\d.,:%()+\-−–$€£¥/*]+$")
_YEAR = re.compile(r"^(19|20)\d\d$")


@dataclass(slots=True)
class Cell:
    row: int
    col: int
    row_span: int
    col_span: int
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in the engine image's pixels
    kind: str = "content"  # "content" | "columnHeader" | "rowHeader" | "stubHead"


@dataclass(slots=True)
class Table:
    box: tuple[int, int, int, int]
    rows: int
    cols: int
    cells: list[Cell] = field(default_factory=list)  # every grid position covered exactly once


# ------------------------------------------------------------------------------------ the finder
class TableFinder:
    """Finds tables on a page.

    ``regions``: where tables are looked for ("rules" = ruled regions only, "layout" = the layout
    model's, "both"). ``structure``: how a region's grid is read ("rules", "model", or "hybrid" = rules
    for full grids, the model for the rest). ``aligned``: also look for tables without rules as runs of
    text rows whose phrases line up in columns (``rules.aligned_regions``). ``gate``: run the layout
    model only on pages where the rules saw a table or at least GATE_ROWS text rows break into three or
    more phrases at wide gaps (most pages have no table: they then cost the rules alone). The bench
    builds one per design; the workers use ``find_tables``, the measured winner (the defaults)."""

    def __init__(
        self, regions: str = "both", structure: str = "model", aligned: bool = True, gate: bool = True
    ) -> None:
        self.regions, self.structure, self.aligned, self.gate = regions, structure, aligned, gate
        self.gate_rows = GATE_ROWS
        self._layout: LayoutModel | None = None
        self._model: StructureModel | None = None
        self._lock = threading.Lock()

    @property
    def layout(self) -> LayoutModel:
        with self._lock:
            if self._layout is None:
                from ocrgw.pipeline.structure.models import LayoutModel

                self._layout = LayoutModel()
            return self._layout

    @property
    def model(self) -> StructureModel:
        with self._lock:
            if self._model is None:
                from ocrgw.pipeline.structure.models import StructureModel

                self._model = StructureModel()
            return self._model

    def warm(self) -> None:
        """Load the models now (a worker does before its first job)."""
        if self.regions != "rules":
            _ = self.layout
        if self.structure != "rules":
            _ = self.model

    def find(self, image: np.ndarray, lines: list[RawLine]) -> list[Table]:
        words = rules.words_of(lines)
        if len(words) < MIN_WORDS:
            return []
        ruled = rules.find_rules(image)
        tables = []
        for box, kind in self.regions_of(image, words, ruled):
            inside = [w for w in words if rules._centre_in(w.box, box)]
            if len(inside) < MIN_WORDS or (kind == "grid" and rules.boxed_prose(ruled, box, inside)):
                continue
            table = self.read_region(image, box, inside, ruled, kind)
            if table is not None and (table.rows > 1 or table.cols > 1):
                tables.append(table)
        for i, table in enumerate(tables):  # words of another table are not this one's header
            others = [t.box for k, t in enumerate(tables) if k != i]
            tables[i] = row_above(table, [w for w in words if not any(rules._centre_in(w.box, b) for b in others)])
        return sorted(tables, key=lambda t: (t.box[1], t.box[0]))

    def regions_of(self, image: np.ndarray, words: list[RawWord], ruled: rules.Rules) -> list[tuple[Box, str]]:
        """Table regions as (box, "grid" | "rows" | "open"). Ruled and layout-model regions that overlap
        keep the larger (the model often boxes a whole table whose rules cover only part of it, and
        boxes its lower half again); aligned runs of text rows fill in where neither found one."""
        found: list[tuple[Box, str]] = []
        if self.regions in ("rules", "both"):
            found += [(box, "grid" if grid else "rows") for box, grid in ruled.regions]
        aligned = rules.aligned_regions(words, [b for b, _ in found]) if self.aligned else []
        look = self.regions == "layout" or (self.regions == "both" and (not self.gate or found or aligned))
        if look or (self.regions == "both" and rules.tabular_rows(words) >= self.gate_rows):
            found += [(_fit_words(box, words), "open") for box in self.layout.tables(image)]
        h, w = image.shape[:2]
        kept: list[tuple[Box, str]] = []
        for box, kind in sorted(_clipped(found, w, h), key=lambda r: -_area(r[0])):
            if not any(_inside_share(box, other) >= SAME_REGION for other, _ in kept):
                kept.append((box, kind))
        for box, _ in _clipped([(b, "open") for b in aligned], w, h):
            if not any(_inside_share(box, other) >= SAME_REGION for other, _ in kept):
                kept.append((box, "open"))
        return kept

    def read_region(
        self, image: np.ndarray, box: Box, words: list[RawWord], ruled: rules.Rules | None = None, kind: str = "open"
    ) -> Table | None:
        """One region's table. The bench calls this on table crops (the whole image as ``box``)."""
        if ruled is None:
            ruled = rules.find_rules(image)
        use_rules = self.structure == "rules" or (self.structure == "hybrid" and kind == "grid")
        if not use_rules:
            return self._from_model(image, box, words)
        grid = None
        if kind == "grid" or (kind == "open" and _has_grid(ruled, box)):
            grid = rules.grid_from_rules(ruled, box, words)
        if grid is None:
            grid = rules.grid_from_words(box, words)
        if grid is None:
            return None
        return to_table(box, grid, header_rows(grid, words))

    def _from_model(self, image: np.ndarray, box: Box, words: list[RawWord]) -> Table | None:
        got = self._grid(image, box, words, 0)
        if got is None:
            return None
        grid, heads = got
        grid = snap_rows(grid, words)
        heads = heads or header_rows(grid, words)
        grid = split_rows(grid, words, heads)
        return to_table(box, grid, heads)

    def _grid(self, image: np.ndarray, box: Box, words: list[RawWord], depth: int) -> tuple[Grid, int] | None:
        """The structure model's grid of a region and its number of header rows. A region whose reading
        ran out of tokens is read again as two bands, cut at the widest gap between text rows in its
        middle third, and the two grids are stacked (``stack``); the header is the upper band's."""
        h, w = image.shape[:2]
        x0, y0 = max(0, box[0] - CROP_MARGIN), max(0, box[1] - CROP_MARGIN)
        x1, y1 = min(w, box[2] + CROP_MARGIN), min(h, box[3] + CROP_MARGIN)
        if x1 - x0 < 8 or y1 - y0 < 8:  # nothing to look at (a box outside the image)
            return None
        tokens, boxes = self.model(image[y0:y1, x0:x1])
        parsed = parse_tokens(tokens)
        if parsed is None:
            return None
        cut = band_cut(box, words) if len(tokens) >= SLANET_MAX_TOKENS and depth < BAND_DEPTH else None
        if cut is not None:
            upper, lower = (box[0], box[1], box[2], cut), (box[0], cut, box[2], box[3])
            top = self._grid(image, upper, [w for w in words if rules._centre_in(w.box, upper)], depth + 1)
            bottom = self._grid(image, lower, [w for w in words if rules._centre_in(w.box, lower)], depth + 1)
            if top is not None and bottom is not None:
                return stack(top[0], bottom[0]), top[1]
        cells, heads = parsed
        boxes = boxes + np.array([x0, y0, x0, y0])
        return grid_from_boxes(box, cells, boxes), heads


def _clipped(regions: list[tuple[Box, str]], w: int, h: int) -> list[tuple[Box, str]]:
    """Regions cut to the image; those left empty dropped."""
    out = []
    for (x0, y0, x1, y1), kind in regions:
        box = (max(0, x0), max(0, y0), min(w, x1), min(h, y1))
        if box[2] > box[0] and box[3] > box[1]:
            out.append((box, kind))
    return out


def _area(b: Box) -> int:
    return (b[2] - b[0]) * (b[3] - b[1])


def _inside_share(a: Box, b: Box) -> float:
    """Share of the smaller box that lies inside the other."""
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    small = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return ix * iy / max(1, small)


def _fit_words(box: Box, words: list[RawWord]) -> Box:
    """A model's region grown to take in whole the words whose centres it holds (its edges may cut them)."""
    inside = [w.box for w in words if rules._centre_in(w.box, box)]
    if not inside:
        return box
    return (
        min(box[0], min(b[0] for b in inside)),
        min(box[1], min(b[1] for b in inside)),
        max(box[2], max(b[2] for b in inside)),
        max(box[3], max(b[3] for b in inside)),
    )


def _has_grid(ruled: rules.Rules, box: Box) -> bool:
    return any(grid and _inside_share(box, other) >= SAME_REGION for other, grid in ruled.regions)


_default = TableFinder()


def find_tables(image: np.ndarray, lines: list[RawLine]) -> list[Table]:
    """The page's tables, top to bottom. ``image`` is the grey engine image the lines' boxes are in."""
    return _default.find(image, lines)


def warm() -> None:
    _default.warm()


def layout_model() -> LayoutModel:
    """The workers' layout model, shared with the figure finder so a page runs it once (its last page's
    regions are cached)."""
    return _default.layout


# ----------------------------------------------------------------------------- grid -> table
def to_table(box: Box, grid: Grid, heads: int) -> Table:
    """Cells with boxes from the grid's borders; every grid position covered once (gaps get empty 1x1
    cells, overlaps keep the first cell); the top ``heads`` rows are column headers."""
    nr, nc = len(grid.ys) - 1, len(grid.xs) - 1
    taken = np.zeros((nr, nc), dtype=bool)
    cells: list[Cell] = []
    for r, c, rs, cs in sorted(grid.cells):
        rs, cs = min(rs, nr - r), min(cs, nc - c)
        if r >= nr or c >= nc or rs < 1 or cs < 1 or taken[r : r + rs, c : c + cs].any():
            continue
        taken[r : r + rs, c : c + cs] = True
        cells.append(Cell(r, c, rs, cs, (grid.xs[c], grid.ys[r], grid.xs[c + cs], grid.ys[r + rs])))
    for r, c in zip(*np.nonzero(~taken), strict=False):
        cells.append(Cell(int(r), int(c), 1, 1, (grid.xs[c], grid.ys[r], grid.xs[c + 1], grid.ys[r + 1])))
    for cell in cells:
        if cell.row + cell.row_span <= heads:
            cell.kind = "columnHeader"
    cells.sort(key=lambda c: (c.row, c.col))
    return Table(box, nr, nc, cells)


def parse_tokens(tokens: list[str]) -> tuple[list[tuple[int, int, int, int]], int] | None:
    """SLANet's HTML tokens -> cells as (row, col, row_span, col_span) in ``<td>`` order, and the number
    of rows inside ``<thead>``."""
    cells: list[tuple[int, int, int, int]] = []
    occupied: set[tuple[int, int]] = set()
    row, heads, in_head = -1, 0, False
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok == "<thead>":
            in_head = True
        elif tok == "</thead>":
            in_head = False
        elif tok == "<tr>":
            row += 1
            heads += in_head
        elif tok in ("<td></td>", "<td>", "<td") and row >= 0:
            rs = cs = 1
            if tok == "<td":
                while i + 1 < len(tokens) and tokens[i + 1] not in (">", "</td>"):
                    i += 1
                    m = re.search(r'(rowspan|colspan)="?(\d+)', tokens[i])
                    if m and m.group(1) == "rowspan":
                        rs = max(1, int(m.group(2)))
                    elif m:
                        cs = max(1, int(m.group(2)))
            col = 0
            while (row, col) in occupied:
                col += 1
            cells.append((row, col, rs, cs))
            occupied |= {(row + a, col + b) for a in range(rs) for b in range(cs)}
        i += 1
    return (cells, heads) if cells else None


def grid_from_boxes(box: Box, cells: list[tuple[int, int, int, int]], boxes: np.ndarray) -> Grid:
    """Row and column borders from the model's cell boxes: between one row's lowest text and the next
    row's highest (medians over the cells that start or end there), so the cells tile the table."""
    nr = max(r + rs for r, _, rs, _ in cells)
    nc = max(c + cs for _, c, _, cs in cells)
    return Grid(_borders(box[1], box[3], nr, cells, boxes, 1), _borders(box[0], box[2], nc, cells, boxes, 0), cells)


def _borders(
    lo: int, hi: int, n: int, cells: list[tuple[int, int, int, int]], boxes: np.ndarray, axis: int
) -> list[int]:
    starts: list[list[float]] = [[] for _ in range(n)]
    ends: list[list[float]] = [[] for _ in range(n)]
    for k, cell in enumerate(cells[: len(boxes)]):
        first = cell[0] if axis == 1 else cell[1]
        last = first + (cell[2] if axis == 1 else cell[3]) - 1
        b = boxes[k]
        if b[2 + axis] - b[axis] <= 1:
            continue
        starts[first].append(float(b[axis]))
        ends[last].append(float(b[2 + axis]))
    out = [lo]
    for i in range(1, n):
        before = float(np.median(ends[i - 1])) if ends[i - 1] else None
        after = float(np.median(starts[i])) if starts[i] else None
        at: float = lo + (hi - lo) * i / n  # no box ends or starts here: an even share
        if before is not None and after is not None:
            at = (before + after) / 2
        elif before is not None:
            at = before
        elif after is not None:
            at = after
        out.append(round(min(max(at, out[-1] + 1), hi - (n - i))))
    out.append(hi)
    return out


def band_cut(box: Box, words: list[RawWord]) -> int | None:
    """Where to cut a region into an upper and a lower band: the middle of the widest gap between two
    text rows in the region's middle third (the nearest the middle among equals), so a cut falls
    between row groups rather than between two lines of one cell. None without such a gap."""
    bands, _ = rules.text_rows(words)
    mid, third = (box[1] + box[3]) / 2, (box[3] - box[1]) / 3
    gaps = [(b[0] - a[1], (a[1] + b[0]) / 2) for a, b in itertools.pairwise(bands)]
    gaps = [g for g in gaps if abs(g[1] - mid) <= third / 2]
    if not gaps:
        return None
    return round(max(gaps, key=lambda g: (g[0], -abs(g[1] - mid)))[1])


def stack(top: Grid, bottom: Grid) -> Grid:
    """The grids of a table's upper and lower bands as one: rows one after the other; the columns are
    the upper band's (it holds the header), and a border of the lower band joins them only where none
    of the upper band's lies within a third of that column's width. Each cell spans the columns
    between the borders nearest its own."""
    xs = list(top.xs)
    for x in bottom.xs[1:-1]:
        k = int(np.searchsorted(xs, x))
        if 0 < k < len(xs) and min(x - xs[k - 1], xs[k] - x) > (xs[k] - xs[k - 1]) / 3:
            xs.insert(k, x)

    def col(x: int) -> int:
        return int(np.argmin([abs(x - b) for b in xs]))

    cells = []
    for grid, first in ((top, 0), (bottom, len(top.ys) - 1)):
        for r, c, rs, cs in grid.cells:
            a, b = col(grid.xs[c]), col(grid.xs[min(c + cs, len(grid.xs) - 1)])
            cells.append((r + first, a, rs, max(1, b - a)))
    return Grid(top.ys + bottom.ys[1:], xs, cells)


def snap_rows(grid: Grid, words: list[RawWord]) -> Grid:
    """Row borders that cut through a line of text moved, by at most SNAP_REACH text heights, to the
    nearest height that crosses no word (else one that crosses no word's middle half). The model's
    cell boxes drift on tables of many rows, and a border through a line splits its words between two
    rows. Words under a cell that spans the border (a label over two rows) do not count for it; a
    border stays between its neighbours, so no row disappears."""
    ys, xs = list(grid.ys), grid.xs
    nr, nc = len(ys) - 1, len(xs) - 1
    top, height = ys[0], ys[-1] - ys[0]
    if nr < 2 or height < 4 or not words:
        return grid
    touched = np.zeros((height, nc), dtype=np.int32)  # per height and column: words whose box covers it
    cut = np.zeros((height, nc), dtype=np.int32)  # ... whose middle half covers it
    for w in words:
        c = int(np.searchsorted(xs, (w.box[0] + w.box[2]) / 2, side="right")) - 1
        if not 0 <= c < nc:
            continue
        y0, y1 = w.box[1] - top, w.box[3] - top
        quarter = (y1 - y0) / 4
        touched[max(0, y0) : max(0, y1), c] += 1
        cut[max(0, round(y0 + quarter)) : max(0, round(y1 - quarter)), c] += 1
    spans = {(k, cc) for r, c, rs, cs in grid.cells for k in range(r + 1, r + rs) for cc in range(c, c + cs)}
    reach = round(SNAP_REACH * float(np.median([w.box[3] - w.box[1] for w in words])))
    for k in range(1, nr):
        cols = [c for c in range(nc) if (k, c) not in spans]
        y = ys[k] - top
        if not cols or not cut[y, cols].any():
            continue
        lo, hi = max(ys[k - 1] - top + 2, y - reach), min(ys[k + 1] - top - 1, y + reach + 1)
        for busy in (touched[:, cols].sum(axis=1), cut[:, cols].sum(axis=1)):
            free = np.nonzero(busy[lo:hi] == 0)[0] + lo if hi > lo else np.zeros(0, dtype=np.int64)
            if free.size:
                ys[k] = int(free[np.argmin(np.abs(free - y))]) + top
                break
    return Grid(ys, xs, grid.cells)


def split_rows(grid: Grid, words: list[RawWord], heads: int = 0) -> Grid:
    """Rows that hold two or more lines of text in every filled cell, lined up across the row (each
    cell the same number of lines, at the same heights), split into one row per line: the structure
    model misses a border now and then on long tables, and two records then read as one. A row where
    only some cells wrap (a long label beside one figure) is one row, and stays one."""
    ys, xs = list(grid.ys), grid.xs
    nr = len(ys) - 1
    if nr < 1 or not words:
        return grid
    char_h = float(np.median([w.box[3] - w.box[1] for w in words]))
    spanning = {k for r, _, rs, _ in grid.cells if rs > 1 for k in range(r, r + rs)}
    extra: dict[int, list[int]] = {}
    single = filled = 0
    for r in range(heads, nr):  # header cells wrap all together often: they are left alone
        per_cell = []
        for _, c, _, cs in (cell for cell in grid.cells if cell[0] == r):
            area = (xs[c], ys[r], xs[min(c + cs, len(xs) - 1)], ys[r + 1])
            inside = [w for w in words if rules._centre_in(w.box, area)]
            if inside:
                per_cell.append(_line_centres(inside, char_h))
        filled += bool(per_cell)
        single += bool(per_cell) and all(len(lines) == 1 for lines in per_cell)
        n = len(per_cell[0]) if per_cell else 0
        if r in spanning or len(per_cell) < 2 or n < 2 or any(len(lines) != n for lines in per_cell):
            continue
        at = [float(np.mean([lines[i] for lines in per_cell])) for i in range(n)]
        if all(abs(lines[i] - at[i]) <= 0.3 * char_h for lines in per_cell for i in range(n)):
            extra[r] = [round((a + b) / 2) for a, b in itertools.pairwise(at)]
    if not extra or single < SPLIT_SINGLE * filled:  # rows of several lines are this table's habit
        return grid
    new_ys, first = [ys[0]], {}
    for r in range(nr):
        first[r] = len(new_ys) - 1
        new_ys += [*extra.get(r, []), ys[r + 1]]
    first[nr] = len(new_ys) - 1
    cells = []
    for r, c, rs, cs in grid.cells:
        if r in extra:
            cells += [(first[r] + k, c, 1, cs) for k in range(len(extra[r]) + 1)]
        else:
            cells.append((first[r], c, first[r + rs] - first[r], cs))
    return Grid(new_ys, xs, cells)


def _line_centres(words: list[RawWord], char_h: float) -> list[float]:
    """The heights of the lines of text a cell's words make: words whose middles lie within 0.6 text
    heights of a line's first word are on that line (lines set tight overlap in their boxes, so boxes
    alone do not part them)."""
    lines: list[list[float]] = []
    for mid in sorted((w.box[1] + w.box[3]) / 2 for w in words):
        if lines and mid - lines[-1][0] <= 0.6 * char_h:
            lines[-1].append(mid)
        else:
            lines.append([mid])
    return [float(np.mean(line)) for line in lines]


def row_above(table: Table, words: list[RawWord]) -> Table:
    """The table with the text row just above it as its new top row, when that row lies within
    HEADER_GAP text heights of the table, inside its width, and breaks into two or more phrases that
    each fall in columns of their own (a caption or a title is one phrase and stays out). The layout
    model often boxes a table from its first body row, leaving the header row above it as a heading
    (seen on ocr-dev's scribe_table_01). The row is a column header unless it holds figures."""
    box = table.box
    inside = [w for w in words if rules._centre_in(w.box, box)]
    if len(inside) < 2 or table.cols < 2:
        return table
    char_h = float(np.median([w.box[3] - w.box[1] for w in inside]))
    above = [w for w in words if w.box[3] <= box[1] + 0.3 * char_h and box[0] <= (w.box[0] + w.box[2]) / 2 <= box[2]]
    if not above:
        return table
    bands, rows = rules.text_rows(above)
    (band_top, band_bottom), row = bands[-1], rows[-1]
    if box[1] - band_bottom > HEADER_GAP * char_h or any(
        w.box[0] < box[0] - char_h or w.box[2] > box[2] + char_h for w in row
    ):
        return table
    phrases = rules.phrases(row, char_h, rules.CELL_GAP)
    if len(phrases) < 2:
        return table
    xs = [min((c.box[0] for c in table.cells if c.col == k), default=box[0]) for k in range(table.cols)] + [box[2]]
    owner = [-1] * table.cols
    for k, (a, b) in enumerate(phrases):
        # a phrase's columns: the one holding its middle and those it covers half of (a header may be
        # wider than its column's figures)
        cols = [
            c
            for c in range(table.cols)
            if xs[c] <= (a + b) / 2 < xs[c + 1] or min(b, xs[c + 1]) - max(a, xs[c]) > 0.5 * (xs[c + 1] - xs[c])
        ]
        if not cols or any(owner[c] != -1 for c in range(min(cols), max(cols) + 1)):
            return table  # two phrases in one column: not a row of this table
        for c in range(min(cols), max(cols) + 1):
            owner[c] = k
    top = max(0, band_top - 2)
    texts = [" ".join(w.text for w in row if a <= (w.box[0] + w.box[2]) / 2 <= b) for a, b in phrases]
    kind = "content" if any(_is_figure(t) for t in texts) else "columnHeader"
    cells = [Cell(c.row + 1, c.col, c.row_span, c.col_span, c.box, c.kind) for c in table.cells]
    c = 0
    while c < table.cols:
        span = 1
        while owner[c] != -1 and c + span < table.cols and owner[c + span] == owner[c]:
            span += 1
        cells.append(Cell(0, c, 1, span, (xs[c], top, xs[c + span], box[1]), kind))
        c += span
    cells.sort(key=lambda c: (c.row, c.col))
    return Table((box[0], top, box[2], box[3]), table.rows + 1, table.cols, cells)


def header_rows(grid: Grid, words: list[RawWord]) -> int:
    """Column-header rows of a grid read by rules: the top rows down to the first row whose cells hold
    figures, when rows below hold figures too (at most 3 rows, and never the whole table)."""
    text = _cell_texts(grid, words)
    nr = len(grid.ys) - 1
    figure_rows = [r for r in range(nr) if any(_is_figure(t) for (rr, _), t in text.items() if rr == r)]
    if nr < 2 or not figure_rows or figure_rows[0] == 0:
        return 0
    return min(figure_rows[0], 3, nr - 1)


def _is_figure(text: str) -> bool:
    """Digits, signs and currency, but not a year alone (a column headed "2025")."""
    return bool(text) and bool(_FIGURE.match(text)) and not _YEAR.match(text.strip())


def _cell_texts(grid: Grid, words: list[RawWord]) -> dict[tuple[int, int], str]:
    out: dict[tuple[int, int], list[str]] = {}
    for r, c, rs, cs in grid.cells:
        box = (grid.xs[c], grid.ys[r], grid.xs[min(c + cs, len(grid.xs) - 1)], grid.ys[min(r + rs, len(grid.ys) - 1)])
        out[(r, c)] = [w.text for w in words if rules._centre_in(w.box, box)]
    return {k: " ".join(v) for k, v in out.items()}


# ------------------------------------------------------------------------------------- words
def assign_words(table: Table, lines: list[RawLine]) -> dict[tuple[int, int], list[RawWord]]:
    """The words inside each cell, keyed by the cell's (row, col), in reading order (text rows top
    down, left to right). A word belongs to the cell holding its centre; cells tile the table's box,
    so every word whose centre is in the table lands in exactly one cell."""
    out: dict[tuple[int, int], list[RawWord]] = {(c.row, c.col): [] for c in table.cells}
    x_end, y_end = table.box[2], table.box[3]
    for line in lines:
        for word in line.words:
            cx, cy = (word.box[0] + word.box[2]) / 2, (word.box[1] + word.box[3]) / 2
            for cell in table.cells:
                x0, y0, x1, y1 = cell.box
                if x0 <= cx < (x1 if x1 < x_end else x1 + 1) and y0 <= cy < (y1 if y1 < y_end else y1 + 1):
                    out[(cell.row, cell.col)].append(word)
                    break
    return {key: reading_order(ws) for key, ws in out.items()}


def reading_order(words: list[RawWord]) -> list[RawWord]:
    """Words in text rows (vertical overlap of half a word's height) top down, each row left to right."""
    rows: list[list[RawWord]] = []
    for w in sorted(words, key=lambda w: (w.box[1] + w.box[3]) / 2):
        last = rows[-1][-1].box if rows else None
        if last is not None and min(last[3], w.box[3]) - max(last[1], w.box[1]) >= 0.5 * min(
            last[3] - last[1], w.box[3] - w.box[1]
        ):
            rows[-1].append(w)
        else:
            rows.append([w])
    return [w for row in rows for w in sorted(row, key=lambda w: w.box[0])]
