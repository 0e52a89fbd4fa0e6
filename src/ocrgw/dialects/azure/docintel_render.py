"""Renders a JobView as a Form Recognizer / Document Intelligence `prebuilt-read` operation: one `content`
string (lines joined by "\\n" in reading order), pages/words/lines/paragraphs whose spans index that string
in the unit the caller chose (`stringIndexType`). Pure functions: no I/O, no framework."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence

import regex

from ocrgw import languages
from ocrgw.dialects.azure.read.render import STATUS
from ocrgw.dialects.azure.shared import timestamp
from ocrgw.errors import ErrorCode as E
from ocrgw.jobs.schemas import JobView, LineResult, PageResult
from ocrgw.jobs.states import JobStatus

INDEX_TYPES = ("textElements", "unicodeCodePoint", "utf16CodeUnit")
DEFAULT_INDEX_TYPE = "textElements"
_GRAPHEME = regex.compile(r"\X")

# core code -> (HTTP status, top-level code, inner code or None): the FR/DI error vocabulary.
ERRORS: dict[E, tuple[int, str, str | None]] = {
    E.MISSING_KEY: (401, "401", None),
    E.INVALID_KEY: (401, "401", None),
    E.NOT_FOUND: (404, "NotFound", "OperationNotFound"),
    E.ROUTE_NOT_FOUND: (404, "404", None),
    E.METHOD_NOT_ALLOWED: (405, "MethodNotAllowed", None),
    E.INVALID_PARAMETER: (400, "InvalidArgument", "InvalidParameter"),
    E.INVALID_PAGE_RANGE: (400, "InvalidArgument", "InvalidParameter"),
    E.INVALID_READING_ORDER: (400, "InvalidArgument", "InvalidParameter"),
    E.INVALID_MODEL: (400, "InvalidArgument", "InvalidParameter"),
    E.UNSUPPORTED_LANGUAGE: (400, "InvalidArgument", "InvalidParameter"),
    E.UNSUPPORTED_FEATURE: (400, "InvalidArgument", "InvalidParameter"),
    E.MODEL_NOT_FOUND: (404, "NotFound", "ModelNotFound"),
    E.UNSUPPORTED_API_VERSION: (400, "InvalidRequest", "NotSupportedApiVersion"),
    E.UNSUPPORTED_MEDIA_TYPE: (415, "UnsupportedMediaType", None),
    E.EMPTY_BODY: (400, "InvalidRequest", "InvalidContentLength"),
    E.TOO_LARGE: (400, "InvalidRequest", "InvalidContentLength"),
    E.UNSUPPORTED_FORMAT: (400, "InvalidRequest", "UnsupportedContent"),
    E.INVALID_IMAGE: (400, "InvalidRequest", "InvalidContent"),
    E.INVALID_DIMENSIONS: (400, "InvalidRequest", "InvalidContentDimensions"),
    E.TOO_MANY_PAGES: (400, "InvalidRequest", "InvalidContent"),
    E.ENCRYPTED_DOCUMENT: (400, "InvalidRequest", "InvalidContent"),
    E.INVALID_URL: (400, "InvalidRequest", "InvalidContentSourceFormat"),
    E.URL_FORBIDDEN: (400, "InvalidRequest", "ContentSourceNotAccessible"),
    E.DOWNLOAD_FAILED: (400, "InvalidRequest", "ContentSourceNotAccessible"),
    E.DOWNLOAD_TIMEOUT: (400, "InvalidRequest", "ContentSourceTimeout"),
    E.BACKLOG_FULL: (429, "429", None),
    E.TIMEOUT: (500, "InternalServerError", "Timeout"),
    E.WORKER_CRASHED: (500, "InternalServerError", "Unknown"),
    E.PROCESSING_FAILED: (500, "InternalServerError", "Unknown"),
    E.INTERNAL: (500, "InternalServerError", "Unknown"),
}
# Azure's own wording for the inner codes where it is documented; the core's message follows it.
INNER_MESSAGES = {
    "InvalidContent": "The file is corrupted or format is unsupported. Refer to documentation for the list of "
    "supported formats.",
    "InvalidContentLength": "The input image is too large. Refer to documentation for the maximum file size.",
    "ModelNotFound": "The requested model wasn't found.",
    "OperationNotFound": "The requested operation wasn't found. The identifier is invalid or the operation has "
    "expired.",
}
_MODEL_TO_BCP47: dict[str, str] = {}
for _code, _model in languages.BCP47_TO_TESSERACT.items():
    _MODEL_TO_BCP47.setdefault(_model, languages.canonical_bcp47(_code))


def codes_for(code: E | str | None) -> tuple[int, str, str | None]:
    """(status, top-level code, inner code) for a core code; unknown codes are internal errors."""
    try:
        return ERRORS[E(code)] if code else ERRORS[E.INTERNAL]
    except ValueError:
        return ERRORS[E.INTERNAL]


def error_object(top: str, message: str, inner: str | None) -> dict:
    err: dict = {"code": top, "message": message}
    if inner:
        detail = INNER_MESSAGES.get(inner)
        err["innererror"] = {
            "code": inner,
            "message": f"{detail} {message}" if detail and detail != message else message,
        }
    return err


# ------------------------------------------------------------------------------------------------ spans
def offset_table(content: str, index_type: str) -> list[int]:
    """For every code-point position 0..len(content), the offset in `index_type` units. A position inside
    a grapheme cluster maps to the end of that cluster (so a span never splits a text element)."""
    if index_type == "unicodeCodePoint":
        return list(range(len(content) + 1))
    table = [0] * (len(content) + 1)
    if index_type == "utf16CodeUnit":
        for i, ch in enumerate(content):
            table[i + 1] = table[i] + (2 if ord(ch) > 0xFFFF else 1)
        return table
    if index_type != "textElements":
        raise ValueError(f"unknown stringIndexType {index_type!r}")
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
def _polygon(values: Sequence[float], unit: str) -> list[float]:
    return [round(v) for v in values] if unit == "pixel" else [round(v, 4) for v in values]


def _extent(boxes: Sequence[Sequence[float]]) -> tuple[float, float, float, float]:
    xs = [v for b in boxes for v in b[0::2]]
    ys = [v for b in boxes for v in b[1::2]]
    return min(xs), min(ys), max(xs), max(ys)


def _union(boxes: Sequence[Sequence[float]], unit: str) -> list[float]:
    if len(boxes) == 1:
        return _polygon(boxes[0], unit)
    x0, y0, x1, y1 = _extent(boxes)
    return _polygon([x0, y0, x1, y0, x1, y1, x0, y1], unit)


def paragraphs_of(lines: Sequence[LineResult]) -> list[list[int]]:
    """Consecutive lines grouped into paragraphs. A new paragraph starts where the vertical gap to the
    previous line exceeds 0.8 of their line height, where the next line is above the previous one, or
    after a line that ends a sentence well short of the paragraph's right edge."""
    groups: list[list[int]] = []
    prev: tuple[float, float, float, float] | None = None
    left = right = 0.0
    ended = False
    for i, ln in enumerate(lines):
        box = _extent([ln.bbox])
        new = prev is None or ended
        if prev is not None and not new:
            height = max(1e-9, ((prev[3] - prev[1]) + (box[3] - box[1])) / 2)
            new = box[1] - prev[3] > 0.8 * height or box[1] < prev[1] - 0.5 * height
        if new:
            groups.append([i])
            left, right = box[0], box[2]
        else:
            groups[-1].append(i)
            left, right = min(left, box[0]), max(right, box[2])
        short = len(groups[-1]) > 1 and box[2] < right - 0.25 * (right - left)
        ended = short and ln.text.rstrip().endswith((".", "!", "?", ":"))
        prev = box
    return groups


