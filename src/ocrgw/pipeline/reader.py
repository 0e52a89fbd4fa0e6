"""Worker side, one page: a rasterized page -> lines in reading order (preprocess, recognise, orientation
check, fragment filter, ordering). ``runner._read_pages`` and the accuracy bench both call it, so the bench
measures the code the workers run, not a copy."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ocrgw.jobs.schemas import ReadingOrder
from ocrgw.pipeline import style
from ocrgw.pipeline.engines import Engine
from ocrgw.pipeline.engines.tesseract import OrientationDetector, RawLine, confidence_summary
from ocrgw.pipeline.layout import order_lines
from ocrgw.pipeline.orient import PageReading, read_page
from ocrgw.pipeline.rasterize import RasterPage
from ocrgw.pipeline.reread import REREAD_SHARE, missed_lines, reread, text_units
from ocrgw.pipeline.stepclock import ms_since
from ocrgw.pipeline.structure import compose


@dataclass(slots=True)
class PageRead:
    """What the worker knows about a page once it is read, before it becomes a stored ``PageResult``."""

    lines: list[RawLine]  # in the requested reading order, stray fragments dropped
    matrix: np.ndarray | None  # engine image -> submitted page pixels (None: identity)
    angle: float
    steps: list[dict]  # preprocessing and orientation steps, as stored with the page
    engine_ms: float  # time inside the engines (recognition + result walk, a second opinion too), OSD excluded
    layout: compose.RawLayout | None = None  # paragraphs, tables, marks: only when asked for (lines are its own)


# A page whose every pixel lies within this many grey levels holds nothing to read (a blank separator page, a
# blank frame: a 100-megapixel one cost the engines ~20 s, the second opinion included, to find no text).
# JPEG leaves a flat page within 1-2 levels; the faintest text the engines read is tens of levels apart.
UNIFORM = 4


def uniform(gray: np.ndarray) -> bool:
    return gray.size == 0 or int(gray.max()) - int(gray.min()) <= UNIFORM


def _blank(engine_step: dict | None, layout: bool) -> PageRead:
    """A page of one tone: no lines, and a step that says why the engines were not asked."""
    step = {"step": "blank", "applied": True, "reason": f"one tone (within {UNIFORM} grey levels): no text"}
    steps = [step] if engine_step is None else [engine_step, step]
    return PageRead([], None, 0.0, steps, 0.0, compose.RawLayout([]) if layout else None)


def read(
    page: RasterPage,
    engine: Engine,
    osd: OrientationDetector | None,
    reading_order: ReadingOrder,
    *,
    chain: str = "adaptive",
    second: Callable[[], Engine] | None = None,
    second_below: float = 0.0,
    engine_step: dict | None = None,
    reread_below: float = 0.0,
    reread_share: float | None = REREAD_SHARE,
    reread_budget: float | None = None,
    missed_text: bool = True,
    layout: bool = False,
) -> PageRead:
    """Read one page the way a worker does: ``orient.read_page`` (preprocess, recognise, turn the page
    if it reads sideways or upside down) followed by ``layout.order_lines`` with the job's order.

    A page the engine reads with a mean word confidence under ``second_below`` is read again by the
    ``second`` engine, and that reading is kept when it is the more confident one: Tesseract's confidence
    is a good judge of its own failures (on ocr-dev every page under 0.8 read better with PP-OCR, and the
    pages under 0.7 are the crumpled receipts and faint forms it loses half the words of), and paying the
    second engine's ~3x only on those pages keeps the default mode within its time budget.
    ``engine_step`` (why this engine, from ``engines.choose``) leads the page's steps when given.
    ``layout``: also find the page's structure (``structure.compose``), whose lines then replace the
    ordered ones (split at table cells, tables moved together). ``chain`` other than ``adaptive`` is for
    the accuracy bench only."""
    if uniform(page.gray):
        return _blank(engine_step, layout)
    busy_before = engine.busy_ms
    started = time.perf_counter()
    reading = read_page(page.gray, page.dpi, engine, osd, exact_dpi=page.unit == "inch", chain=chain)
    first_ms = ms_since(started)
    engine_ms = engine.busy_ms - busy_before
    again: PageReading | None = None
    tesseract_lines = {id(ln) for ln in reading.lines} if engine.name == "tesseract" else set()
    if second is not None:
        conf = confidence_summary(reading.lines)[0]
        if conf < second_below:
            reading, again, ms = _second_opinion(page, reading, conf, second(), osd, chain, second_below, first_ms)
            engine_ms += ms
        if reading is not again and reread_below > 0 and reading.image is not None:
            tesseract_ms = engine.busy_ms - busy_before
            budget = Budget(reread_below, reread_share, reread_budget, missed_text)
            engine_ms += _reread_page(reading, second(), budget, tesseract_ms)
    ordered = order_lines(reading.lines, reading_order)  # may split lines: labelled after
    style_step = _label_styles(reading.image, ordered, tesseract_lines, unread_page=reading is again)
    steps = reading.steps if engine_step is None else [engine_step, *reading.steps]
    if style_step is not None:
        steps = [*steps, style_step]
    structure = None
    if layout and reading.image is not None:
        structure, step = _structure(reading.image, ordered)
        ordered, steps = structure.lines, [*steps, step]
    return PageRead(ordered, reading.matrix, reading.angle, steps, engine_ms, structure)


@dataclass(frozen=True, slots=True)
class Budget:
    """What the second engine's recogniser may read on a page Tesseract read (``reread``): runs under
    ``below`` confidence, and text Tesseract's layout passed over when ``missed_text``, within ``share`` of
    the page's text (``reread.text_units``: the recogniser's cost is known before it reads, so a page gets
    the same rereads however busy the machine is) and/or ``time`` x Tesseract's time on the page."""

    below: float
    share: float | None
    time: float | None
    missed_text: bool


