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
reading is listed in the result's "fixes" with its reason."""

from __future__ import annotations

import itertools
import os

os.environ.setdefault("OMP_THREAD_LIMIT", "1")

import threading
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import cv2
import numpy as np
from tesserocr import OEM, PSM, RIL, PyTessBaseAPI, iterate_level

WHITELIST = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<"
# (lines, characters per line) of each ICAO 9303 format.
FORMATS = {"TD3": (2, 44), "TD2": (2, 36), "TD1": (3, 30)}

# Character class per position: A = letter or filler, D = digit, C = check digit (or filler where an
# unused field allows it), S = sex (M, F or filler), X = anything.
_TEMPLATES = {
    "TD3": ("AA" + "AAA" + "A" * 39, "X" * 9 + "C" + "AAA" + "D" * 6 + "C" + "S" + "D" * 6 + "C" + "X" * 14 + "CC"),
    "TD2": ("AA" + "AAA" + "A" * 31, "X" * 9 + "C" + "AAA" + "D" * 6 + "C" + "S" + "D" * 6 + "C" + "X" * 7 + "C"),
    "TD1": ("AAAAA" + "X" * 9 + "C" + "X" * 15, "D" * 6 + "C" + "S" + "D" * 6 + "C" + "AAA" + "X" * 11 + "C", "A" * 30),
}
_CLASS = {"A": "A", "D": "D", "C": "D", "S": "S", "X": "X"}
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_DIGITS = "0123456789"
_ALPHABET = {"A": _LETTERS, "D": _DIGITS, "S": "MF", "X": _LETTERS + _DIGITS}
# Glyph pairs the engine confuses in OCR-B; in a free (alphanumeric) cell only the glyph's height can
# tell them apart (see MrzReader._by_height).
_LOOKALIKE = {
    "O": "0",
    "Q": "0",
    "D": "0",
    "I": "1",
    "Z": "2",
    "S": "5",
    "G": "6",
    "B": "8",
    "0": "O",
    "1": "I",
    "2": "Z",
    "5": "S",
    "6": "G",
    "8": "B",
}
_CONFUSABLE = "".join(_LOOKALIKE)
# ICAO 9303-3 codes of issuing states and nationalities: ISO 3166-1 alpha-3, Germany's D, the
# United Kingdom's other nationality categories, UN and EU documents, refugees and stateless persons
# (XXA/XXB/XXC/XXX), Kosovo, international organisations (X..), and the specimen state Utopia.
_ICAO_CODES = frozenset(
    """
ABW AFG AGO AIA ALA ALB AND ARE ARG ARM ASM ATA ATF ATG AUS AUT AZE BDI BEL BEN BES BFA BGD BGR BHR BHS
BIH BLM BLR BLZ BMU BOL BRA BRB BRN BTN BVT BWA CAF CAN CCK CHE CHL CHN CIV CMR COD COG COK COL COM CPV
CRI CUB CUW CXR CYM CYP CZE DEU DJI DMA DNK DOM DZA ECU EGY ERI ESH ESP EST ETH FIN FJI FLK FRA FRO FSM
GAB GBR GEO GGY GHA GIB GIN GLP GMB GNB GNQ GRC GRD GRL GTM GUF GUM GUY HKG HMD HND HRV HTI HUN IDN IMN
IND IOT IRL IRN IRQ ISL ISR ITA JAM JEY JOR JPN KAZ KEN KGZ KHM KIR KNA KOR KWT LAO LBN LBR LBY LCA LIE
LKA LSO LTU LUX LVA MAC MAF MAR MCO MDA MDG MDV MEX MHL MKD MLI MLT MMR MNE MNG MNP MOZ MRT MSR MTQ MUS
MWI MYS MYT NAM NCL NER NFK NGA NIC NIU NLD NOR NPL NRU NZL OMN PAK PAN PCN PER PHL PLW PNG POL PRI PRK
PRT PRY PSE PYF QAT REU ROU RUS RWA SAU SDN SEN SGP SGS SHN SJM SLB SLE SLV SMR SOM SPM SRB SSD STP SUR
SVK SVN SWE SWZ SXM SYC SYR TCA TCD TGO THA TJK TKL TKM TLS TON TTO TUN TUR TUV TWN TZA UGA UKR UMI URY
USA UZB VAT VCT VEN VGB VIR VNM VUT WLF WSM YEM ZAF ZMB ZWE
D<< GBD GBN GBO GBP GBS UNO UNA UNK EUE XXA XXB XXC XXX RKS ANT NTZ UTO
XBA XIM XCC XCE XCO XEC XPO XES XMP XOM XDC
""".split()  # noqa: SIM905 (a list literal of 270 quoted codes reads worse)
)
# The first letter of a document code (ICAO 9303-4/5/6): passport, ID card, and the A, C and V types.
_DOCUMENT_TYPES = "PIACV"
# OCR-B capitals the engine takes for one another: the alternatives tried when a code is not valid.
_LETTER_LOOKALIKES = {
    "P": "RFDEB",
    "R": "PBK",
    "E": "FBPL",
    "F": "EP",
    "B": "PRED",
    "O": "DQCU",
    "D": "OPB",
    "Q": "O",
    "C": "GOL",
    "G": "CO",
    "I": "LTJ",
    "L": "ICE",
    "T": "IY",
    "J": "I",
    "U": "VO",
    "V": "UY",
    "M": "NH",
    "N": "MH",
    "H": "NM",
    "K": "XR",
    "X": "KY",
    "Y": "VTX",
    "A": "",
    "S": "",
    "W": "",
    "Z": "",
}
_OTHER_CLASS = {"A": _DIGITS, "D": _LETTERS, "S": _DIGITS + _LETTERS.replace("M", "").replace("F", "")}

