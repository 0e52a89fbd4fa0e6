"""Renders the pages of a `prebuilt-layout` job (their ``LayoutResult``: paragraphs with roles, tables,
selection marks, figures) as Document Intelligence does: one `content` string, text or markdown
(shared/contracts/docintel-layout.md §2.3), and the paragraphs, tables, figures, selection marks and sections
whose spans index it (§2.4). Called by render.py; pure functions, no I/O.

Text mode is one OCR line per `content` line in reading order, a table's cells row by row, a figure's caption
then its text, a checkbox as `:selected:` / `:unselected:`. Markdown puts the title under `# `, headings under
`## `, headers, footers and page numbers in HTML comments, tables as HTML with `<th>` header cells, figures as
`<figure>` blocks (`<figcaption>`, then the figure's text as paragraphs), checkboxes as ☒ / ☐. A figure's span
is its whole block; its paragraphs are in `paragraphs` and referenced from the figure (Form Recognizer,
which has no figures, lists them as any other paragraph)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ocrgw.dialects.azure.docintel import render as R
from ocrgw.dialects.azure.shared import box
from ocrgw.jobs.schemas import FigureResult, LayoutResult, PageResult, TableResult, figure_id
from ocrgw.render.document import COMMENT, HEADING, MARK_GLYPH, figure_parts, layout_items

Range = tuple[int, int]
MARK_TEXT = {True: ":selected:", False: ":unselected:"}


@dataclass(slots=True)
class Element:
    """One paragraph, table or loose selection mark as laid in `content`: what it is and where."""

    kind: str  # "paragraph" | "table" | "figure"
    span: Range
    role: str | None = None
    text: str = ""  # a paragraph's plain text
    table: int = -1  # index into the page's tables (a figure: into its figures)
    cells: list[Range | None] = field(default_factory=list)  # each cell's inner text (None: empty)
    polygon: list[float] = field(default_factory=list)
    parts: list[Element] = field(default_factory=list)  # a figure's paragraphs: its text
    caption: Element | None = None  # a figure's caption, as a paragraph


@dataclass(slots=True)
class LaidPage:
    laid: R._Laid  # page span, lines, words: as for prebuilt-read
    elements: list[Element]
    marks: list[Range]  # each selection mark's token or glyph


class _Writer:
    """Appends text to `content`, recording where each piece landed."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pos = 0

    def put(self, text: str) -> Range:
        self.parts.append(text)
        start = self.pos
        self.pos += len(text)
        return start, self.pos


def content(pages: Sequence[PageResult], markdown: bool) -> tuple[str, list[LaidPage]]:
    """The `content` of layout pages and where every page, line, word, element and mark landed. Pages
    tile `content`: a page's span runs to the next page's start (the PageBreak comment is its own)."""
    out = _Writer()
    laid: list[LaidPage] = []
    for n, page in enumerate(pages):
        if n:
            out.put("\n<!-- PageBreak -->\n" if markdown else "\n")
        laid.append(_page(out, page, page.layout or LayoutResult(), markdown))
    text = "".join(out.parts)
    for here, after in zip(laid, [*laid[1:], None], strict=True):
        end = after.laid.span[0] if after is not None else len(text)
        here.laid.span = (here.laid.span[0], end)
    return text, laid


def _page(out: _Writer, page: PageResult, lay: LayoutResult, markdown: bool) -> LaidPage:
    lines: list[Range] = [(0, 0)] * len(page.lines)
    words: list[list[R.Range | None]] = [[] for _ in page.lines]
    marks: list[Range] = [(0, 0)] * len(lay.marks)
    elements: list[Element] = []
    start = out.pos

    def put_line(i: int) -> None:
        at = out.put(page.lines[i].text)
        lines[i] = at
        words[i] = R._word_ranges(page.lines[i], at[0])

    def put_mark(i: int) -> Range:
        mark = lay.marks[i]
        marks[i] = out.put(MARK_GLYPH[mark.selected] if markdown else MARK_TEXT[mark.selected])
        return marks[i]

    wrote = False
    for kind, i in layout_items(page, lay):
        if kind == "figure" and not markdown and not figure_parts(lay.figures[i]):
            elements.append(Element("figure", (out.pos, out.pos), table=i, polygon=box(lay.figures[i].bbox, page.unit)))
            continue  # a figure without text has nothing to write in text mode, not even a line
        if wrote:
            out.put(("\n\n\n" if kind == "table" else "\n\n") if markdown else "\n")
        wrote = True
        if kind == "paragraph":
            elements.append(_paragraph(out, page, lay, i, markdown, put_line))
        elif kind == "table":
            elements.append(_table(out, page, lay.tables[i], i, markdown, put_line, put_mark))
        elif kind == "figure":
            elements.append(_figure(out, page, lay, i, markdown, put_line))
        else:
            put_mark(i)
    laid = R._Laid(page, (start, out.pos), lines, words, [])
    return LaidPage(laid, elements, marks)