def _reread_page(reading: PageReading, other: Engine, budget: Budget, tesseract_ms: float) -> float:
    """Text Tesseract missed first (at most half the budget), then its least confident runs, in one
    budget; ``reading``'s lines and steps are updated. Returns the recogniser's time."""
    before = other.busy_ms
    image = reading.image
    assert image is not None
    ms = None if budget.time is None else budget.time * tesseract_ms
    units = None if budget.share is None else budget.share * text_units(reading.lines)
    added: list[RawLine] = []
    found = None
    if budget.missed_text:
        half_ms, half_units = (None if ms is None else ms / 2), (None if units is None else units / 2)
        added, found = missed_lines(image, reading.lines, other, half_ms, half_units)  # type: ignore[arg-type]
    got = reread(
        image,
        reading.lines,
        other,  # type: ignore[arg-type]
        budget.below,
        None if ms is None else ms - (other.busy_ms - before),
        None if units is None else units - (found or {}).get("units", 0.0),
    )
    reading.lines = [*got.lines, *added]
    reading.steps += [got.step] if found is None else [found, got.step]
    return other.busy_ms - before


def _second_opinion(
    page: RasterPage,
    reading: PageReading,
    conf: float,
    other: Engine,
    osd: OrientationDetector | None,
    chain: str,
    threshold: float,
    first_ms: float,
) -> tuple[PageReading, PageReading, float]:
    """The page read again by ``other``; the more confident reading is kept, and its step says which (``ms``:
    the second reading, whole; ``replaced_ms``: the reading it replaced, whose steps are dropped). Returns
    (the reading kept, the second reading, the other engine's time)."""
    before, started = other.busy_ms, time.perf_counter()
    again = read_page(page.gray, page.dpi, other, osd, exact_dpi=page.unit == "inch", chain=chain)
    conf2 = confidence_summary(again.lines)[0]
    check = {
        "step": "second_opinion",
        "engine": other.name,
        "confidence_before": round(conf, 3),
        "confidence_after": round(conf2, 3),
        "threshold": threshold,
        "ms": ms_since(started),
    }
    if conf2 > conf:
        again.steps.insert(0, {**check, "applied": True, "replaced_ms": first_ms})
        return again, again, other.busy_ms - before
    reading.steps.append({**check, "applied": False})
    return reading, again, other.busy_ms - before


def _structure(image: np.ndarray, ordered: list[RawLine]) -> tuple[compose.RawLayout, dict]:
    """The page's layout, and its step: how long it took, and what was skipped for want of a package."""
    started = time.perf_counter()
    structure = compose.analyse(image, ordered)
    step = {"step": "layout", "ms": ms_since(started)}
    if structure.missing:  # no table models: paragraphs and checkboxes only, and the step says why
        step["tables"] = f"skipped: {structure.missing} is not installed"
    return structure, step


def _label_styles(
    image: np.ndarray | None, lines: list[RawLine], tesseract_lines: set[int], unread_page: bool
) -> dict | None:
    """Each line's style (``pipeline.style``); a line still as Tesseract read it brings its confidence.
    The step records how many lines were measured (the others Tesseract read surely as print) and the time."""
    if image is None or not lines:
        return None
    started = time.perf_counter()
    measured = handwritten = 0
    for line in lines:
        conf = confidence_summary([line])[0] if id(line) in tesseract_lines else None
        line.style, line.style_confidence = style.label(image, line, conf, unread_page)
        measured += conf is None or conf < style.CONFIDENT_PRINT
        handwritten += line.style == style.HANDWRITING
    return {
        "step": "style",
        "measured": measured,
        "handwriting": handwritten,
        "ms": ms_since(started),
    }
