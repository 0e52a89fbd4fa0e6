"""Worker side, after tables: a page's figures (charts, pictures, diagrams) and their captions, for the
Document Intelligence ``prebuilt-layout`` ``figures`` (and the crops of ``output=figures``). Works on the
engine image the lines were read from, so boxes share their pixels.

Where figures come from: the CDLA layout model's ``figure`` regions (``models.LayoutModel.regions``, the run
the table finder shares). That model learnt on Chinese papers and calls a great deal of text a figure: on the
ocr-dev pages 13 of 17 receipts and 10 of 16 forms came back as one page-sized figure, and key-value lists
and small tables on magazine pages too (docs/layout.md, "Figures"). A figure whose text a client drops (the
azure-search-openai-demo replaces a figure's span by a description of its crop) costs more than a missed one,
so a region is kept only when it is not the page itself and it has something besides text:

* *not the page*: a region over at least PAGE_AREA of the page that holds PAGE_WORDS of its words, and at
  least MANY_WORDS of them, is a scan or a photographed receipt the model took whole, not a figure on it,
  unless it has graphics (below) away from the page's margin: a chart or diagram submitted alone;
* *graphics*: ink that is neither a word the engine read nor a thin ruling line covers MIN_GRAPHICS of the
  region (bars, plot lines, photos, drawings), or a caption beside it says it is one ("Figure 3", "Abb. 2").
  Text blocks, forms and tables are text and rules; diagrams of thin boxes and lines with much text in them
  (org charts, screenshots of dialogs) are lost with them unless captioned.

A line reading as a caption ("Figure 2: ...") just above or below a figure (or inside its box along the top
or bottom edge: the model often boxes the caption with the figure), or failing that a ``figure_caption``
region there, is its caption. The figure's own text is the lines whose centre lies in it (compose.py)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from ocrgw.pipeline.engines.tesseract import RawLine, RawWord

Box = tuple[int, int, int, int]
Region = tuple[Box, str, float]

# A region over this share of the page, holding PAGE_WORDS of the page's words and MANY_WORDS or more, is the
# page the model took whole, unless it has MIN_GRAPHICS away from the page's margin (a chart submitted alone).
# Receipts and forms: 0.66-1.0 of the page, 0.63-1.0 of its words, 30-204 words, such graphics at most 0.03;
# figures on a page: at most 0.58 of it; figures alone: 0.9-1.0 of the page, 36-320 words.
PAGE_AREA = 0.5
PAGE_WORDS = 0.8
MANY_WORDS = 40
# Ink that is not text, not a thin rule and not a speck, per unit of the region's area: true figures
# 0.038-0.27 (most over 0.1), the text regions the model called figures 0-0.037 (docs/layout.md, "Figures").
MIN_GRAPHICS = 0.05
# Binarising: ink is darker than the region's background (its median) by this many grey levels at least.
INK_CONTRAST = 40
# Thin rules: runs of ink at least RULE_LENGTH of the page's longer side long and at most RULE_WIDTH thick.
RULE_LENGTH = 0.02
RULE_WIDTH = 0.003
# A caption lies within this many text heights above or below the figure, overlapping it sideways.
CAPTION_GAP = 2.5
# Specks (scanner noise, halftone dots of a shaded table row) up to this share of the page's longer side
# square are no graphics: without this a halftone-shaded table read 0.066.
SPECK = 0.002
# The page's margin: ink reaching this share of its longer side from an edge (a scan's black border) does not
# make a page-sized region a figure.
MARGIN = 0.01
# Two figure regions are one when the smaller lies this much inside the larger.
SAME_REGION = 0.5
# A line that reads as a figure's caption: a figure word and a number, in the languages the engines read.
CAPTION_TEXT = re.compile(
    r"^\s*[\[(]?\s*(?:fig(?:ure|ura|\.)?|figs?\.|chart|diagram|exhibit|graph|illustration|image|photo|plate|"
    r"abb(?:ildung|\.)?|bild|grafik|gr[aá]fico|schéma|rys(?:unek|\.)?|obr(?:ázek|\.)?|рис(?:унок|\.)?|"
    r"图|圖|그림|図)\s*(?:\d+|[IVXivx]+)\b",
    re.IGNORECASE,
)


@dataclass(slots=True)
class Figure:
    box: Box  # the figure alone, without its caption (Document Intelligence 2024-11-30 boxes it so)
    score: float
    caption_box: Box | None = None  # a figure_caption region beside it
    caption_line: RawLine | None = None  # else a line that reads as its caption
    graphics: float = 0.0


def find_figures(image: np.ndarray, lines: Sequence[RawLine], regions: Sequence[Region]) -> list[Figure]:
    """The page's figures among the model's regions, top to bottom; ``lines`` are the page's lines in
    reading order (all of them: text in tables counts as text)."""
    words = [w for ln in lines for w in ln.words]
    height = text_height(words)
    h, w = image.shape[:2]
    page_area = float(h * w)
    figures: list[Figure] = []
    for box, name, score in regions:
        if name != "figure" or _area(box) <= 0:
            continue
        inside = [wd for wd in words if _centre_in(wd.box, box)]
        drawn, inner = graphics(image, box, inside, height)
        page = (
            _area(box) >= PAGE_AREA * page_area and len(inside) >= MANY_WORDS and len(inside) >= PAGE_WORDS * len(words)
        )
        if page and inner < MIN_GRAPHICS:
            continue  # the page itself (a chart or diagram submitted alone has graphics of its own)
        figures.append(Figure(box, score, graphics=drawn))
    captions = [box for box, name, _ in regions if name == "figure_caption"]
    others = [box for box, name, _ in regions if name == "figure"]
    taken: set[int] = set()
    found = []
    for fig in sorted(figures, key=lambda f: (f.box[1], f.box[0])):
        fig.caption_line = _caption_line(fig.box, lines, height, [b for b in others if b != fig.box])
        if fig.caption_line is not None:  # a line that says it is a caption beats the model's caption regions
            fig.box = _without(fig.box, fig.caption_line.box)
        elif (at := _caption_region(fig.box, captions, taken, height)) is not None:
            taken.add(at)
            fig.caption_box = captions[at]
        if fig.graphics >= MIN_GRAPHICS or _captioned(fig, lines):
            found.append(fig)
    kept: list[Figure] = []
    for fig in sorted(found, key=lambda f: -_area(f.box)):  # one of two nested regions: the larger
        if not any(_inside_share(fig.box, other.box) >= SAME_REGION for other in kept):
            kept.append(fig)
    return sorted(kept, key=lambda f: (f.box[1], f.box[0]))


def text_height(words: Sequence[RawWord]) -> float:
    """The median word height (20 px when there are no words)."""
    heights = sorted(w.box[3] - w.box[1] for w in words)
    return float(heights[len(heights) // 2]) if heights else 20.0


def graphics(image: np.ndarray, box: Box, words: Sequence[RawWord], height: float) -> tuple[float, float]:
    """The share of the region covered by ink that is neither a word's (its box, a little grown), nor a thin
    ruling line, nor a speck: what a chart, photo or drawing has and a block of text, a form or a table has
    not. Second, the same without the ink that reaches the page's margin (a scan's black border, a page's
    decoration), which decides whether a region holding the whole page is a figure submitted alone."""
    x0, y0, x1, y1 = box
    crop = np.ascontiguousarray(image[y0:y1, x0:x1], dtype=np.uint8)
    if crop.size == 0:
        return 0.0, 0.0
    otsu, _ = cv2.threshold(crop, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    ink = (crop <= min(otsu, float(np.median(crop)) - INK_CONTRAST)).astype(np.uint8)
    grow = max(2, round(0.1 * height))
    for wd in words:
        a, b, c, d = wd.box
        ink[max(0, b - y0 - grow) : max(0, d - y0 + grow), max(0, a - x0 - grow) : max(0, c - x0 + grow)] = 0
    h, w = image.shape[:2]
    side = max(h, w)
    ink &= 1 - thin_rules(ink, max(15, round(RULE_LENGTH * side)), max(3, round(RULE_WIDTH * side)))
    _, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    stats = stats[1:]
    stats = stats[stats[:, cv2.CC_STAT_AREA] >= max(4, round(SPECK * side) ** 2)]
    margin = round(MARGIN * side)
    left, top = stats[:, cv2.CC_STAT_LEFT] + x0, stats[:, cv2.CC_STAT_TOP] + y0
    right, bottom = left + stats[:, cv2.CC_STAT_WIDTH], top + stats[:, cv2.CC_STAT_HEIGHT]
    inner = (left > margin) & (top > margin) & (right < w - margin) & (bottom < h - margin)
    areas = stats[:, cv2.CC_STAT_AREA]
    return float(areas.sum()) / crop.size, float(areas[inner].sum()) / crop.size


def thin_rules(ink: np.ndarray, length: int, width: int) -> np.ndarray:
    """Horizontal and vertical runs of ink at least ``length`` long that are thinner than ``width`` (a bar of
    a chart is as long, but thick)."""

    def opened(img: np.ndarray, kw: int, kh: int) -> np.ndarray:
        return cv2.morphologyEx(img, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (kw, kh)))

    across = opened(ink, length, 1)
    across &= 1 - opened(across, 1, width)
    down = opened(ink, 1, length)
    down &= 1 - opened(down, width, 1)
    return across | down


def _caption_region(box: Box, captions: Sequence[Box], taken: set[int], height: float) -> int | None:
    """The nearest free figure_caption region just above or below the figure."""
    best: tuple[float, int] | None = None
    for i, cap in enumerate(captions):
        if i in taken or not _beside(box, cap, height):
            continue
        gap = max(cap[1] - box[3], box[1] - cap[3], 0)
        if best is None or gap < best[0]:
            best = (gap, i)
    return None if best is None else best[1]


def _caption_line(box: Box, lines: Sequence[RawLine], height: float, others: Sequence[Box]) -> RawLine | None:
    """The nearest line that reads as a caption just above or below the figure, or inside it along its top
    or bottom edge (the model's box often takes the caption in); not a line in another figure's region."""
    best: tuple[float, int] | None = None
    for i, line in enumerate(lines):
        if not line.words or any(_centre_in(line.box, other) for other in others):
            continue
        if _centre_in(line.box, box):
            gap = min(line.box[1] - box[1], box[3] - line.box[3])
            if gap > CAPTION_GAP * height:
                continue
            gap = 0
        elif _beside(box, line.box, height):
            gap = max(line.box[1] - box[3], box[1] - line.box[3], 0)
        else:
            continue
        if CAPTION_TEXT.match(" ".join(w.text for w in line.words)) and (best is None or gap < best[0]):
            best = (gap, i)
    return None if best is None else lines[best[1]]


def _without(box: Box, caption: Box) -> Box:
    """The figure's box cut short of a caption that lies in it along its top or bottom edge."""
    if not _centre_in(caption, box):
        return box
    if (caption[1] + caption[3]) / 2 > (box[1] + box[3]) / 2:
        return (box[0], box[1], box[2], max(box[1] + 1, caption[1] - 1))
    return (box[0], min(box[3] - 1, caption[3] + 1), box[2], box[3])


def _captioned(fig: Figure, lines: Sequence[RawLine]) -> bool:
    """Whether the figure's caption says it is a figure (a caption region alone does not: the model finds
    them on receipts and forms too)."""
    if fig.caption_line is not None:
        return True
    if fig.caption_box is None:
        return False
    first = next((ln for ln in lines if ln.words and _centre_in(ln.box, fig.caption_box)), None)
    return first is not None and bool(CAPTION_TEXT.match(" ".join(w.text for w in first.words)))


def _beside(box: Box, other: Box, height: float) -> bool:
    """``other`` lies above or below ``box`` within CAPTION_GAP text heights, overlapping it sideways by half
    of the narrower of the two."""
    overlap = min(box[2], other[2]) - max(box[0], other[0])
    if overlap < 0.5 * min(box[2] - box[0], other[2] - other[0]):
        return False
    gap = max(other[1] - box[3], box[1] - other[3])
    cy = (other[1] + other[3]) / 2
    return gap <= CAPTION_GAP * height and not box[1] < cy < box[3]


def _centre_in(box: Box, outer: Box) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return outer[0] <= cx <= outer[2] and outer[1] <= cy <= outer[3]


def _area(b: Box) -> int:
    return max(0, b[2] - b[0]) * max(0, b[3] - b[1])


def _inside_share(a: Box, b: Box) -> float:
    """Share of ``a`` that lies inside ``b``."""
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    return ix * iy / max(1, _area(a))
