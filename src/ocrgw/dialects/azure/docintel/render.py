"""Renders a JobView as a Form Recognizer / Document Intelligence `prebuilt-read` operation: one `content`
string (lines joined by "\\n" in reading order), pages/words/lines/paragraphs whose spans index that string
in the unit the caller chose (`stringIndexType`). Pure functions: no I/O, no framework."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate

import regex

from ocrgw import languages
from ocrgw.dialects.azure.docintel.errors import failure
from ocrgw.dialects.azure.shared import box, operation_state, page_size
from ocrgw.jobs.schemas import JobView, LineResult, PageResult
from ocrgw.jobs.states import JobStatus
from ocrgw.render.document import paragraphs_of as paragraphs_of

INDEX_TYPES = ("textElements", "unicodeCodePoint", "utf16CodeUnit")
DEFAULT_INDEX_TYPE = "textElements"
_GRAPHEME = regex.compile(r"\X")
# Tesseract model -> the BCP-47 code a detected language is reported as (the first code naming it).
_MODEL_TO_BCP47: dict[str, str] = {}
for _code, _model in languages.BCP47_TO_TESSERACT.items():
    _MODEL_TO_BCP47.setdefault(_model, languages.canonical_bcp47(_code))

Range = tuple[int, int]  # code points [start, end) in `content`


# ------------------------------------------------------------------------------------------------ spans
def offset_table(content: str, index_type: str) -> list[int]:
    """For every code-point position 0..len(content), the offset in `index_type` units. A position inside
    a grapheme cluster maps to the end of that cluster (so a span never splits a text element)."""
    if index_type == "unicodeCodePoint":
        return list(range(len(content) + 1))
    if index_type == "utf16CodeUnit":
        return list(accumulate((2 if ord(ch) > 0xFFFF else 1 for ch in content), initial=0))
    if index_type != "textElements":
        raise ValueError(f"unknown stringIndexType {index_type!r}")
    table = [0] * (len(content) + 1)
    for n, m in enumerate(_GRAPHEME.finditer(content)):
        start, end = m.span()
        table[start] = n
        for i in range(start + 1, end + 1):
            table[i] = n + 1
    return table


class SpanIndex:
    """Converts code-point spans of one `content` string to {offset, length} in the requested unit."""

    def __init__(self, content: str, index_type: str) -> None:
        self.content = content
        self.table = offset_table(content, index_type)

    def span(self, start: int, end: int) -> dict:
        offset = self.table[start]
        return {"offset": offset, "length": self.table[end] - offset}


def span_text(content: str, span: dict, index_type: str) -> str:
    """The text a span addresses in `content` (the inverse of SpanIndex, used by clients and tests)."""
    table = offset_table(content, index_type)
    lo = bisect_left(table, span["offset"])
    hi = bisect_right(table, span["offset"] + span["length"]) - 1
    return content[lo:hi]


# ----------------------------------------------------------------------------------------- geometry
def _extent(boxes: Sequence[Sequence[float]]) -> tuple[float, float, float, float]:
    xs = [v for b in boxes for v in b[0::2]]
    ys = [v for b in boxes for v in b[1::2]]
    return min(xs), min(ys), max(xs), max(ys)


def _union(boxes: Sequence[Sequence[float]], unit: str) -> list[float]:
    if len(boxes) == 1:
        return box(list(boxes[0]), unit)
    x0, y0, x1, y1 = _extent(boxes)
    return box([x0, y0, x1, y0, x1, y1, x0, y1], unit)


# ------------------------------------------------------------------------------------------- content
@dataclass(slots=True)
class _Laid:
    """Where one page's text landed in `content`: the page's, each line's and each word's code-point range
    (None for a word whose text is not in its line's), and its paragraphs as groups of line indices."""

    page: PageResult
    span: Range
    lines: list[Range]
    words: list[list[Range | None]]
    paragraphs: list[list[int]]


def _word_ranges(line: LineResult, at: int) -> list[Range | None]:
    """Each word found in order in its line's text, the line starting at `at` in `content`."""
    ranges: list[Range | None] = []
    cursor = 0
    for w in line.words:
        found = line.text.find(w.text, cursor) if w.text else -1
        ranges.append((at + found, at + found + len(w.text)) if found >= 0 else None)
        cursor = found + len(w.text) if found >= 0 else cursor
    return ranges


def _content(pages: Sequence[PageResult], markdown: bool) -> tuple[str, list[_Laid]]:
    """Step 1: the `content` string, lines joined by "\\n" (paragraphs by a blank line and pages by a
    PageBreak comment in markdown), recording where every page, line and word landed."""
    page_sep = "\n<!-- PageBreak -->\n" if markdown else "\n"
    para_sep = "\n\n" if markdown else "\n"
    parts: list[str] = []
    pos = 0
    laid: list[_Laid] = []
    for page in pages:
        groups = paragraphs_of(page.lines)  # consecutive runs of lines, so lines stay in order
        firsts = {group[0] for group in groups[1:]}
        start: int | None = None
        lines: list[Range] = []
        words: list[list[Range | None]] = []
        for li, line in enumerate(page.lines):
            if parts:
                sep = page_sep if start is None else (para_sep if li in firsts else "\n")
                parts.append(sep)
                pos += len(sep)
            if start is None:
                start = pos
            parts.append(line.text)
            lines.append((pos, pos + len(line.text)))
            words.append(_word_ranges(line, pos))
            pos += len(line.text)
        laid.append(_Laid(page, (pos, pos) if start is None else (start, pos), lines, words, groups))
    return "".join(parts), laid


# -------------------------------------------------------------------------------------------- JSON
def _page(laid: _Laid, index: SpanIndex) -> dict:
    """Step 2: a page with its words and lines, spans converted through the table."""
    page, unit = laid.page, laid.page.unit
    words = [
        {"content": w.text, "polygon": box(w.bbox, unit), "confidence": round(w.confidence, 3), "span": index.span(*at)}
        for line, ranges in zip(page.lines, laid.words, strict=True)
        for w, at in zip(line.words, ranges, strict=True)
        if at is not None  # a word whose text is not in its line's text has no addressable span
    ]
    lines = [
        {"content": line.text, "polygon": box(line.bbox, unit), "spans": [index.span(*at)]}
        for line, at in zip(page.lines, laid.lines, strict=True)
    ]
    return {
        "pageNumber": page.page_no,
        "angle": page.angle,
        **page_size(page),
        "words": words,
        "lines": lines,
        "spans": [index.span(*laid.span)],
    }


def _paragraphs(laid: _Laid, index: SpanIndex) -> list[dict]:
    """Step 3: a page's paragraphs, each one span of `content` and the union of its lines' boxes."""
    out = []
    for group in laid.paragraphs:
        start, end = laid.lines[group[0]][0], laid.lines[group[-1]][1]
        polygon = _union([laid.page.lines[i].bbox for i in group], laid.page.unit)
        region = {"pageNumber": laid.page.page_no, "polygon": polygon}
        out.append(
            {"content": index.content[start:end], "spans": [index.span(start, end)], "boundingRegions": [region]}
        )
    return out


def _locale(page: PageResult, view: JobView) -> str:
    if page.language:
        return languages.canonical_bcp47(page.language.split(",")[0].split("+")[0].strip())
    model = view.spec.languages[0] if view.spec.languages else "eng"
    return _MODEL_TO_BCP47.get(model, "en")


def _confidence(page: PageResult) -> float:
    """How sure the worker was of the page's language: the identifier's probability where it identified
    it (the page's "language" step), else 0.8 for a language the caller named or one it could not tell."""
    for step in page.preprocessing:
        if step.get("step") == "language" and step.get("detected") and step.get("confidence") is not None:
            return round(float(step["confidence"]), 3)
    return 0.8


def _styles(laid: Sequence[_Laid], index: SpanIndex) -> list[dict]:
    """One style per handwritten line, as the service reports them: ``isHandwritten`` with the line's
    span and the worker's confidence in the label. Printed text carries no style entry."""
    return [
        {"confidence": round(line.style_confidence or 0.5, 3), "spans": [index.span(*at)], "isHandwritten": True}
        for page in laid
        for line, at in zip(page.page.lines, page.lines, strict=True)
        if line.style == "handwriting" and at[1] > at[0]
    ]


def _languages(laid: Sequence[_Laid], index: SpanIndex, view: JobView) -> list[dict]:
    """Step 4 (features=languages): each page's text under its language (identified on the page when
    the caller named none), one entry per locale in the order first met, as sure as its least sure page."""
    spans: dict[str, list[dict]] = {}
    sure: dict[str, float] = {}
    for page in laid:
        if page.span[1] <= page.span[0]:
            continue
        locale = _locale(page.page, view)
        for at, lang in _language_runs(page, locale):
            spans.setdefault(lang, []).append(index.span(*at))
            # a line's own language was identified at >= 0.95 (pipeline.langdetect.LINE_CONFIDENT)
            sure[lang] = min(sure.get(lang, 1.0), _confidence(page.page) if lang == locale else 0.95)
    return [{"locale": loc, "confidence": sure[loc], "spans": found} for loc, found in spans.items()]


def _language_runs(page: _Laid, locale: str) -> list[tuple[Range, str]]:
    """The page's text in runs of one language: the whole page where no line has a language of its own,
    else consecutive lines grouped by their language (the page's where they have none)."""
    if not any(line.language for line in page.page.lines):
        return [(page.span, locale)]
    runs: list[tuple[Range, str]] = []
    for line, at in zip(page.page.lines, page.lines, strict=True):
        lang = languages.canonical_bcp47(line.language) if line.language else locale
        if at[1] <= at[0]:
            continue
        if runs and runs[-1][1] == lang:
            runs[-1] = ((runs[-1][0][0], at[1]), lang)
        else:
            runs.append((at, lang))
    return runs


def analyze_result(view: JobView) -> dict:
    """`analyzeResult` of a succeeded job, rendered with the options stored at submit."""
    opts = view.spec.options
    index_type = opts.get("stringIndexType") or DEFAULT_INDEX_TYPE
    pages = sorted(view.pages or [], key=lambda p: p.page_no)
    markdown = opts.get("outputContentFormat") == "markdown"
    is_layout = opts.get("modelId") == "prebuilt-layout"
    if is_layout:
        from ocrgw.dialects.azure.docintel import layout  # it builds on this module's span primitives

        content, laid_layout = layout.content(pages, markdown)
        laid = [page.laid for page in laid_layout]
    else:
        content, laid = _content(pages, markdown)
    index = SpanIndex(content, index_type)
    result: dict = {
        "apiVersion": opts.get("apiVersion", ""),
        "modelId": opts.get("modelId", "prebuilt-read"),
        "stringIndexType": index_type,
        "content": content,
    }
    if opts.get("outputContentFormat"):
        result["contentFormat"] = opts["outputContentFormat"]
    result["pages"] = [_page(page, index) for page in laid]
    if is_layout:
        found = layout.results(laid_layout, index, sections=opts.get("outputContentFormat") is not None)
        for page in result["pages"]:
            page["selectionMarks"] = found["marks"].get(page["pageNumber"], [])
        result["paragraphs"], result["tables"] = found["paragraphs"], found["tables"]
        if "sections" in found:  # Document Intelligence 2024-11-30; Form Recognizer has no sections, figures
            result["sections"], result["figures"] = found["sections"], found["figures"]
    else:
        result["paragraphs"] = [para for page in laid for para in _paragraphs(page, index)]
    result["styles"] = _styles(laid, index)
    if "languages" in (opts.get("features") or "").split(","):
        result["languages"] = _languages(laid, index, view)
    _unsupported(result, opts)
    return result


# feature -> where its (empty) results go: on each page, or at the top of analyzeResult
_EMPTY = {"barcodes": "page", "formulas": "page", "keyValuePairs": "keyValuePairs", "queryFields": "documents"}


def _unsupported(result: dict, opts: dict) -> None:
    """Features asked for that this server does not do: their collections present and empty (clients
    index into them), and on Document Intelligence a FeatureNotSupported warning for each."""
    features = [f for f in (opts.get("featuresNotSupported") or "").split(",") if f]
    for feature in features:
        where = _EMPTY.get(feature)
        if where == "page":
            for page in result["pages"]:
                page[feature] = []
        elif where is not None:
            result[where] = []
    warnings = [
        {
            "code": "FeatureNotSupported",
            "message": f"The feature {feature} is not supported by this server; its results are empty.",
            "target": "features",
        }
        for feature in features
    ]
    if warnings and "contentFormat" in result:  # 2024-11-30 (Form Recognizer has no warnings)
        result["warnings"] = warnings


def operation(view: JobView) -> dict:
    """The body of `GET .../analyzeResults/{id}` in every state."""
    body = operation_state(view)
    if view.status is JobStatus.SUCCEEDED:
        body["analyzeResult"] = analyze_result(view)
    elif view.status is JobStatus.FAILED:
        body["error"] = failure(view.error_code, view.error_message)
    return body
