"""A JobView as Google Cloud Vision's `AnnotateImageResponse` (B.3): `textAnnotations` (the whole text with
its locale and a box around it, then one entry per word) and `fullTextAnnotation`, the hierarchy pages ->
blocks -> paragraphs -> words -> symbols, built from the one result model (pages, lines, words). Pure
functions of the view, no I/O.

Where the model has less than Vision reports, this is what is sent, on purpose:
- symbols are the word's grapheme clusters, each with the word's confidence and a box cut from the word's
  box (its top and bottom edges divided evenly among the characters): the engine reports no per-symbol
  boxes, so a symbol's box is an apportioned estimate, exact only at the word's two ends;
- paragraphs are the page's lines grouped by ``render.document.paragraphs_of``, one block each (blockType
  TEXT); the last word of a line carries EOL_SURE_SPACE, that of a paragraph's last line LINE_BREAK, so
  `fullTextAnnotation.text` is what Vision rebuilds from the breaks: each line's words, then a newline;
- confidences (0-1) are sent with DOCUMENT_TEXT_DETECTION, or with TEXT_DETECTION when
  `enableTextDetectionConfidenceScore` asks for them, as Vision does.
Images get pixel `vertices` (ints, explicit zeros: raw clients index `x` and `y`); `files:annotate` pages
get `normalizedVertices` (0-1) with the page's size in points for PDFs and in pixels for TIFF and GIF."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import regex

from ocrgw import languages
from ocrgw.jobs.schemas import JobView, LineResult, PageResult, WordResult
from ocrgw.render.document import paragraphs_of
from ocrgw.render.geometry import pixel_scale

_GRAPHEME = regex.compile(r"\X")
BLOCK_TEXT = ("TEXT", 1)
SPACE, EOL_SURE_SPACE, LINE_BREAK = ("SPACE", 1), ("EOL_SURE_SPACE", 3), ("LINE_BREAK", 5)
# Tesseract model -> the BCP-47 code Vision reports it as (the first code naming it).
_MODEL_TO_BCP47: dict[str, str] = {}
for _code, _model in languages.BCP47_TO_TESSERACT.items():
    _MODEL_TO_BCP47.setdefault(_model, languages.canonical_bcp47(_code))

Quad = Sequence[float]


@dataclass(frozen=True, slots=True)
class Style:
    """How one response is written: integer or named enums (`$alt`), confidences, box kind."""

    ints: bool = False
    confidence: bool = False
    normalized: bool = False

    def enum(self, pair: tuple[str, int]) -> str | int:
        return pair[1] if self.ints else pair[0]


@dataclass(frozen=True, slots=True)
class Frame:
    """A page's coordinate system as the response gives it: ``k`` from the stored unit to pixels, or the
    page's stored size for normalized vertices."""

    k: float
    width: float
    height: float
    normalized: bool

    def poly(self, quad: Quad) -> dict:
        pts = [(quad[i], quad[i + 1]) for i in range(0, 8, 2)]
        if self.normalized:
            w, h = self.width or 1.0, self.height or 1.0
            return {"normalizedVertices": [{"x": _unit(x / w), "y": _unit(y / h)} for x, y in pts]}
        return {"vertices": [{"x": round(x * self.k), "y": round(y * self.k)} for x, y in pts]}


def _unit(v: float) -> float:
    return round(min(1.0, max(0.0, v)), 6)


def frame_of(page: PageResult, pdf_dpi: int, normalized: bool) -> Frame:
    return Frame(pixel_scale(page, pdf_dpi), page.width, page.height, normalized)


def locale_of(page: PageResult, view: JobView) -> str:
    """The page's language as a BCP-47 code: the identified one, else the first hint, else the model's."""
    if page.language:
        code = page.language.split(",")[0].split("+")[0].strip()
        return _MODEL_TO_BCP47.get(code) or languages.canonical_bcp47(code)  # a model name (`eng`) as its code
    model = view.spec.languages[0] if view.spec.languages else "eng"
    return _MODEL_TO_BCP47.get(model, "en")


def _union(quads: Sequence[Quad]) -> list[float]:
    xs = [q[i] for q in quads for i in range(0, 8, 2)]
    ys = [q[i] for q in quads for i in range(1, 8, 2)]
    x0, y0, x1, y1 = min(xs), min(ys), max(xs), max(ys)
    return [x0, y0, x1, y0, x1, y1, x0, y1]


def _lerp(a: tuple[float, float], b: tuple[float, float], f: float) -> tuple[float, float]:
    return a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f


def symbol_quads(quad: Quad, n: int) -> list[list[float]]:
    """The word's quad cut into ``n`` equal slices along its reading direction (an estimate: see above)."""
    tl, tr, br, bl = ((quad[i], quad[i + 1]) for i in range(0, 8, 2))
    out = []
    for i in range(n):
        f0, f1 = i / n, (i + 1) / n
        a, b, c, d = _lerp(tl, tr, f0), _lerp(tl, tr, f1), _lerp(bl, br, f1), _lerp(bl, br, f0)
        out.append([a[0], a[1], b[0], b[1], c[0], c[1], d[0], d[1]])
    return out


def words_of(line: LineResult) -> list[WordResult]:
    """A line's words; a line the engine gave no words for is one word (its text without spaces)."""
    if line.words:
        return [w for w in line.words if w.text.strip()]
    return [WordResult("".join(line.text.split()), line.bbox, line.confidence)] if line.text.strip() else []