# Detection works on a copy whose longer side is this long: an MRZ on a whole page keeps characters of
# ~12-25 px there, enough to see them and few enough pixels to cost a few ms.
_DETECT_SIDE = 1000
# Lines are read at this character (cap) height: Tesseract's LSTM is most accurate from ~25-40 px.
_READ_HEIGHT = 36
_LOWERED = 0.5  # confidence factor of a field whose own check digit fails
_COMPOSITE_LOWERED = 0.75  # ... of the fields the composite covers when only the composite fails
_MIN_PLAUSIBLE = 0.75  # share of positions whose read character has the class the format requires
# Normalised cross-correlation with the fillers' mean image: '<' cells score >0.9 on the specimens, the
# closest glyph (K) up to ~0.76; between the two, other evidence decides (see _fillers).
_FILLER_SIMILARITY = 0.82
_FILLER_WEAK = 0.6
# Same-document glyph comparison (_by_template): cells are compared as centroid-aligned images of
# this size.
_GLYPH_SIZE = (20, 30)
_SAME_GLYPH = 0.92  # on the specimens the same character scores 0.95-0.99, different ones below 0.85
_VOTE_MARGIN = 0.1  # summed confidence by which another reading must beat the cell's own
_OTHER_GLYPH = 0.65  # below this a cell is not the character of the document's other prints of it
_EXEMPLAR_CONF = 0.8  # what a print must have been read with to speak for its character


def check_digit(data: str) -> str:
    """ICAO 9303 check digit: weights 7, 3, 1 repeating over values 0-9, A-Z = 10-35, '<' = 0."""
    total = 0
    for i, ch in enumerate(data):
        if ch.isdigit():
            value = int(ch)
        elif "A" <= ch <= "Z":
            value = ord(ch) - ord("A") + 10
        elif ch == "<":
            value = 0
        else:
            raise ValueError(f"not an MRZ character: {ch!r}")
        total += value * (7, 3, 1)[i % 3]
    return str(total % 10)


def _check_ok(data: str, digit: str, *, may_be_empty: bool = False) -> bool:
    if any(ch not in WHITELIST for ch in data + digit):
        return False
    if may_be_empty and data.strip("<") == "" and digit in ("<", "0"):
        return True  # an unused optional field may carry a filler instead of its check digit
    return digit.isdigit() and check_digit(data) == digit


# ------------------------------------------------------------------------------------------------ parsing
@dataclass
class _Line:
    text: str  # exactly the format's length
    conf: list[float]  # per position, 0..1


@dataclass
class _Reading:
    fmt: str
    lines: list[_Line]
    fixes: list[dict] = field(default_factory=list)


def _plausibility(fmt: str, texts: list[str]) -> float:
    """Share of positions whose character has the class the format requires, before any substitution:
    what tells an MRZ from an ordinary text line read through the same whitelist."""
    good = total = 0
    for text, template in zip(texts, _TEMPLATES[fmt], strict=True):
        for ch, cls in zip(text, template, strict=True):
            total += 1
            if cls == "D":
                good += ch.isdigit()
            elif cls == "C":
                good += ch.isdigit() or ch == "<"
            elif cls == "A":
                good += ch.isalpha() or ch == "<"
            elif cls == "S":
                good += ch in "MF<"
            else:
                good += 1
    # Every MRZ has fillers; a paragraph read through the whitelist has almost none.
    fillers = sum(t.count("<") for t in texts)
    return good / max(total, 1) if fillers >= 2 else 0.0


def _name_parts(data: str) -> tuple[str, str]:
    surname, _, given = data.partition("<<")
    return " ".join(surname.replace("<", " ").split()), " ".join(given.replace("<", " ").split())


def _iso_date(yymmdd: str, *, birth: bool, today: date | None = None) -> str | None:
    """YYMMDD -> ISO. Birth dates take the century that puts them in the past; expiry dates are 20YY
    unless that is more than 50 years ahead."""
    if len(yymmdd) != 6 or not yymmdd.isdigit():
        return None
    today = today or date.today()
    yy, mm, dd = int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:])
    year = 2000 + yy
    if (birth and year > today.year) or (not birth and year > today.year + 50):
        year -= 100
    try:
        when = date(year, mm, dd)
    except ValueError:
        return None
    if birth and when > today:
        try:
            when = date(year - 100, mm, dd)
        except ValueError:
            return None
    return when.isoformat()


def _parse(reading: _Reading) -> dict:
    fmt = reading.fmt
    t = [ln.text for ln in reading.lines]
    c = [ln.conf for ln in reading.lines]
    spans: dict[str, list[tuple[int, int, int]]] = {}  # field -> [(line, start, end)] for confidences
    if fmt in ("TD3", "TD2"):
        n = len(t[0])
        l1, l2 = t
        spans = {
            "document_type": [(0, 0, 2)],
            "country_code": [(0, 2, 5)],
            "names": [(0, 5, n)],
            "document_number": [(1, 0, 10)],
            "nationality": [(1, 10, 13)],
            "date_of_birth": [(1, 13, 20)],
            "sex": [(1, 20, 21)],
            "date_of_expiry": [(1, 21, 28)],
            "optional_data": [(1, 28, 43 if fmt == "TD3" else 35)],
        }
        number, number_cd = l2[0:9], l2[9]
        birth, birth_cd, sex, expiry, expiry_cd = l2[13:19], l2[19], l2[20], l2[21:27], l2[27]
        nationality, names = l2[10:13], l1[5:]
        if fmt == "TD3":
            optional, optional_cd = l2[28:42], l2[42]
            composite_data, composite_cd = l2[0:10] + l2[13:20] + l2[21:43], l2[43]
        else:
            optional, optional_cd = l2[28:35], None
            composite_data, composite_cd = l2[0:10] + l2[13:20] + l2[21:35], l2[35]
        optional_2 = None
    else:
        l1, l2, l3 = t
        spans = {
            "document_type": [(0, 0, 2)],
            "country_code": [(0, 2, 5)],
            "document_number": [(0, 5, 15)],
            "optional_data": [(0, 15, 30)],
            "date_of_birth": [(1, 0, 7)],
            "sex": [(1, 7, 8)],
            "date_of_expiry": [(1, 8, 15)],
            "nationality": [(1, 15, 18)],
            "names": [(2, 0, 30)],
        }
        number, number_cd, optional = l1[5:14], l1[14], l1[15:30]
        if number_cd == "<" and optional.strip("<"):
            # A document number longer than 9 characters continues in the optional data, its check
            # digit after the continuation (ICAO 9303-5, 4.2.2 note j).
            rest = optional.split("<", 1)[0]
            number, number_cd = number + rest[:-1], rest[-1:]
            optional = optional[len(rest) :]
        birth, birth_cd, sex, expiry, expiry_cd = l2[0:6], l2[6], l2[7], l2[8:14], l2[14]
        nationality, optional_2, names = l2[15:18], l2[18:29], l3
        optional_cd = None
        composite_data, composite_cd = l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29], l2[29]

    checks: dict[str, bool | None] = {
        "document_number": _check_ok(number, number_cd),
        "date_of_birth": _check_ok(birth, birth_cd),
        "date_of_expiry": _check_ok(expiry, expiry_cd),
        "optional_data": None if optional_cd is None else _check_ok(optional, optional_cd, may_be_empty=True),
        "composite": _check_ok(composite_data, composite_cd),
    }
    surname, given = _name_parts(names)

    def mean_conf(key: str) -> float:
        vals = [v for li, a, b in spans[key] for v in c[li][a:b]]
        return float(np.mean(vals)) if vals else 0.0

    confidence = {
        "document_type": mean_conf("document_type"),
        "country_code": mean_conf("country_code"),
        "document_number": mean_conf("document_number"),
        "surname": mean_conf("names"),
        "given_names": mean_conf("names"),
        "nationality": mean_conf("nationality"),
        "sex": mean_conf("sex"),
        "date_of_birth": mean_conf("date_of_birth"),
        "date_of_expiry": mean_conf("date_of_expiry"),
        "optional_data": mean_conf("optional_data"),
    }
    own_checks = ("document_number", "date_of_birth", "date_of_expiry", "optional_data")
    for key in own_checks:
        if checks[key] is False:
            confidence[key] *= _LOWERED
    if checks["composite"] is False and all(checks[k] is not False for k in own_checks):
        for key in own_checks:  # one of the covered fields is wrong, and no own check says which
            confidence[key] *= _COMPOSITE_LOWERED
    failed = [k for k, ok in checks.items() if ok is False]
    result = {
        "format": fmt,
        "lines": t,
        "document_type": t[0][0:2].replace("<", ""),
        "country_code": t[0][2:5].replace("<", ""),
        "document_number": number.replace("<", ""),
        "surname": surname,
        "given_names": given,
        "nationality": nationality.replace("<", ""),
        "sex": sex if sex in ("M", "F") else "X",
        "date_of_birth": _iso_date(birth, birth=True),
        "date_of_expiry": _iso_date(expiry, birth=False),
        "optional_data": optional.rstrip("<").lstrip("<"),
        "checks": checks,
        "valid": not failed,
        "failed_checks": failed,
        "confidence": {k: round(v, 4) for k, v in confidence.items()},
        "fixes": reading.fixes,
    }
    if optional_2 is not None:
        result["optional_data_2"] = optional_2.strip("<")
    return result


