"""Result model -> the document's structure as text: markdown and HTML exports of the native API, and the
reading order of a page's paragraphs, tables and checkboxes that Document Intelligence's markdown shares
(dialects/azure/docintel/layout.py). Pure functions, no I/O.

Markdown follows Document Intelligence's conventions (docintel-layout.md 2.3), so one document reads the
same from either API: `# ` title, `## ` headings, headers, footers and page numbers as HTML comments,
tables as HTML with `<th>` header cells, figures as `<figure>` blocks (the caption in `<figcaption>`, the
figure's text as paragraphs), checkboxes as ☒ / ☐, `<!-- PageBreak -->` between pages. A page read without
layout is its paragraphs (``paragraphs_of``)."""

from __future__ import annotations

import html
from collections.abc import Sequence

from ocrgw.jobs.schemas import FigureResult, LayoutResult, LineResult, PageResult, ParagraphResult, TableResult

MARK_GLYPH = {True: "\u2612", False: "\u2610"}  # ☒ ☐
HEADING = {"title": "# ", "sectionHeading": "## "}
COMMENT = {"pageHeader": "PageHeader", "pageFooter": "PageFooter", "pageNumber": "PageNumber"}
HTML_TAG = {"title": "h1", "sectionHeading": "h2", "pageHeader": "header", "pageFooter": "footer"}


def _extent(bbox: Sequence[float]) -> tuple[float, float, float, float]:
    xs, ys = bbox[0::2], bbox[1::2]
    return min(xs), min(ys), max(xs), max(ys)


def paragraphs_of(lines: Sequence[LineResult]) -> list[list[int]]:
    """Consecutive lines grouped into paragraphs, for pages read without layout. A new paragraph starts
    where the vertical gap to the previous line exceeds 0.8 of their line height, where the next line is
    above the previous one, or after a line that ends a sentence well short of the paragraph's right edge."""
    groups: list[list[int]] = []
    prev: tuple[float, float, float, float] | None = None
    left = right = 0.0
    ended = False
    for i, ln in enumerate(lines):
        extent = _extent(ln.bbox)
        new = prev is None or ended
        if prev is not None and not new:
            height = max(1e-9, ((prev[3] - prev[1]) + (extent[3] - extent[1])) / 2)
            new = extent[1] - prev[3] > 0.8 * height or extent[1] < prev[1] - 0.5 * height
        if new:
            groups.append([i])
            left, right = extent[0], extent[2]
        else:
            groups[-1].append(i)
            left, right = min(left, extent[0]), max(right, extent[2])
        short = len(groups[-1]) > 1 and extent[2] < right - 0.25 * (right - left)
        ended = short and ln.text.rstrip().endswith((".", "!", "?", ":"))
        prev = extent
    return groups


def layout_items(page: PageResult, lay: LayoutResult) -> list[tuple[str, int]]:
    """The page's paragraphs, tables, figures and loose checkboxes in reading order, as (kind, index): each
    where its first line is, a figure without text where it was on the page, a checkbox just before the line
    it precedes (its label). A figure's paragraphs are the figure's, not items of their own."""
    in_cells = {m for t in lay.tables for c in t.cells for m in c.marks}
    in_figures = lay.figure_paragraphs()
    items: list[tuple[float, str, int]] = [
        (float(min(p.lines)), "paragraph", i) for i, p in enumerate(lay.paragraphs) if i not in in_figures
    ]
    for i, table in enumerate(lay.tables):
        firsts = [ln for c in table.cells for ln in c.lines]
        marks = [lay.marks[m].before - 0.25 for c in table.cells for m in c.marks]
        items.append((float(min(firsts)) if firsts else min(marks, default=float(len(page.lines))), "table", i))
    for i, fig in enumerate(lay.figures):
        firsts = [ln for p in figure_parts(fig) for ln in lay.paragraphs[p].lines]
        items.append((float(min(firsts)) if firsts else fig.before - 0.5, "figure", i))
    items += [(m.before - 0.5, "mark", i) for i, m in enumerate(lay.marks) if i not in in_cells]
    return [(kind, i) for _, kind, i in sorted(items)]


def figure_parts(fig: FigureResult) -> list[int]:
    """A figure's paragraphs as written: its caption first, then its text."""
    return ([fig.caption] if fig.caption is not None else []) + list(fig.paragraphs)


def _layout(page: PageResult) -> LayoutResult:
    """The page's layout, or for a page read without one its paragraphs as found by ``paragraphs_of``."""
    if page.layout is not None:
        return page.layout
    return LayoutResult(paragraphs=[ParagraphResult(group) for group in paragraphs_of(page.lines)])


# --------------------------------------------------------------------------------------------- markdown
def to_markdown(pages: Sequence[PageResult], dpi: float = 300.0) -> str:
    return "\n<!-- PageBreak -->\n".join(_markdown_page(p) for p in sorted(pages, key=lambda p: p.page_no)) + "\n"


