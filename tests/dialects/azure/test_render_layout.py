"""Document Intelligence `prebuilt-layout` rendering, pure (no server): the contract's worked example
(shared/contracts/docintel-layout.md §2.5: a title, a paragraph, a 3×3 table with a header row and a
ticked checkbox) in markdown and text, its spans checked by §2.4's rules in every stringIndexType, and
Form Recognizer 2023-07-31's shape (no sections, no figures, no contentFormat)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import regex

from ocrgw.dialects.azure.docintel.render import analyze_result
from ocrgw.jobs.schemas import (
    CellResult,
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


def view(options: dict[str, str]) -> JobView:
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
        pages=[order_form()],
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
