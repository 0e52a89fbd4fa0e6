"""Worker side, after reading order: selection marks (checkboxes, ticked or not) for Document Intelligence's
``prebuilt-layout``. Works on the engine image the lines were read from, so boxes share their pixels.

How, and why rules rather than a model: no offline checkbox model ships in a PyPI wheel, and the boxes of
scanned forms are simple shapes. A checkbox is a small closed frame of straight strokes. Straight strokes are
what survives a morphological opening with a line-shaped kernel (text curves and tick diagonals do not), so
frames are searched in the image of horizontal and vertical strokes: closed outlines whose area fills their
bounding rectangle, and pairs of top and bottom edges (a pen stroke across a side breaks the outline). Each
candidate must then look like a box and not like a letter: every side drawn (or three, when a mark drawn
across the fourth hides it), every corner inked, its size near the text's, clear of neighbouring ink on the
left or right (the "D" or square "O" inside a word sits a hair from the next letter; a box is a space away
from its label), and not read by the engine as a letter of a word it is sure of. Its state is the share of
ink inside, past the frame: an ``x``, a tick or a fill covers far more of the inside than scanner noise does,
and is not the one bar across a "B". Last, the boxes found find their siblings: a form's boxes come in rows
and columns of one size, so a frame of a found box's size on its row or in its column, with a label read
next to it, is a box under eased tests; that finds boxes whose tick runs over two sides, or whose corner is
broken, which no candidate gave.

Measured on the checkbox set of ``bench/layout.py`` (real FUNSD forms, ~100 dpi, labelled by hand): see
docs/layout.md. Tesseract reads the frames as junk (``[]``, ``O``, ``0``, ``|``, glued to a label as ``OYes``);
``covered_words`` tells which words a mark covers so the caller can drop or trim them."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ocrgw.pipeline.engines.tesseract import RawLine, RawWord

Box = tuple[int, int, int, int]


@dataclass(slots=True)
class Mark:
    box: Box  # x0, y0, x1, y1 in the engine image's pixels
    selected: bool
    confidence: float


# Sizes are in units of the page's text height (median height of words with two or more letters or digits):
# the boxes of the bench forms measure 0.7-3.5 text heights, letters about 1.
MIN_SIDE = 0.7
MAX_SIDE = 3.8
MAX_ASPECT = 2.2  # wider than high (option boxes of some forms are 2:1); entry fields are far wider
STROKE = 0.45  # kernel length of the stroke images, of the smallest side looked for
# Each side of a frame is one straight run of ink along most of its length (see ``_straight_runs``): on
# average over the four sides at least RUN_MEAN of it, all but one at least RUN_SECOND (a scan may lose
# part of one thin side), the weakest at least RUN_MIN.
RUN_MEAN = 0.85
RUN_SECOND = 0.6
RUN_MIN = 0.2
OPEN_SIDE = 0.85  # each of the three whole sides of a frame whose fourth a mark runs over
OVERRUN = 0.6  # of the weak side's band that the mark's ink must cover
READ_AS_TEXT = 0.7  # the engine's word confidence that makes a shape inside the word a letter
READ_AS_LETTER = 0.86  # the same for a word of one letter
BOX_JUNK = "Oo0Qa[(|"  # what the engine reads a frame as, at the start of a label glued to it
WORD_SPACE = 0.4  # of the text height: a gap this wide after a shape is a space between words
CORNER_WALK = 0.15  # of the side: how far in from a corner its ink may start
LETTER_GAP = 0.1  # of the text height: the next ink closer than this on the left or right is a neighbour letter
# The middle of a box (``fill_ratio``): ink covering more than SELECTED_FILL of it is a mark. On the bench
# forms every empty box found reads 0 with CENTRE = 0.35-0.4 (0.14-0.25 for the smallest with 0.2-0.3),
# and every ticked one 0.24 or more, but one tick drawn beside its box.
CENTRE = 0.36
SELECTED_FILL = 0.1
# A ticked box's ink, of the inside past the frame's stroke: diagonal for "x" and ticks (bench: 0.19-1 of
# the ink is off the straight strokes; letters taken for boxes 0-0.11); or solid (fills 0.71-0.75, bold
# letters up to 0.56); or heavy, a broad-pen tick or a blurred cross whose strokes are too thick to read as
# diagonal (0.49-0.61 of the inside), which a bold "B" or "G" (0.29-0.56) matches only with its ink in one
# band of rows (a third of the rows holds 0.62-0.87 of a "B"'s ink, 0.38-0.54 of a tick's) or a bar across.
MARK_DIAGONAL = 0.15
SOLID = 0.65
HEAVY = 0.45
BAND = 0.6
FAINT_MARGIN = 12  # grey levels below the local mean
NESTED = 2.6  # area of the outer of two nested outlines: below, one frame (its outside and inside); above, a cell
FALLBACK_TEXT_HEIGHT = 24  # px, when a page has no words to measure text by
# Siblings (``_siblings``): a frame of a found box's size on its row (SIBLING_ALIGN of its height up or
# down) or in its column (as far off sideways, within SIBLING_REACH heights), with ink on SIBLING_RING of
# its ring, straight sides averaging SIBLING_RUN_MEAN, and a word read within SIBLING_LABEL text heights
# (or SIBLING_LABEL_BOX widths of a large box); the boxes it finds search again, SIBLING_ROUNDS in all.
# On the bench's training pages: ring and mean are the strictest that keep every box found there (ring 0.6-0.7
# and mean 0.7-0.75 find the same; ring 0.75 and mean 0.8 lose one, 0.8 and 0.85 two); align 0.1-0.25,
# reach 3-8 and label 1.5-4 change nothing; one round loses a box (a column's box whose row finds the next).
SIBLING_ALIGN = 0.15
SIBLING_REACH = 5
SIBLING_RING = 0.7
SIBLING_RUN_MEAN = 0.75
SIBLING_LABEL = 2.5
SIBLING_LABEL_BOX = 1.5
SIBLING_ROUNDS = 2


def find_marks(image: np.ndarray, lines: list[RawLine]) -> list[Mark]:
    """Checkboxes on the page, top to bottom, each with its state and a confidence that grows with the
    distance of its fill from the threshold."""
    height = text_height(lines)
    if height is None:
        height = FALLBACK_TEXT_HEIGHT
    ink = _ink(image)
    lo, hi = MIN_SIDE * height, MAX_SIDE * height
    lines_ink = ink | _faint_ink(image, height)
    kernel = max(3, round(STROKE * lo))
    horiz = cv2.morphologyEx(lines_ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (kernel, 1)))
    vert = cv2.morphologyEx(lines_ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, kernel)))
    words = _Words([w for ln in lines for w in ln.words])
    found: list[tuple[Box, float]] = []
    for box in set(_candidates(horiz, vert, lo, hi)):
        if _read_as_letter(box, words, lines_ink, height):
            continue
        frame = _frame(lines_ink, box, lo, hi, height)
        if frame is None:
            continue
        fill = fill_ratio(ink, box)
        if (fill > SELECTED_FILL or frame == "open") and not _is_mark(ink, box):
            continue
        found.append((box, fill))
    kept: list[tuple[Box, float]] = []
    for box, fill in sorted(_drop_nested(ink, found), key=lambda f: -_area(f[0])):  # one frame, two outlines
        if not any(_overlap(box, other) > 0.3 for other, _ in kept):
            kept.append((box, fill))
    kept += _siblings(ink, lines_ink, [b for b, _ in kept], words, height)
    marks = [Mark(box, fill > SELECTED_FILL, _confidence(fill)) for box, fill in kept]
    return sorted(marks, key=lambda m: (m.box[1], m.box[0]))


def covered_words(marks: list[Mark], lines: list[RawLine]) -> list[tuple[int, int]]:
    """(line index, word index) of the words that are a mark misread: at least half of the word's box lies
    on a mark, or the word has no letter or digit and touches one. A label glued to its box by the engine
    (``OYes``) covers more than the mark and is kept; its text then starts with the frame's junk."""
    out = []
    for i, line in enumerate(lines):
        for j, word in enumerate(line.words):
            for mark in marks:
                share = _intersection(word.box, mark.box) / max(1, _area(word.box))
                if share >= 0.5 or (share > 0 and not any(ch.isalnum() for ch in word.text)):
                    out.append((i, j))
                    break
    return out