def _score(result: dict, plausibility: float) -> tuple[int, float, float]:
    """Which of several readings of the same zone to keep: most checks passed, then the most
    format-like characters, then Tesseract's own confidence."""
    passed = sum(1 for ok in result["checks"].values() if ok)
    conf = float(np.mean(list(result["confidence"].values())))
    return passed, plausibility, conf


# ---------------------------------------------------------------------------------------------- detection
@dataclass
class _Band:
    """A candidate MRZ: its text lines, straightened. `to_src` maps band pixels to image pixels."""

    image: np.ndarray  # the straightened band, grayscale
    line_centers: list[float]  # y of each line's centre in `image`
    char_height: float  # px in `image`
    to_src: np.ndarray  # 2x3 affine
    quad: list[float]  # the zone's corners (TL, TR, BR, BL) in the image's pixels


def _downscale(gray: np.ndarray) -> tuple[np.ndarray, float]:
    h, w = gray.shape
    scale = _DETECT_SIDE / max(h, w)
    if abs(scale - 1.0) < 0.02:
        return gray, 1.0
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(gray, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=interp), scale


def _text_lines(small: np.ndarray) -> list[tuple[tuple[float, float], tuple[float, float], float, float]]:
    """Long text lines of the detection copy as (centre, direction, length, height): characters are
    picked out with a blackhat (dark on light, smaller than the kernel), shapes that are not
    character-like (page edges, photo outlines, guilloche) are dropped, and the rest is closed along
    the line."""
    blurred = cv2.GaussianBlur(small, (3, 3), 0)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (25, 25))
    blackhat = cv2.morphologyEx(blurred, cv2.MORPH_BLACKHAT, kernel)
    _, mask = cv2.threshold(blackhat, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    _n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    w_, h_, area = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT], stats[:, cv2.CC_STAT_AREA]
    keep = (h_ >= 6) & (h_ <= 60) & (w_ <= 2.0 * h_ + 4) & (area >= 12) & (area <= 0.9 * w_ * h_ + 1)
    keep[0] = False
    if keep.sum() < 20:
        return []
    chars = np.where(keep[labels], np.uint8(255), np.uint8(0))
    char_h = float(np.median(h_[keep]))
    width = max(9, round(char_h * 1.4) | 1)
    closed = cv2.morphologyEx(chars, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (width, 1)))
    contours, _ = cv2.findContours(closed, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    out = []
    for cnt in contours:
        (cx, cy), (rw, rh), angle = cv2.minAreaRect(cnt)
        if rw < rh:
            rw, rh, angle = rh, rw, angle + 90
        if angle > 90:
            angle -= 180
        if rh < 5 or rw < 12 * rh or abs(angle) > 20:
            continue
        rad = np.deg2rad(angle)
        out.append(((cx, cy), (float(np.cos(rad)), float(np.sin(rad))), float(rw), float(rh)))
    return out


def _groups(lines: list) -> list[list]:
    """Sets of 2 or 3 lines that look like an MRZ: parallel, about equally long and high, starting in
    the same column, evenly and closely spaced; longest first."""
    groups = []
    order = sorted(range(len(lines)), key=lambda i: -lines[i][2])
    for i in order:
        (cx, cy), (dx, dy), length, height = lines[i]
        nx, ny = -dy, dx  # normal, pointing down the page when upright
        members = [i]
        for j, ((ox, oy), (ex, ey), olen, oh) in enumerate(lines):
            if j == i:
                continue
            if abs(dx * ey - dy * ex) > np.sin(np.deg2rad(2.5)):
                continue
            if abs(olen - length) > 0.12 * length or not 0.6 < oh / height < 1.6:
                continue
            along = (ox - cx) * dx + (oy - cy) * dy
            across = (ox - cx) * nx + (oy - cy) * ny
            if abs(along) > 0.08 * length or abs(across) > 4.5 * 2 * height * 1.0 + 1:
                continue
            members.append(j)
        if len(members) < 2:
            continue
        members.sort(key=lambda k: (lines[k][0][0] - cx) * nx + (lines[k][0][1] - cy) * ny)
        offsets = [(lines[k][0][0] - cx) * nx + (lines[k][0][1] - cy) * ny for k in members]
        gaps = np.diff(offsets)
        if len(members) > 3 or np.any(gaps < 1.2 * height) or np.any(gaps > 4.0 * height):
            continue
        if len(gaps) > 1 and max(gaps) > 1.4 * min(gaps):
            continue
        key = tuple(members)
        if key not in [tuple(g) for g in groups]:
            groups.append(members)
    groups.sort(key=lambda g: -sum(lines[k][2] for k in g))
    return groups


def _band(gray: np.ndarray, lines: list, members: list[int], scale: float) -> _Band:
    sel = [lines[k] for k in members]
    dx = float(np.mean([ln[1][0] for ln in sel]))
    dy = float(np.mean([ln[1][1] for ln in sel]))
    norm = np.hypot(dx, dy)
    dx, dy = dx / norm, dy / norm
    nx, ny = -dy, dx
    cx = float(np.mean([ln[0][0] for ln in sel])) / scale
    cy = float(np.mean([ln[0][1] for ln in sel])) / scale
    length = max(ln[2] for ln in sel) / scale
    char_h = float(np.median([ln[3] for ln in sel])) / scale
    offsets = [((ln[0][0] / scale - cx) * nx + (ln[0][1] / scale - cy) * ny) for ln in sel]
    top, bottom = min(offsets) - char_h * 1.1, max(offsets) + char_h * 1.1
    half_len = length / 2 + char_h * 1.2
    # Resample straight at the reading size: one warp does rotation, crop and scaling.
    zoom = _READ_HEIGHT / max(char_h, 1.0)
    out_w = round(2 * half_len * zoom)
    out_h = round((bottom - top) * zoom)
    # band (u, v) -> source: origin at the band's top-left corner along the line direction.
    ox = cx - half_len * dx + top * nx
    oy = cy - half_len * dy + top * ny
    to_src = np.array([[dx / zoom, nx / zoom, ox], [dy / zoom, ny / zoom, oy]], dtype=np.float64)
    image = cv2.warpAffine(
        gray, to_src, (out_w, out_h), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE
    )
    centers = [(o - top) * zoom for o in offsets]
    q = []
    for u, v in ((0, 0), (out_w, 0), (out_w, out_h), (0, out_h)):
        x, y = to_src @ np.array([u, v, 1.0])
        q += [round(float(x), 1), round(float(y), 1)]
    return _Band(image, centers, _READ_HEIGHT, to_src, q)


# ------------------------------------------------------------------------------------------------ reading
# ------------------------------------------------------------------------------------------- cell grid
@dataclass
class _Grid:
    """The character cells of one MRZ line: OCR-B in an MRZ is strictly monospaced, so cell k is
    centred at x0 + k * pitch."""

    x0: float
    pitch: float
    n: int

    def center(self, k: int) -> float:
        return self.x0 + k * self.pitch

    def cell(self, x: float) -> int:
        return round((x - self.x0) / self.pitch)


def _glyphs(binary: np.ndarray, char_h: float) -> tuple[np.ndarray, np.ndarray]:
    """x centres and ink heights of the glyph-sized blobs of a line strip, left to right (noise and
    neighbouring lines dropped)."""
    n, _, stats, _ = cv2.connectedComponentsWithStats(255 - binary, connectivity=8)
    mid = binary.shape[0] / 2
    found = []
    for i in range(1, n):
        x, y, w, h, area = stats[i]
        if 0.45 * char_h <= h <= 1.6 * char_h and w <= 1.6 * char_h and area > 10 and y < mid < y + h:
            found.append((x + w / 2, float(h)))
    found.sort()
    return np.array([f[0] for f in found]), np.array([f[1] for f in found])


def _glyph_centres(binary: np.ndarray, char_h: float) -> np.ndarray:
    return _glyphs(binary, char_h)[0]


def _cell_heights(binary: np.ndarray, char_h: float, grid: _Grid) -> np.ndarray:
    """Ink height of each cell's glyph (0 where no blob sits)."""
    out = np.zeros(grid.n)
    for x, h in zip(*_glyphs(binary, char_h), strict=True):
        k = grid.cell(x)
        if 0 <= k < grid.n:
            out[k] = max(out[k], h)
    return out


def _fit_grid(xs: np.ndarray) -> _Grid | None:
    """Cell index of each blob by walking neighbour to neighbour (every gap is a whole number of
    pitches, so rounding never accumulates), then a least-squares line through (index, x)."""
    if xs.size < 8:
        return None
    gaps = np.diff(xs)
    pitch = float(np.median(gaps))
    if pitch <= 0:
        return None
    steps = np.maximum(1, np.round(gaps / pitch))
    pitch = float(np.median(gaps / steps))
    k = np.concatenate([[0.0], np.cumsum(np.maximum(1, np.round(gaps / pitch)))])
    design = np.stack([np.ones_like(k), k], axis=1)
    (x0, p), *_ = np.linalg.lstsq(design, xs, rcond=None)
    return _Grid(float(x0), float(p), int(k[-1]) + 1)


def _cell_vectors(strip: np.ndarray, grid: _Grid) -> np.ndarray:
    """Each cell resampled to a small fixed size, zero-mean and unit-norm: comparing two cells is then
    a dot product (normalised cross-correlation)."""
    _h, w = strip.shape
    out = np.zeros((grid.n, 16 * 28), dtype=np.float32)
    for k in range(grid.n):
        cx = grid.center(k)
        x0, x1 = round(cx - grid.pitch / 2), round(cx + grid.pitch / 2)
        cell = strip[:, max(0, x0) : min(w, x1)]
        if cell.size == 0:
            continue
        v = cv2.resize(cell, (16, 28), interpolation=cv2.INTER_AREA).astype(np.float32).ravel()
        v -= v.mean()
        out[k] = v / (np.linalg.norm(v) + 1e-6)
    return out


def _glyph_vectors(strip: np.ndarray, grid: _Grid, char_h: float) -> np.ndarray:
    """Each cell's glyph, cut out around its own ink centroid (so two prints of the same character line
    up however the grid falls), resampled to _GLYPH_SIZE, zero-mean and unit-norm."""
    img = strip.astype(np.float32)
    paper = float(np.percentile(img, 90))
    ink = np.clip(paper - img, 0, None) ** 2
    h, w = img.shape
    half_w, half_h = grid.pitch / 2, char_h * 0.6
    pad = int(np.ceil(max(half_w, half_h))) + 2
    padded = cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=paper)
    out = np.zeros((grid.n, _GLYPH_SIZE[0] * _GLYPH_SIZE[1]), dtype=np.float32)
    # The centroid is taken over the line's own rows: a strip's edges may hold bits of the next line.
    r0, r1 = max(0, round(h / 2 - char_h * 0.75)), min(h, round(h / 2 + char_h * 0.75))
    ink[:r0] = 0
    ink[r1:] = 0
    ys = np.arange(h, dtype=np.float32)[:, None]
    for k in range(grid.n):
        cx = grid.center(k)
        x0, x1 = max(0, round(cx - half_w)), min(w, round(cx + half_w))
        if x1 <= x0:
            continue
        window = ink[:, x0:x1]
        total = float(window.sum())
        if total <= 0:
            continue
        mx = float((window * np.arange(x0, x1, dtype=np.float32)[None, :]).sum()) / total
        my = float((window * ys).sum()) / total
        a, b = round(mx - half_w) + pad, round(my - half_h) + pad
        cell = padded[b : b + round(2 * half_h), a : a + round(2 * half_w)]
        if cell.size == 0:
            continue
        v = cv2.resize(cell, _GLYPH_SIZE, interpolation=cv2.INTER_AREA).ravel()
        v = v - v.mean()
        out[k] = v / (np.linalg.norm(v) + 1e-6)
    return out


