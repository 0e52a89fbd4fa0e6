"""Worker side, after recognition: is a line handwritten? Azure reports it on every line (Read v3.2
``appearance.style``, Document Intelligence ``styles``), so the worker labels each line before reading
order, from the line's pixels and what the engines made of it.

What tells them apart, measured on line crops (``bench/handwriting.py``'s set against ocr-dev's printed
lines; docs/accuracy.md): printed glyphs are separate connected components about as wide as they are high,
one per character, all of one height; handwriting joins letters into strokes (fewer, wider components per
character) whose heights vary. A logistic model on those three numbers, fitted on two handwriting sources
and two print sources and checked on the others, keeps ~97 % of print and finds ~90-95 % of handwriting.
Tesseract, which reads handwriting badly, reading a line with high confidence is taken as print too."""

from __future__ import annotations

import math

import cv2
import numpy as np

from ocrgw.pipeline.engines.tesseract import RawLine

HANDWRITING = "handwriting"
OTHER = "other"

# log(components per character), log(median component width / median height), spread of component heights
# (std / median), bias. Fitted as the module docstring says (bench/handwriting.py's copiste and hooker
# lines against ocr-dev's scribe and sroie lines, weighted to balance the classes).
_WEIGHTS = (-4.283, 3.017, 6.911, -3.288)
# A line Tesseract reads with at least this mean word confidence is print, whatever its shape says: clean
# print reads at 0.96 and more; a neat joined script font already reads at 0.93 (tests/data/note).
CONFIDENT_PRINT = 0.95


def features(crop: np.ndarray, text: str) -> tuple[float, float, float] | None:
    """(components per character, median component width over height, height spread), or None when the
    crop holds no ink or the text no character."""
    chars = sum(c.isalnum() for c in text)
    if not chars or crop.size == 0 or min(crop.shape[:2]) < 3:
        return None
    _, ink = cv2.threshold(crop, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    n, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    heights, widths, areas = stats[1:, cv2.CC_STAT_HEIGHT], stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_AREA]
    tall = heights > 2
    if n < 2 or not tall.any():
        return None
    median = float(np.median(heights[tall]))
    keep = (heights >= 0.3 * median) & (areas >= 4)  # no dots, specks or accents
    if not keep.any():
        return None
    return (
        int(keep.sum()) / chars,
        float(np.median(widths[keep] / median)),
        float(np.std(heights[keep]) / median),
    )


# Added to the model's log-odds for the lines of a page Tesseract could not read (its mean word confidence
# under the second opinion's threshold, so the second engine's reading was kept): handwriting is what
# Tesseract fails on most, so such a page's lines are more likely written by hand (dev sets: a third of
# the missed handwritten lines were within this of the boundary, and few printed lines of such pages).
UNREAD_PAGE_PRIOR = 1.0


def handwriting_probability(feats: tuple[float, float, float], prior: float = 0.0) -> float:
    per_char, width, spread = feats
    z = prior + (
        _WEIGHTS[0] * math.log(max(per_char, 0.05))
        + _WEIGHTS[1] * math.log(max(width, 0.05))
        + _WEIGHTS[2] * min(spread, 2.0)
        + _WEIGHTS[3]
    )
    return 1.0 / (1.0 + math.exp(-z))


def label(
    image: np.ndarray, line: RawLine, tesseract_confidence: float | None, unread_page: bool = False
) -> tuple[str, float]:
    """(``handwriting`` | ``other``, confidence in that label) for one line of the engine image.
    ``tesseract_confidence``: Tesseract's mean word confidence on the line when its reading is the one
    kept (None for lines another engine read); ``unread_page``: the page's reading is the second engine's
    because Tesseract could not read it."""
    if tesseract_confidence is not None and tesseract_confidence >= CONFIDENT_PRINT:
        return OTHER, round(tesseract_confidence, 3)
    x0, y0, x1, y1 = line.box
    crop = image[max(0, y0) : max(0, y1), max(0, x0) : max(0, x1)]
    feats = features(crop, " ".join(w.text for w in line.words))
    if feats is None:
        return OTHER, 0.5
    p = handwriting_probability(feats, UNREAD_PAGE_PRIOR if unread_page else 0.0)
    return (HANDWRITING, round(p, 3)) if p >= 0.5 else (OTHER, round(1.0 - p, 3))
