"""Worker side: the Tesseract engine through tesserocr's in-process API. One warm API object per
language set and process (initialising a model costs far more than reading a line), one thread each:
parallelism comes from worker processes, so OMP_THREAD_LIMIT=1 is set before the library loads."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_THREAD_LIMIT", "1")

import threading
from dataclasses import dataclass, field
from pathlib import Path

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


def installed_languages(tessdata: Path) -> set[str]:
    return {p.name.removesuffix(".traineddata") for p in tessdata.glob("*.traineddata")}


class TesseractEngine:
    """A warm tesserocr API for one language set."""

    def __init__(self, tessdata: Path, languages: str) -> None:
        self.languages = languages
        self._api = PyTessBaseAPI(path=str(tessdata) + "/", lang=languages, psm=PSM.AUTO, oem=OEM.LSTM_ONLY)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._api.End()

    def recognize(self, gray: np.ndarray, dpi: int | None = None) -> list[RawLine]:
        """Lines with words, boxes and confidences, in Tesseract's own (block) order."""
        img = np.ascontiguousarray(gray, dtype=np.uint8)
        h, w = img.shape
        with self._lock:
            api = self._api
            api.SetImageBytes(img.tobytes(), w, h, 1, w)
            if dpi:
                api.SetSourceResolution(dpi)
            api.Recognize()
            return _collect(api)


def _collect(api: PyTessBaseAPI) -> list[RawLine]:
    lines: list[RawLine] = []
    ri = api.GetIterator()
    if ri is None:
        return lines
    block = -1
    current: RawLine | None = None
    for it in iterate_level(ri, RIL.WORD):
        if it.Empty(RIL.WORD):
            continue
        if it.IsAtBeginningOf(RIL.BLOCK):
            block += 1
        if current is None or it.IsAtBeginningOf(RIL.TEXTLINE):
            lbox = it.BoundingBox(RIL.TEXTLINE)
            current = RawLine(tuple(lbox) if lbox else (0, 0, 0, 0), it.Confidence(RIL.TEXTLINE) / 100.0,
                              max(block, 0))
            lines.append(current)
        text = (it.GetUTF8Text(RIL.WORD) or "").strip()
        box = it.BoundingBox(RIL.WORD)
        if not text or not box:
            continue
        current.words.append(RawWord(text, tuple(box), max(0.0, min(1.0, it.Confidence(RIL.WORD) / 100.0))))
    return [ln for ln in lines if ln.words]


def version() -> str:
    return tesserocr.tesseract_version().split()[1]
