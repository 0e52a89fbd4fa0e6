"""Worker side, after the pages are read: finds and reads the machine-readable zone (ICAO 9303 TD3
passports, TD2 and TD1 ID cards) on a job's first page, for jobs whose JobSpec.outputs contains "mrz";
the runner stores the result under JobView.analysis["mrz"] for dialects to render (Huawei's passport).

Check digits decide validity: a value is never changed to make its check pass. What the format dictates
is used while reading (a date is read with digits only, so it cannot come out as 'O'), and so is the
printed glyph's height where letters and digits look alike. Every character of a zone is the same font at
the same size, so the document's own prints settle what the engine wavers over: cells that look alike are
one character (the most confident reading of them wins), and a cell that looks unlike every confident
print of what it was read as is read again without it. An issuing state or nationality that is no ICAO
code, or a document code not starting with P, I, A, C or V, becomes the valid value nearest by OCR-B
look-alikes, at half the confidence. Every cell where any of these made a difference to the unconstrained
reading is listed in the result's "fixes" with its reason.

The package, in the order a page goes through it: zone.py finds candidate zones on the page; cells.py
lays each line's character cells out and describes their images; reader.py (MrzReader) reads the cells
and settles them; parse.py turns the lines into fields and checks; codes.py holds the ICAO 9303 facts
all of them read against."""

from __future__ import annotations

import os

# Before tesserocr (and OpenCV) load: parallelism comes from worker processes.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

from ocrgw.pipeline.mrz.codes import FORMATS, WHITELIST, _valid_code, check_digit
from ocrgw.pipeline.mrz.parse import _Line, _parse, _Reading
from ocrgw.pipeline.mrz.reader import MrzReader

__all__ = ["FORMATS", "WHITELIST", "MrzReader", "_Line", "_Reading", "_parse", "_valid_code", "check_digit"]
