"""Document Intelligence `prebuilt-layout` rendering, pure (no server): the contract's worked example
(shared/contracts/docintel-layout.md §2.5: a title, a paragraph, a 3×3 table with a header row and a
ticked checkbox) in markdown and text, its spans checked by §2.4's rules in every stringIndexType, and
Form Recognizer 2023-07-31's shape (no sections, no figures, no contentFormat); a page with two captioned
figures (one with text, one without) as `<figure>` blocks, in `figures` and `sections` (§2.2-§2.4)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import regex

from ocrgw.dialects.azure.docintel.render import analyze_result
from ocrgw.jobs.schemas import (
    CellResult,
    FigureResult,
    JobSpec,
    JobView,
    LayoutResult,
    LineResult,
    MarkResult,
    PageResult,
    ParagraphResult,
    TableResult,
    WordResult,
    layout_from_json,
    layout_to_json,
)
from ocrgw.jobs.states import JobStatus

MARKDOWN = (
    "# Order Form\n\nPlease tick what you need.\n\n\n<table>\n<tr><th>Item</th><th>Qty</th><th>Done</th></tr>\n"
    "<tr><td>Pens</td><td>10</td><td>\u2612</td></tr>\n<tr><td>Paper</td><td>2</td><td></td></tr>\n</table>"
)
TEXT = "Order Form\nPlease tick what you need.\nItem\nQty\nDone\nPens\n10\n:selected:\nPaper\n2"


def quad(x0: float, y0: float, x1: float, y1: float) -> list[float]:
    return [x0, y0, x1, y0, x1, y1, x0, y1]


def line(words: list[tuple[str, float, float]], y0: float, y1: float) -> LineResult:
    ws = [WordResult(t, quad(a, y0, b, y1), 0.99) for t, a, b in words]
    return LineResult(" ".join(t for t, _, _ in words), quad(words[0][1], y0, words[-1][2], y1), 0.99, ws)


def order_form() -> PageResult:
    lines = [
        line([("Order", 200, 400), ("Form", 430, 620)], 150, 210),
        line(
            [("Please", 200, 330), ("tick", 345, 425), ("what", 440, 540), ("you", 555, 625), ("need.", 640, 760)],
            300,
            340,
        ),
        line([("Item", 220, 300)], 450, 490),
        line([("Qty", 520, 590)], 450, 490),
        line([("Done", 820, 920)], 450, 490),
        line([("Pens", 220, 310)], 550, 590),
        line([("10", 520, 560)], 550, 590),
        line([("Paper", 220, 330)], 650, 690),
        line([("2", 520, 540)], 650, 690),
    ]
    cells = []
    for r, y in enumerate((420, 520, 620)):
        for c, x in enumerate((200, 500, 800)):
            cells.append(CellResult(r, c, 1, 1, "columnHeader" if r == 0 else "content", quad(x, y, x + 300, y + 100)))
    for cell, ln in zip([cells[i] for i in (0, 1, 2, 3, 4, 6, 7)], range(2, 9), strict=True):
        cell.lines = [ln]
    cells[5].marks = [0]
    layout = LayoutResult(
        paragraphs=[ParagraphResult([0], "title"), ParagraphResult([1])],
        tables=[TableResult(quad(200, 420, 1100, 720), 3, 3, cells)],
        marks=[MarkResult(quad(930, 550, 970, 590), True, 0.98, 7)],
    )
    return PageResult(1, 1700, 2200, "pixel", 0.0, "en", [], lines, layout)


def figure_page() -> PageResult:
    """A title, a captioned chart with two paragraphs of text in it, a body paragraph, a captioned picture
    without text."""
    lines = [
        line([("Results", 100, 300)], 50, 90),
        line([("Figure", 100, 180), ("1:", 190, 210), ("Rain", 220, 280)], 520, 550),
        line([("mm", 100, 140)], 120, 150),
        line([("North", 150, 230), ("East", 300, 360)], 470, 500),
        line([("Most", 100, 170), ("rain.", 180, 250)], 600, 630),
        line([("Figure", 100, 180), ("2:", 190, 210), ("Creek", 220, 300)], 1010, 1040),
    ]
    layout = LayoutResult(
        paragraphs=[ParagraphResult([i], "title" if i == 0 else None) for i in range(6)],
        figures=[
            FigureResult(quad(90, 110, 900, 505), [2, 3], 1, 1),
            FigureResult(quad(100, 700, 700, 1000), [], 5, 5),
        ],
    )
    return PageResult(1, 1000, 1200, "pixel", 0.0, "en", [], lines, layout)


FIGURE_MARKDOWN = (
    "# Results\n\n<figure>\n<figcaption>Figure 1: Rain</figcaption>\n\nmm\n\nNorth East\n\n</figure>\n\n"
    "Most rain.\n\n<figure>\n<figcaption>Figure 2: Creek</figcaption>\n\n</figure>"
)


def view(options: dict[str, str], page: PageResult | None = None) -> JobView:
    now = datetime(2025, 1, 1, 10, 0, 0, tzinfo=UTC)
    return JobView(
        id=str(uuid.uuid4()),
        dialect="azure-docintel",
        status=JobStatus.SUCCEEDED,
        spec=JobSpec(options=options, outputs=("layout",)),
        created_at=now,
        updated_at=now,
        attempts=1,
        pages_total=1,
        pages_done=1,
        error_code=None,
        error_message=None,
        pages=[page or order_form()],
    )


def addressed(content: str, span: dict, index_type: str) -> str:
    off, n = span["offset"], span["length"]
    if index_type == "unicodeCodePoint":
        return content[off : off + n]
    if index_type == "utf16CodeUnit":
        return content.encode("utf-16-le")[2 * off : 2 * (off + n)].decode("utf-16-le")
    return "".join(regex.findall(r"\X", content)[off : off + n])


DI = {"apiVersion": "2024-11-30", "modelId": "prebuilt-layout", "features": ""}


@pytest.mark.parametrize("index_type", ["textElements", "unicodeCodePoint", "utf16CodeUnit"])
def test_markdown_matches_the_contract_example(index_type: str) -> None:
    result = analyze_result(view({**DI, "stringIndexType": index_type, "outputContentFormat": "markdown"}))
    content = result["content"]
    assert content == MARKDOWN
    assert result["contentFormat"] == "markdown" and result["modelId"] == "prebuilt-layout"
    (page,) = result["pages"]
    assert page["spans"] == [{"offset": 0, "length": len(content)}]
    for w in page["words"]:
        assert addressed(content, w["span"], index_type) == w["content"]
    for ln in page["lines"]:
        assert addressed(content, ln["spans"][0], index_type) == ln["content"]
    (mark,) = page["selectionMarks"]
    assert mark["state"] == "selected" and addressed(content, mark["span"], index_type) == "\u2612"
    title, body, *cell_paragraphs = result["paragraphs"]
    assert title["role"] == "title" and title["content"] == "Order Form"
    assert addressed(content, title["spans"][0], index_type) == "# Order Form"
    assert "role" not in body and body["content"] == "Please tick what you need."
    assert [p["content"] for p in cell_paragraphs] == ["Item", "Qty", "Done", "Pens", "10", "Paper", "2"]
    (table,) = result["tables"]
    assert (table["rowCount"], table["columnCount"]) == (3, 3)
    assert addressed(content, table["spans"][0], index_type) == content[content.index("<table>") :]
    cells = {(c["rowIndex"], c["columnIndex"]): c for c in table["cells"]}
    assert [cells[0, i]["kind"] for i in range(3)] == ["columnHeader"] * 3
    assert "kind" not in cells[1, 0]  # content cells: the service's default, omitted
    assert cells[1, 2]["content"] == "\u2612" and "elements" not in cells[1, 2]
    assert cells[2, 2] == {
        "rowIndex": 2,
        "columnIndex": 2,
        "rowSpan": 1,
        "columnSpan": 1,
        "content": "",
        "spans": [],
        "boundingRegions": [{"pageNumber": 1, "polygon": [800, 620, 1100, 620, 1100, 720, 800, 720]}],
    }
    assert cells[1, 1]["elements"] == ["/paragraphs/6"] and result["paragraphs"][6]["content"] == "10"
    (section,) = result["sections"]
    assert section["elements"] == ["/paragraphs/0", "/paragraphs/1", "/tables/0"]
    assert result["figures"] == []


def test_text_mode_matches_the_contract_example() -> None:
    result = analyze_result(view({**DI, "stringIndexType": "textElements", "outputContentFormat": "text"}))
    assert result["content"] == TEXT
    (mark,) = result["pages"][0]["selectionMarks"]
    assert mark["span"] == {"offset": TEXT.index(":selected:"), "length": 10}
    assert result["paragraphs"][0]["spans"] == [{"offset": 0, "length": 10}]
    cells = {(c["rowIndex"], c["columnIndex"]): c for c in result["tables"][0]["cells"]}
    assert cells[1, 2]["content"] == ":selected:"


def test_form_recognizer_2023_has_no_sections_figures_or_content_format() -> None:
    fr = {
        "apiVersion": "2023-07-31",
        "modelId": "prebuilt-layout",
        "features": "",
        "stringIndexType": "unicodeCodePoint",
    }
    result = analyze_result(view(fr))
    assert result["content"] == TEXT
    assert not {"sections", "figures", "contentFormat"} & set(result)
    assert result["tables"][0]["rowCount"] == 3 and result["pages"][0]["selectionMarks"]


def test_layout_survives_its_json_round_trip() -> None:
    layout = order_form().layout
    assert layout_from_json(layout_to_json(layout)) == layout
    assert layout_from_json(None) is None and layout_to_json(None) is None


@pytest.mark.parametrize("index_type", ["textElements", "utf16CodeUnit"])
def test_figures_in_markdown_are_figure_blocks_with_their_caption_and_text(index_type: str) -> None:
    opts = {**DI, "stringIndexType": index_type, "outputContentFormat": "markdown"}
    result = analyze_result(view(opts, figure_page()))
    content = result["content"]
    assert content == FIGURE_MARKDOWN
    chart, picture = result["figures"]
    assert [chart["id"], picture["id"]] == ["1.1", "1.2"]
    assert addressed(content, chart["spans"][0], index_type) == FIGURE_MARKDOWN.split("\n\nMost")[0].split("\n\n", 1)[1]
    assert (
        addressed(content, picture["spans"][0], index_type)
        == "<figure>\n<figcaption>Figure 2: Creek</figcaption>\n\n</figure>"
    )
    assert chart["boundingRegions"] == [{"pageNumber": 1, "polygon": quad(90, 110, 900, 505)}]
    assert chart["caption"]["content"] == "Figure 1: Rain" and chart["caption"]["elements"] == ["/paragraphs/1"]
    assert addressed(content, chart["caption"]["spans"][0], index_type) == "Figure 1: Rain"
    assert chart["elements"] == ["/paragraphs/2", "/paragraphs/3"]
    assert [result["paragraphs"][i]["content"] for i in (1, 2, 3)] == ["Figure 1: Rain", "mm", "North East"]
    assert picture["elements"] == [] and picture["caption"]["elements"] == ["/paragraphs/5"]
    (section,) = result["sections"]
    assert section["elements"] == ["/paragraphs/0", "/figures/0", "/paragraphs/4", "/figures/1"]
    assert "warnings" not in result


def test_figures_in_text_mode_and_in_form_recognizer() -> None:
    text = "Results\nFigure 1: Rain\nmm\nNorth East\nMost rain.\nFigure 2: Creek"
    result = analyze_result(
        view({**DI, "stringIndexType": "textElements", "outputContentFormat": "text"}, figure_page())
    )
    assert result["content"] == text
    chart, _ = result["figures"]
    assert chart["spans"] == [{"offset": text.index("Figure 1"), "length": len("Figure 1: Rain\nmm\nNorth East")}]
    fr = {
        "apiVersion": "2023-07-31",
        "modelId": "prebuilt-layout",
        "features": "",
        "stringIndexType": "unicodeCodePoint",
    }
    result = analyze_result(view(fr, figure_page()))
    assert result["content"] == text and "figures" not in result
    assert [p["content"] for p in result["paragraphs"]] == text.split("\n")  # a figure's paragraphs, listed plainly


def test_a_figure_without_caption_or_text_has_an_empty_span_in_text_mode() -> None:
    page = figure_page()
    page.layout.figures[1].caption = None  # type: ignore[union-attr]
    page.layout.paragraphs[5].lines = [5]  # type: ignore[union-attr]
    result = analyze_result(view({**DI, "stringIndexType": "textElements", "outputContentFormat": "text"}, page))
    assert result["content"] == "Results\nFigure 1: Rain\nmm\nNorth East\nMost rain.\nFigure 2: Creek"
    picture = result["figures"][1]
    assert picture["elements"] == [] and "caption" not in picture
    assert picture["spans"][0]["length"] == 0
    markdown = analyze_result(view({**DI, "stringIndexType": "textElements", "outputContentFormat": "markdown"}, page))
    assert "Most rain.\n\n<figure>\n\n</figure>\n\nFigure 2: Creek" in markdown["content"]


def test_figures_survive_the_json_round_trip_and_old_rows_read_without() -> None:
    layout = figure_page().layout
    assert layout_from_json(layout_to_json(layout)) == layout
    stored = layout_to_json(order_form().layout)
    del stored["figures"]  # a page stored before figures
    assert layout_from_json(stored).figures == []  # type: ignore[union-attr]


def test_a_figures_id_is_its_place_in_the_pages_figures_whatever_the_reading_order() -> None:
    """The id names the crop (`output=figures` stores them by the page's figure list), so it follows that
    list even where the reading order differs (the worker stores them in reading order)."""
    page = figure_page()
    page.layout.figures.reverse()  # type: ignore[union-attr]
    result = analyze_result(view({**DI, "stringIndexType": "textElements", "outputContentFormat": "markdown"}, page))
    first, second = result["figures"]  # in reading order: the chart, then the picture
    assert (first["id"], second["id"]) == ("1.2", "1.1")
    assert first["boundingRegions"][0]["polygon"] == quad(90, 110, 900, 505)