def _paragraph(out: _Writer, page: PageResult, lay: LayoutResult, i: int, markdown: bool, put_line) -> Element:
    para = lay.paragraphs[i]
    role = para.role
    text = "\n".join(page.lines[j].text for j in para.lines)
    polygon = R._union([page.lines[j].bbox for j in para.lines], page.unit)
    start = out.pos
    if markdown and role in COMMENT:  # <!-- PageHeader="..." -->, the lines inside the quotes
        out.put(f'<!-- {COMMENT[role]}="')
        for n, j in enumerate(para.lines):
            if n:
                out.put(" ")
            put_line(j)
        out.put('" -->')
        return Element(
            "paragraph", (start, out.pos), role, " ".join(page.lines[j].text for j in para.lines), -1, [], polygon
        )
    if markdown and role in HEADING:
        out.put(HEADING[role])
    for n, j in enumerate(para.lines):
        if n:
            out.put("\n")
        put_line(j)
    return Element("paragraph", (start, out.pos), role, text, -1, [], polygon)


def _figure(out: _Writer, page: PageResult, lay: LayoutResult, i: int, markdown: bool, put_line) -> Element:
    """A figure: in markdown `<figure>`, `<figcaption>` with the caption's lines, each paragraph of its text
    between blank lines, `</figure>`; in text its caption's lines then its text's, one `content` line each.
    The figure's span is the whole block, the caption's its text inside `<figcaption>`."""
    fig: FigureResult = lay.figures[i]
    start = out.pos
    caption = None
    if markdown:
        out.put("<figure>\n")
    if fig.caption is not None:
        if markdown:
            out.put("<figcaption>")
        caption = _paragraph(out, page, lay, fig.caption, False, put_line)
        if markdown:
            out.put("</figcaption>\n")
    parts = []
    for n, p in enumerate(fig.paragraphs):
        if markdown or n or caption is not None:
            out.put("\n")
        parts.append(_paragraph(out, page, lay, p, markdown, put_line))
        if markdown:
            out.put("\n")
    if markdown:
        out.put("\n</figure>")
    polygon = box(fig.bbox, page.unit)
    return Element("figure", (start, out.pos), None, "", i, [], polygon, parts, caption)


def _table(out: _Writer, page: PageResult, table: TableResult, i: int, markdown: bool, put_line, put_mark) -> Element:
    """A table: in markdown an HTML block (`<th>` for header cells, rowspan/colspan), in text its cells'
    lines one per `content` line, row by row; each cell's span is its inner text only."""
    cells: list[Range | None] = []
    start = out.pos
    if markdown:
        out.put("<table>\n")
    row = -1
    for c in table.cells:
        if markdown and c.row != row:
            if row >= 0:
                out.put("</tr>\n")
            out.put("<tr>")
            row = c.row
        tag = "td" if c.kind == "content" else "th"
        spans = (f' rowspan="{c.row_span}"' if c.row_span > 1 else "") + (
            f' colspan="{c.col_span}"' if c.col_span > 1 else ""
        )
        if markdown:
            out.put(f"<{tag}{spans}>")
        elif (c.lines or c.marks) and out.pos > start:
            out.put("\n")
        inner = out.pos
        for n, j in enumerate(c.lines):
            if n:
                out.put(" " if markdown else "\n")
            put_line(j)
        for n, m in enumerate(c.marks):
            if n or c.lines:
                out.put(" ")
            put_mark(m)
        cells.append((inner, out.pos) if out.pos > inner else None)
        if markdown:
            out.put(f"</{tag}>")
    if markdown:
        out.put("</tr>\n</table>" if table.cells else "</table>")
    return Element("table", (start, out.pos), None, "", i, cells, box(table.bbox, page.unit))


