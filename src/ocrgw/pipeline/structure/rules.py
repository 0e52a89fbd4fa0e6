"""Worker side, tables without a model: ruling lines found with OpenCV morphology, the regions where
they form tables, runs of text rows whose phrases line up in columns (tables drawn without rules), and a
grid read off the rules or the word boxes of a region.

The workers use the regions (with the layout model's) and the gate they give: a page where the rules see
no table and few rows break into columns costs these ~20 ms and nothing else. The grids read here are
the bench's no-model design (``TableFinder(structure="rules")``): the structure model beat them even on
ruled tables, docs/layout.md has the figures."""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass

import cv2
import numpy as np

from ocrgw.pipeline.engines.tesseract import RawLine, RawWord

Box = tuple[int, int, int, int]

# Rules are looked for on the page shrunk to this many pixels on its longer side.
RULES_SIDE = 1600
# A ruling line is a run of ink at least this share of the page's shorter side long (text strokes,
# underlines of a word and dashes are shorter) ...
MIN_RULE = 0.04
# ... and at most this thick (a filled bar or a photo is not a rule).
MAX_THICKNESS = 0.012
# Lines of one table touch: their masks are joined after a dilation of this many pixels.
JOIN_PX = 6
# A ruled region is a table when it holds at least 2 horizontal and 2 vertical rules (a grid) or at
# least 3 horizontal rules that run over most of its width (a "booktabs" table: top, mid and bottom rule),
# and is at least this share of the page's width wide.
MIN_TABLE_WIDTH = 0.15
# A ruled grid whose boxes hold this many words each on average frames pages or columns of prose (a
# transcript printed 4-up), not a table.
PROSE_CELL_WORDS = 40
# Two grid slots are separated when a rule covers at least this share of the border between them.
RULE_COVER = 0.6
# A table without rules is a run of at least ALIGNED_ROWS text rows that break into phrases at gaps of
# CELL_GAP character heights or more (running text has word spaces of about 0.3), giving at least
# ALIGNED_COLS columns, with phrases of at most PHRASE_WORDS words on average (cells, not sentences).
ALIGNED_ROWS = 3
ALIGNED_COLS = 3
CELL_GAP = 1.2
PHRASE_WORDS = 3.5
ROW_GAP = 2.5  # a run ends at a vertical gap of this many character heights
# Column gaps in word boxes: at least this many median character heights wide ...
MIN_GAP = 0.6
# ... and crossed by at most this share of the rows (a header spanning columns, a long note).
GAP_CROSSING = 0.2


@dataclass(slots=True)
class Rules:
    """The page's ruling lines as masks (255 = rule, at ``scale`` times the page's size), as boxes in
    the page's pixels, and the regions where they form tables."""

    horizontal: np.ndarray
    vertical: np.ndarray
    hsegs: list[Box]
    vsegs: list[Box]
    regions: list[tuple[Box, bool]]  # (box, True for a grid with vertical rules, False for rows only)
    scale: float = 1.0


@dataclass(slots=True)
class Grid:
    """A table's logical grid before it becomes ``tables.Table``: row and column borders in pixels and
    the cells as (row, col, row_span, col_span)."""

    ys: list[int]
    xs: list[int]
    cells: list[tuple[int, int, int, int]]


def find_rules(gray: np.ndarray) -> Rules:
    """Horizontal and vertical rules by opening the inverted, binarised page with long thin kernels,
    on the page shrunk to RULES_SIDE pixels at most (rules stay rules; the time is a quarter on a
    300-dpi page)."""
    scale = min(1.0, RULES_SIDE / max(gray.shape[:2]))
    if scale < 1.0:
        gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    h, w = gray.shape[:2]
    ink = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 31, 15)
    length = max(12, int(MIN_RULE * min(h, w)))
    horiz = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (length, 1)))
    vert = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, length)))
    thick = max(3, int(MAX_THICKNESS * min(h, w)))
    horiz, hsegs = _rules_only(horiz, thick, axis=0)
    vert, vsegs = _rules_only(vert, thick, axis=1)
    regions = sorted(_ruled_regions(horiz, vert, hsegs, vsegs, w, h), key=lambda r: (r[0][1], r[0][0]))

    def up(b: Box) -> Box:
        return (int(b[0] / scale), int(b[1] / scale), round(b[2] / scale), round(b[3] / scale))

    return Rules(horiz, vert, [up(b) for b in hsegs], [up(b) for b in vsegs], [(up(b), g) for b, g in regions], scale)