def _markdown_page(page: PageResult) -> str:
    lay = _layout(page)
    blocks: list[str] = []
    for kind, i in layout_items(page, lay):
        if kind == "paragraph":
            para = lay.paragraphs[i]
            lines = [page.lines[j].text for j in para.lines]
            if para.role in COMMENT:
                blocks.append(f'<!-- {COMMENT[para.role]}="{" ".join(lines)}" -->')
            else:
                blocks.append(HEADING.get(para.role or "", "") + "\n".join(lines))
        elif kind == "table":
            blocks.append("\n" + _html_table(page, lay, lay.tables[i], markdown=True))
        elif kind == "figure":
            blocks.append(_markdown_figure(page, lay, lay.figures[i]))
        else:
            blocks.append(MARK_GLYPH[lay.marks[i].selected])
    return "\n\n".join(blocks)


def _markdown_figure(page: PageResult, lay: LayoutResult, fig: FigureResult) -> str:
    """`<figure>`, the caption in `<figcaption>`, each paragraph of the figure's text between blank lines,
    `</figure>` (Document Intelligence's markdown-elements example)."""
    out = "<figure>\n"
    if fig.caption is not None:
        out += "<figcaption>" + "\n".join(page.lines[j].text for j in lay.paragraphs[fig.caption].lines)
        out += "</figcaption>\n"
    for p in fig.paragraphs:
        out += "\n" + "\n".join(page.lines[j].text for j in lay.paragraphs[p].lines) + "\n"
    return out + "\n</figure>"


def _html_table(page: PageResult, lay: LayoutResult, table: TableResult, markdown: bool) -> str:
    rows: dict[int, list[str]] = {}
    for c in table.cells:
        tag = "td" if c.kind == "content" else "th"
        attrs = (f' rowspan="{c.row_span}"' if c.row_span > 1 else "") + (
            f' colspan="{c.col_span}"' if c.col_span > 1 else ""
        )
        text = [page.lines[j].text for j in c.lines]
        if markdown:
            text += [MARK_GLYPH[lay.marks[m].selected] for m in c.marks]
            inner = " ".join(text)
        else:
            text = [html.escape(t) for t in text]
            text += [_checkbox(lay.marks[m].selected) for m in c.marks]
            inner = "<br>".join(text)
        rows.setdefault(c.row, []).append(f"<{tag}{attrs}>{inner}</{tag}>")
    body = "".join(f"<tr>{''.join(cells)}</tr>\n" for _, cells in sorted(rows.items()))
    return f"<table>\n{body}</table>"


# ------------------------------------------------------------------------------------------------- HTML
def _checkbox(selected: bool) -> str:
    return f'<input type="checkbox" disabled{" checked" if selected else ""}>'


def to_html(pages: Sequence[PageResult], dpi: float = 300.0) -> str:
    """A standalone HTML5 document: one `<section>` per page; titles and headings as h1/h2, page headers
    and footers as header/footer, footnotes and page numbers as small print, tables with th/td and their
    spans, figures as `<figure>` with their caption and text, checkboxes as disabled inputs."""
    body = "\n".join(_html_page(p) for p in sorted(pages, key=lambda p: p.page_no))
    return (
        '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n<title>OCR result</title>\n</head>\n<body>\n'
        f"{body}\n</body>\n</html>\n"
    )


def _html_figure(page: PageResult, lay: LayoutResult, fig: FigureResult) -> str:
    def text(p: int) -> str:
        return "<br>\n".join(html.escape(page.lines[j].text) for j in lay.paragraphs[p].lines)

    parts = ["<figure>"]
    if fig.caption is not None:
        parts.append(f"<figcaption>{text(fig.caption)}</figcaption>")
    parts += [f"<p>{text(p)}</p>" for p in fig.paragraphs]
    parts.append("</figure>")
    return "\n".join(parts)


def _html_page(page: PageResult) -> str:
    lay = _layout(page)
    parts = [f'<section class="page" id="page-{page.page_no}">']
    for kind, i in layout_items(page, lay):
        if kind == "paragraph":
            para = lay.paragraphs[i]
            text = "<br>\n".join(html.escape(page.lines[j].text) for j in para.lines)
            tag = HTML_TAG.get(para.role or "", "p")
            cls = f' class="{para.role}"' if para.role in ("pageNumber", "footnote") else ""
            parts.append(f"<{tag}{cls}>{text}</{tag}>")
        elif kind == "table":
            parts.append(_html_table(page, lay, lay.tables[i], markdown=False))
        elif kind == "figure":
            parts.append(_html_figure(page, lay, lay.figures[i]))
        else:
            parts.append(f"<p>{_checkbox(lay.marks[i].selected)}</p>")
    parts.append("</section>")
    return "\n".join(parts)
