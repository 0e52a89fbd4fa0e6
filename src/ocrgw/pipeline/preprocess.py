"""Worker side: between rasterize and the engine. Measures each page on a downscaled copy and applies
only the corrections those measurements call for (grayscale, contrast stretch, deskew, binarisation,
upscaling of small text), keeping the affine map back to the submitted pixels so the engine's boxes can
be reported in them, and tells the engine the resolution the page's text height implies."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from ocrgw.pipeline.stepclock import Clock

# Measurements run on copies this big at most: skew needs text lines still resolved (a 10-12 pt line
# on a 300 dpi page keeps ~15 px pitch at 1024), the background only needs the page's large-scale shape.
_MEASURE_SIDE = 1024
_COARSE_SIDE = 320
_BACKGROUND_SIDE = 256

# Contrast: stretch only when paper and ink (medians of the two Otsu classes) are fewer than this many
# levels apart; the stretch maps the ink's lower quartile to black and the paper's 98th percentile to
# white. Tesseract's LSTM normalises each line's contrast itself, so this only rescues washed-out pages
# (faded thermal receipts); on ocr-dev it fires on 6 of 17 receipts and nothing else.
_MIN_SPAN = 120
_INK_LOW_Q = 0.25

# Deskew: Tesseract's own line finder absorbs small skews (on synthetic pages its CER is unchanged up
# to ~1.5° and collapses from 2-3°), while a resample softens 100-dpi scans: on ocr-dev forms rotating
# by 0.4-1.4° made CER worse on balance. So the angle is always measured and reported, and the page is
# only turned from 1.5°. Beyond ±15° the page is more likely turned by 90° or a photo: OSD's business.
_MIN_DESKEW = 1.5
_MAX_SKEW = 15.0
_MIN_HEIGHT = 120  # px: shorter images cannot hold several text lines
_MIN_INK_POINTS = 400
_MIN_PEAK_GAIN = 1.15  # best projection score / worst angle's: below it no direction dominates
_MAX_POINTS = 12_000  # ink pixels used at the measuring scale (thinned deterministically beyond)
_COARSE_POINTS = 6_000

# Illumination: spread of a smooth lighting surface fitted to the paper brightness (5th..95th
# percentile, relative to its bright end) above which Tesseract's global Otsu starts losing text.
_MAX_SHADING = 0.35
_MIN_SHADING_FIT = 0.8  # R² of that quadratic surface: below it the dark parts are not shadow

# Dark scanner border: what lies outside a scanned receipt (the lid, the platen) is near black and
# touches the image edge. It drags any global threshold (ours and Tesseract's Otsu) so low that a
# receipt's grey print counts as paper: ocr-dev's sroie_415 reads as nothing at all. Dark regions
# (below half the page's median grey, solid) that touch the edge and together cover at least
# _MIN_BORDER_SHARE of the page are painted paper-white before anything else is measured.
_MIN_BORDER_SHARE = 0.01
_MIN_BORDER_PART = 0.002  # one edge's band may be thin: parts this big count towards the share
_BORDER_SIDE = 512
_BORDER_ERODE = 3  # px at that size

# Text size. Tesseract's LSTM reads best with a text height of ~20-30 px; the ~100-dpi forms of ocr-dev
# have a median glyph height of 6-10 px and lose a third of their words. A page whose median glyph
# (connected component) height is under _TARGET_TEXT / _MIN_UPSCALE is enlarged (bicubic) toward
# _TARGET_TEXT, by at most _MAX_UPSCALE and to at most _MAX_UPSCALED_PIXELS (time grows with area).
# ocr-dev forms: lnCER 27.0 -> 14.1 %, BoW-F1 53.6 -> 67.1 % (with the resolution below); targets of
# 16-24 px measured within a point of each other. At most 2x was measured for issue 16 (docs/accuracy.md)
# and not kept: a 100-dpi form then read under the second-opinion threshold and cost 2.9x its CPU.
_TARGET_TEXT = 16.0
_MIN_UPSCALE = 1.15
_MAX_UPSCALE = 3.0
_MAX_UPSCALED_PIXELS = 12_000_000
_MAX_ENGINE_SIDE = 32_767  # Tesseract refuses a wider or taller image (16-bit coordinates; tried at 34000 px)
# Resolution: file metadata is often a tool's default (scribe's 300-dpi scans say 96, SROIE says
# nothing), and Tesseract's own guess from 70 dpi segments tables and small text worse. The median glyph
# height of body text at 300 dpi is ~20 px (10-12 pt), so the engine is told 300 * height / 20 dpi for
# the page as handed over. PDFs keep their exact render resolution (scaled with the page).
_TEXT_AT_300DPI = 20.0
_MIN_DPI, _MAX_DPI = 70, 1200
_MIN_GLYPHS = 10  # fewer measurable glyphs: no estimate, the page keeps its metadata resolution

# Noise. Salt-and-pepper specks (a fax, a dirty platen, a bad binarisation upstream, halftone dots and
# dotted rules) become 1-2 px ink components after Otsu. They are counted on a central crop at full
# resolution (they vanish in a downscaled copy) against the glyph-like components; a page with more specks
# than glyphs gets a 3x3 median, which removes them without moving glyph edges. Synthetic pages with
# 3-10 % of pixels flipped: Tesseract's CER 5-100 % -> 0-2 %. On ocr-dev it fires on a table, a chart and a
# slide (1.9-13 specks per glyph: dotted leaders and pictures; every other page is under 1): tables lnCER
# 13.9 -> 8.1 %, BoW-F1 87.2 -> 89.7 %, page CER 34.9 -> 36.3 % (table_07's cells in another order), all
# lnCER 8.0 -> 6.9 %, BoW-F1 85.4 -> 85.8 %, page CER 19.4 -> 19.7 %. Grey (Gaussian) noise up to sigma 40
# left Tesseract's CER at 0-0.6 % with or without a median, so it is not a trigger.
_NOISE_SIDE = 1024
_MAX_SPECKS_PER_GLYPH = 1.0
_MIN_SPECKS = 50

# Page segmentation. A page far taller than any paper format (A4 1.41, US legal 1.65) is a strip: a till
# receipt or slip, one column of lines in varying sizes, sparse. Tesseract's automatic layout analysis
# (PSM 3) cuts such strips into many small blocks; PSM 4 (one column of text of variable sizes) reads
# them as the column they are. ocr-dev receipts (aspect 1.7-2.7): CER 16.8 -> 15.3 %, lnCER 15.5 ->
# 13.9 %; forms (1.25-1.33) did not gain from it, so they keep PSM 3.
_STRIP_ASPECT = 1.7
PSM_AUTO, PSM_SINGLE_COLUMN, PSM_SINGLE_LINE = 3, 4, 7
# An image less than this many glyph heights tall (and wider than twice its height) holds one line of text
# (a crop from a form field, a book line), and so does one under _MIN_HEIGHT whose glyphs are too few to
# measure (a word or two): PSM 7 reads it as that line. ocr-dev's 16 book lines (2.2-2.3 glyph heights)
# read the same with it, except one 50x67 px crop PSM 3 found no block in at all (CER 100 % -> 0).
_SINGLE_LINE = 2.5
# A line crop cut close to its ink loses glyphs to the edge: Tesseract reads a "T" whose bar touches the
# top as "l", "77" as "///", "482" as "462". A one-line image is handed over with a margin of paper half its
# text height wide (at least _MIN_MARGIN px), as Tesseract's own advice asks. Lines rendered 10-60 px high
# (DejaVu Sans and Serif, cut 0-8 px from the ink, clean and scanned; 336 crops): mean CER 0.9 -> 0.07 %,
# and 1.6 -> 0.5 % for text 10 px high.
_LINE_MARGIN = 0.5
_MIN_MARGIN = 4


@dataclass(slots=True)
class Preprocessed:
    image: np.ndarray  # 2-D uint8 grayscale (or 0/255 binary) to hand the engine
    angle: float  # measured skew, degrees clockwise the text lines are turned; 0.0 when not measured
    steps: list[dict] = field(default_factory=list)  # every step applied or measured-and-skipped, in order
    matrix: np.ndarray | None = None  # 2x3 affine: (x, y) in `image` -> input coordinates; None if unchanged
    dpi: int | None = None  # resolution to tell the engine for `image` (None: let Tesseract guess)
    psm: int = 3  # Tesseract page segmentation mode chosen for the page (3: automatic)
    text_height: float = 0.0  # median glyph height in `image` px (0: not measured)


CHAINS = ("adaptive", "seed")


def preprocess(
    img: np.ndarray,
    dpi: int | None = None,
    *,
    exact_dpi: bool = False,
    chain: str = "adaptive",
    engine: str = "tesseract",
) -> Preprocessed:
    """Prepare one page for the engine, choosing each step from what the page measures.

    ``dpi`` is what the file says (``exact_dpi``: a PDF rendered at that resolution, so it is true).
    All measurements run on a copy of at most ~1024 px (skew, background), a strided sample (histogram)
    or the connected components of one Otsu cut (text height), so the cost stays a few per cent of a
    Tesseract pass; full-resolution work is only done for a step that is applied. ``chain="seed"`` is the
    seed tutorial's fixed chain (blur + histogram equalisation on every page), kept for the accuracy
    bench to measure against; the workers always run ``adaptive``. ``engine`` other than ``tesseract``
    skips what only Tesseract needs (see ``_for_engine``)."""
    steps: list[dict] = []
    gray = _grayscale(img, steps)
    if chain == "seed":
        return _seed_chain(gray, dpi, steps)
    if chain != "adaptive":
        raise ValueError(f"unknown preprocessing chain {chain!r}")
    clock = Clock(steps)  # each step's wall time, for bench/throughput.py
    gray = clock.run(_dark_border, gray, steps)
    gray = clock.run(_contrast, gray, steps)
    gray = clock.run(_denoise, gray, steps)
    h = gray.shape[0]
    if h < _MIN_HEIGHT:
        # Too small for several lines: neither a skew estimate nor a page background means anything.
        steps.append({"step": "deskew", "applied": False, "reason": f"height {h} px < {_MIN_HEIGHT}"})
        return _for_engine(Preprocessed(gray, 0.0, steps, None), dpi, exact_dpi, engine, clock)

    small, _ = _downscale(gray, _MEASURE_SIDE)
    bg = _background(small)
    shading, fit = _shading(bg)
    angle, why_not = _estimate_skew(small, bg)
    matrix = None
    if why_not is not None:
        steps.append({"step": "deskew", "applied": False, "reason": why_not})
        angle = 0.0
    elif abs(angle) < _MIN_DESKEW:
        steps.append({"step": "deskew", "applied": False, "angle": angle})
    else:
        gray, matrix = _rotate(gray, angle)
        steps.append({"step": "deskew", "angle": angle})
    clock.mark()  # the deskew step's time includes measuring the page (downscale, background, shading)

    measured = {"shading": round(shading, 2), "fit": round(fit, 2)}
    if shading > _MAX_SHADING and fit >= _MIN_SHADING_FIT:
        gray = _binarize(gray)
        steps.append(
            {"step": "binarize", "method": "background-normalised-otsu", "reason": "uneven illumination", **measured}
        )
    elif shading > _MAX_SHADING:
        steps.append(
            {
                "step": "binarize",
                "applied": False,
                **measured,
                "reason": "background uneven but not smooth (borders, inverted or picture areas)",
            }
        )
    else:
        steps.append({"step": "binarize", "applied": False, "reason": "even illumination", **measured})
    return _for_engine(Preprocessed(gray, angle, steps, matrix), dpi, exact_dpi, engine, clock)


def _for_engine(pre: Preprocessed, dpi: int | None, exact_dpi: bool, engine: str, clock: Clock) -> Preprocessed:
    """Text size, resolution and segmentation are Tesseract's needs. The second engine's detector scales
    every page to its own working size and its recogniser every line to a fixed height, so enlarging small
    text only costs it: on ocr-dev's 100-dpi forms, reading them enlarged gave line-aligned CER 7.6 % at
    0.5 pages/s against 5.0 % at 0.9 pages/s as scanned."""
    clock.mark()  # the step before (binarize, or deskew skipped on a short image)
    if engine == "tesseract":
        return clock.run(_segmentation, clock.run(_text_size, pre, dpi, exact_dpi))
    pre.dpi = dpi
    pre.steps.append({"step": "upscale", "applied": False, "reason": f"{engine} scales pages itself"})
    return pre


def _segmentation(pre: Preprocessed) -> Preprocessed:
    """Choose the page segmentation from the page's shape (see ``_STRIP_ASPECT``, ``_SINGLE_LINE``)."""
    h, w = pre.image.shape
    aspect = h / max(1, w)
    one_line = (h < _SINGLE_LINE * pre.text_height and w > 2 * h) if pre.text_height else h < _MIN_HEIGHT
    if one_line:
        pre.psm = PSM_SINGLE_LINE
        pre.steps.append(
            {
                "step": "segmentation",
                "psm": PSM_SINGLE_LINE,
                "aspect": round(aspect, 2),
                "reason": f"one line: {h} px high, text {pre.text_height:.0f} px",
            }
        )
        _margin(pre)
    elif aspect >= _STRIP_ASPECT:
        pre.psm = PSM_SINGLE_COLUMN
        pre.steps.append(
            {
                "step": "segmentation",
                "psm": PSM_SINGLE_COLUMN,
                "aspect": round(aspect, 2),
                "reason": "strip (receipt): one column of variable sizes",
            }
        )
    else:
        pre.psm = PSM_AUTO
        pre.steps.append({"step": "segmentation", "psm": PSM_AUTO, "applied": False, "aspect": round(aspect, 2)})
    return pre


