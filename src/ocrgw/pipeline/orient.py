"""Worker side, around the engine: pages turned by 90, 180 or 270 degrees. Recognition runs first; only
a page that reads badly (low confidence) or sideways (vertical text blocks) is shown to Tesseract's OSD,
turned upright and read again, so upright pages pay nothing. Also the affine bookkeeping that keeps
every box in the coordinates of the page as submitted."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ocrgw.pipeline.engines import Engine
from ocrgw.pipeline.engines.tesseract import OrientationDetector, RawLine, confidence_summary
from ocrgw.pipeline.preprocess import Preprocessed, preprocess

# A page read upright has a character-weighted mean word confidence well above this (dev set: 0.8-0.96,
# 100-dpi forms 0.84); read upside down it falls to 0.25-0.45.
SUSPECT_CONFIDENCE = 0.6
SUSPECT_VERTICAL_SHARE = 0.5  # most text in blocks Tesseract read top-to-bottom: a sideways page
MIN_OSD_CONFIDENCE = 1.0  # OSD's own scale; upright dev pages score 4-20, noise below 0.5
MIN_GAIN = 0.05  # the turned reading must beat the first by this much mean confidence


@dataclass(slots=True)
class PageReading:
    lines: list[RawLine]
    matrix: np.ndarray | None  # engine image -> submitted page coordinates
    angle: float  # degrees clockwise the text is turned on the submitted page, (-180, 180]
    steps: list[dict]
    image: np.ndarray | None = None  # what the engine read (the lines' coordinates)


def normalize_angle(angle: float) -> float:
    a = ((angle + 180.0) % 360.0) - 180.0
    return 180.0 if a == -180.0 else a


def rot90_matrix(quarter_turns: int, width: int, height: int) -> np.ndarray:
    """Affine map from ``np.rot90(img, k)`` coordinates back to ``img`` (W x H) coordinates."""
    k = quarter_turns % 4
    if k == 0:
        return np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    if k == 1:  # (x', y') -> (W - y', x')
        return np.array([[0.0, -1.0, float(width)], [1.0, 0.0, 0.0]])
    if k == 2:  # (x', y') -> (W - x', H - y')
        return np.array([[-1.0, 0.0, float(width)], [0.0, -1.0, float(height)]])
    return np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, float(height)]])  # (x', y') -> (y', H - x')


def compose(outer: np.ndarray | None, inner: np.ndarray | None) -> np.ndarray | None:
    """The affine p -> outer(inner(p)); None stands for the identity."""
    if inner is None:
        return outer
    if outer is None:
        return inner
    o = np.vstack([outer, [0.0, 0.0, 1.0]])
    i = np.vstack([inner, [0.0, 0.0, 1.0]])
    return (o @ i)[:2]


def _recognize(engine: Engine, pre: Preprocessed) -> list[RawLine]:
    """The engine's reading of the preprocessed page; its time is recorded as the ``recognize`` step."""
    before = engine.busy_ms
    lines = engine.recognize(pre.image, pre.dpi, pre.psm)
    pre.steps.append({"step": "recognize", "engine": engine.name, "ms": round(engine.busy_ms - before, 1)})
    return lines


def read_page(
    gray: np.ndarray,
    dpi: int | None,
    engine: Engine,
    osd: OrientationDetector | None,
    *,
    exact_dpi: bool = False,
    chain: str = "adaptive",
) -> PageReading:
    """Preprocess and recognise one page, turning it upright first if it reads sideways or upside down.
    ``dpi`` is the file's (``exact_dpi``: a PDF's render resolution); preprocessing decides what the
    engine is told."""
    pre: Preprocessed = preprocess(gray, dpi, exact_dpi=exact_dpi, chain=chain, engine=engine.name)
    lines = _recognize(engine, pre)
    reading = PageReading(lines, pre.matrix, normalize_angle(pre.angle), list(pre.steps), pre.image)
    if osd is None:
        return reading
    conf, words, vertical = confidence_summary(lines)
    if words and conf >= SUSPECT_CONFIDENCE and vertical < SUSPECT_VERTICAL_SHARE:
        return reading
    started = time.perf_counter()
    found = osd.detect(pre.image)
    check: dict = {
        "step": "orientation",
        "confidence_before": round(conf, 3),
        "vertical_share": round(vertical, 3),
        "detected": found[0] if found else None,
        "osd_confidence": round(found[1], 2) if found else None,
    }
    if found and found.script:  # read by pipeline.langdetect: a page that reads badly may be in another script
        check.update(script=found.script, script_confidence=round(found.script_confidence, 2))
    sideways = vertical >= SUSPECT_VERTICAL_SHARE
    if found and found[1] >= MIN_OSD_CONFIDENCE:
        candidates = [found[0]] if found[0] else []
    else:  # OSD cannot tell (little text, low resolution): try the turns the symptoms point to
        candidates = [90, 270] if sideways else [180]
    best: tuple[float, int, Preprocessed, list[RawLine]] | None = None
    for turned_by in candidates:
        upright = np.ascontiguousarray(np.rot90(gray, turned_by // 90))  # rot90 turns anticlockwise
        pre2 = preprocess(upright, dpi, exact_dpi=exact_dpi, chain=chain, engine=engine.name)
        lines2 = _recognize(engine, pre2)
        conf2 = confidence_summary(lines2)[0]
        check[f"confidence_turned_{turned_by}"] = round(conf2, 3)
        if best is None or conf2 > best[0]:
            best = (conf2, turned_by, pre2, lines2)
    # A sideways page Tesseract read anyway is turned if the upright reading is as good (its boxes and
    # angle are then right); otherwise the turned reading must be clearly better.
    check["ms"] = round(1000 * (time.perf_counter() - started), 1)  # OSD and the turned readings
    if best is None or best[0] < conf + (-MIN_GAIN if sideways else MIN_GAIN):
        check["applied"] = False
        reading.steps.append(check)
        return reading
    conf2, turned_by, pre2, lines2 = best
    check.update(applied=True, turned_by=turned_by)
    height, width = gray.shape
    matrix = compose(rot90_matrix(turned_by // 90, width, height), pre2.matrix)
    return PageReading(lines2, matrix, normalize_angle(turned_by + pre2.angle), [*pre2.steps, check], pre2.image)
