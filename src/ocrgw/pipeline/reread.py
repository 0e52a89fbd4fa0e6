"""Worker side, after recognition and before reading order: Tesseract's layout with PP-OCR's words.
Tesseract finds a page's columns, tables and lines well and reads clean print well; PP-OCR's recogniser
reads what Tesseract gets wrong (faint receipts, 100-dpi forms, handwriting) far better. So each line
Tesseract is unsure of is cut out of the engine image and read again by the recogniser alone (no
detection: the line is already found), and the reading the measurements favour is kept. The lines keep
Tesseract's boxes, blocks and order, so ``layout.order_lines`` and every dialect see the same structure."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from ocrgw.pipeline.engines.tesseract import RawLine, RawWord

# A line read by Tesseract with a mean word confidence under this is read again (see docs/accuracy.md).
REREAD_BELOW = 0.9
# A page's rereads (and missed text) stop once the runs read add up to this share of the page's text,
# in the recogniser's cost units (``run_units``, ``text_units``); see docs/accuracy.md.
REREAD_SHARE = 0.15
# The recogniser's reading replaces Tesseract's when its score beats Tesseract's line confidence by this.
MIN_MARGIN = 0.0
# The crop around Tesseract's line box, in line heights: the recogniser was trained on detector boxes,
# which are the text grown by a margin; Tesseract's boxes end at the ink.
PAD_Y = 0.05
PAD_X = 0.3
# A gap between two words wider than this many line heights splits a line into runs read apart.
SEGMENT_GAP = 0.8


class LineReader(Protocol):
    name: str
    busy_ms: float

    def read_line(self, crop: np.ndarray) -> tuple[str, float, list[tuple[str, float, float, float]]]: ...


@dataclass(slots=True)
class Reread:
    lines: list[RawLine]
    step: dict


def crop_line(image: np.ndarray, box: tuple[int, int, int, int]) -> tuple[np.ndarray, int, int]:
    """The line's pixels with a margin, and the crop's top-left corner in ``image``."""
    x0, y0, x1, y1 = box
    h = max(1, y1 - y0)
    py, px = round(PAD_Y * h), round(PAD_X * h)
    top, left = max(0, y0 - py), max(0, x0 - px)
    bottom, right = min(image.shape[0], y1 + py), min(image.shape[1], x1 + px)
    return image[top:bottom, left:right], left, top


def segments(line: RawLine) -> list[list[RawWord]]:
    """The line's words in runs without a wide gap: Tesseract joins a table's or a form's cells into one
    line across wide gaps, and the recogniser, shown the whole line, runs the cells together with no
    space. A gap wider than ``SEGMENT_GAP`` line heights ends a run."""
    limit = SEGMENT_GAP * max(1, line.box[3] - line.box[1])
    runs: list[list[RawWord]] = [[line.words[0]]]
    for word in line.words[1:]:
        if word.box[0] - runs[-1][-1].box[2] > limit:
            runs.append([])
        runs[-1].append(word)
    return runs


def run_units(box: tuple[int, int, int, int]) -> float:
    """What reading a run costs the recogniser, in units of its height: the crop is scaled to a fixed
    height, so the recogniser's time grows with the crop's width over its height, plus a fixed cost per
    call worth about one unit (measured: ~3 ms a unit, 1 to 32 units)."""
    h = max(1, box[3] - box[1])
    return (box[2] - box[0]) / h + 1.0


def text_units(lines: list[RawLine]) -> float:
    """The page's horizontal text in the same units: the widths of its lines over their heights."""
    return sum(run_units(ln.box) - 1.0 for ln in lines if ln.words and not ln.vertical)


def _spent(reader: LineReader, busy: float, units: float, budget_ms: float | None, budget_units: float | None) -> bool:
    if budget_ms is not None and reader.busy_ms - busy >= budget_ms:
        return True
    return budget_units is not None and units >= budget_units