def _margin(pre: Preprocessed) -> None:
    """Surround a one-line image with paper (see ``_LINE_MARGIN``): the median of its outermost pixels,
    which are paper even where the ink touches the edge."""
    img = pre.image
    size = max(_MIN_MARGIN, round(_LINE_MARGIN * (pre.text_height or img.shape[0] / 2)))
    size = min(size, (_MAX_ENGINE_SIDE - max(img.shape)) // 2)  # never past what the engine takes
    if size <= 0:
        return
    edge = np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]])
    paper = int(np.median(edge))
    pre.image = cv2.copyMakeBorder(img, size, size, size, size, cv2.BORDER_CONSTANT, value=paper)
    shift = np.array([[1.0, 0.0, -float(size)], [0.0, 1.0, -float(size)]])
    pre.matrix = shift if pre.matrix is None else _then(pre.matrix, shift)
    pre.steps.append({"step": "margin", "px": size, "fill": paper})


def noise_level(gray: np.ndarray) -> tuple[float, int]:
    """(1-2 px specks per glyph-like component, specks) on a central crop at full resolution."""
    h, w = gray.shape
    y0, x0 = max(0, (h - _NOISE_SIDE) // 2), max(0, (w - _NOISE_SIDE) // 2)
    crop = np.ascontiguousarray(gray[y0 : y0 + _NOISE_SIDE, x0 : x0 + _NOISE_SIDE])
    _, ink = cv2.threshold(crop, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    _, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    area, hs, ws = stats[1:, cv2.CC_STAT_AREA], stats[1:, cv2.CC_STAT_HEIGHT], stats[1:, cv2.CC_STAT_WIDTH]
    specks = int((area <= 2).sum())
    glyphs = int(((hs >= 4) & (ws <= 3 * hs) & (ws >= 0.15 * hs) & (area >= 6)).sum())
    return specks / max(1, glyphs), specks


def _denoise(gray: np.ndarray, steps: list[dict]) -> np.ndarray:
    """A 3x3 median where specks outnumber glyphs (see ``_MAX_SPECKS_PER_GLYPH``); recorded either way."""
    ratio, specks = noise_level(gray)
    measured = {"specks_per_glyph": round(ratio, 2), "specks": specks}
    if ratio > _MAX_SPECKS_PER_GLYPH and specks >= _MIN_SPECKS:
        steps.append({"step": "denoise", "method": "median 3x3", **measured})
        return cv2.medianBlur(gray, 3)
    steps.append({"step": "denoise", "applied": False, **measured})
    return gray


def _text_size(pre: Preprocessed, dpi: int | None, exact_dpi: bool) -> Preprocessed:
    """Upscale small text toward the size Tesseract reads best and choose the resolution to declare,
    both from the measured median glyph height; each decision is recorded as a step."""
    height, glyphs = text_height(pre.image)
    if glyphs < _MIN_GLYPHS:
        pre.steps.append({"step": "upscale", "applied": False, "reason": f"{glyphs} glyphs measured"})
        pre.dpi = dpi
        return pre
    factor = 1.0
    if height * _MIN_UPSCALE < _TARGET_TEXT:
        h, w = pre.image.shape
        room = float(np.sqrt(_MAX_UPSCALED_PIXELS / (h * w)))
        factor = min(_TARGET_TEXT / height, _MAX_UPSCALE, room, (_MAX_ENGINE_SIDE - 64) / max(h, w))
    if factor >= _MIN_UPSCALE:
        pre.image = cv2.resize(pre.image, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
        shrink = np.array([[1.0 / factor, 0.0, 0.0], [0.0, 1.0 / factor, 0.0]])
        pre.matrix = shrink if pre.matrix is None else _then(pre.matrix, shrink)
        pre.steps.append({"step": "upscale", "factor": round(factor, 3), "text_height": height})
    else:
        factor = 1.0
        pre.steps.append({"step": "upscale", "applied": False, "text_height": height})
    pre.text_height = height * factor
    if exact_dpi and dpi:
        pre.dpi = round(dpi * factor)
        pre.steps.append({"step": "resolution", "dpi": pre.dpi, "source": "render"})
    else:
        estimate = round(300 * height * factor / _TEXT_AT_300DPI)
        pre.dpi = int(min(_MAX_DPI, max(_MIN_DPI, estimate)))
        pre.steps.append({"step": "resolution", "dpi": pre.dpi, "source": "text height", "metadata": dpi})
    return pre


def _then(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """The affine p -> outer(inner(p)) of two 2x3 maps."""
    o = np.vstack([outer, [0.0, 0.0, 1.0]])
    i = np.vstack([inner, [0.0, 0.0, 1.0]])
    return (o @ i)[:2]


def text_height(gray: np.ndarray) -> tuple[float, int]:
    """(median height in px of glyph-like connected components of the ink, how many were measured).

    One Otsu cut; components wider than 3x or narrower than 0.15x their height (rules, table borders,
    merged words, specks) and very tall ones (pictures; 90 % of the image for a single-line crop, else
    20 %) are ignored. Pages over ~4 MP are measured on a half-size copy (heights doubled): their text is
    never small enough for the halving to matter."""
    halve = gray.size > 4_000_000
    img = cv2.resize(gray, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA) if halve else gray
    _, ink = cv2.threshold(img, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    _, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    hs = stats[1:, cv2.CC_STAT_HEIGHT]
    ws = stats[1:, cv2.CC_STAT_WIDTH]
    cap = 0.9 * img.shape[0] if img.shape[0] < 200 else 0.2 * img.shape[0]
    ok = (hs >= 4) & (hs <= cap) & (ws <= 3 * hs) & (ws >= 0.15 * hs) & (stats[1:, cv2.CC_STAT_AREA] >= 6)
    n = int(ok.sum())
    if n == 0:
        return 0.0, 0
    return float(np.median(hs[ok])) * (2.0 if halve else 1.0), n


def _seed_chain(gray: np.ndarray, dpi: int | None, steps: list[dict]) -> Preprocessed:
    """The seed tutorial's fixed chain: 3x3 Gaussian blur, then global histogram equalisation, on every
    page whatever it measures. Kept only so bench/accuracy.py --preprocess seed can measure it."""
    out = cv2.equalizeHist(cv2.GaussianBlur(gray, (3, 3), 0))
    steps += [{"step": "blur", "kernel": 3}, {"step": "equalize"}]
    return Preprocessed(out, 0.0, steps, None, dpi)


def to_source(points: Sequence[float], matrix: np.ndarray | None) -> list[float]:
    """Map flat [x0, y0, x1, y1, ...] from the preprocessed image back to the submitted image."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if matrix is not None:
        pts = pts @ np.asarray(matrix, dtype=np.float64)[:, :2].T + np.asarray(matrix, dtype=np.float64)[:, 2]
    return [round(float(v), 1) for v in pts.ravel()]


# ----------------------------------------------------------------------------------------------- steps
def _grayscale(img: np.ndarray, steps: list[dict]) -> np.ndarray:
    """RGB(A) -> L with alpha over white: transparent PNGs otherwise turn into black pages."""
    a = np.asarray(img)
    if a.dtype == np.bool_:  # numpy view of a PIL mode "1" image
        return a.view(np.uint8) * np.uint8(255)
    if a.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {a.dtype}")
    if a.ndim == 2:
        return a
    if a.ndim != 3 or a.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"expected a 2-D or HxWx{{1,2,3,4}} image, got shape {a.shape}")
    channels = a.shape[2]
    a = np.ascontiguousarray(a)
    if channels in (1, 2):
        gray = cv2.extractChannel(a, 0)
    else:  # cvtColor reads the 4-channel layout in place; slicing off alpha first costs a full copy
        gray = cv2.cvtColor(a, cv2.COLOR_RGBA2GRAY if channels == 4 else cv2.COLOR_RGB2GRAY)
    if channels in (2, 4):
        alpha = cv2.extractChannel(a, channels - 1)
        if cv2.minMaxLoc(alpha)[0] < 255:  # most RGBA scans are fully opaque: skip the arithmetic then
            al = alpha.astype(np.uint16)
            gray = ((gray.astype(np.uint16) * al + 255 * (255 - al) + 127) // 255).astype(np.uint8)
    steps.append({"step": "grayscale"})
    return gray


def _dark_border(gray: np.ndarray, steps: list[dict]) -> np.ndarray:
    """Paint dark regions that touch the image edge (scanner lid, platen) paper-white; see
    ``_MIN_BORDER_SHARE``. Measured on a <= 512 px copy; only an applied fill touches full resolution."""
    if min(gray.shape) < _MIN_HEIGHT:
        return gray
    small, _ = _downscale(gray, _BORDER_SIDE)
    paper = float(np.median(small))
    # Solid only: an erosion wider than any stroke removes text, even text merged by the downscale; the
    # border is then taken whole (its thin parts too) as the dark components holding what survived.
    dark = (small < 0.5 * paper).astype(np.uint8)
    solid = cv2.erode(dark, np.ones((_BORDER_ERODE, _BORDER_ERODE), np.uint8), borderType=cv2.BORDER_REPLICATE)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(solid, connectivity=8)
    h, w = small.shape
    keep = [
        i
        for i in range(1, n)
        if stats[i, cv2.CC_STAT_AREA] >= _MIN_BORDER_PART * h * w
        and (
            stats[i, cv2.CC_STAT_LEFT] == 0
            or stats[i, cv2.CC_STAT_TOP] == 0
            or stats[i, cv2.CC_STAT_LEFT] + stats[i, cv2.CC_STAT_WIDTH] == w
            or stats[i, cv2.CC_STAT_TOP] + stats[i, cv2.CC_STAT_HEIGHT] == h
        )
    ]
    if not keep or stats[keep, cv2.CC_STAT_AREA].sum() < _MIN_BORDER_SHARE * h * w:
        steps.append({"step": "border", "applied": False})
        return gray
    _, whole = cv2.connectedComponents(dark, connectivity=8)
    seeds = np.unique(whole[np.isin(labels, keep)])
    mask = np.isin(whole, seeds[seeds > 0]).astype(np.uint8)
    mask = np.asarray(cv2.dilate(mask, np.ones((3, 3), np.uint8)), np.uint8)  # the border's soft edge is dark too
    share = round(float(mask.mean()), 3)
    span = _ink_paper_span(small[mask == 0])
    if span >= _MIN_SPAN:  # dark print: every threshold still separates it, and the border may hold text
        steps.append(
            {"step": "border", "applied": False, "share": share, "span": span, "reason": "print is dark enough"}
        )
        return gray
    full = cv2.resize(mask, (gray.shape[1], gray.shape[0]), interpolation=cv2.INTER_NEAREST).astype(bool)
    out = gray.copy()
    out[full] = round(paper)
    steps.append({"step": "border", "share": share, "span": span, "fill": round(paper)})
    return out


def _ink_paper_span(pixels: np.ndarray) -> int:
    """Grey levels between the medians of ink and paper (the two Otsu classes) of some pixels."""
    column = np.ascontiguousarray(pixels.reshape(-1, 1))
    if column.size < 2:
        return 255
    cut, _ = cv2.threshold(column, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    hist = cv2.calcHist([column], [0], None, [256], [0, 256]).ravel()
    cut = int(cut) + 1
    ink, paper = hist[:cut], hist[cut:]
    if ink.sum() == 0 or paper.sum() == 0:
        return 255
    return cut + _quantile(paper, 0.5) - _quantile(ink, 0.5)


def _contrast(gray: np.ndarray, steps: list[dict]) -> np.ndarray:
    """Linear stretch of a washed-out page (faded thermal receipts, light pencil-grey scans).

    The span is measured between ink and paper, not between fixed percentiles of all pixels: on a
    sparse page the 2nd percentile is still paper, and stretching it to black turns scanner noise into
    ink. An Otsu cut of a strided sample (no smoothing, cheap) splits ink from paper; the stretch runs
    from the ink's 2nd percentile to the paper's 98th."""
    stride = max(1, int(np.sqrt(gray.size / 250_000)))
    sample = np.ascontiguousarray(gray[::stride, ::stride])
    cut, _ = cv2.threshold(sample, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    hist = cv2.calcHist([sample], [0], None, [256], [0, 256]).ravel()
    cut = int(cut) + 1
    ink, paper = hist[:cut], hist[cut:]
    if ink.sum() == 0 or paper.sum() == 0:  # blank page
        return gray
    low = _quantile(ink, _INK_LOW_Q)
    high = cut + _quantile(paper, 0.98)
    ink_level, paper_level = _quantile(ink, 0.5), cut + _quantile(paper, 0.5)
    if paper_level - ink_level >= _MIN_SPAN or high - low < 8:
        steps.append({"step": "contrast", "applied": False, "span": paper_level - ink_level})
        return gray
    lut = np.clip((np.arange(256, dtype=np.float32) - low) * (255.0 / (high - low)), 0, 255)
    steps.append({"step": "contrast", "low": low, "high": high})
    return cv2.LUT(gray, lut.round().astype(np.uint8))


def _quantile(hist: np.ndarray, q: float) -> int:
    """Grey level below which a fraction `q` of a histogram's mass lies."""
    cdf = np.cumsum(hist)
    return int(np.searchsorted(cdf, q * cdf[-1]))


def _downscale(gray: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    """Area-averaged copy whose longer side is at most `side` (never upscaled). An integer factor is
    used when it fits, because OpenCV's area resize has a much faster path for those."""
    h, w = gray.shape
    longest = max(h, w)
    if longest <= side:
        return gray, 1.0
    factor = int(np.ceil(longest / side))
    if factor <= 8:  # let OpenCV size the result itself, or it falls back to the generic (slow) path
        inv = 1.0 / factor
        return cv2.resize(gray, None, fx=inv, fy=inv, interpolation=cv2.INTER_AREA), inv
    scale = side / longest
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(gray, size, interpolation=cv2.INTER_AREA), scale


def _background(small: np.ndarray) -> np.ndarray:
    """Paper brightness at the measuring scale: a closing wider than glyphs removes the (dark) text,
    a median removes what is left of it; done on a tiny copy because shading is low-frequency."""
    tiny, _ = _downscale(small, _BACKGROUND_SIDE)
    k = max(3, (max(tiny.shape) // 32) | 1)
    closed = cv2.morphologyEx(tiny, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    closed = cv2.medianBlur(closed, 2 * k + 1 if 2 * k + 1 <= 255 else 255)
    return cv2.resize(closed, (small.shape[1], small.shape[0]), interpolation=cv2.INTER_LINEAR)


def _shading(bg: np.ndarray) -> tuple[float, float]:
    """(spread, fit) of the page background. Lighting varies smoothly, so a quadratic surface is fitted:
    `fit` is its R² and `spread` its 5th..95th percentile range relative to its bright end. Scanner
    borders, inverted (light-on-dark) panels and photos give a blocky background that the surface
    cannot follow (low R²): thresholding against those would wipe text out rather than rescue it."""
    tiny = bg[:: max(1, bg.shape[0] // 48), :: max(1, bg.shape[1] // 48)].astype(np.float64)
    h, w = tiny.shape
    y, x = np.mgrid[0:h, 0:w]
    x = x.ravel() / max(w - 1, 1) * 2 - 1
    y = y.ravel() / max(h - 1, 1) * 2 - 1
    v = tiny.ravel()
    var = v.var()
    if var < 4.0:  # within ~2 grey levels: flat
        return 0.0, 1.0
    design = np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], axis=1)
    coef, *_ = np.linalg.lstsq(design, v, rcond=None)
    surface = design @ coef
    fit = float(1.0 - (v - surface).var() / var)
    lo, hi = np.percentile(surface, [5, 95])
    return float((hi - lo) / max(hi, 1.0)), fit


def _ink(small: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """Ink mask of the measuring copy: Otsu on the background-normalised image, so shading, dark
    borders and tinted boxes do not count as text."""
    norm = cv2.divide(small, np.maximum(bg, 1), scale=255)
    _, mask = cv2.threshold(norm, 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    return mask


def _estimate_skew(small: np.ndarray, bg: np.ndarray) -> tuple[float, str | None]:
    """Skew of the text lines, degrees, positive when they run down to the right.

    Projection-profile method on ink pixel coordinates instead of rotated images: for each candidate
    angle the points are projected on the line normal and the sharpness (sum of squared bin counts) of
    the resulting row profile is scored; lines are sharpest when the projection runs along them.
    Coarse (1° over ±15° on a ~320 px point set, where a 1° error blurs a line by only a few bins),
    then ±1° in 0.2° and ±0.2° in 0.05° steps at the measuring scale."""
    mask = _ink(small, bg)
    ys, xs = np.nonzero(mask)
    if ys.size < _MIN_INK_POINTS:
        return 0.0, f"too little ink ({ys.size} px)"
    if ys.size > _MAX_POINTS:  # deterministic thinning keeps the cost flat on dense pages
        every = ys.size // _MAX_POINTS + 1
        ys, xs = ys[::every], xs[::every]
    pts_x = xs.astype(np.float32)
    pts_y = ys.astype(np.float32)

    coarse_scale = min(1.0, _COARSE_SIDE / max(small.shape))
    thin = max(1, xs.size // _COARSE_POINTS)
    coarse = np.arange(-_MAX_SKEW, _MAX_SKEW + 0.5, 1.0)
    scores = _profile_scores(pts_x[::thin] * coarse_scale, pts_y[::thin] * coarse_scale, coarse)
    if scores.max() < _MIN_PEAK_GAIN * scores.min():
        return 0.0, "no dominant text-line direction"
    best = float(coarse[int(np.argmax(scores))])
    for half, step in ((1.0, 0.2), (0.2, 0.05)):  # refine at full measuring resolution
        cand = np.arange(best - half, best + half + 1e-6, step)
        best = float(cand[int(np.argmax(_profile_scores(pts_x, pts_y, cand)))])
    angle = round(best, 2)
    if abs(angle) > _MAX_SKEW:
        return 0.0, f"skew beyond ±{_MAX_SKEW:g}°"
    return angle + 0.0, None  # + 0.0 turns -0.0 into 0.0


def _profile_scores(xs: np.ndarray, ys: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Sum of squared projection-profile counts of the points for each angle (degrees, clockwise)."""
    rad = np.deg2rad(angles.astype(np.float32))[:, None]
    rows = ys[None, :] * np.cos(rad) - xs[None, :] * np.sin(rad)
    bins = np.rint(rows).astype(np.int32)
    bins -= bins.min()
    span = int(bins.max()) + 1
    bins += (np.arange(len(angles), dtype=np.int32) * span)[:, None]
    counts = np.bincount(bins.ravel(), minlength=span * len(angles)).reshape(len(angles), span)
    counts = counts.astype(np.float64)
    return (counts * counts).sum(axis=1)


def _rotate(gray: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """Turn the page counter-clockwise by `angle` on a canvas grown to keep every corner, filling with
    white; returns the image and the 2x3 map from its pixels back to the input's."""
    h, w = gray.shape
    forward = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), angle, 1.0)  # +angle = counter-clockwise
    cos, sin = abs(forward[0, 0]), abs(forward[0, 1])
    new_w = int(np.ceil(w * cos + h * sin))
    new_h = int(np.ceil(w * sin + h * cos))
    forward[0, 2] += new_w / 2.0 - w / 2.0
    forward[1, 2] += new_h / 2.0 - h / 2.0
    rotated = cv2.warpAffine(
        gray, forward, (new_w, new_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=255
    )
    return rotated, cv2.invertAffineTransform(forward)


def _binarize(gray: np.ndarray) -> np.ndarray:
    """Adaptive threshold for shaded pages: divide by the local background (estimated at low
    resolution, so it costs a resize rather than a large full-resolution filter), then one Otsu cut."""
    small, _ = _downscale(gray, _MEASURE_SIDE)
    bg = _background(small)
    bg_full = cv2.resize(bg, (gray.shape[1], gray.shape[0]), interpolation=cv2.INTER_LINEAR)
    norm = cv2.divide(gray, np.maximum(bg_full, 1), scale=255)
    _, binary = cv2.threshold(norm, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return binary
