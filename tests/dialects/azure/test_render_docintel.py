"""Form Recognizer / Document Intelligence `prebuilt-read` operations rendered from stored results without a
server: camelCase statuses and ISO-8601 times, the error of a failed job, `content` with pages, lines,
words and paragraphs whose spans address it in each `stringIndexType` (checked here by slicing `content`
independently of the renderer), polygons in pixels or inches, markdown page breaks, detected languages.
A golden file per fixture (with Document Intelligence 2024-11-30 options), and per option variant.

Renderer: `ocrgw.dialects.azure.docintel.render.operation(view)`; its options are the ones stored with the
job (JobSpec.options), so each case sets them as the analyze request would have.
Goldens: tests/data/results/golden/azure-docintel; rewrite with OCRGW_UPDATE_GOLDEN=1."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
import regex
from tests.results import FIXTURES, SUCCEEDED, conforms, golden, load, with_options

from ocrgw.dialects.azure.docintel import render
from ocrgw.dialects.azure.docintel.schemas import AnalyzeResultOperation
from ocrgw.jobs.schemas import JobView

DIALECT = "azure-docintel"
STATUS = {"queued": "notStarted", "running": "running", "succeeded": "succeeded", "failed": "failed"}
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
DI = {
    "apiVersion": "2024-11-30",
    "modelId": "prebuilt-read",
    "stringIndexType": "textElements",
    "features": "languages",
    "outputContentFormat": "text",
}
FR = {"apiVersion": "2023-07-31", "modelId": "prebuilt-read", "stringIndexType": "unicodeCodePoint", "features": ""}


def di(name: str, **options: str) -> JobView:
    """A fixture as a Document Intelligence job: the options its analyze request stored, then ``options``."""
    return with_options(with_options(load(name), **DI), **options)


def sliced(content: str, span: dict, index_type: str) -> str:
    """The text a span addresses, computed here from the unit's definition (not with the renderer's table)."""
    start, end = span["offset"], span["offset"] + span["length"]
    if index_type == "unicodeCodePoint":
        return content[start:end]
    if index_type == "utf16CodeUnit":
        return content.encode("utf-16-le")[2 * start : 2 * end].decode("utf-16-le")
    assert index_type == "textElements"
    return "".join(regex.findall(r"\X", content)[start:end])


def unicode_view() -> JobView:
    """phototest with words Tesseract never writes but documents hold: a combining mark (2 code points, 1
    text element), an emoji with a skin-tone modifier (2 code points, 4 UTF-16 units, 1 text element) and
    Devanagari (6 code points, 3 text elements). The line texts are rebuilt from their words."""
    view = load("phototest")
    page = (view.pages or [])[0]
    swaps = {
        "plain": "nai\u0308ve",
        "back.": "back.\U0001f44d\U0001f3fd",
        "lazy": "\u0928\u092e\u0938\u094d\u0924\u0947",
    }
    for line in page.lines:
        for word in line.words:
            word.text = swaps.get(word.text, word.text)
        line.text = " ".join(w.text for w in line.words)
    return view


def check_result(result: dict, view: JobView) -> None:
    opts = view.spec.options
    index_type = opts["stringIndexType"]
    markdown = opts.get("outputContentFormat") == "markdown"
    keys = ["apiVersion", "modelId", "stringIndexType", "content", "pages", "paragraphs", "styles"]
    if opts.get("outputContentFormat"):
        keys.insert(4, "contentFormat")
        assert result["contentFormat"] == opts["outputContentFormat"]
    if "languages" in opts.get("features", ""):
        keys.append("languages")
    assert list(result) == keys
    assert (result["apiVersion"], result["modelId"], result["stringIndexType"]) == (
        opts["apiVersion"],
        opts["modelId"],
        index_type,
    )
    content = result["content"]
    pages = view.pages or []
    page_texts = []
    for page, out in zip(pages, result["pages"], strict=True):
        assert list(out) == ["pageNumber", "angle", "width", "height", "unit", "words", "lines", "spans"]
        assert out["pageNumber"] == page.page_no and out["angle"] == page.angle and out["unit"] == page.unit
        if page.unit == "pixel":
            assert (out["width"], out["height"]) == (round(page.width), round(page.height))
        else:
            assert (out["width"], out["height"]) == (page.width, page.height)
        [page_span] = out["spans"]
        page_texts.append(sliced(content, page_span, index_type))
        assert [ln["content"] for ln in out["lines"]] == [ln.text for ln in page.lines]
        for line in out["lines"]:
            assert list(line) == ["content", "polygon", "spans"]
            [span] = line["spans"]
            assert sliced(content, span, index_type) == line["content"]
            check_polygon(line["polygon"], page.unit)
        assert [w["content"] for w in out["words"]] == [w.text for ln in page.lines for w in ln.words]
        for word in out["words"]:
            assert list(word) == ["content", "polygon", "confidence", "span"]
            assert sliced(content, word["span"], index_type) == word["content"]
            assert 0 <= word["confidence"] <= 1
            check_polygon(word["polygon"], page.unit)
    assert [p["pageNumber"] for p in result["pages"]] == list(range(1, len(pages) + 1))
    # Lines are joined by "\n", paragraphs by a blank line in markdown, pages by a PageBreak comment there.
    page_sep, para_sep = ("\n<!-- PageBreak -->\n", "\n\n") if markdown else ("\n", "\n")
    assert content == page_sep.join(t for t in page_texts if t) or (not content and not any(page_texts))
    for paragraph in result["paragraphs"]:
        assert list(paragraph) == ["content", "spans", "boundingRegions"]
        [span] = paragraph["spans"]
        assert sliced(content, span, index_type) == paragraph["content"]
        [region] = paragraph["boundingRegions"]
        check_polygon(region["polygon"], pages[region["pageNumber"] - 1].unit)
    assert para_sep.join(p["content"] for p in result["paragraphs"]) == content.replace(
        "\n<!-- PageBreak -->\n", para_sep
    )
    assert result["styles"] == []  # handwriting is not detected, so nothing is claimed
    for language in result.get("languages", []):
        assert list(language) == ["locale", "confidence", "spans"]
        assert all(sliced(content, s, index_type) in page_texts for s in language["spans"])


def check_polygon(polygon: list, unit: str) -> None:
    assert len(polygon) == 8
    if unit == "pixel":
        assert all(type(v) is int for v in polygon), polygon
    else:
        assert all(round(v, 4) == v for v in polygon), polygon


@pytest.mark.parametrize("name", FIXTURES)
def test_docintel_operation_every_state(name: str) -> None:
    view = di(name)
    body = render.operation(view)
    conforms(AnalyzeResultOperation, body)
    assert body["status"] == STATUS[view.status.value]
    assert TIMESTAMP.match(body["createdDateTime"]) and TIMESTAMP.match(body["lastUpdatedDateTime"])
    assert body["createdDateTime"] == view.created_at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    if name in SUCCEEDED:
        assert list(body) == ["status", "createdDateTime", "lastUpdatedDateTime", "analyzeResult"]
        check_result(body["analyzeResult"], view)
    elif name == "failed":
        assert list(body) == ["status", "createdDateTime", "lastUpdatedDateTime", "error"]
        err = body["error"]
        assert (err["code"], err["message"], err["innererror"]["code"]) == (
            "InvalidRequest",
            view.error_message,
            "InvalidContent",
        )
        assert err["innererror"]["message"].startswith("The file is corrupted or format is unsupported.")
        assert err["innererror"]["message"].endswith(view.error_message or "")
    else:
        assert list(body) == ["status", "createdDateTime", "lastUpdatedDateTime"]
    golden(DIALECT, name, body)


def test_docintel_two_pages_content_languages_and_inches() -> None:
    result = render.operation(di("two_pages"))["analyzeResult"]
    assert result["content"].startswith("Quarterly Report\nSales rose by eleven percent in the\n")
    assert result["content"].endswith("\nShipping label\nParcel 5 of 12\nKeep this side up")
    assert [(p["unit"], p["width"], p["height"], p["angle"]) for p in result["pages"]] == [
        ("inch", 8.5, 11.0033, -0.05),
        ("inch", 4.0, 6.0033, -90.05),
    ]
    # No language was detected on the pages: the locale comes from the job's model (eng -> en).
    [language] = result["languages"]
    assert language["locale"] == "en" and [s["offset"] for s in language["spans"]] == [
        p["spans"][0]["offset"] for p in result["pages"]
    ]
    # A heading, a paragraph of three lines and a last line on page 1; the label's lines on page 2.
    assert [len(p["content"].split("\n")) for p in result["paragraphs"]][:3] == [1, 3, 1]
    assert {p["boundingRegions"][0]["pageNumber"] for p in result["paragraphs"]} == {1, 2}


def test_docintel_blank_page_has_an_empty_span() -> None:
    result = render.operation(di("blank"))["analyzeResult"]
    assert result["content"] == "" and result["paragraphs"] == [] and result["languages"] == []
    assert result["pages"][0]["spans"] == [{"offset": 0, "length": 0}]


@pytest.mark.parametrize("name", ["phototest", "two_pages"])
def test_docintel_markdown(name: str) -> None:
    view = di(name, outputContentFormat="markdown")
    result = render.operation(view)["analyzeResult"]
    check_result(result, view)
    assert result["contentFormat"] == "markdown"
    assert result["content"].count("<!-- PageBreak -->") == len(view.pages or []) - 1
    assert "\n\n" in result["content"]  # paragraphs are separated by a blank line
    golden(DIALECT, f"{name}-markdown", result)


def test_form_recognizer_has_no_content_format_and_no_languages_unless_asked() -> None:
    view = with_options(load("phototest"), **FR)
    result = render.operation(view)["analyzeResult"]
    check_result(result, view)
    assert "contentFormat" not in result and "languages" not in result
    assert result["apiVersion"] == "2023-07-31" and result["stringIndexType"] == "unicodeCodePoint"
    golden(DIALECT, "formrecognizer-phototest", result)


@pytest.mark.parametrize("index_type", render.INDEX_TYPES)
def test_docintel_spans_in_every_string_index_type(index_type: str) -> None:
    view = with_options(unicode_view(), **{**DI, "stringIndexType": index_type})
    result = render.operation(view)["analyzeResult"]
    check_result(result, view)
    words = {w["content"]: w["span"] for w in result["pages"][0]["words"]}
    lengths = {"textElements": (5, 6, 3), "unicodeCodePoint": (6, 7, 6), "utf16CodeUnit": (6, 9, 6)}[index_type]
    assert (
        words["nai\u0308ve"]["length"],
        words["back.\U0001f44d\U0001f3fd"]["length"],
        words["\u0928\u092e\u0938\u094d\u0924\u0947"]["length"],
    ) == lengths
    # Units differ, so offsets after the first odd word do too; the page always spans the whole content.
    total = {"textElements": 5, "unicodeCodePoint": 0, "utf16CodeUnit": -2}[index_type]
    assert result["pages"][0]["spans"][0]["length"] == len(result["content"]) - total
    golden(DIALECT, f"unicode-{index_type}", result)


def test_docintel_languages_detected_on_the_pages() -> None:
    """Pages whose language the worker identified (their "language" step) are reported under it, as sure as
    the least sure of them; a page it could not tell falls back on the job's model, at 0.8."""
    view = di("two_pages")
    first, second = view.pages or []
    step = {"step": "language", "detected": "de", "confidence": 0.97, "models": "deu+eng", "applied": True}
    first = replace(first, language="de", preprocessing=[*first.preprocessing, step])
    unsure = {"step": "language", "detected": None, "best_guess": "zxx", "confidence": 0.14, "models": "eng"}
    second = replace(second, language=None, preprocessing=[*second.preprocessing, unsure])
    result = render.operation(replace(view, pages=[first, second]))["analyzeResult"]
    assert [(lang["locale"], lang["confidence"], len(lang["spans"])) for lang in result["languages"]] == [
        ("de", 0.97, 1),
        ("en", 0.8, 1),
    ]
    assert AnalyzeResultOperation.model_validate(render.operation(replace(view, pages=[first, second])))