def reread(
    image: np.ndarray,
    lines: list[RawLine],
    reader: LineReader,
    below: float = REREAD_BELOW,
    budget_ms: float | None = None,
    budget_units: float | None = None,
) -> Reread:
    """Runs of words (``segments``) of horizontal lines under ``below`` confidence read again by
    ``reader``, least confident first, until the reader has spent ``budget_ms`` on the page (None: no limit);
    the reading with the higher confidence is kept (Tesseract's word confidence and the recogniser's
    character score are on comparable 0..1 scales for the same text: both near 1 for clean print, both
    fall on bad ink). The budget is what holds the default mode to its time: a page's rereads cost at
    most a share of what Tesseract spent on it, and the least confident runs, where the gain is, go first.
    The step's ``ms`` is its wall time, the recogniser's share ``engine_ms``."""
    started = time.perf_counter()
    runs: list[tuple[float, int, int, tuple[int, int, int, int]]] = []  # conf, line, run, box
    split: list[list[list[RawWord]]] = []
    for i, line in enumerate(lines):
        split.append(segments(line) if line.words and not line.vertical and line.box[3] - line.box[1] >= 4 else [])
        for j, run in enumerate(split[-1]):
            conf = _confidence(run)
            box = (min(w.box[0] for w in run), line.box[1], max(w.box[2] for w in run), line.box[3])
            if conf < below and box[2] - box[0] >= (box[3] - box[1]) // 2:
                runs.append((conf, i, j, box))
    runs.sort(key=lambda r: r[0])
    busy = reader.busy_ms
    tried = replaced = differ = 0
    units = 0.0
    for conf, i, j, box in runs:
        if _spent(reader, busy, units, budget_ms, budget_units):
            break
        tried += 1
        units += run_units(box)
        crop, left, _ = crop_line(image, box)
        _, score, tokens = reader.read_line(crop)
        letters = sum(c.isalnum() for t in tokens for c in t[0])
        # more confident, and not by reading far less (a script outside its alphabet: a few sure marks)
        if (
            tokens
            and score > conf + MIN_MARGIN
            and letters >= 0.25 * sum(c.isalnum() for w in split[i][j] for c in w.text)
        ):
            replaced += 1
            differ += [t[0] for t in tokens] != [w.text for w in split[i][j]]
            split[i][j] = _as_words(split[i][j], box, tokens, left)
    out = []
    for line, line_runs in zip(lines, split, strict=True):
        words = [w for run in line_runs for w in run]
        changed = line_runs and words != line.words
        out.append(RawLine(line.box, _confidence(words), line.block, words, line.vertical) if changed else line)
    step = {
        "step": "reread_lines",
        "engine": reader.name,
        "below": below,
        "candidates": len(runs),
        "tried": tried,
        "replaced": replaced,
        "changed": differ,  # replaced with other words (the rest: the same words, surer)
        "units": round(units, 1),
        "engine_ms": round(reader.busy_ms - busy, 1),
        "ms": round(1000 * (time.perf_counter() - started), 1),
    }
    return Reread(out, step)


def _confidence(words: list[RawWord]) -> float:
    chars = sum(len(w.text) for w in words)
    return sum(len(w.text) * w.confidence for w in words) / chars if chars else 0.0


def _as_words(
    run: list[RawWord], box: tuple[int, int, int, int], tokens: list[tuple[str, float, float, float]], left: int
) -> list[RawWord]:
    """The recogniser's tokens as words in place of ``run``: Tesseract's word boxes when the two split the
    text into as many words (its boxes are tight), else boxes from the recogniser's character columns."""
    if len(tokens) == len(run):
        return [RawWord(t[0], w.box, t[3]) for t, w in zip(tokens, run, strict=True)]
    x_lo, y0, x_hi, y1 = box
    words = []
    for text, t0, t1, conf in tokens:
        a = max(x_lo, round(left + t0))
        b = min(x_hi, max(round(left + t1), a + 1))
        words.append(RawWord(text, (a, y0, b, y1), conf))
    return words