def _mean(values: Sequence[float]) -> float:
    return round(sum(values) / len(values), 3) if values else 0.0


def _word(word: WordResult, brk: tuple[str, int], lang: str, frame: Frame, style: Style) -> dict:
    chars = _GRAPHEME.findall(word.text)
    conf = {"confidence": round(word.confidence, 3)} if style.confidence else {}
    langs = {"detectedLanguages": [{"languageCode": lang}]}
    symbols = []
    for i, (ch, quad) in enumerate(zip(chars, symbol_quads(word.bbox, len(chars)), strict=True)):
        prop: dict = dict(langs)
        if i == len(chars) - 1:
            prop["detectedBreak"] = {"type": style.enum(brk)}
        symbols.append({"property": prop, "boundingBox": frame.poly(quad), "text": ch, **conf})
    return {"property": langs, "boundingBox": frame.poly(word.bbox), "symbols": symbols, **conf}


def _paragraph(lines: Sequence[LineResult], page_lang: str, frame: Frame, style: Style) -> tuple[dict, str]:
    """One paragraph and its text as Vision rebuilds it from the breaks."""
    words, text, confs, quads = [], [], [], []
    for n, line in enumerate(lines):
        lang = (
            (_MODEL_TO_BCP47.get(line.language) or languages.canonical_bcp47(line.language))
            if line.language
            else page_lang
        )
        found = words_of(line)
        for j, w in enumerate(found):
            last = j == len(found) - 1
            brk = SPACE if not last else (LINE_BREAK if n == len(lines) - 1 else EOL_SURE_SPACE)
            words.append(_word(w, brk, lang, frame, style))
            confs.append(w.confidence)
            quads.append(w.bbox)
        if found:
            text.append(" ".join(w.text for w in found) + "\n")
    conf = {"confidence": _mean(confs)} if style.confidence else {}
    box = frame.poly(_union(quads)) if quads else frame.poly([0.0] * 8)
    return {"boundingBox": box, "words": words, **conf}, "".join(text)


def page_annotation(
    page: PageResult, view: JobView, frame: Frame, style: Style, size: tuple[int, int]
) -> tuple[dict, str]:
    """One `fullTextAnnotation` page (``size`` as the response states it) and its text."""
    lang = locale_of(page, view)
    blocks, texts, confs = [], [], list[float]()
    for group in paragraphs_of(page.lines):
        para, text = _paragraph([page.lines[i] for i in group], lang, frame, style)
        if not para["words"]:
            continue
        block_conf = {"confidence": para["confidence"]} if style.confidence else {}
        block = {"boundingBox": para["boundingBox"], "paragraphs": [para], "blockType": style.enum(BLOCK_TEXT)}
        blocks.append({**block, **block_conf})
        texts.append(text)
        confs.extend(w.confidence for ln in (page.lines[i] for i in group) for w in words_of(ln))
    conf = {"confidence": _mean(confs)} if style.confidence else {}
    # How sure the identification was is not kept; a language the caller named is certain.
    language = {"languageCode": lang, **({"confidence": 1.0} if view.spec.language_hint else {})}
    out = {"property": {"detectedLanguages": [language]}, "width": size[0], "height": size[1], "blocks": blocks, **conf}
    return out, "".join(texts)


def image_response(view: JobView, pdf_dpi: int, style: Style) -> dict:
    """`responses[i]` of images:annotate for a succeeded job: page 1, in pixels. No text: `{}`."""
    page = next(iter(sorted(view.pages or [], key=lambda p: p.page_no)), None)
    if page is None:
        return {}
    frame = frame_of(page, pdf_dpi, normalized=False)
    size = (round(page.width * frame.k), round(page.height * frame.k))
    annotated, text = page_annotation(page, view, frame, style, size)
    if not text:
        return {}
    words = [w for ln in page.lines for w in words_of(ln)]
    around = frame.poly(_union([w.bbox for w in words]))
    first = {"locale": locale_of(page, view), "description": text, "boundingPoly": around}
    rest = [{"description": w.text, "boundingPoly": frame.poly(w.bbox)} for w in words]
    return {"textAnnotations": [first, *rest], "fullTextAnnotation": {"pages": [annotated], "text": text}}


def file_page_size(page: PageResult, pdf_dpi: int) -> tuple[int, int]:
    """A PDF page's size in points (as Vision states PDF pages), an image's in pixels."""
    k = 72.0 if page.unit == "inch" else pixel_scale(page, pdf_dpi)
    return round(page.width * k), round(page.height * k)


def file_response(view: JobView, pages: Sequence[int], total: int, pdf_dpi: int, style: Style, echo: dict) -> dict:
    """`responses[i]` of files:annotate: one AnnotateImageResponse per page asked (in the order asked),
    each with its `context.pageNumber`, and the file's `totalPages`."""
    by_no = {p.page_no: p for p in view.pages or []}
    out = []
    for no in pages:
        page = by_no.get(no)
        one: dict = {}
        if page is not None:
            frame = frame_of(page, pdf_dpi, normalized=True)
            annotated, text = page_annotation(page, view, frame, style, file_page_size(page, pdf_dpi))
            if text:
                one["fullTextAnnotation"] = {"pages": [annotated], "text": text}
        out.append({**one, "context": {"pageNumber": no}})
    return {"inputConfig": echo, "responses": out, "totalPages": total}
