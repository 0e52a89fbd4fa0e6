"""Markdown and HTML exports (render/document.py), pure: the contract's order form (a title, a paragraph, a
table with a header row and a ticked checkbox) reads the same in the native markdown as in Document
Intelligence's, HTML is well-formed with the same structure, a page with figures has the same `<figure>`
blocks, and a page without layout exports its paragraphs."""

from __future__ import annotations

import lxml.html
from tests.dialects.azure.test_render_layout import FIGURE_MARKDOWN, MARKDOWN, figure_page, order_form

from ocrgw.jobs.schemas import LineResult, PageResult
from ocrgw.render.document import to_html, to_markdown


def test_markdown_is_document_intelligences() -> None:
    assert to_markdown([order_form()]) == MARKDOWN + "\n"


def test_html_has_the_structure() -> None:
    page = order_form()
    page.lines[1].text = "Please tick <what> you need & sign."
    doc = to_html([page])
    assert doc.startswith("<!DOCTYPE html>")
    body = lxml.html.document_fromstring(doc).body
    (section,) = body.findall("section")
    assert section.find("h1").text == "Order Form"
    assert section.find("p").text == "Please tick <what> you need & sign."
    assert "Please tick &lt;what&gt; you need &amp; sign." in doc  # escaped in the markup
    rows = section.find("table").findall("tr")
    assert [th.text for th in rows[0].findall("th")] == ["Item", "Qty", "Done"]
    assert [td.text for td in rows[1].findall("td")][:2] == ["Pens", "10"]
    assert rows[1].findall("td")[2].find("input").get("checked") is not None
    assert [td.text for td in rows[2].findall("td")] == ["Paper", "2", None]


def test_a_page_without_layout_exports_its_paragraphs() -> None:
    def line(text: str, y: int) -> LineResult:
        return LineResult(text, [10, y, 500, y, 500, y + 20, 10, y + 20], 0.9)

    first = PageResult(
        1, 600, 800, "pixel", 0, None, [], [line("One line", 10), line("goes on.", 32), line("Far below", 200)]
    )
    second = PageResult(2, 600, 800, "pixel", 0, None, [], [line("Second page", 10)])
    assert to_markdown([second, first]) == "One line\ngoes on.\n\nFar below\n<!-- PageBreak -->\nSecond page\n"
    assert "<p>One line<br>\ngoes on.</p>" in to_html([first])


def test_figures_export_as_figure_blocks() -> None:
    assert to_markdown([figure_page()]) == FIGURE_MARKDOWN + "\n"  # Document Intelligence's markdown
    body = lxml.html.document_fromstring(to_html([figure_page()])).body
    chart, picture = body.find("section").findall("figure")
    assert chart.find("figcaption").text == "Figure 1: Rain"
    assert [p.text for p in chart.findall("p")] == ["mm", "North East"]
    assert picture.find("figcaption").text == "Figure 2: Creek" and picture.findall("p") == []
    assert [el.tag for el in body.find("section")] == ["h1", "figure", "p", "figure"]
