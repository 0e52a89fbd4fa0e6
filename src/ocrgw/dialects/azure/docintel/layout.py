"""Renders the pages of a `prebuilt-layout` job (their ``LayoutResult``: paragraphs with roles, tables,
selection marks) as Document Intelligence does: one `content` string, text or markdown
(shared/contracts/docintel-layout.md §2.3), and the paragraphs, tables, selection marks and sections whose
spans index it (§2.4). Called by render.py; pure functions, no I/O.

Text mode is one OCR line per `content` line in reading order, a table's cells row by row, a checkbox as
`:selected:` / `:unselected:`. Markdown puts the title under `# `, headings under `## `, headers, footers and
page numbers in HTML comments, tables as HTML with `<th>` header cells, checkboxes as ☒ / ☐."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ocrgw.dialects.azure.docintel import render as R
from ocrgw.dialects.azure.shared import box
from ocrgw.jobs.schemas import LayoutResult, PageResult, TableResult
from ocrgw.render.document import COMMENT, HEADING, MARK_GLYPH, layout_items

Range = tuple[int, int]
MARK_TEXT = {True: ":selected:", False: ":unselected:"}


@dataclass(slots=True)
class Element:
    """One paragraph, table or loose selection mark as laid in `content`: what it is and where."""

    kind: str  # "paragraph" | "table"
    span: Range
    role: str | None = None
    text: str = ""  # a paragraph's plain text
    table: int = -1  # index into the page's tables
    cells: list[Range | None] = field(default_factory=list)  # each cell's inner text (None: empty)
    polygon: list[float] = field(default_factory=list)


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

    for k, (kind, i) in enumerate(layout_items(page, lay)):
        if k:
            out.put(("\n\n\n" if kind == "table" else "\n\n") if markdown else "\n")
        if kind == "paragraph":
            elements.append(_paragraph(out, page, lay, i, markdown, put_line))
        elif kind == "table":
            elements.append(_table(out, page, lay.tables[i], i, markdown, put_line, put_mark))
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
    """`paragraphs`, `tables` and (2024-11-30) `sections` of the whole document, and each page's
    `selectionMarks` (keyed by page number): table cells with text are paragraphs of their own,
    referenced from the cell's `elements`, as the service does."""
    paragraphs: list[dict] = []
    tables: list[dict] = []
    top: list[str] = []
    marks: dict[int, list[dict]] = {}
    for page in laid:
        p = page.laid.page
        region = {"pageNumber": p.page_no}
        for el in page.elements:
            if el.kind == "paragraph":
                top.append(f"/paragraphs/{len(paragraphs)}")
                para = {
                    "content": el.text,
                    "spans": [index.span(*el.span)],
                    "boundingRegions": [{**region, "polygon": el.polygon}],
                }
                paragraphs.append({"role": el.role, **para} if el.role else para)
                continue
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
    return out


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