def drop_covered(lines: list[RawLine], marks: list[Mark]) -> list[RawLine]:
    """The lines without the words that are marks misread (``covered_words``): a line left empty goes, and
    a line's box shrinks to the words it keeps (as ``layout.drop_noise_words`` does for rules and specks)."""
    covered = set(covered_words(marks, lines))
    out = []
    for i, line in enumerate(lines):
        words = [w for j, w in enumerate(line.words) if (i, j) not in covered]
        if len(words) == len(line.words):
            out.append(line)
        elif words:
            out.append(line.with_words(words))
    return out


def text_height(lines: list[RawLine]) -> float | None:
    heights = [w.box[3] - w.box[1] for ln in lines for w in ln.words if _is_text(w)]
    return float(np.median(heights)) if heights else None


def fill_ratio(ink: np.ndarray, box: Box, stroke: int | None = None) -> float:
    """Share of ink in the middle of the box: past the frame's stroke, and at least CENTRE of the side in
    from each edge. The upscale blurs a thin frame over the first pixels inside it (on 7-pixel boxes of a
    100-dpi scan that alone reads as a quarter full); an "x" or a tick crosses the middle."""
    x0, y0, x1, y1 = box
    side = min(x1 - x0, y1 - y0)
    pad = max(round(CENTRE * side), (_stroke(ink, box) if stroke is None else stroke) + 1)
    inner = ink[y0 + pad : y1 - pad, x0 + pad : x1 - pad]
    return float(inner.mean()) if inner.size else 0.0


