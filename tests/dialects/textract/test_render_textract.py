"""Textract Blocks rendered from stored results without a server (dialects/textract/render.py): per page a
PAGE, its LINEs and WORDs with ratio geometry and 0-100 confidences, ids stable across renderings (Get*
pages join by id); a hand-made layout for TABLES (a spanning cell as CELLs under a MERGED_CELL), FORMS
(checkbox and "Label: value" pairs) and LAYOUT; and the core's error codes as Textract's exceptions.
Golden files: tests/data/results/golden/aws-textract (rewrite with OCRGW_UPDATE_GOLDEN=1)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from tests.results import SUCCEEDED, golden, http_request, load, response_json, with_options

from ocrgw.dialects.textract import errors, render
from ocrgw.errors import ErrorCode as E
from ocrgw.errors import OcrgwError
from ocrgw.jobs.schemas import (
    CellResult,
    LayoutResult,
    LineResult,
    MarkResult,
    PageResult,
    ParagraphResult,
    TableResult,
    WordResult,
)


def check(blocks: list[dict]) -> dict[str, dict]:
    by_id = {b["Id"]: b for b in blocks}
    assert len(by_id) == len(blocks)
    for b in blocks:
        box = b["Geometry"]["BoundingBox"]
        assert all(type(v) is float and 0 <= v <= 1 for v in box.values()), b
        assert box["Left"] + box["Width"] <= 1.000001 and box["Top"] + box["Height"] <= 1.000001
        assert [list(p) for p in b["Geometry"]["Polygon"]] == [["X", "Y"]] * 4
        assert type(b["Page"]) is int and b["Page"] >= 1
        if b["BlockType"] != "PAGE":
            assert type(b["Confidence"]) is float and 0 <= b["Confidence"] <= 100
        for rel in b.get("Relationships", []):
            assert rel["Ids"] and all(i in by_id for i in rel["Ids"]), b
    return by_id


@pytest.mark.parametrize("name", SUCCEEDED)
def test_detect_document_text(name: str) -> None:
    view = with_options(load(name), api="text")
    result = render.sync_result(view)
    assert list(result) == ["DocumentMetadata", "Blocks", "DetectDocumentTextModelVersion"]
    by_id = check(result["Blocks"])
    pages = [b for b in result["Blocks"] if b["BlockType"] == "PAGE"]
    assert len(pages) == result["DocumentMetadata"]["Pages"] == max(1, len(view.pages or []))
    text = [b["Text"] for b in result["Blocks"] if b["BlockType"] == "LINE"]
    assert text == [line.text for page in view.pages or [] for line in page.lines]
    for page in pages:
        assert all(by_id[i]["BlockType"] == "LINE" for rel in page.get("Relationships", []) for i in rel["Ids"])
    assert render.sync_result(view) == result  # ids are the job's: the same on every rendering
    golden("aws-textract", f"detect-{name}", result)


def test_handwriting_is_a_word_text_type() -> None:
    view = load("phototest")
    assert view.pages is not None
    view.pages[0].lines[0].style = "handwriting"
    blocks = render.blocks(with_options(view, api="text"))
    first = next(b for b in blocks if b["BlockType"] == "LINE")
    words = [b for b in blocks if b["Id"] in first["Relationships"][0]["Ids"]]
    assert {w["TextType"] for w in words} == {"HANDWRITING"}
    assert {b["TextType"] for b in blocks if b["BlockType"] == "WORD"} == {"HANDWRITING", "PRINTED"}


def _word(text: str, x: float, y: float) -> WordResult:
    w = 10.0 * len(text)
    return WordResult(text, [x, y, x + w, y, x + w, y + 10, x, y + 10], 0.9)


def _line(words: list[WordResult]) -> LineResult:
    xs = [v for w in words for v in w.bbox[0::2]]
    ys = [v for w in words for v in w.bbox[1::2]]
    box = [min(xs), min(ys), max(xs), min(ys), max(xs), max(ys), min(xs), max(ys)]
    return LineResult(" ".join(w.text for w in words), box, 0.95, words)


def layout_view() -> object:
    """A 200 x 200 px page: a title, a "Name: Ann" line, a ticked checkbox labelled "Yes", and a 2 x 2 table
    whose first row is one header cell spanning both columns."""
    lines = [
        _line([_word("Report", 10, 5)]),
        _line([_word("Name:", 10, 20), _word("Ann", 70, 20)]),
        _line([_word("Yes", 30, 40)]),
        _line([_word("Both", 60, 105)]),
        _line([_word("a", 20, 155)]),
        _line([_word("b", 120, 155)]),
    ]
    table = TableResult(
        [0, 100, 200, 100, 200, 200, 0, 200],
        2,
        2,
        [
            CellResult(0, 0, 1, 2, "columnHeader", [0, 100, 200, 100, 200, 150, 0, 150], [3]),
            CellResult(1, 0, 1, 1, "content", [0, 150, 100, 150, 100, 200, 0, 200], [4]),
            CellResult(1, 1, 1, 1, "content", [100, 150, 200, 150, 200, 200, 100, 200], [5]),
        ],
    )
    layout = LayoutResult(
        paragraphs=[ParagraphResult([0], "title"), ParagraphResult([1]), ParagraphResult([2])],
        tables=[table],
        marks=[MarkResult([10, 40, 20, 40, 20, 50, 10, 50], True, 0.8, 2)],
    )
    page = PageResult(1, 200, 200, "pixel", 0.0, "en", [], lines, layout)
    view = replace(load("phototest"), pages=[page])
    return with_options(view, api="analysis", features="TABLES,FORMS,LAYOUT")


def test_tables_forms_layout() -> None:
    result = render.sync_result(layout_view())  # type: ignore[arg-type]
    assert "AnalyzeDocumentModelVersion" in result
    by_id = check(result["Blocks"])
    kinds = [b["BlockType"] for b in result["Blocks"]]
    assert kinds[0] == "PAGE" and kinds.count("CELL") == 4 and kinds.count("MERGED_CELL") == 1
    table = next(b for b in result["Blocks"] if b["BlockType"] == "TABLE")
    rel = {r["Type"]: r["Ids"] for r in table["Relationships"]}
    cells = [by_id[i] for i in rel["CHILD"]]
    assert [(c["RowIndex"], c["ColumnIndex"]) for c in cells] == [(1, 1), (1, 2), (2, 1), (2, 2)]
    merged = by_id[rel["MERGED_CELL"][0]]
    assert (merged["RowIndex"], merged["ColumnIndex"], merged["RowSpan"], merged["ColumnSpan"]) == (1, 1, 1, 2)
    assert merged["EntityTypes"] == ["COLUMN_HEADER"] and merged["Relationships"][0]["Ids"] == rel["CHILD"][:2]
    assert [by_id[i]["Text"] for i in cells[0]["Relationships"][0]["Ids"]] == ["Both"]
    assert "Relationships" not in cells[1]  # the header's right half holds no word
    keys = [b for b in result["Blocks"] if b.get("EntityTypes") == ["KEY"]]
    pairs = {}
    for key in keys:
        r = {x["Type"]: x["Ids"] for x in key["Relationships"]}
        value = by_id[r["VALUE"][0]]
        pairs[" ".join(by_id[i]["Text"] for i in r["CHILD"])] = [
            by_id[i].get("Text", by_id[i].get("SelectionStatus")) for i in value["Relationships"][0]["Ids"]
        ]
    assert pairs == {"Yes": ["SELECTED"], "Name:": ["Ann"]}
    layout = [b["BlockType"] for b in result["Blocks"] if b["BlockType"].startswith("LAYOUT_")]
    assert layout == ["LAYOUT_TITLE", "LAYOUT_TEXT", "LAYOUT_TEXT", "LAYOUT_TABLE"]
    page_children = {by_id[i]["BlockType"] for i in result["Blocks"][0]["Relationships"][0]["Ids"]}
    assert page_children == {"LINE", "TABLE", "KEY_VALUE_SET", "LAYOUT_TITLE", "LAYOUT_TEXT", "LAYOUT_TABLE"}
    golden("aws-textract", "analyze-layout", result)


@pytest.mark.parametrize(
    ("code", "kind", "status"),
    [
        (E.RATE_LIMITED, "ProvisionedThroughputExceededException", 400),
        (E.BACKLOG_FULL, "ThrottlingException", 500),
        (E.TIMEOUT, "ThrottlingException", 500),
        (E.CONCURRENCY_LIMITED, "LimitExceededException", 400),
        (E.QUOTA_EXCEEDED, "LimitExceededException", 400),
        (E.NOT_SUBSCRIBED, "AccessDeniedException", 400),
        (E.TOO_LARGE, "DocumentTooLargeException", 400),
        (E.NOT_FOUND, "InvalidJobIdException", 400),
        (E.INTERNAL, "InternalServerError", 500),
        (E.INVALID_PARAMETER, "InvalidParameterException", 400),
    ],
)
def test_error_envelope(code: E, kind: str, status: int) -> None:
    exc = OcrgwError(code, "why", retry_after=2 if code in (E.RATE_LIMITED, E.BACKLOG_FULL) else None)
    response = errors.render_error(http_request("/"), exc)
    assert response.status_code == status
    assert response_json(response) == {"__type": kind, "Message": "why"}
    assert response.headers["content-type"] == "application/x-amz-json-1.1"
    assert response.headers["x-amzn-requestid"]
    if exc.retry_after:
        assert response.headers["x-amz-retry-after"] == "2000"  # botocore's standard mode honours it (ms)