def _rules_only(mask: np.ndarray, thick: int, axis: int) -> tuple[np.ndarray, list[Box]]:
    """The mask without components thicker than ``thick`` across the rule (filled boxes, shading,
    photos), and the kept rules' boxes (axis 0: horizontal rules, 1: vertical). Outer contours, not
    connected components: the same boxes at a twentieth of the time."""
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    segs: list[Box] = []
    drop = []
    for contour in contours:
        x, y, bw, bh = cv2.boundingRect(contour)
        along, across = (bw, bh) if axis == 0 else (bh, bw)
        area = cv2.countNonZero(mask[y : y + bh, x : x + bw])  # ink in its box (a contour's area is less)
        if area / max(1, along) > thick or across > 4 * thick:
            drop.append(contour)
        elif along >= 8:
            segs.append((x, y, x + bw, y + bh))
    if drop:
        mask = mask.copy()
        cv2.drawContours(mask, drop, -1, 0, thickness=cv2.FILLED)
    return mask, segs


def _ruled_regions(
    horiz: np.ndarray, vert: np.ndarray, hsegs: list[Box], vsegs: list[Box], width: int, height: int
) -> list[tuple[Box, bool]]:
    joined = cv2.dilate(cv2.bitwise_or(horiz, vert), np.ones((JOIN_PX, JOIN_PX), np.uint8))
    contours, _ = cv2.findContours(joined, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    regions: list[tuple[Box, bool]] = []
    for contour in contours:
        x, y, bw, bh = cv2.boundingRect(contour)
        if bw < MIN_TABLE_WIDTH * width:
            continue
        pad = JOIN_PX // 2  # the dilation's growth, taken back off
        x, y, bw, bh = x + pad, y + pad, max(1, bw - 2 * pad), max(1, bh - 2 * pad)
        box = (x, y, x + bw, y + bh)
        if _frame(box, width, height):
            continue
        # double rules (a page frame drawn twice) count once: positions within 2 % of the extent merge
        ny = len(_distinct([s[1] for s in hsegs if _inside(s, box)], max(4, int(0.02 * bh))))
        nx = len(_distinct([s[0] for s in vsegs if _inside(s, box)], max(4, int(0.02 * bw))))
        long_h = [s[1] for s in hsegs if _inside(s, box) and s[2] - s[0] >= 0.6 * bw]
        if ny >= 3 and nx >= 2 and bh > 2 * JOIN_PX:
            # a grid: a frame alone (2 x 2 rules) is a box, and a frame split by vertical rules only a
            # layout (a transcript's line-number margin); a table has a rule under its header at least
            regions.append((box, True))
        elif len(_distinct(long_h, 4)) >= 3:
            regions.append((box, False))
    return regions


def _frame(box: Box, width: int, height: int) -> bool:
    """Rules along three or more edges of the image: a scanner's border or a page frame."""
    mx, my = 0.01 * width, 0.01 * height
    edges = (box[0] <= mx, box[1] <= my, box[2] >= width - mx, box[3] >= height - my)
    return sum(edges) >= 3


def _inside(seg: Box, box: Box, tol: int = 1) -> bool:
    return seg[0] >= box[0] - tol and seg[1] >= box[1] - tol and seg[2] <= box[2] + tol and seg[3] <= box[3] + tol


def _distinct(values: list[int], tol: int) -> list[int]:
    """Sorted values with those within ``tol`` of the previous kept one merged (one rule drawn 2-3 px
    thick, or broken in pieces, is one position)."""
    out: list[int] = []
    for v in sorted(values):
        if not out or v - out[-1] > tol:
            out.append(v)
    return out


# ------------------------------------------------------------------------------------ ruled grids
def grid_from_rules(rules: Rules, box: Box, words: list[RawWord]) -> Grid | None:
    """The grid of a table drawn with horizontal and vertical rules: borders where rules are, cells
    merged across a border no rule covers. Rows a table separates with space instead of rules (rules
    only under the header) are split at the gaps between its text rows."""
    x0, y0, x1, y1 = box
    tol = max(3, int(JOIN_PX / rules.scale))
    xs = _distinct([s[0] for s in rules.vsegs if _inside(s, box, tol)] + [x0, x1], tol)
    ys = _distinct([s[1] for s in rules.hsegs if _inside(s, box, tol)] + [y0, y1], tol)
    xs, ys = _snap_ends(xs, x0, x1, 2 * tol), _snap_ends(ys, y0, y1, 2 * tol)
    if len(xs) < 2 or len(ys) < 2:
        return None
    rows_by_text = _text_row_borders(words, ys)
    merged_ys = sorted(set(ys) | set(rows_by_text))
    cells = _merge_slots(rules, merged_ys, xs, set(rows_by_text))
    return Grid(merged_ys, xs, cells)


def boxed_prose(rules: Rules, box: Box, words: list[RawWord]) -> bool:
    """Whether a ruled grid's boxes (as its rules alone divide it) hold prose rather than cells."""
    tol = max(3, int(JOIN_PX / rules.scale))
    xs = _snap_ends(_distinct([s[0] for s in rules.vsegs if _inside(s, box, tol)], tol), box[0], box[2], 2 * tol)
    ys = _snap_ends(_distinct([s[1] for s in rules.hsegs if _inside(s, box, tol)], tol), box[1], box[3], 2 * tol)
    counts = np.zeros((len(ys) - 1, len(xs) - 1), dtype=int)
    for w in words:
        cx, cy = (w.box[0] + w.box[2]) / 2, (w.box[1] + w.box[3]) / 2
        r, c = np.searchsorted(ys, cy) - 1, np.searchsorted(xs, cx) - 1
        if 0 <= r < counts.shape[0] and 0 <= c < counts.shape[1]:
            counts[r, c] += 1
    filled = counts[counts > 0]
    return bool(filled.size) and float(filled.mean()) > PROSE_CELL_WORDS


def _snap_ends(vals: list[int], lo: int, hi: int, tol: int) -> list[int]:
    """Borders within ``tol`` of the region's edges become the edges (a rule 3 px thick found at its
    left side, or the region's own edge added next to it, is one border)."""
    inner = [v for v in vals if lo + tol < v < hi - tol]
    return [lo, *inner, hi]


def _text_row_borders(words: list[RawWord], ys: list[int]) -> list[int]:
    """Borders between text rows inside grid rows tall enough to hold several rows of text whose
    words line up across the row (a grid with rules only between column groups or under the header)."""
    if not words:
        return []
    char_h = float(np.median([w.box[3] - w.box[1] for w in words]))
    extra: list[int] = []
    for top, bottom in itertools.pairwise(ys):
        inside = [w for w in words if top <= (w.box[1] + w.box[3]) / 2 < bottom]
        bands = _bands([w.box for w in inside])
        if len(bands) < 3 or bottom - top < 3.5 * char_h:
            continue
        extra += [int((a[1] + b[0]) / 2) for a, b in itertools.pairwise(bands)]
    return extra


def _bands(boxes: list[Box]) -> list[tuple[int, int]]:
    """Vertical extents of text rows: boxes joined where they overlap vertically."""
    out: list[list[int]] = []
    for b in sorted(boxes, key=lambda b: b[1]):
        if out and b[1] < out[-1][1] - 0.3 * (b[3] - b[1]):
            out[-1][1] = max(out[-1][1], b[3])
        else:
            out.append([b[1], b[3]])
    return [(a, b) for a, b in out]


def _covered(rules: Rules, horizontal: bool, at: int, lo: int, hi: int) -> bool:
    """Whether a rule runs along ``at`` from ``lo`` to ``hi`` (page pixels) for RULE_COVER of it."""
    mask = rules.horizontal if horizontal else rules.vertical
    at, lo, hi = int(at * rules.scale), int(lo * rules.scale), int(hi * rules.scale)
    if hi - lo < 2:
        return True
    pad = JOIN_PX
    if horizontal:
        strip = mask[max(0, at - pad) : at + pad + 1, lo:hi]
        line = strip.max(axis=0) if strip.size else np.zeros(0)
    else:
        strip = mask[lo:hi, max(0, at - pad) : at + pad + 1]
        line = strip.max(axis=1) if strip.size else np.zeros(0)
    return bool(line.size) and float((line > 0).mean()) >= RULE_COVER


def _merge_slots(rules: Rules, ys: list[int], xs: list[int], text_rows: set[int]) -> list[tuple[int, int, int, int]]:
    """Grid slots joined into spanning cells where no rule separates them, kept rectangular."""
    nr, nc = len(ys) - 1, len(xs) - 1
    parent = list(range(nr * nc))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for r in range(nr):
        for c in range(nc):
            if c + 1 < nc and not _covered(rules, False, xs[c + 1], ys[r] + 2, ys[r + 1] - 2):
                parent[find(r * nc + c + 1)] = find(r * nc + c)
            below = r + 1 < nr and ys[r + 1] not in text_rows
            if below and not _covered(rules, True, ys[r + 1], xs[c] + 2, xs[c + 1] - 2):
                parent[find((r + 1) * nc + c)] = find(r * nc + c)
    return rectangles(nr, nc, [find(i) for i in range(nr * nc)])


def rectangles(nr: int, nc: int, label: list[int]) -> list[tuple[int, int, int, int]]:
    """Cells from slot labels: each label's bounding rectangle when it is filled by that label alone,
    else its slots as single cells (an L-shaped merge is a misread rule, not a cell)."""
    groups: dict[int, list[tuple[int, int]]] = {}
    for i, lab in enumerate(label):
        groups.setdefault(lab, []).append(divmod(i, nc))
    cells = []
    for slots in groups.values():
        rs, cs = [s[0] for s in slots], [s[1] for s in slots]
        rh, cw = max(rs) - min(rs) + 1, max(cs) - min(cs) + 1
        if rh * cw == len(slots):
            cells.append((min(rs), min(cs), rh, cw))
        else:
            cells += [(r, c, 1, 1) for r, c in slots]
    return sorted(cells)


# ---------------------------------------------------------------------------------- borderless
def text_rows(words: list[RawWord]) -> tuple[list[tuple[int, int]], list[list[RawWord]]]:
    """Text rows (vertical extents) and the words of each, top down."""
    bands = _bands([w.box for w in words])
    rows: list[list[RawWord]] = [[] for _ in bands]
    mids = [(a + b) / 2 for a, b in bands]
    for w in words:
        cy = (w.box[1] + w.box[3]) / 2
        k = bisect.bisect_left(mids, cy)  # the nearest band centre is at k - 1 or k
        if k == len(mids) or (k > 0 and cy - mids[k - 1] <= mids[k] - cy):
            k -= 1
        rows[k].append(w)
    return bands, rows


def aligned_regions(words: list[RawWord], skip: list[Box]) -> list[Box]:
    """Tables drawn without rules: runs of text rows whose phrases, split at wide gaps, line up in
    columns. Words inside ``skip`` (regions already found) are left out."""
    words = [w for w in words if not any(_centre_in(w.box, b) for b in skip)]
    if len(words) < ALIGNED_ROWS * ALIGNED_COLS:
        return []
    char_h = float(np.median([w.box[3] - w.box[1] for w in words]))
    bands, rows = text_rows(words)
    cells = [phrases(row, char_h, CELL_GAP) for row in rows]
    out: list[Box] = []
    run: list[int] = []
    for i in range(len(rows) + 1):
        near = i < len(rows) and (not run or bands[i][0] - bands[run[-1]][1] <= ROW_GAP * char_h)
        tabular = i < len(rows) and len(cells[i]) >= 2
        if near and (tabular or (run and i + 1 < len(rows) and len(cells[i + 1]) >= 2)):
            run.append(i)
            continue
        box = _aligned_box(run, rows, cells, char_h)
        if box is not None:
            out.append(box)
        run = [i] if tabular else []
    return out


def tabular_rows(words: list[RawWord]) -> int:
    """How many text rows break into 3 or more phrases at gaps of CELL_GAP character heights."""
    if not words:
        return 0
    char_h = float(np.median([w.box[3] - w.box[1] for w in words]))
    return sum(len(phrases(row, char_h, CELL_GAP)) >= 3 for row in text_rows(words)[1])


def _aligned_box(
    run: list[int], rows: list[list[RawWord]], cells: list[list[tuple[int, int]]], char_h: float
) -> Box | None:
    while run and len(cells[run[-1]]) < 2:
        run = run[:-1]
    if sum(len(cells[i]) >= 2 for i in run) < ALIGNED_ROWS:
        return None
    ws = [w for i in run for w in rows[i]]
    if len(ws) / max(1, sum(len(cells[i]) for i in run)) > PHRASE_WORDS:
        return None
    box = (min(w.box[0] for w in ws), min(w.box[1] for w in ws), max(w.box[2] for w in ws), max(w.box[3] for w in ws))
    if len(column_borders(box, [rows[i] for i in run], char_h)) - 1 < ALIGNED_COLS:
        return None
    return box


def grid_from_words(box: Box, words: list[RawWord], xs: list[int] | None = None) -> Grid | None:
    """A table without vertical rules: rows are the text rows, columns the vertical gaps that (nearly)
    every row leaves free. A run of words crossing a gap (a header over several columns) spans them.
    ``xs`` gives column borders already known (from vertical rules)."""
    inside = [w for w in words if _centre_in(w.box, box)]
    if len(inside) < 2:
        return None
    bands, rows = text_rows(inside)
    char_h = float(np.median([w.box[3] - w.box[1] for w in inside]))
    if xs is None:
        xs = column_borders(box, rows, char_h)
    bands, rows = _join_wrapped(bands, rows, xs, char_h)
    ys = [box[1]] + [int((a[1] + b[0]) / 2) for a, b in itertools.pairwise(bands)] + [box[3]]
    cells: list[tuple[int, int, int, int]] = []
    for r, row in enumerate(rows):
        cells += _row_cells(r, row, xs, char_h)
    return Grid(ys, xs, cells)


def _join_wrapped(
    bands: list[tuple[int, int]], rows: list[list[RawWord]], xs: list[int], char_h: float
) -> tuple[list[tuple[int, int]], list[list[RawWord]]]:
    """Text rows that continue the row above (a cell's text wrapped onto a second line) joined to it:
    the row starts in lower case, sits closer than a line height below, and fills only columns the row
    above fills, fewer of them. A row label such as "Age (years):" starts a row of its own."""
    out_b, out_r = [bands[0]], [list(rows[0])]
    for band, row in zip(bands[1:], rows[1:], strict=True):
        cols = _filled(row, xs)
        above = _filled(out_r[-1], xs)
        first = min(row, key=lambda w: w.box[0]).text if row else ""
        wrapped = first[:1].islower() and band[0] - out_b[-1][1] <= char_h
        if wrapped and cols and cols <= above and len(cols) < len(above):
            out_b[-1] = (out_b[-1][0], band[1])
            out_r[-1] += row
        else:
            out_b.append(band)
            out_r.append(list(row))
    return out_b, out_r


def _filled(row: list[RawWord], xs: list[int]) -> set[int]:
    return {next((c for c in range(len(xs) - 1) if (w.box[0] + w.box[2]) / 2 < xs[c + 1]), len(xs) - 2) for w in row}


def _centre_in(b: Box, box: Box) -> bool:
    cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
    return box[0] <= cx <= box[2] and box[1] <= cy <= box[3]


def column_borders(box: Box, rows: list[list[RawWord]], char_h: float) -> list[int]:
    """Column borders: the middles of the x ranges that at most GAP_CROSSING of the rows put ink in,
    at least MIN_GAP character heights wide. Words of a row closer than a space are one phrase."""
    x0, x1 = box[0], box[2]
    cover = np.zeros(x1 - x0 + 1, dtype=np.int32)
    for row in rows:
        mark = np.zeros_like(cover, dtype=bool)
        for a, b in phrases(row, char_h):
            mark[max(0, a - x0) : max(0, b - x0) + 1] = True
        cover += mark
    free = cover <= GAP_CROSSING * len(rows)
    borders, start = [x0], None
    for i, f in enumerate(free):
        if f and start is None:
            start = i
        elif not f and start is not None:
            if start > 0 and i - start >= MIN_GAP * char_h:
                borders.append(x0 + (start + i) // 2)
            start = None
    borders.append(x1)
    return borders


def phrases(row: list[RawWord], char_h: float, gap: float = 0.55) -> list[tuple[int, int]]:
    """Horizontal extents of a row's phrases: words joined across gaps narrower than ``gap`` character
    heights (a word space is about 0.3)."""
    out: list[list[int]] = []
    for w in sorted(row, key=lambda w: w.box[0]):
        if out and w.box[0] - out[-1][1] <= gap * char_h:
            out[-1][1] = max(out[-1][1], w.box[2])
        else:
            out.append([w.box[0], w.box[2]])
    return [(a, b) for a, b in out]


def _row_cells(r: int, row: list[RawWord], xs: list[int], char_h: float) -> list[tuple[int, int, int, int]]:
    """One text row's cells: each phrase covers the columns it overlaps (most of a column's width for
    the first and last); empty columns stay single empty cells."""
    nc = len(xs) - 1
    owner = [-1] * nc
    for k, (a, b) in enumerate(phrases(row, char_h)):
        cols = [c for c in range(nc) if min(b, xs[c + 1]) - max(a, xs[c]) > 0.25 * char_h]
        if not cols:
            cols = [min(range(nc), key=lambda c: abs((xs[c] + xs[c + 1]) / 2 - (a + b) / 2))]
        if any(owner[c] not in (-1, k) for c in cols):
            cols = [c for c in cols if owner[c] == -1] or cols[:1]
        for c in range(min(cols), max(cols) + 1):
            if owner[c] == -1:
                owner[c] = k
    cells, c = [], 0
    while c < nc:
        span = 1
        while owner[c] != -1 and c + span < nc and owner[c + span] == owner[c]:
            span += 1
        cells.append((r, c, 1, span))
        c += span
    return cells


def words_of(lines: list[RawLine]) -> list[RawWord]:
    return [w for ln in lines for w in ln.words if w.text.strip()]
