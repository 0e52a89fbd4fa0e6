"""Worker side, one page: a rasterized page -> lines in reading order (preprocess, recognise, orientation
check, fragment filter, ordering). ``runner._read_pages`` and the accuracy bench both call it, so the bench
measures the code the workers run, not a copy."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ocrgw.jobs.schemas import ReadingOrder
from ocrgw.pipeline.engines import Engine
from ocrgw.pipeline.engines.tesseract import OrientationDetector, RawLine
from ocrgw.pipeline.layout import order_lines
from ocrgw.pipeline.orient import read_page
from ocrgw.pipeline.rasterize import RasterPage


@dataclass(slots=True)
class PageRead:
    """What the worker knows about a page once it is read, before it becomes a stored ``PageResult``."""

    lines: list[RawLine]  # in the requested reading order, stray fragments dropped
    matrix: np.ndarray | None  # engine image -> submitted page pixels (None: identity)
    angle: float
    steps: list[dict]  # preprocessing and orientation steps, as stored with the page
    engine_ms: float  # time inside Tesseract (Recognize + result walk), OSD excluded


def read(page: RasterPage, engine: Engine, osd: OrientationDetector | None,
         reading_order: ReadingOrder, *, chain: str = "adaptive") -> PageRead:
    """Read one page the way a worker does: ``orient.read_page`` (preprocess, recognise, turn the page
    if it reads sideways or upside down) followed by ``layout.order_lines`` with the job's order.
    ``chain`` other than ``adaptive`` is for the accuracy bench only."""
    busy_before = engine.busy_ms
    reading = read_page(page.gray, page.dpi, engine, osd, exact_dpi=page.unit == "inch", chain=chain)
    engine_ms = engine.busy_ms - busy_before
    ordered = order_lines(reading.lines, reading_order)
    return PageRead(ordered, reading.matrix, reading.angle, reading.steps, engine_ms)