def _is_mark(ink: np.ndarray, box: Box, stroke: int | None = None) -> bool:
    """What fills a ticked box: strokes across it (an "x", a tick: at least MARK_DIAGONAL of the ink inside
    the frame is off the straight horizontal and vertical strokes) or a solid fill (SOLID of the inside).
    The ink inside a letter taken for a box is its own straight strokes (the bar of a "B", the legs of an
    "m"), and bold letters are not that solid."""
    x0, y0, x1, y1 = box
    pad = (_stroke(ink, box) if stroke is None else stroke) + 1
    inside = ink[y0 + pad : y1 - pad, x0 + pad : x1 - pad]
    total = int(inside.sum())
    if total == 0:
        return False
    if total >= SOLID * inside.size or _filled_square(inside):
        return True
    if total >= HEAVY * inside.size and _band_share(inside) <= BAND and not _letter_bar(inside):
        return True
    k = max(3, min(inside.shape) // 2)
    across = cv2.morphologyEx(inside, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (k, 1)))
    down = cv2.morphologyEx(inside, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, k)))
    straight = np.maximum(across, down)
    return int((inside & (1 - straight)).sum()) >= MARK_DIAGONAL * total


def _band_share(inside: np.ndarray) -> float:
    """The largest share of the ink that lies in a third of the rows: the bar across a "B", a "G" or an "e"
    puts most of a letter's inner ink in one band; a heavy tick or a blurred cross spreads over the height."""
    rows = inside.sum(axis=1).astype(float)
    k = max(2, round(len(rows) / 3))
    return float(np.convolve(rows, np.ones(k), "valid").max() / max(1.0, rows.sum())) if len(rows) >= k else 1.0


def _letter_bar(inside: np.ndarray) -> bool:
    """A bar across the whole inside with mostly blank rows above and below it: the middle of a "B" or an
    "8" at a size where the band test above has only a handful of rows to go by."""
    full = np.flatnonzero(inside.all(axis=1))
    if not len(full):
        return False
    top, bottom = int(full[0]), int(full[-1]) + 1
    above, below = inside[:top], inside[bottom:]
    return bool(above.size and below.size and above.mean() < 0.5 and below.mean() < 0.5)


def _filled_square(inside: np.ndarray) -> bool:
    """A box filled with a smaller solid square (the printed "selected" of many forms): the ink inside is
    one square blob, a third of the inside or more, that fills its own bounding rectangle and stands clear
    of the frame (the bars of a bold letter run into its outline)."""
    count, _, stats, _ = cv2.connectedComponentsWithStats(inside, connectivity=8)
    if count < 2:
        return False
    x, y, w, h, area = max(stats[1:], key=lambda s: s[4])
    rows, cols = inside.shape
    clear = x > 0 and y > 0 and x + w < cols and y + h < rows
    return bool(clear and area >= 0.3 * inside.size and area >= 0.85 * w * h and max(w, h) <= 1.5 * min(w, h))