def missed_lines(
    image: np.ndarray,
    lines: list[RawLine],
    reader: LineReader,
    budget_ms: float | None = None,
    budget_units: float | None = None,
) -> tuple[list[RawLine], dict | None]:
    """Text Tesseract's layout passed over, read by the second engine's recogniser. Tesseract's page layout
    takes a line of joined cursive, or a faint form field, for a picture and reads nothing there. Ink left
    once every line Tesseract read is blanked out is grouped into glyph-sized components and those into
    line-shaped runs (``_uncovered_runs``); each run the recogniser reads with confidence joins the page,
    in a block of its own. Only the runs are read, so a page Tesseract read whole costs nothing more.
    The step's ``ms`` is its wall time (finding the runs too), the recogniser's share ``engine_ms``."""
    started = time.perf_counter()
    if image.ndim != 2 or image.size == 0:
        return [], None
    heights = sorted(ln.box[3] - ln.box[1] for ln in lines if not ln.vertical)
    height = float(heights[len(heights) // 2]) if heights else 0.0
    runs = _find_uncovered(image, lines, height)
    if not runs:
        ms = round(1000 * (time.perf_counter() - started), 1)
        return [], {"step": "missed_text", "applied": False, "candidates": 0, "ms": ms}
    busy = reader.busy_ms
    block = max((ln.block for ln in lines), default=-1) + 1
    added: list[RawLine] = []
    tried = 0
    units = 0.0
    for box in runs:  # largest first, until the budget is spent
        if _spent(reader, busy, units, budget_ms, budget_units):
            break
        tried += 1
        units += run_units(box)
        crop, left, _ = crop_line(image, box)
        _, score, tokens = reader.read_line(crop)
        if score < MIN_MISSED_SCORE or sum(c.isalnum() for t in tokens for c in t[0]) < 2:
            continue
        added.append(RawLine(box, score, block, _as_words([], box, tokens, left)))
        block += 1
    step = {
        "step": "missed_text",
        "engine": reader.name,
        "candidates": len(runs),
        "tried": tried,
        "lines": len(added),
        "units": round(units, 1),
        "engine_ms": round(reader.busy_ms - busy, 1),
        "ms": round(1000 * (time.perf_counter() - started), 1),
    }
    return added, step


# A run of uncovered ink read with a lower score than this is not text (a logo, a stamp, a rule's remains).
MIN_MISSED_SCORE = 0.7
# At most this many runs are read on a page (a photo or a halftone can break into hundreds).
MAX_MISSED_RUNS = 40


# Uncovered ink is looked for on a copy reduced so the page's lines are this tall (``_find_uncovered``).
FIND_LINE_HEIGHT = 16.0


def _find_uncovered(image: np.ndarray, lines: list[RawLine], line_height: float) -> list[tuple[int, int, int, int]]:
    """``_uncovered_runs`` on a copy of the page reduced (area average) so its lines are ``FIND_LINE_HEIGHT``
    px tall, the boxes scaled back: the engine image of an enlarged 100-dpi form is up to 12 MP, and
    thresholding and labelling it whole cost more than reading the few runs it holds. Glyphs stay 6 px
    and more tall there, which the run finder needs; a page of small text is searched as it is."""
    scale = FIND_LINE_HEIGHT / line_height if line_height else 1.0
    if scale > 0.8 or FIND_LINE_HEIGHT <= 0:
        return _uncovered_runs(image, lines, line_height)
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    shrunk = [
        RawLine(tuple(round(v * scale) for v in ln.box), ln.confidence, ln.block, [], ln.vertical)  # type: ignore[arg-type]
        for ln in lines
    ]
    h, w = image.shape[:2]
    return [
        (int(x0 / scale), int(y0 / scale), min(w, int(np.ceil(x1 / scale))), min(h, int(np.ceil(y1 / scale))))
        for x0, y0, x1, y1 in _uncovered_runs(small, shrunk, line_height * scale)
    ]


def _uncovered_runs(image: np.ndarray, lines: list[RawLine], line_height: float) -> list[tuple[int, int, int, int]]:
    """Boxes of line-shaped runs of glyph-sized ink outside every line's box, largest first."""
    _, ink = cv2.threshold(image, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    for ln in lines:
        x0, y0, x1, y1 = ln.box
        pad = max(2, (y1 - y0) // 4)
        ink[max(0, y0 - pad) : y1 + pad, max(0, x0 - pad) : x1 + pad] = 0
    n, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    del ink  # the label image is 4 bytes a pixel: each full-page buffer goes as soon as it is used
    if n < 2:
        return []
    h, w = stats[1:, cv2.CC_STAT_HEIGHT], stats[1:, cv2.CC_STAT_WIDTH]
    low = max(6.0, 0.4 * line_height) if line_height else 8.0
    high = 3.0 * line_height if line_height else image.shape[0] / 8
    glyph = (h >= low) & (h <= high) & (w <= 0.5 * image.shape[1]) & (w >= 2)
    if int(glyph.sum()) < 3:
        return []
    unit = max(line_height, float(np.median(h[glyph])))
    keep = np.zeros(n, np.uint8)  # a lookup by label: np.isin sorts the whole label image
    keep[np.flatnonzero(glyph) + 1] = 1
    mask = keep[labels]
    del labels
    joined = cv2.dilate(mask, np.ones((max(1, int(unit // 4)), max(3, int(unit))), np.uint8))
    _, _, runs, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    boxes = []
    for x, y, rw, rh, _area in runs[1:]:
        if rw >= unit and 0.5 * unit <= rh <= 3 * unit and rw >= rh:
            boxes.append((rw * rh, (int(x), int(y), int(x + rw), int(y + rh))))
    boxes.sort(reverse=True)
    return [b for _, b in boxes[:MAX_MISSED_RUNS]]