def _fillers(vectors: np.ndarray, votes: np.ndarray, heights: np.ndarray) -> np.ndarray | None:
    """Which cells hold the filler '<'. It is the MRZ's most repeated glyph and always printed the
    same way, so its cells form a tight cluster; Tesseract, which often miscounts long runs of '<',
    still names enough of them to tell that cluster from a repeated letter. Returns a boolean mask."""
    sim = vectors @ vectors.T
    close = sim > 0.8
    best, best_votes = None, 0.0
    seen = np.zeros(len(vectors), dtype=bool)
    for seed in np.argsort(-close.sum(axis=1)):
        if seen[seed] or close[seed].sum() < 2:
            continue
        members = close[seed]
        seen |= members
        v = float(votes[members].sum())
        if v > best_votes:
            best, best_votes = members, v
    if best is None or best_votes < max(2.0, 0.3 * best.sum()):
        return None
    template = vectors[best].mean(axis=0)
    template /= np.linalg.norm(template) + 1e-6
    sim = vectors @ template
    strong = sim > _FILLER_SIMILARITY
    # A noisy filler can fall short of the strong match; it still looks more like '<' than anything
    # else does, and either Tesseract named it or it has the filler's lower height.
    filler_h = float(np.median(heights[strong & (heights > 0)])) if np.any(strong & (heights > 0)) else 0.0
    glyph_h = float(np.median(heights[~strong & (heights > 0)])) if np.any(~strong & (heights > 0)) else 0.0
    short = (heights > 0) & (np.abs(heights - filler_h) < np.abs(heights - glyph_h))
    if glyph_h - filler_h < 2.0:
        short[:] = False
    return strong | ((sim > _FILLER_WEAK) & ((votes > 0) | short))


