"""Worker side, part of ``marks``: the state of a checkbox found there (ticked or not, and how sure), read
from the ink inside its frame. Apart from finding frames because it answers another question: what ink
inside a frame is a mark (a cross, a tick, a fill) and not scanner noise or the bar of a letter taken for
a box."""

from __future__ import annotations

import cv2
import numpy as np

Box = tuple[int, int, int, int]

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


def fill_ratio(ink: np.ndarray, box: Box, stroke: int | None = None) -> float:
    """Share of ink in the middle of the box: past the frame's stroke, and at least CENTRE of the side in
    from each edge. The upscale blurs a thin frame over the first pixels inside it (on 7-pixel boxes of a
    100-dpi scan that alone reads as a quarter full); an "x" or a tick crosses the middle."""
    x0, y0, x1, y1 = box
    side = min(x1 - x0, y1 - y0)
    pad = max(round(CENTRE * side), (stroke_width(ink, box) if stroke is None else stroke) + 1)
    inner = ink[y0 + pad : y1 - pad, x0 + pad : x1 - pad]
    return float(inner.mean()) if inner.size else 0.0


def is_mark(ink: np.ndarray, box: Box, stroke: int | None = None) -> bool:
    """What fills a ticked box: strokes across it (an "x", a tick: at least MARK_DIAGONAL of the ink inside
    the frame is off the straight horizontal and vertical strokes) or a solid fill (SOLID of the inside).
    The ink inside a letter taken for a box is its own straight strokes (the bar of a "B", the legs of an
    "m"), and bold letters are not that solid."""
    x0, y0, x1, y1 = box
    pad = (stroke_width(ink, box) if stroke is None else stroke) + 1
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


def stroke_width(ink: np.ndarray, box: Box) -> int:
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


def confidence(fill: float) -> float:
    """0.5 on the threshold, rising toward 1 as the fill moves away from it on either side."""
    span = SELECTED_FILL if fill <= SELECTED_FILL else 1 - SELECTED_FILL
    return round(0.5 + 0.5 * min(1.0, abs(fill - SELECTED_FILL) / (0.5 * span)), 3)
