"""Worker side: the Tesseract engine through tesserocr's in-process API. One warm API object per
language set and process (initialising a model costs far more than reading a line), one thread each:
parallelism comes from worker processes, so OMP_THREAD_LIMIT=1 is set before the library loads."""

from __future__ import annotations

import dataclasses
import os

os.environ.setdefault("OMP_THREAD_LIMIT", "1")

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import tesserocr
from tesserocr import OEM, PSM, RIL, PyTessBaseAPI, iterate_level


@dataclass(slots=True)
class RawWord:
    text: str
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in the engine's image
    confidence: float  # 0..1


@dataclass(slots=True)
class RawLine:
    box: tuple[int, int, int, int]
    confidence: float
    block: int  # Tesseract's block number: its own layout order (columns, then lines)
    words: list[RawWord] = field(default_factory=list)
    vertical: bool = False  # in a block Tesseract read top-to-bottom (a page turned by 90 degrees)
    style: str | None = None  # "handwriting" or "other", set by pipeline.style once the line is read
    style_confidence: float = 0.0
    language: str | None = None  # set by pipeline.langdetect where a line's language differs from its page's

    def with_words(self, words: list[RawWord]) -> RawLine:
        """The line keeping only ``words`` (some dropped as noise or as a checkbox's outline): its box
        shrinks to theirs, so what was dropped no longer widens it; everything else stays."""
        box = (
            min(w.box[0] for w in words),
            min(w.box[1] for w in words),
            max(w.box[2] for w in words),
            max(w.box[3] for w in words),
        )
        return dataclasses.replace(self, box=box, words=words)


def confidence_summary(lines: list[RawLine]) -> tuple[float, int, float]:
    """(character-weighted mean word confidence, word count, share of characters in vertical blocks):
    what tells a page read upright from one read sideways or upside down."""
    chars = conf = vertical = 0.0
    words = 0
    for ln in lines:
        for w in ln.words:
            n = len(w.text)
            chars += n
            conf += n * w.confidence
            vertical += n if ln.vertical else 0
            words += 1
    if not chars:
        return 0.0, 0, 0.0
    return conf / chars, words, vertical / chars


_TOP_TO_BOTTOM = 2  # tesseract::WRITING_DIRECTION_TOP_TO_BOTTOM


def installed_languages(tessdata: Path) -> set[str]:
    return {p.name.removesuffix(".traineddata") for p in tessdata.glob("*.traineddata")}


class TesseractEngine:
    """A warm tesserocr API for one language set."""

    name = "tesseract"

    def __init__(self, tessdata: Path, languages: str) -> None:
        self.languages = languages
        self._api = PyTessBaseAPI(path=str(tessdata) + "/", lang=languages, psm=PSM.AUTO, oem=OEM.LSTM_ONLY)
        self._lock = threading.Lock()
        self.busy_ms = 0.0  # time spent in Recognize and the result walk, summed over this engine's life

    def close(self) -> None:
        self._api.End()

    def recognize(self, gray: np.ndarray, dpi: int | None = None, psm: int | None = None) -> list[RawLine]:
        """Lines with words, boxes and confidences, in Tesseract's own (block) order. ``psm`` overrides
        the page segmentation mode (default automatic) for this call only."""
        img = np.ascontiguousarray(gray, dtype=np.uint8)
        h, w = img.shape
        with self._lock:
            t0 = time.perf_counter()
            api = self._api
            if psm is not None:
                api.SetPageSegMode(psm)
            try:
                api.SetImageBytes(img.tobytes(), w, h, 1, w)
                if dpi:
                    api.SetSourceResolution(dpi)
                api.Recognize()
                lines = _collect(api)
            finally:
                api.Clear()  # its copies of the page (grey, thresholded, ~2 bytes a pixel) until the next one
                if psm is not None:
                    api.SetPageSegMode(PSM.AUTO)
            self.busy_ms += (time.perf_counter() - t0) * 1000
            return lines


def _collect(api: PyTessBaseAPI) -> list[RawLine]:
    lines: list[RawLine] = []
    ri = api.GetIterator()
    if ri is None:
        return lines
    block = -1
    vertical = False
    current: RawLine | None = None
    for it in iterate_level(ri, RIL.WORD):
        if it.Empty(RIL.WORD):
            continue
        if it.IsAtBeginningOf(RIL.BLOCK) or block < 0:
            block += 1
            vertical = it.Orientation()[1] == _TOP_TO_BOTTOM
        if current is None or it.IsAtBeginningOf(RIL.TEXTLINE):
            lbox = it.BoundingBox(RIL.TEXTLINE)
            current = RawLine(
                tuple(lbox) if lbox else (0, 0, 0, 0),
                it.Confidence(RIL.TEXTLINE) / 100.0,
                max(block, 0),
                vertical=vertical,
            )
            lines.append(current)
        text = (it.GetUTF8Text(RIL.WORD) or "").strip()
        box = it.BoundingBox(RIL.WORD)
        if not text or not box:
            continue
        current.words.append(RawWord(text, tuple(box), max(0.0, min(1.0, it.Confidence(RIL.WORD) / 100.0))))
    return [ln for ln in lines if ln.words]


class Osd(NamedTuple):
    """What OSD tells of a page: its turn and, from the same pass, its script (Latin, Cyrillic, Han...)."""

    degrees: int  # the page is turned clockwise by this: 0, 90, 180, 270
    confidence: float
    script: str
    script_confidence: float


class OrientationDetector:
    """Tesseract's OSD model, warm: which way a page is turned (0, 90, 180, 270 degrees clockwise), and
    in which script it is written."""

    def __init__(self, tessdata: Path) -> None:
        self._api = PyTessBaseAPI(path=str(tessdata) + "/", lang="osd", psm=PSM.OSD_ONLY)

    def detect(self, gray: np.ndarray) -> Osd | None:
        """The page's turn and script with OSD's confidences, or None when it cannot tell."""
        img = np.ascontiguousarray(gray, dtype=np.uint8)
        h, w = img.shape
        self._api.SetImageBytes(img.tobytes(), w, h, 1, w)
        found = self._api.DetectOrientationScript()
        self._api.Clear()
        if not found:
            return None
        return Osd(
            int(found["orient_deg"]) % 360,
            float(found["orient_conf"]),
            str(found.get("script_name") or ""),
            float(found.get("script_conf") or 0.0),
        )

    def close(self) -> None:
        self._api.End()


def version() -> str:
    return tesserocr.tesseract_version().split()[1]