# ------------------------------------------------------------------------------------------------ reading
class MrzReader:
    """A warm Tesseract restricted to the MRZ alphabet, kept per worker process like the page engine
    (initialising a model costs far more than reading two lines)."""

    def __init__(self, tessdata_dir: Path) -> None:
        self._api = PyTessBaseAPI(
            path=str(tessdata_dir) + "/",
            lang="eng",
            psm=PSM.SINGLE_LINE,
            oem=OEM.LSTM_ONLY,
            # Dictionaries pull reads toward English words; an MRZ holds none.
            variables={"load_system_dawg": "F", "load_freq_dawg": "F"},
        )
        self._lock = threading.Lock()

    def close(self) -> None:
        self._api.End()

    def read(self, gray: np.ndarray) -> dict | None:
        """The zone's fields, checks and per-field confidence, or None when the page has no MRZ."""
        gray = np.ascontiguousarray(gray, dtype=np.uint8)
        if gray.ndim != 2 or min(gray.shape) < 40:
            return None
        small, scale = _downscale(gray)
        lines = _text_lines(small)
        best: tuple | None = None
        with self._lock:
            for members in _groups(lines)[:4]:
                band = _band(gray, lines, members, scale)
                for turned in (False, True):  # an upside-down page shows its zone at the top, rotated
                    found = self._read_band(band, turned)
                    if found is not None and (best is None or found[0] > best[0]):
                        best = found
                    if best is not None and best[1]["valid"]:
                        return best[1]
        return None if best is None else best[1]

    def _read_band(self, band: _Band, turned: bool) -> tuple[tuple, dict] | None:
        image, centers, quad = band.image, list(band.line_centers), band.quad
        if turned:
            image = cv2.rotate(image, cv2.ROTATE_180)
            centers = [image.shape[0] - c for c in reversed(centers)]
            quad = quad[4:] + quad[:4]
        char_h = band.char_height
        strips = [_strip(image, c, char_h) for c in centers]
        binaries = [_normalised(s) for s in strips]
        grids = [_fit_grid(_glyph_centres(b, char_h)) for b in binaries]
        if any(g is None for g in grids):
            return None
        fmt = _format_for(len(centers), [g.n for g in grids])
        if fmt is None:
            return None
        n = FORMATS[fmt][1]
        grids = [
            _Grid(g.x0, g.pitch, n) if g.n == n else _regrid(b, char_h, n) for g, b in zip(grids, binaries, strict=True)
        ]
        if any(g is None for g in grids):
            return None
        # Tesseract's reading of whole lines names the fillers; the cell images say where they are.
        whole = [self._ocr_whole(s) for s in strips]
        vectors = np.concatenate([_cell_vectors(s, g) for s, g in zip(strips, grids, strict=True)])
        votes = np.zeros(len(vectors))
        for li, (syms, g) in enumerate(zip(whole, grids, strict=True)):
            for ch, _, x in syms:
                k = g.cell(x)
                if ch == "<" and 0 <= k < n:
                    votes[li * n + k] = 1.0
        heights = [_cell_heights(b, char_h, g) for b, g in zip(binaries, grids, strict=True)]
        fillers = _fillers(vectors, votes, np.concatenate(heights))
        if fillers is None:
            return None
        glyphs = np.concatenate([_glyph_vectors(s, g, char_h) for s, g in zip(strips, grids, strict=True)])
        best: tuple[tuple, dict] | None = None
        for variant in (strips, binaries):
            lines, free, fixes = [], [], []
            for li, template in enumerate(_TEMPLATES[fmt]):
                line, unconstrained, line_fixes = self._read_cells(
                    variant[li], grids[li], fillers[li * n : (li + 1) * n], template, whole[li]
                )
                lines.append(line)
                free.append(unconstrained)
                fixes += [{"line": li, **f} for f in line_fixes]
            plaus = _plausibility(fmt, free)
            if plaus < _MIN_PLAUSIBLE:
                return None  # the same whole-line reading decides for the second variant too
            fixes += self._by_height(fmt, lines, heights, variant, grids)
            fixes += _by_template(fmt, lines, glyphs, fillers)
            fixes += self._by_mismatch(fmt, lines, glyphs, fillers, strips, grids)
            fixes += self._valid_codes(fmt, lines, strips, grids)
            result = _parse(_Reading(fmt, lines, fixes))
            result["box"] = quad
            key = _score(result, plaus)
            if best is None or key > best[0]:
                best = (key, result)
            if result["valid"]:
                break
        return best

    def _by_height(
        self, fmt: str, lines: list[_Line], heights: list[np.ndarray], strips: list[np.ndarray], grids: list[_Grid]
    ) -> list[dict]:
        """Letter or digit in a free (alphanumeric) cell, where O/0, I/1, S/5, B/8 look alike to the
        engine: OCR-B as printed often sets digits taller than capitals, so when this document's
        digit-only cells are measurably taller than its letter-only cells, a confusable glyph's own
        height tells its class, and the cell is read again within that class. Measured per document;
        without a clear difference nothing is changed. Each change is reported."""
        digit_h, letter_h = [], []
        for li, (line, template) in enumerate(zip(lines, _TEMPLATES[fmt], strict=True)):
            for k, (ch, cls) in enumerate(zip(line.text, template, strict=True)):
                h = heights[li][k]
                if h <= 0:
                    continue
                if _CLASS[cls] == "D" and ch.isdigit():
                    digit_h.append(h)
                elif cls == "A" and ch.isalpha():
                    letter_h.append(h)
        if len(digit_h) < 6 or len(letter_h) < 6:
            return []
        d_ref, l_ref = float(np.median(digit_h)), float(np.median(letter_h))
        spread = (
            float(
                np.percentile(digit_h, 75)
                - np.percentile(digit_h, 25)
                + np.percentile(letter_h, 75)
                - np.percentile(letter_h, 25)
            )
            / 2
        )
        if d_ref - l_ref < max(0.04 * l_ref, 2.0 * spread, 1.5):
            return []
        fixes = []
        for li, (line, template) in enumerate(zip(lines, _TEMPLATES[fmt], strict=True)):
            chars = list(line.text)
            grid = grids[li]
            for k, (ch, cls) in enumerate(zip(chars, template, strict=True)):
                h = heights[li][k]
                if cls != "X" or ch not in _CONFUSABLE or h <= 0:
                    continue
                want = _DIGITS if abs(h - d_ref) < abs(h - l_ref) else _LETTERS
                if ch in want:
                    continue
                x0 = int(max(0, grid.center(k) - grid.pitch * 0.55))
                x1 = int(min(strips[li].shape[1], grid.center(k) + grid.pitch * 0.55))
                cell = _pad(strips[li][:, x0:x1], grid.pitch)
                again = self._ocr(cell, want, PSM.SINGLE_CHAR) or self._ocr(cell, want, PSM.SINGLE_LINE)
                if len(again) == 1:
                    used, conf = again[0][0], again[0][1]
                else:  # the engine sees no glyph of that class: the usual look-alike of the one it saw
                    used, conf = _LOOKALIKE[ch], line.conf[k] * 0.8
                fixes.append({"line": li, "position": k, "read": ch, "used": used, "reason": "glyph height"})
                chars[k] = used
                line.conf[k] = min(line.conf[k], conf)
            line.text = "".join(chars)
        return fixes

    def _by_mismatch(
        self,
        fmt: str,
        lines: list[_Line],
        glyphs: np.ndarray,
        fillers: np.ndarray,
        strips: list[np.ndarray],
        grids: list[_Grid],
    ) -> list[dict]:
        """The converse of _by_template, for a glyph printed once: a cell read as a character the
        document also shows elsewhere, confidently, but whose image looks nothing like those prints
        (correlation < _OTHER_GLYPH where prints of one character score > 0.9) is not that character
        (a lone G read as 6 is the usual case). It is read again without it, within its position's
        alphabet, and the new reading is kept unless it too contradicts the document's own prints.
        Each change is reported, with the confidence of the new reading."""
        n = FORMATS[fmt][1]
        labels = [("<" if fillers[li * n + k] else line.text[k]) for li, line in enumerate(lines) for k in range(n)]
        confs = np.array([c for line in lines for c in line.conf])
        has = np.abs(glyphs).sum(axis=1) > 0
        fixes = []
        for idx, ch in enumerate(labels):
            if ch in "<?" or not has[idx]:
                continue
            li, k = divmod(idx, n)
            others = [
                j for j, lab in enumerate(labels) if lab == ch and j != idx and has[j] and confs[j] >= _EXEMPLAR_CONF
            ]
            if not others or float(np.max(glyphs[others] @ glyphs[idx])) >= _OTHER_GLYPH:
                continue
            alphabet = _ALPHABET[_CLASS[_TEMPLATES[fmt][li][k]]].replace(ch, "")
            grid = grids[li]
            x0 = int(max(0, grid.center(k) - grid.pitch * 0.55))
            x1 = int(min(strips[li].shape[1], grid.center(k) + grid.pitch * 0.55))
            again = self._ocr(_pad(strips[li][:, x0:x1], grid.pitch), alphabet, PSM.SINGLE_CHAR)
            if len(again) != 1:
                continue
            used, conf = again[0][0], again[0][1]
            theirs = [j for j, lab in enumerate(labels) if lab == used and has[j] and confs[j] >= _EXEMPLAR_CONF]
            if theirs and float(np.max(glyphs[theirs] @ glyphs[idx])) < _SAME_GLYPH:
                continue
            line = lines[li]
            line.text = line.text[:k] + used + line.text[k + 1 :]
            line.conf[k] = min(line.conf[k], conf)
            labels[idx] = used
            fixes.append({"line": li, "position": k, "read": ch, "used": used, "reason": "unlike the document's " + ch})
        return fixes

    def _valid_codes(self, fmt: str, lines: list[_Line], strips: list[np.ndarray], grids: list[_Grid]) -> list[dict]:
        """The issuing state and nationality must be ICAO codes and the document code must start with
        P, I, A, C or V. A read that is none of these is replaced by the valid value needing the fewest
        changed characters, each change one of the read glyph's OCR-B look-alikes; among equals, the
        engine's own second choices for those cells decide. Without any such value, or with a tie
        the engine cannot break, the read stays. A replacement is reported and halves the field's
        confidence; check digits play no part."""
        nat_line, nat_at = (1, 10) if fmt in ("TD3", "TD2") else (1, 15)
        fields = (("document_type", 0, 0, 1), ("country_code", 0, 2, 3), ("nationality", nat_line, nat_at, 3))
        fixes = []
        for name, li, start, width in fields:
            line = lines[li]
            read = line.text[start : start + width]
            if _valid_code(name, read):
                continue
            options = [[(ch, 0, 0.0)] + [(alt, 1, 0.0) for alt in _LETTER_LOOKALIKES.get(ch, "")] for ch in read]
            candidates = []
            for combo in itertools.product(*options):
                value = "".join(c for c, _, _ in combo)
                if _valid_code(name, value):
                    candidates.append((sum(cost for _, cost, _ in combo), value))
            if not candidates:
                continue
            fewest = min(cost for cost, _ in candidates)
            best = [v for cost, v in candidates if cost == fewest]
            if len(best) > 1:  # the engine's own alternatives for the cells that would change
                scores = {v: 0.0 for v in best}
                for k in range(width):
                    if len({v[k] for v in best}) == 1:
                        continue
                    grid = grids[li]
                    x0 = int(max(0, grid.center(start + k) - grid.pitch * 0.55))
                    x1 = int(min(strips[li].shape[1], grid.center(start + k) + grid.pitch * 0.55))
                    choices = self._choices(_pad(strips[li][:, x0:x1], grid.pitch))
                    for v in best:
                        scores[v] += choices.get(v[k], 0.0)
                top = max(scores.values())
                best = [v for v in best if scores[v] == top]
                if len(best) > 1:
                    continue
            value = best[0]
            line.text = line.text[:start] + value + line.text[start + width :]
            for k in range(start, start + width):
                line.conf[k] *= _LOWERED
            fixes.append(
                {
                    "line": li,
                    "position": start,
                    "read": read,
                    "used": value,
                    "reason": "not a document code" if name == "document_type" else "not an ICAO code",
                }
            )
        return fixes

    def _choices(self, cell: np.ndarray) -> dict[str, float]:
        """The engine's alternatives (letters) for one cell with their confidences, 0..1."""
        api = self._api
        api.SetVariable("lstm_choice_mode", "2")
        try:
            found = {}
            self._ocr(cell, _LETTERS, PSM.SINGLE_CHAR)
            ri = api.GetIterator()
            if ri is not None:
                for it in iterate_level(ri, RIL.SYMBOL):
                    for choice in it.GetChoiceIterator():
                        ch = choice.GetUTF8Text()
                        found[ch] = max(found.get(ch, 0.0), choice.Confidence() / 100.0)
                    break
            return found
        finally:
            api.SetVariable("lstm_choice_mode", "0")

    def _ocr_whole(self, strip: np.ndarray) -> list[tuple[str, float, float]]:
        """The unconstrained reading of a whole line: it names the fillers (if not their number) and
        tells an MRZ from ordinary text."""
        pad = max(2, int(strip.shape[0] / 4))
        return [
            (ch, conf, x - pad)
            for ch, conf, x in self._ocr(_pad(strip, strip.shape[0] / 2), WHITELIST, PSM.SINGLE_LINE)
        ]

    def _read_cells(
        self, strip: np.ndarray, grid: _Grid, fillers: np.ndarray, template: str, whole: list[tuple[str, float, float]]
    ) -> tuple[_Line, str, list[dict]]:
        """Fillers come from the cell images; the other cells are read in runs of one character class
        with that class's alphabet (the format dictates it: a date holds digits only), so nothing can be
        dropped, doubled or read as the wrong class. Runs of free (alphanumeric) cells, where
        Tesseract's language context hurts most, are read a cell at a time.

        Returns the line, the unconstrained whole-line reading per cell (for plausibility), and the
        cells where the class alphabet made the difference, as reported fixes."""
        n = grid.n
        chars = ["<" if f else "?" for f in fillers]
        confs = [0.95 if f else 0.0 for f in fillers]
        by_cell: dict[int, tuple[str, float]] = {}
        for ch, conf, x in whole:
            k = grid.cell(x)
            if 0 <= k < n and conf > by_cell.get(k, ("", -1.0))[1]:
                by_cell[k] = (ch, conf)
        # Tesseract often stops naming a long run of fillers part-way (seed 1036's name line came back as
        # 20 of 44 symbols); a cell it left unnamed whose image is a filler counts as one, or the line
        # would look implausible and the zone be dropped.
        free = "".join(by_cell.get(k, ("<" if fillers[k] else "?", 0.0))[0] for k in range(n))
        k = 0
        while k < n:
            if fillers[k]:
                k += 1
                continue
            cls = _CLASS[template[k]]
            end = k + 1
            while end < n and not fillers[end] and _CLASS[template[end]] == cls and cls not in ("X", "S"):
                end += 1
            alphabet = _ALPHABET[cls]
            read: list[tuple[str, float, float]] = []
            if end - k > 1:
                x0 = int(max(0, grid.center(k) - grid.pitch * 0.6))
                x1 = int(min(strip.shape[1], grid.center(end - 1) + grid.pitch * 0.6))
                read = self._ocr(_pad(strip[:, x0:x1], grid.pitch), alphabet, PSM.SINGLE_LINE)
            if len(read) == end - k:
                for i, (ch, conf, _) in enumerate(read):
                    chars[k + i], confs[k + i] = ch, conf
            else:
                for i in range(k, end):
                    x0 = int(max(0, grid.center(i) - grid.pitch * 0.55))
                    x1 = int(min(strip.shape[1], grid.center(i) + grid.pitch * 0.55))
                    one = self._ocr(_pad(strip[:, x0:x1], grid.pitch), alphabet, PSM.SINGLE_CHAR)
                    if len(one) == 1:
                        chars[i], confs[i] = one[0][0], one[0][1]
                    elif i in by_cell and by_cell[i][0] in alphabet:
                        chars[i], confs[i] = by_cell[i][0], by_cell[i][1] * 0.5
            k = end
        fixes = [
            {"position": i, "read": free[i], "used": chars[i]}
            for i in range(n)
            if not fillers[i] and free[i] != chars[i] and free[i] in _OTHER_CLASS.get(_CLASS[template[i]], "")
        ]
        return _Line("".join(chars), confs), free, fixes

    def _ocr(self, image: np.ndarray, alphabet: str, psm: int) -> list[tuple[str, float, float]]:
        """(symbol, confidence 0..1, x centre in `image`) of one line or one cell."""
        h, w = image.shape
        api = self._api
        api.SetPageSegMode(psm)
        api.SetVariable("tessedit_char_whitelist", alphabet)
        api.SetImageBytes(np.ascontiguousarray(image).tobytes(), w, h, 1, w)
        api.Recognize()
        out: list[tuple[str, float, float]] = []
        ri = api.GetIterator()
        if ri is None:
            return out
        for it in iterate_level(ri, RIL.SYMBOL):
            if it.Empty(RIL.SYMBOL):
                continue
            sym = (it.GetUTF8Text(RIL.SYMBOL) or "").strip()
            box = it.BoundingBox(RIL.SYMBOL)
            if len(sym) != 1 or sym not in alphabet or not box:
                continue
            out.append((sym, max(0.0, min(1.0, it.Confidence(RIL.SYMBOL) / 100.0)), (box[0] + box[2]) / 2))
        return out