class _Words:
    """The page's words with their boxes in an array, to find those over a spot without a loop in Python
    (the candidates of a page are hundreds, its words as many)."""

    def __init__(self, words: list[RawWord]) -> None:
        self.words = words
        self.boxes = np.array([w.box for w in words], dtype=float).reshape(-1, 4)

    def overlapping(self, x0: float, y0: float, x1: float, y1: float) -> list[RawWord]:
        """The words whose box overlaps the open rectangle (a line or a point when x0 == x1 or y0 == y1)."""
        b = self.boxes
        hit = (b[:, 0] < x1) & (x0 < b[:, 2]) & (b[:, 1] < y1) & (y0 < b[:, 3])
        return [self.words[i] for i in np.flatnonzero(hit)]


def _is_text(word: RawWord) -> bool:
    return sum(ch.isalnum() for ch in word.text) >= 2


def _ink(image: np.ndarray) -> np.ndarray:
    """1 where there is ink. Otsu over the page: the engine image is already contrast-stretched (or
    binarised), and a local threshold would hollow out filled boxes."""
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    _, ink = cv2.threshold(gray, 0, 1, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    return ink


def _faint_ink(image: np.ndarray, height: float) -> np.ndarray:
    """Thin grey strokes (a box's frame printed light or blurred by the upscale) that a page-wide threshold
    misses: darker than their neighbourhood by a clear margin."""
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    block = max(3, int(1.5 * height)) | 1
    return cv2.adaptiveThreshold(gray, 1, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, FAINT_MARGIN)


def _candidates(horiz: np.ndarray, vert: np.ndarray, lo: float, hi: float) -> list[Box]:
    """Rectangles that may be frames: closed outlines of the stroke image, then top and bottom edges that
    face each other (an outline a tick or a gap breaks)."""
    strokes = cv2.dilate(horiz | vert, np.ones((3, 3), np.uint8))
    boxes: list[Box] = []
    contours, _ = cv2.findContours(strokes, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    for contour in contours:
        x, y, w, h = cv2.boundingRect(contour)
        if lo <= min(w, h) and max(w, h) <= hi * MAX_ASPECT and cv2.contourArea(contour) >= 0.75 * w * h:
            boxes.append((x + 1, y + 1, x + w - 1, y + h - 1))  # the outline of the dilated strokes
    return boxes + _edge_pairs(horiz, lo, hi)


def _edge_pairs(horiz: np.ndarray, lo: float, hi: float) -> list[Box]:
    # The horizontal strokes' bounding rectangles: the outer outlines of a two-level contour tree are the
    # 8-connected components' (what connectedComponentsWithStats gives, in less than half its time).
    contours, hierarchy = cv2.findContours(horiz, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    rects = [
        cv2.boundingRect(c) for c, link in zip(contours, hierarchy[0] if contours else [], strict=True) if link[3] < 0
    ]
    edges = sorted((y, x, w) for x, y, w, h in rects if 0.8 * lo <= w <= 1.1 * hi * MAX_ASPECT and h < 0.5 * lo)
    out = []
    for i, (ty, tx, tw) in enumerate(edges):
        for by, bx, bw in edges[i + 1 :]:
            gap = by - ty
            if gap > hi:
                break
            if gap < lo or abs(bx - tx) > 0.3 * tw or abs(bw - tw) > 0.35 * tw:
                continue
            x0, x1 = max(tx, bx), min(tx + tw, bx + bw)
            out.append((x0, ty, x1, by + 2))
    return out


def _frame(ink: np.ndarray, box: Box, lo: float, hi: float, height: float) -> str | None:
    """ "closed" when ``box`` is drawn as a frame on all four sides; "open" when three sides are whole and the
    fourth is lost under ink that runs over it (a heavy "x" or tick drawn across the side: the caller then
    asks for a mark inside); None for anything else."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    if not (lo <= min(w, h) and max(w, h) <= hi * MAX_ASPECT and max(w, h) <= MAX_ASPECT * min(w, h)):
        return None
    if max(w, h) > hi and min(w, h) > hi / MAX_ASPECT:
        return None
    runs = _straight_runs(ink, box)
    ranked = sorted(runs)
    if ranked[0] >= RUN_MIN and ranked[1] >= RUN_SECOND and sum(ranked) / 4 >= RUN_MEAN:
        kind = "closed"
    elif ranked[1] >= OPEN_SIDE and _overrun(ink, box, runs.index(ranked[0])):
        kind = "open"
    else:
        return None
    if not _inked_corners(ink, box) or _inside_word(ink, box, height):
        return None
    return kind


def _overrun(ink: np.ndarray, box: Box, side: int) -> bool:
    """The weak side (0 top, 1 bottom, 2 left, 3 right) is not missing but covered: ink lies across most of
    the band where it should run (the arms of a heavy cross drawn over it), not a blank a letter leaves."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    bw, bh = max(2, w // 5), max(2, h // 5)
    band = (
        ink[y0 : y0 + bh, x0:x1].any(axis=0),
        ink[y1 - bh : y1, x0:x1].any(axis=0),
        ink[y0:y1, x0 : x0 + bw].any(axis=1),
        ink[y0:y1, x1 - bw : x1].any(axis=1),
    )[side]
    return bool(band.mean() >= OVERRUN)


def _straight_runs(ink: np.ndarray, box: Box) -> tuple[float, float, float, float]:
    """For each side (top, bottom, left, right), the longest straight run of ink along it, as a share of
    the side: the line (within a few pixels of the box edge) that holds the most ink, looked at through a
    window three pixels wide. A frame's sides run nearly corner to corner; the curves of letters (the
    bowl of a "D", the arcs of an "s", the arch of an "n") fill a wide band but no line of it for long."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    reach_x, reach_y = max(2, int(0.2 * w)), max(2, int(0.2 * h))
    top = _best_line(ink[max(0, y0 - 2) : y0 + reach_y, x0:x1])
    bottom = _best_line(ink[max(0, y1 - reach_y) : y1 + 2, x0:x1])
    left = _best_line(ink[y0:y1, max(0, x0 - 2) : x0 + reach_x].T)
    right = _best_line(ink[y0:y1, max(0, x1 - reach_x) : x1 + 2].T)
    return top, bottom, left, right


def _best_line(strip: np.ndarray) -> float:
    """Longest run of ink along the row of ``strip`` (rows run along the side) that holds the most ink,
    seen with its two neighbour rows, as a share of the row's length."""
    if strip.size == 0:
        return 0.0
    row = int(np.argmax(strip.sum(axis=1)))
    seen = np.asarray(strip[max(0, row - 1) : row + 2].any(axis=0))
    return _longest_run(seen) / max(1, seen.size)


def _longest_run(flags: np.ndarray) -> int:
    padded = np.concatenate(([0], flags.astype(np.int8), [0]))
    edges = np.flatnonzero(np.diff(padded))
    return int((edges[1::2] - edges[::2]).max()) if len(edges) else 0


def _read_as_letter(box: Box, words: _Words, ink: np.ndarray, height: float) -> bool:
    """The engine read the shape as a letter of a word it is sure of: a word of two or more letters or
    digits, read with confidence READ_AS_TEXT or more, covering the shape and running on past it, or a
    word of a single letter read with READ_AS_LETTER (a lone frame comes out as "O", "0", "D" at 0.2-0.85,
    or as "&" or "[X]", which are no letters), or any word running on past it a letter's width on both
    sides. A box
    glued to its label is read as junk at the start of the word ("OYes", "CROom"), which mostly costs the
    word its confidence; when it does not ("ONo" at 0.76, "Osec" at 0.89), the word starts with what the
    engine makes of a frame (BOX_JUNK) and the rest of it starts a word space (WORD_SPACE) after the shape,
    where a letter's neighbour is a letter space away. When the engine also read the shape as a word of its
    own that starts as a frame reads ("Ox" for a crossed box), a confident word running over it from one
    side only is the label before or after it, over which the engine stretched its box ("COMBINED" at 0.89
    over the crossed box after it), and does not count."""
    x0, y0, x1, y1 = box
    w = x1 - x0
    cy = (y0 + y1) / 2
    near = words.overlapping(x0, cy, x1, cy)
    if any(_read_alone(box, word) for word in near):
        near = [wd for wd in near if not _runs_past_one_side(box, wd)]
    for word in near:
        wx0, _, wx1, _ = word.box
        if min(wx1, x1) - max(wx0, x0) < 0.5 * w:
            continue
        if word.confidence >= READ_AS_TEXT and _is_text(word) and max(x0 - wx0, wx1 - x1) >= 0.5 * w:
            if _glued_label(box, word, ink, height):
                continue
            return True
        if word.confidence >= READ_AS_LETTER and _single_letter(word):
            return True
        if min(x0 - wx0, wx1 - x1) >= w:
            return True  # inside a word, whatever its confidence: a glued box starts or ends its word
    return False


def _read_alone(box: Box, word: RawWord) -> bool:
    """A word of its own starting at the shape as a frame reads (BOX_JUNK: "Ox" for a crossed box), no
    wider than two shapes."""
    x0, y0, x1, y1 = box
    w = x1 - x0
    wx0, wy0, wx1, wy1 = word.box
    return (
        bool(word.text)
        and word.text[0] in BOX_JUNK
        and abs(wx0 - x0) <= 0.25 * w
        and wx1 - wx0 <= 2 * w
        and wy0 < (y0 + y1) / 2 < wy1
    )


def _runs_past_one_side(box: Box, word: RawWord) -> bool:
    """A word the engine is sure of that runs on past the shape to the left or to the right, not both."""
    x0, _, x1, _ = box
    w = x1 - x0
    left, right = word.box[0] <= x0 - 0.5 * w, word.box[2] >= x1 + 0.5 * w
    return word.confidence >= READ_AS_TEXT and _is_text(word) and left != right


def _single_letter(word: RawWord) -> bool:
    """A word of one letter ("a", "D." of an initial) other than the "O" the engine reads a lone frame as."""
    alnum = [ch for ch in word.text if ch.isalnum()]
    return len(alnum) == 1 and alnum[0].isalpha() and alnum[0] not in "Oo"


def _glued_label(box: Box, word: RawWord, ink: np.ndarray, height: float) -> bool:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    if abs(x0 - word.box[0]) > 0.25 * w or not word.text or word.text[0] not in BOX_JUNK:
        return False
    rows = ink[y0 + h // 4 : y1 - h // 4, x1 - 1 : x1 + int(height)]
    gap = _gaps(rows, w) if rows.size else None
    return gap is not None and gap >= WORD_SPACE * height


def _inked_corners(ink: np.ndarray, box: Box) -> bool:
    """Walking in from each corner along the diagonal meets ink at once: a round letter or a circle leaves
    its corners empty for about a sixth of its size."""
    x0, y0, x1, y1 = box
    limit = max(2, int(CORNER_WALK * min(x1 - x0, y1 - y0)))
    steps = np.arange(limit + 1)
    for cx, cy, dx, dy in ((x0, y0, 1, 1), (x1 - 1, y0, -1, 1), (x0, y1 - 1, 1, -1), (x1 - 1, y1 - 1, -1, -1)):
        xs, ys = cx + dx * steps, cy + dy * steps
        near = [ink[max(0, y - 1) : y + 2, max(0, x - 1) : x + 2].any() for x, y in zip(xs, ys, strict=True)]
        if not any(near):
            return False
    return True


def _inside_word(ink: np.ndarray, box: Box, height: float) -> bool:
    """A letter of a word: the next ink to the left or right starts a hair away (letter spacing), where a
    box stands a word space away from its label, or alone. Measured on the middle half of the rows."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    reach = max(4, int(0.35 * w))
    rows = ink[y0 + h // 4 : y1 - h // 4]
    if rows.size == 0:
        return False
    left = _gaps(rows[:, max(0, x0 - reach) : x0 + 1][:, ::-1], w)
    right = _gaps(rows[:, x1 - 1 : x1 + reach], w)
    return any(g is not None and g < LETTER_GAP * height for g in (left, right))


def _gaps(strip: np.ndarray, width: int) -> float | None:
    """Median blank run after the frame's own stroke along each row of ``strip`` (which starts at the
    frame's edge and runs outward); None when most rows see no more ink within reach. Ink that runs straight
    on from the frame (a rule or a letter touching it) counts as a gap of 0."""
    gaps = []
    for row in strip:
        n = len(row)
        i = 0
        while i < n and row[i]:
            i += 1
        if i >= 0.3 * width:
            gaps.append(0)
            continue
        j = i
        while j < n and not row[j]:
            j += 1
        if j < n:
            gaps.append(j - i)
    if len(gaps) < len(strip) / 2:
        return None
    return float(np.median(gaps))


def _stroke(ink: np.ndarray, box: Box) -> int:
    """The frame's stroke width: the ink run met first going inward from a side, at five points along the
    middle of each side; per side the second-thinnest (a tick or a fill touching the side lengthens the run
    where it touches, a faint spot shortens it at one point), then the median over the sides."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    sides = []
    for k in range(4):
        runs = []
        for t in (0.3, 0.4, 0.5, 0.6, 0.7):
            px, py = x0 + int(t * w), y0 + int(t * h)
            run = (
                ink[py, x0 : x0 + w // 2],
                ink[py, x0 + w // 2 : x1][::-1],
                ink[y0 : y0 + h // 2, px],
                ink[y0 + h // 2 : y1, px][::-1],
            )[k]
            on = np.flatnonzero(run)
            if len(on) and on[0] <= 2:
                off = np.flatnonzero(run[on[0] :] == 0)
                runs.append(int(on[0] + (off[0] if len(off) else len(run) - on[0])))
        if len(runs) >= 2:
            sides.append(sorted(runs)[1])
    return int(np.median(sides)) if sides else 2


def _confidence(fill: float) -> float:
    """0.5 on the threshold, rising toward 1 as the fill moves away from it on either side."""
    span = SELECTED_FILL if fill <= SELECTED_FILL else 1 - SELECTED_FILL
    return round(0.5 + 0.5 * min(1.0, abs(fill - SELECTED_FILL) / (0.5 * span)), 3)


def _siblings(
    ink: np.ndarray, lines_ink: np.ndarray, boxes: list[Box], words: _Words, height: float
) -> list[tuple[Box, float]]:
    """Boxes found by a box already found: a form's boxes come in rows and columns of one size, so a frame
    of exactly a found box's size, aligned with it (on its row, or in its column within SIBLING_REACH of
    its height), where the frame's ring is mostly ink, is looked at again with the frame test relaxed
    (``_vouched``). Such a frame is often missed on its own: the stroke of a tick or a cross runs over two
    of its sides and joins the outline to the label, or a corner is broken, so no outline and no pair of
    edges gave it as a candidate. What it found may vouch for more (a column of boxes, then their row)."""
    out: list[tuple[Box, float]] = []
    taken = np.zeros(ink.shape, bool)
    for x0, y0, x1, y1 in boxes:
        taken[y0:y1, x0:x1] = True
    rows_done: list[Box] = []
    sources = boxes
    for _ in range(SIBLING_ROUNDS):
        new: list[Box] = []
        for src in sources:
            w, h = src[2] - src[0], src[3] - src[1]
            bands = []
            if not any(_same_row(src, done) for done in rows_done):
                rows_done.append(src)
                bands.append(_row_band(src, ink.shape))
            bands.append(_column_band(src, ink.shape))
            src_stroke = _stroke(ink, src)
            stroke = max(2, src_stroke)
            for band in bands:
                for box in _ring_matches(lines_ink, band, w, h, stroke):
                    x0, y0, x1, y1 = box
                    if taken[y0 + h // 4 : y1 - h // 4, x0 + w // 4 : x1 - w // 4].any():
                        continue
                    fill = _vouched(ink, lines_ink, box, words, height, src_stroke)
                    if fill is None:
                        continue
                    taken[y0:y1, x0:x1] = True
                    new.append(box)
                    out.append((box, fill))
        sources = new
        if not new:
            break
    return out


def _same_row(a: Box, b: Box) -> bool:
    """Two boxes whose row bands are one: same top, bottom and width (a grid's boxes, searched once)."""
    return a[1] == b[1] and a[3] == b[3] and a[2] - a[0] == b[2] - b[0]


def _row_band(src: Box, shape: tuple[int, ...]) -> Box:
    """The page's width, as high as ``src`` and SIBLING_ALIGN of its height more above and below."""
    pad = max(2, round(SIBLING_ALIGN * (src[3] - src[1])))
    return 0, max(0, src[1] - pad), shape[1], min(shape[0], src[3] + pad)


def _column_band(src: Box, shape: tuple[int, ...]) -> Box:
    """As wide as ``src`` and SIBLING_ALIGN of its width more on each side, SIBLING_REACH heights up and down
    (a column of options is a list; far down the page the same x is another form's business)."""
    pad = max(2, round(SIBLING_ALIGN * (src[2] - src[0])))
    reach = round(SIBLING_REACH * (src[3] - src[1]))
    return max(0, src[0] - pad), max(0, src[1] - reach), min(shape[1], src[2] + pad), min(shape[0], src[3] + reach)


def _ring_matches(ink: np.ndarray, band: Box, w: int, h: int, stroke: int) -> list[Box]:
    """Where in ``band`` a frame of ``w`` x ``h`` and ``stroke`` finds ink on SIBLING_RING of its ring
    (local best placements, best first)."""
    bx0, by0, bx1, by1 = band
    area = ink[by0:by1, bx0:bx1]
    if area.shape[0] < h or area.shape[1] < w:
        return []
    ring = np.ones((h, w), np.float32)
    ring[stroke : h - stroke, stroke : w - stroke] = 0
    ring /= ring.sum()
    cover = cv2.matchTemplate(area.astype(np.float32), ring, cv2.TM_CCORR)
    peaks = (cover >= SIBLING_RING) & (cover >= cv2.dilate(cover, np.ones((5, 5), np.uint8)))
    ys, xs = np.nonzero(peaks)
    order = np.argsort(-cover[ys, xs], kind="stable")
    return [(int(bx0 + xs[i]), int(by0 + ys[i]), int(bx0 + xs[i] + w), int(by0 + ys[i] + h)) for i in order]


def _vouched(
    ink: np.ndarray, lines_ink: np.ndarray, box: Box, words: _Words, height: float, stroke: int
) -> float | None:
    """The fill of a frame a sibling vouches for, or None when it is not a box after all. The tests of a
    candidate (``_frame``, ``_read_as_letter``, a mark inside when the fill says ticked) with two relaxed:
    the sides' straight runs need SIBLING_RUN_MEAN on average (a tick's stroke or a broken corner eats
    into them), and the next ink a letter's spacing away counts only when it is dark (a grey speck
    between a box and its label is not a letter). One more is asked: a label, a word the engine read on
    the box's line within SIBLING_LABEL text heights, or over the box (glued to it): a row of letters
    the engine did not read at all (a bold heading, the dashes of a scan's border) is no row of boxes.
    The fill is read past the sibling's ``stroke``: a cross heavy enough to touch every side makes the
    box's own frame look half as thick as the box, leaving no middle to read."""
    ranked = sorted(_straight_runs(lines_ink, box))
    if not (ranked[0] >= RUN_MIN and ranked[1] >= RUN_SECOND and sum(ranked) / 4 >= SIBLING_RUN_MEAN):
        return None
    if not _inked_corners(lines_ink, box) or _inside_word(ink, box, height):
        return None
    if not _labelled(box, words, height) or _read_as_letter(box, words, lines_ink, height):
        return None
    fill = fill_ratio(ink, box, stroke)
    if fill > SELECTED_FILL and not _is_mark(ink, box, stroke):
        return None
    return fill


def _labelled(box: Box, words: _Words, height: float) -> bool:
    """A word on the box's line (over its middle half of rows) within reach of its left or right side, or
    over it: what a box is there for."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    reach = max(SIBLING_LABEL * height, SIBLING_LABEL_BOX * w) + 1
    return bool(words.overlapping(x0 - reach, y0 + h // 4, x1 + reach, y1 - h // 4))


def _drop_nested(ink: np.ndarray, found: list[tuple[Box, float]]) -> list[tuple[Box, float]]:
    """One box found twice (the outline outside its frame and the one inside it): keep the outer. A box
    inside a table cell found with the cell (NESTED times its area or more): keep the box, unless the outer one is
    solid ink (a filled box, whose inner "boxes" are specks). The inside outline of a thick frame can be a
    third of its area: it is the same frame when it stands no more than two strokes in from every side."""
    drop: set[int] = set()
    for i, (outer, fill) in enumerate(found):
        for j, (inner, _) in enumerate(found):
            if i == j or not _contains(outer, inner):
                continue
            if _area(outer) < NESTED * _area(inner) or fill > 0.35 or _same_frame(ink, outer, inner):
                drop.add(j)
            else:
                drop.add(i)
    return [f for k, f in enumerate(found) if k not in drop]


def _same_frame(ink: np.ndarray, outer: Box, inner: Box) -> bool:
    reach = 2 * _stroke(ink, outer) + 2
    return max(inner[0] - outer[0], inner[1] - outer[1], outer[2] - inner[2], outer[3] - inner[3]) <= reach


def _area(b: Box) -> int:
    return max(0, b[2] - b[0]) * max(0, b[3] - b[1])


def _intersection(a: Box, b: Box) -> int:
    return max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))


def _overlap(a: Box, b: Box) -> float:
    inter = _intersection(a, b)
    return inter / max(1, _area(a) + _area(b) - inter)


def _contains(outer: Box, inner: Box, tolerance: int = 2) -> bool:
    return (
        inner[0] >= outer[0] - tolerance
        and inner[1] >= outer[1] - tolerance
        and inner[2] <= outer[2] + tolerance
        and inner[3] <= outer[3] + tolerance
        and _area(inner) < _area(outer)
    )