# ------------------------------------------------------------------------------------------------ JSON
def results(laid: Sequence[LaidPage], index: R.SpanIndex, sections: bool) -> dict:
    """`paragraphs`, `tables` and (2024-11-30) `figures` and `sections` of the whole document, and each
    page's `selectionMarks` (keyed by page number): table cells with text are paragraphs of their own,
    referenced from the cell's `elements`, as the service does; a figure's text and caption are paragraphs
    referenced from the figure (its `elements`, its caption's `elements`), and the sections list the figure,
    not them. Form Recognizer (``sections`` False) has no figures: their paragraphs are listed plainly."""
    paragraphs: list[dict] = []
    tables: list[dict] = []
    figures: list[dict] = []
    top: list[str] = []
    marks: dict[int, list[dict]] = {}

    def add(el: Element, region: dict) -> str:
        para = {
            "content": el.text,
            "spans": [index.span(*el.span)],
            "boundingRegions": [{**region, "polygon": el.polygon}],
        }
        paragraphs.append({"role": el.role, **para} if el.role else para)
        return f"/paragraphs/{len(paragraphs) - 1}"

    for page in laid:
        p = page.laid.page
        region = {"pageNumber": p.page_no}
        for el in page.elements:
            if el.kind == "paragraph":
                top.append(add(el, region))
            elif el.kind == "figure" and not sections:
                top += [add(part, region) for part in ([el.caption] if el.caption else []) + el.parts]
            elif el.kind == "figure":
                top.append(f"/figures/{len(figures)}")
                caption = add(el.caption, region) if el.caption is not None else None  # first in content
                figures.append(_figure_json(p, el, index, [add(part, region) for part in el.parts]))
                if el.caption is not None and caption is not None:
                    figures[-1]["caption"] = {
                        "content": el.caption.text,
                        "spans": [index.span(*el.caption.span)],
                        "boundingRegions": [{**region, "polygon": el.caption.polygon}],
                        "elements": [caption],
                    }
            else:
                top.append(f"/tables/{len(tables)}")
                tables.append(_table_json(p, p.layout.tables[el.table], el, index, paragraphs))  # type: ignore[union-attr]
        lay = p.layout or LayoutResult()
        marks[p.page_no] = [
            {
                "state": "selected" if m.selected else "unselected",
                "polygon": box(m.bbox, p.unit),
                "confidence": round(m.confidence, 3),
                "span": index.span(*at),
            }
            for m, at in zip(lay.marks, page.marks, strict=True)
        ]
    out: dict = {"paragraphs": paragraphs, "tables": tables, "marks": marks}
    if sections:
        spans = [index.span(laid[0].laid.span[0], laid[-1].laid.span[1])] if laid else []
        out["sections"] = [{"spans": spans, "elements": top}]
        out["figures"] = figures
    return out


def _figure_json(page: PageResult, el: Element, index: R.SpanIndex, elements: list[str]) -> dict:
    """A figure without its caption: its id ("{page}.{n}", n its place in the page's figures, from 1: the
    crop's name for `output=figures`), its span (the whole block), its box (the figure alone, as 2024-11-30
    boxes it) and its text's paragraphs."""
    return {
        "id": figure_id(page.page_no, el.table + 1),
        "boundingRegions": [{"pageNumber": page.page_no, "polygon": el.polygon}],
        "spans": [index.span(*el.span)],
        "elements": elements,
    }


def _table_json(page: PageResult, table: TableResult, el: Element, index: R.SpanIndex, paragraphs: list[dict]) -> dict:
    region = {"pageNumber": page.page_no}
    cells = []
    for c, at in zip(table.cells, el.cells, strict=True):
        cell: dict = {} if c.kind == "content" else {"kind": c.kind}
        text = index.content[at[0] : at[1]] if at else ""
        cell.update(
            rowIndex=c.row,
            columnIndex=c.col,
            rowSpan=c.row_span,
            columnSpan=c.col_span,
            content=text,
            spans=[index.span(*at)] if at else [],
        )
        polygon = box(c.bbox, page.unit)
        if c.lines:  # a cell with text is a paragraph of its own
            cell["elements"] = [f"/paragraphs/{len(paragraphs)}"]
            paragraphs.append(
                {"content": text, "spans": [index.span(*at)], "boundingRegions": [{**region, "polygon": polygon}]}  # type: ignore[misc]
            )
        cell["boundingRegions"] = [{**region, "polygon": polygon}]
        cells.append(cell)
    return {
        "rowCount": table.rows,
        "columnCount": table.cols,
        "cells": cells,
        "boundingRegions": [{**region, "polygon": el.polygon}],
        "spans": [index.span(*el.span)],
    }