def _valid_code(name: str, value: str) -> bool:
    return value[:1] in _DOCUMENT_TYPES if name == "document_type" else value in _ICAO_CODES


def _by_template(fmt: str, lines: list[_Line], glyphs: np.ndarray, fillers: np.ndarray) -> list[dict]:
    """Every character of a zone is printed in the same font at the same size, so cells whose images
    match closely (normalised correlation >= _SAME_GLYPH) hold the same character, whatever the engine
    made of each: within such a group the reading with the most confidence behind it wins, among the
    characters the cell's position allows. This is what tells G from 6, O from 0 and D, 5 from 3 where
    the engine wavers over one print but reads another of the same glyph well; a glyph printed once gets
    no second opinion. A cell changes only on a clear majority; each change is reported and the cell's
    confidence falls to the share of the vote behind it. Check digits play no part."""
    templates = _TEMPLATES[fmt]
    n = FORMATS[fmt][1]
    labels, confs, allowed = [], [], []
    for li, (line, template) in enumerate(zip(lines, templates, strict=True)):
        for k in range(n):
            labels.append("<" if fillers[li * n + k] else line.text[k])
            confs.append(line.conf[k])
            allowed.append(_ALPHABET[_CLASS[template[k]]])
    usable = np.array([ch != "<" for ch in labels]) & (np.abs(glyphs).sum(axis=1) > 0)
    sim = glyphs @ glyphs.T
    fixes = []
    new_labels = list(labels)
    for idx in np.flatnonzero(usable):
        ch = labels[idx]
        votes: dict[str, float] = {}
        for j in np.flatnonzero(usable & (sim[idx] >= _SAME_GLYPH)):
            lab = labels[j]
            if lab in allowed[idx]:
                votes[lab] = votes.get(lab, 0.0) + confs[j]
        if not votes:
            continue
        winner = max(votes, key=votes.get)
        total = sum(votes.values())
        if winner == ch or votes[winner] - votes.get(ch, 0.0) < _VOTE_MARGIN:
            continue
        new_labels[idx] = winner
        li, k = divmod(int(idx), n)
        lines[li].conf[k] = min(lines[li].conf[k], votes[winner] / total) if ch != "?" else votes[winner] / total
        fixes.append(
            {
                "line": li,
                "position": k,
                "read": ch,
                "used": winner,
                "reason": "document glyphs",
                "votes": {lab: round(v, 3) for lab, v in votes.items()},
            }
        )
    for li, line in enumerate(lines):
        chars = list(line.text)
        for k in range(n):
            if not fillers[li * n + k]:
                chars[k] = new_labels[li * n + k]
        line.text = "".join(chars)
    return fixes