# ------------------------------------------------------------------------------------------- result
def _locale(page: PageResult, view: JobView) -> str:
    if page.language:
        return languages.canonical_bcp47(page.language.split(",")[0].split("+")[0].strip())
    model = view.spec.languages[0] if view.spec.languages else "eng"
    return _MODEL_TO_BCP47.get(model, "en")


def analyze_result(view: JobView) -> dict:
    """`analyzeResult` of a succeeded job, rendered with the options stored at submit."""
    opts = view.spec.options
    index_type = opts.get("stringIndexType") or DEFAULT_INDEX_TYPE
    markdown = opts.get("outputContentFormat") == "markdown"
    features = {f for f in (opts.get("features") or "").split(",") if f}
    pages = sorted(view.pages or [], key=lambda p: p.page_no)

    # 1. content, recording code-point ranges of every page, line, word and paragraph.
    parts: list[str] = []
    pos = 0
    line_sep = "\n"
    para_sep = "\n\n" if markdown else "\n"
    page_sep = "\n<!-- PageBreak -->\n" if markdown else "\n"
    page_ranges: list[tuple[int, int]] = []
    line_ranges: list[list[tuple[int, int]]] = []
    word_ranges: list[list[list[tuple[int, int] | None]]] = []
    para_groups: list[list[list[int]]] = []
    started = False
    for page in pages:
        groups = paragraphs_of(page.lines)
        para_groups.append(groups)
        lranges: list[tuple[int, int]] = []
        wranges: list[list[tuple[int, int] | None]] = []
        page_start = None
        for g, group in enumerate(groups):
            for k, li in enumerate(group):
                if started:
                    sep = page_sep if page_start is None else (para_sep if k == 0 and g > 0 else line_sep)
                    parts.append(sep)
                    pos += len(sep)
                started = True
                if page_start is None:
                    page_start = pos
                line = page.lines[li]
                text = line.text
                parts.append(text)
                lranges.append((pos, pos + len(text)))
                cursor = 0
                wr: list[tuple[int, int] | None] = []
                for w in line.words:
                    at = text.find(w.text, cursor) if w.text else -1
                    if at < 0:
                        wr.append(None)
                        continue
                    wr.append((pos + at, pos + at + len(w.text)))
                    cursor = at + len(w.text)
                wranges.append(wr)
                pos += len(text)
        page_ranges.append((page_start, pos) if page_start is not None else (pos, pos))
        line_ranges.append(lranges)
        word_ranges.append(wranges)
    content = "".join(parts)
    index = SpanIndex(content, index_type)

    # 2. the JSON, spans converted once through the table.
    out_pages: list[dict] = []
    paragraphs: list[dict] = []
    langs: dict[str, list[dict]] = {}
    for p, page in enumerate(pages):
        unit = page.unit
        words: list[dict] = []
        lines: list[dict] = []
        for li, line in enumerate(page.lines):
            for wi, w in enumerate(line.words):
                rng = word_ranges[p][li][wi]
                if rng is None:  # a word whose text is not in its line's text: no addressable span
                    continue
                words.append(
                    {
                        "content": w.text,
                        "polygon": _polygon(w.bbox, unit),
                        "confidence": round(w.confidence, 3),
                        "span": index.span(*rng),
                    }
                )
            lines.append(
                {"content": line.text, "polygon": _polygon(line.bbox, unit), "spans": [index.span(*line_ranges[p][li])]}
            )
        out_pages.append(
            {
                "pageNumber": page.page_no,
                "angle": page.angle,
                "width": round(page.width) if unit == "pixel" else page.width,
                "height": round(page.height) if unit == "pixel" else page.height,
                "unit": unit,
                "words": words,
                "lines": lines,
                "spans": [index.span(*page_ranges[p])],
            }
        )
        for group in para_groups[p]:
            start, end = line_ranges[p][group[0]][0], line_ranges[p][group[-1]][1]
            paragraphs.append(
                {
                    "content": content[start:end],
                    "spans": [index.span(start, end)],
                    "boundingRegions": [
                        {"pageNumber": page.page_no, "polygon": _union([page.lines[i].bbox for i in group], unit)}
                    ],
                }
            )
        if page_ranges[p][1] > page_ranges[p][0]:
            langs.setdefault(_locale(page, view), []).append(index.span(*page_ranges[p]))

    result: dict = {
        "apiVersion": opts.get("apiVersion", ""),
        "modelId": opts.get("modelId", "prebuilt-read"),
        "stringIndexType": index_type,
        "content": content,
    }
    if opts.get("outputContentFormat"):
        result["contentFormat"] = opts["outputContentFormat"]
    result["pages"] = out_pages
    result["paragraphs"] = paragraphs
    result["styles"] = []  # handwriting is not detected
    if "languages" in features:
        result["languages"] = [{"locale": loc, "confidence": 0.8, "spans": spans} for loc, spans in langs.items()]
    return result


def operation(view: JobView) -> dict:
    """The body of `GET .../analyzeResults/{id}` in every state."""
    body: dict = {
        "status": STATUS[view.status],
        "createdDateTime": timestamp(view.created_at),
        "lastUpdatedDateTime": timestamp(view.updated_at),
    }
    if view.status is JobStatus.SUCCEEDED:
        body["analyzeResult"] = analyze_result(view)
    elif view.status is JobStatus.FAILED:
        _, top, inner = codes_for(view.error_code)
        body["error"] = error_object(top, view.error_message or "An unexpected error occurred.", inner)
    return body
