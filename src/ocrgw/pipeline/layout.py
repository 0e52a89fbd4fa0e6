"""Worker side, after recognition: put lines in reading order. ``natural`` keeps Tesseract's layout
order (block by block, so columns are read one after the other); ``basic`` reads left to right, top to
bottom, as Azure's default does, but keeps the columns of a multi-column page whole: rows are formed
inside each detected column region, never across a gutter.

Why column detection and not just rows: reading rows across the whole page interleaves the columns of
a magazine or journal page line by line (ocr-dev multicol page CER 9.6 % -> 57 %), while rows are what
forms, receipts and tables need (their cells belong together left to right). The two are told apart by
what sits on both sides of a vertical gap: running text (lines of several words) on both sides is a
column gutter, and so is a gap whose two sides do not line up row by row (a sidebar); short cells
(labels, amounts, one-word columns) that line up across the gap are a table or form and stay in rows."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ocrgw.pipeline.engines.tesseract import RawLine, RawWord

Box = tuple[int, int, int, int]


def _vertical_overlap(a: Box, b: Box) -> float:
    top, bottom = max(a[1], b[1]), min(a[3], b[3])
    smaller = max(1, min(a[3] - a[1], b[3] - b[1]))
    return max(0, bottom - top) / smaller


FRAGMENT_HEIGHT = 0.35  # of the median line height
FRAGMENT_CONFIDENCE = 0.5

# Column gutters. A gutter is a vertical strip crossed by at most a tenth of the region's lines (titles,
# headers and captions may span the columns) and at least this many median line heights wide: word
# gaps live inside line boxes, so any empty strip this wide separates blocks of text.
GUTTER_MIN_WIDTH = 0.5
GUTTER_MAX_CROSSING = 0.1
# Both sides of a gutter must read like running text to be columns: enough lines, and most of their
# characters in lines of several words. Table and form cells (one to three words) fail this.
COLUMN_MIN_LINES = 3
PROSE_MIN_WORDS = 4
PROSE_MIN_SHARE = 0.6
# ...or, whatever the text, the two sides are columns if they are not row-aligned: fewer than this
# share of the shorter side's lines have a line beside them across the gap, vertical centres within
# ALIGN_TOLERANCE of a line height (a sidebar, a column set in another size). The cells of a table or
# form row sit side by side, so they stay rows.
MAX_ALIGNED_SHARE = 0.5
ALIGN_TOLERANCE = 0.25
# Horizontal cuts (an XY-cut): a region is first cut at gaps this many median line heights tall (a
# heading block, page halves of a 2x2 "4-up" print, a form's letterhead), each band ordered on its own;
# then searched for a gutter; failing that, cut at smaller gaps and each band looked at again (a
# two-column article above a table has a gutter the table's cells would hide). Paragraph gaps inside
# a column are smaller than the first, and a column that runs on past such a gap stays whole.
SECTION_MIN_GAP = 2.0
# Columns Tesseract joined line by line (the facing pages of a 4-up transcript, when it is told the
# resolution): found from word boxes, only where at least JOINED_MIN_SHARE of the lines have words on
# both sides of the strip, each side has JOINED_MIN_LINES lines of running text made of words (not
# figures), and its median line spans JOINED_FILL of the side's width (text lines fill a column, table
# cells do not). Splitting every line at wide word gaps instead cut table rows into cells.
JOINED_MIN_LINES = 8
JOINED_MIN_SHARE = 0.5
JOINED_FILL = 0.6
BAND_MIN_GAP = 1.5


def drop_fragments(lines: list[RawLine]) -> list[RawLine]:
    """Remove "lines" that are stray marks, not text: Tesseract sometimes reads a row of accents above a
    line (the grave and circumflex of "à côté") as a line of its own ("AZ"). Such a line is far flatter
    than the page's text lines and read with low confidence; both must hold, so short real words stay."""
    if len(lines) < 2:
        return lines
    heights = sorted(ln.box[3] - ln.box[1] for ln in lines)
    median = heights[len(heights) // 2]
    return [
        ln
        for ln in lines
        if not (ln.box[3] - ln.box[1] < FRAGMENT_HEIGHT * median and ln.confidence < FRAGMENT_CONFIDENCE)
    ]


# Noise "words": Tesseract reads table rules, box edges, checkbox outlines, scanner specks and separator
# dashes as words of punctuation (``|``, ``—``, ``_``, ``©``, ``§``, a lone ``.`` or ``;``). A word with
# no letter or digit is dropped when it holds none of the symbols that stand alone in real text (a ``:``
# between label and value, ``&``, ``%``, ``$``, ``#``, ``*`` ratings, ``-``/``=``/``+`` in figures), or
# when the engine itself doubts it (confidence under one half). On ocr-dev Tesseract reads 396 words
# without a letter or digit, 138 of them in the ground truth; this drops 228, 20 of those 138. All
# images: page CER 20.3 -> 20.0 %, BoW-F1 83.4 -> 84.3 %.
MEANINGFUL_SYMBOLS = frozenset(":-&=@*#%/$+")
NOISE_WORD_CONFIDENCE = 0.5


def is_noise_word(word: RawWord) -> bool:
    if any(ch.isalnum() for ch in word.text):
        return False
    return word.confidence < NOISE_WORD_CONFIDENCE or not any(ch in MEANINGFUL_SYMBOLS for ch in word.text)


def drop_noise_words(lines: list[RawLine]) -> list[RawLine]:
    """Lines without their noise words (see ``is_noise_word``); a line left empty is dropped, and a line's
    box shrinks to the words it keeps, so a rule beside a cell no longer widens the cell's line."""
    kept: list[RawLine] = []
    for line in lines:
        words = [w for w in line.words if not is_noise_word(w)]
        if len(words) == len(line.words):
            kept.append(line)
        elif words:
            kept.append(line.with_words(words))
    return kept


def order_lines(lines: list[RawLine], mode: str) -> list[RawLine]:
    """Lines in the job's reading order (``natural``: Tesseract's blocks; ``basic``: rows within
    columns), noise words and stray fragments dropped."""
    lines = drop_fragments(drop_noise_words(lines))
    if mode == "natural" or len(lines) < 2:
        return list(lines)
    height = float(np.median([ln.box[3] - ln.box[1] for ln in lines]))
    return _order_region(lines, max(height, 1.0))


def rows(lines: Sequence[RawLine]) -> list[RawLine]:
    """Top to bottom by rows of vertically overlapping lines, each row left to right: one table row or
    one form line stays together even when Tesseract read its cells as separate blocks."""
    grouped: list[list[RawLine]] = []
    for line in sorted(lines, key=lambda ln: (ln.box[1] + ln.box[3]) / 2):
        if grouped and _vertical_overlap(grouped[-1][0].box, line.box) >= 0.5:
            grouped[-1].append(line)
        else:
            grouped.append([line])
    return [line for row in grouped for line in sorted(row, key=lambda ln: ln.box[0])]


def _order_region(lines: list[RawLine], height: float) -> list[RawLine]:
    """Sections at large horizontal gaps, else columns (split at a gutter, read band by band between the
    lines that span it), else bands at smaller gaps, else rows; every part is ordered the same way."""
    if len(lines) < 2 * COLUMN_MIN_LINES:
        return rows(lines)
    sections = _bands(lines, height, SECTION_MIN_GAP)
    if len(sections) > 1:
        return [ln for band in sections for ln in _order_region(band, height)]
    cut = _find_gutter(lines, height)
    if cut is not None:
        return _read_columns(lines, cut, height)
    cut = _find_joined_gutter(lines, height)
    if cut is not None:
        left, right, spanning = _split_words_at(lines, cut)
        return _read_columns(left + right + spanning, cut, height)
    bands = _bands(lines, height, BAND_MIN_GAP)
    if len(bands) > 1:
        return [ln for band in bands for ln in _order_region(band, height)]
    return rows(lines)


def _is_prose(side: Sequence[RawLine], words_only: bool = False) -> bool:
    """Running text: most characters sit in lines of several words (a column of a page, not of a table).
    ``words_only`` counts only tokens with two letters or more, so a table row of figures is not prose."""
    if len(side) < COLUMN_MIN_LINES:
        return False
    total = long = 0
    for ln in side:
        n = sum(len(w.text) for w in ln.words)
        total += n
        count = sum(1 for w in ln.words if sum(c.isalpha() for c in w.text) >= 2) if words_only else len(ln.words)
        if count >= PROSE_MIN_WORDS:
            long += n
    return total > 0 and long >= PROSE_MIN_SHARE * total


def _aligned_share(left: Sequence[RawLine], right: Sequence[RawLine]) -> float:
    """Share of the shorter side's lines that have a line of the other side beside them: vertical centres
    within ``ALIGN_TOLERANCE`` of the smaller height. Table and form rows line up that closely; lines of
    independent columns only by chance (a mere overlap would match most lines of any dense page)."""
    few, many = (left, right) if len(left) <= len(right) else (right, left)
    centres = np.array(sorted((o.box[1] + o.box[3]) / 2 for o in many))
    heights = {id(o): o.box[3] - o.box[1] for o in many}
    min_h = min(heights.values())
    aligned = 0
    for ln in few:
        cy, h = (ln.box[1] + ln.box[3]) / 2, ln.box[3] - ln.box[1]
        i = int(np.searchsorted(centres, cy))
        near = [abs(centres[j] - cy) for j in (i - 1, i) if 0 <= j < len(centres)]
        if near and min(near) <= ALIGN_TOLERANCE * max(1, min(h, min_h)):
            aligned += 1
    return aligned / max(1, len(few))


def _gutter_candidates(
    boxes: Sequence[tuple[int, int, int, int]], x0: int, x1: int, n_lines: int, height: float
) -> list[float]:
    """x positions of candidate gutters between x0 and x1: strips of the x-projection of ``boxes`` crossed
    by at most GUTTER_MAX_CROSSING of the lines and at least GUTTER_MIN_WIDTH line heights wide, widest
    first, each at the middle of its least-crossed stretch."""
    width = x1 - x0
    diff = np.zeros(width + 1, dtype=np.int32)
    for box in boxes:
        diff[min(max(box[0], x0), x1) - x0] += 1
        diff[min(max(box[2], x0), x1) - x0] -= 1
    cover = np.cumsum(diff)[:width]
    allowed = max(0, int(GUTTER_MAX_CROSSING * n_lines))
    low = np.concatenate([[False], cover <= allowed, [False]])
    edges = np.flatnonzero(np.diff(low.astype(np.int8)))
    runs = [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]
    runs = [(a, b) for a, b in runs if a > 0 and b < width and b - a >= GUTTER_MIN_WIDTH * height]
    xs = []
    for a, b in sorted(runs, key=lambda r: r[0] - r[1]):
        seg = cover[a:b]
        lowest = np.flatnonzero(seg == seg.min())
        xs.append(x0 + a + float(lowest[len(lowest) // 2]) + 0.5)
    return xs


def _find_gutter(lines: list[RawLine], height: float) -> float | None:
    """x of a column gutter in this region, or None. Candidates are the strips of the x-projection of
    line boxes crossed by few lines, widest first; the first with running text on both sides wins."""
    x0 = min(ln.box[0] for ln in lines)
    x1 = max(ln.box[2] for ln in lines)
    width = x1 - x0
    if width < 3 * height:
        return None
    for x in _gutter_candidates([ln.box for ln in lines], x0, x1, len(lines), height):
        left = [ln for ln in lines if ln.box[2] <= x]
        right = [ln for ln in lines if ln.box[0] >= x]
        if len(left) < COLUMN_MIN_LINES or len(right) < COLUMN_MIN_LINES:
            continue
        if (_is_prose(left) and _is_prose(right)) or _aligned_share(left, right) < MAX_ALIGNED_SHARE:
            return x
    return None


def _split_words_at(lines: list[RawLine], x: float) -> tuple[list[RawLine], list[RawLine], list[RawLine]]:
    """(left of ``x``, right of it, spanning it), a line with words on both sides but none across ``x``
    split in two: the lines Tesseract joined across a gutter."""
    left: list[RawLine] = []
    right: list[RawLine] = []
    spanning: list[RawLine] = []
    for ln in lines:
        if ln.box[2] <= x:
            left.append(ln)
        elif ln.box[0] >= x:
            right.append(ln)
        elif not ln.words or any(w.box[0] < x < w.box[2] for w in ln.words):
            spanning.append(ln)
        else:
            parts = ([w for w in ln.words if w.box[2] <= x], [w for w in ln.words if w.box[0] >= x])
            for side, words in zip((left, right), parts, strict=True):
                if words:
                    box = (min(w.box[0] for w in words), ln.box[1], max(w.box[2] for w in words), ln.box[3])
                    side.append(RawLine(box, ln.confidence, ln.block, words, ln.vertical))
    return left, right, spanning


def _fills(side: Sequence[RawLine]) -> bool:
    """Lines of running text fill their column: the median line is most of the column's width."""
    x0 = min(ln.box[0] for ln in side)
    x1 = max(ln.box[2] for ln in side)
    widths = sorted(ln.box[2] - ln.box[0] for ln in side)
    return widths[len(widths) // 2] >= JOINED_FILL * max(1, x1 - x0)


def _find_joined_gutter(lines: list[RawLine], height: float) -> float | None:
    """A gutter hidden because Tesseract joined the lines of the two columns (facing pages of a 4-up
    print set close together): a strip of the x-projection of *word* boxes crossed by few words, where
    most lines have words on both sides, and both sides are full lines of running text."""
    x0 = min(ln.box[0] for ln in lines)
    x1 = max(ln.box[2] for ln in lines)
    width = x1 - x0
    if width < 3 * height or len(lines) < JOINED_MIN_LINES:
        return None
    word_boxes = [w.box for ln in lines for w in ln.words]
    for x in _gutter_candidates(word_boxes, x0, x1, len(lines), height):
        joined = sum(
            1
            for ln in lines
            if any(w.box[2] <= x for w in ln.words)
            and any(w.box[0] >= x for w in ln.words)
            and not any(w.box[0] < x < w.box[2] for w in ln.words)
        )
        if joined < JOINED_MIN_SHARE * len(lines):
            continue
        left, right, _ = _split_words_at(lines, x)
        if (
            len(left) >= JOINED_MIN_LINES
            and len(right) >= JOINED_MIN_LINES
            and _is_prose(left, True)
            and _is_prose(right, True)
            and _fills(left)
            and _fills(right)
        ):
            return x
    return None


def _read_columns(lines: list[RawLine], x: float, height: float) -> list[RawLine]:
    """Lines crossing the gutter at ``x`` (headings, captions) cut the region into bands; in each band the
    left column is read whole, then the right one, each of them ordered again (it may hold columns)."""
    spanning = rows([ln for ln in lines if ln.box[0] < x < ln.box[2]])
    others = [ln for ln in lines if not (ln.box[0] < x < ln.box[2])]
    out: list[RawLine] = []
    remaining = sorted(others, key=lambda ln: (ln.box[1] + ln.box[3]) / 2)
    for span in [*spanning, None]:
        limit = (span.box[1] + span.box[3]) / 2 if span is not None else float("inf")
        band = [ln for ln in remaining if (ln.box[1] + ln.box[3]) / 2 < limit]
        remaining = remaining[len(band) :]
        out += _order_region([ln for ln in band if ln.box[2] <= x], height)
        out += _order_region([ln for ln in band if ln.box[0] >= x], height)
        if span is not None:
            out.append(span)
    return out


def _bands(lines: list[RawLine], height: float, gap: float) -> list[list[RawLine]]:
    """The region cut at horizontal gaps of at least ``gap`` line heights, top to bottom."""
    ordered = sorted(lines, key=lambda ln: ln.box[1])
    bands: list[list[RawLine]] = [[ordered[0]]]
    bottom = ordered[0].box[3]
    for ln in ordered[1:]:
        if ln.box[1] - bottom >= gap * height:
            bands.append([])
        bands[-1].append(ln)
        bottom = max(bottom, ln.box[3])
    return bands