def _format_for(n_lines: int, counts: list[int]) -> str | None:
    if n_lines == 3:
        fmt = "TD1"
    elif n_lines == 2:
        fmt = min(("TD3", "TD2"), key=lambda f: abs(FORMATS[f][1] - float(np.median(counts))))
    else:
        return None
    n = FORMATS[fmt][1]
    return fmt if all(abs(c - n) <= max(3, n // 10) for c in counts) else None


def _regrid(binary: np.ndarray, char_h: float, n: int) -> _Grid | None:
    """A line whose blobs did not give the right count (touching or broken glyphs): the first and last
    glyphs still mark the ends, and the format says how many cells lie between."""
    xs = _glyph_centres(binary, char_h)
    if xs.size < 2 or xs[-1] <= xs[0]:
        return None
    return _Grid(float(xs[0]), float(xs[-1] - xs[0]) / (n - 1), n)


def _normalised(image: np.ndarray) -> np.ndarray:
    """Background-divided and Otsu-binarised copy: the second reading for shaded or low-contrast zones,
    and where glyph blobs are counted."""
    k = max(15, (image.shape[0] // 2) | 1)
    bg = cv2.morphologyEx(image, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    norm = cv2.divide(image, np.maximum(bg, 1), scale=255)
    norm = cv2.GaussianBlur(norm, (3, 3), 0)
    _, binary = cv2.threshold(norm, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return binary


def _strip(image: np.ndarray, center: float, char_h: float) -> np.ndarray:
    h = image.shape[0]
    y0, y1 = max(0, int(center - char_h * 0.95)), min(h, int(center + char_h * 0.95) + 1)
    return image[y0:y1]


def _pad(image: np.ndarray, size: float) -> np.ndarray:
    """White margins: Tesseract reads a glyph touching the image edge badly."""
    pad = max(2, int(size / 2))
    white = int(np.percentile(image, 90)) if image.size else 255
    return cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=white)
