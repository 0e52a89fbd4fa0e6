"""Document Intelligence / Form Recognizer `prebuilt-layout` end to end (shared/contracts/docintel-layout.md
§2-§4): LangChain's AzureAIDocumentIntelligenceLoader in its three modes, `azure-ai-documentintelligence`
and `azure-ai-formrecognizer` 3.3 returning tables, header cells, selection marks and a title, unchanged
but for the endpoint, against real servers; the native API's `layout` option and its markdown export; and
the feature errors and warnings."""

from __future__ import annotations

import functools
import io
import itertools
from pathlib import Path

import httpx
import numpy as np
import pytest
import regex
from azure.ai.documentintelligence import DocumentIntelligenceClient
from azure.ai.formrecognizer import DocumentAnalysisClient
from azure.core.credentials import AzureKeyCredential
from PIL import Image, ImageDraw, ImageFont
from pypdf import PdfReader
from tests.bodies import assert_azure_error
from tests.conftest import Server, native_result, poll

FONTS = Path("/usr/share/fonts/truetype/dejavu")
ROWS = [("Item", "Quantity", "Price"), ("Pencils", "12", "3.60"), ("Paper", "500", "4.25"), ("Stapler", "1", "7.90")]
PARAGRAPH = [
    "Please list the supplies your office needs for the next quarter and tick",
    "the box below when the order has been approved by your manager.",
]


@functools.cache
def order_form() -> bytes:
    """The top of a letter-sized page at 200 dpi: a bold title, a paragraph, a ruled 4x3 table with a header row, and
    two checkboxes with labels (one ticked)."""
    img = Image.new("L", (1700, 1400), 255)  # the top of a letter page: where the content is
    draw = ImageDraw.Draw(img)
    draw.text(
        (150, 150), "Office Supplies Order", font=ImageFont.truetype(str(FONTS / "DejaVuSans-Bold.ttf"), 64), fill=0
    )
    body = ImageFont.truetype(str(FONTS / "DejaVuSans.ttf"), 34)
    for i, text in enumerate(PARAGRAPH):
        draw.text((150, 320 + 55 * i), text, font=body, fill=0)
    x0, y0, widths, height = 150, 520, (600, 400, 400), 90
    xs = [x0 + sum(widths[:i]) for i in range(len(widths) + 1)]
    for r, row in enumerate(ROWS):
        for c, text in enumerate(row):
            draw.text((xs[c] + 25, y0 + r * height + 25), text, font=body, fill=0)
    for r in range(len(ROWS) + 1):
        draw.line([(xs[0], y0 + r * height), (xs[-1], y0 + r * height)], fill=0, width=3)
    for x in xs:
        draw.line([(x, y0), (x, y0 + len(ROWS) * height)], fill=0, width=3)
    for i, (label, ticked) in enumerate((("Approved", True), ("Urgent", False))):
        bx, by = 150, 1050 + 90 * i
        draw.rectangle([bx, by, bx + 44, by + 44], outline=0, width=4)
        if ticked:
            draw.line([(bx + 8, by + 22), (bx + 18, by + 36), (bx + 38, by + 6)], fill=0, width=6)
        draw.text((bx + 70, by), label, font=body, fill=0)
    buf = io.BytesIO()
    img.save(buf, "PNG", dpi=(200, 200))
    return buf.getvalue()


@pytest.fixture
def form_file(tmp_path: Path) -> str:
    path = tmp_path / "order.png"
    path.write_bytes(order_form())
    return str(path)


def _check_table(rows: list[list[str]], kinds: dict[tuple[int, int], str]) -> None:
    assert rows == [list(r) for r in ROWS], rows
    assert all(kinds[0, c] == "columnHeader" for c in range(3)), kinds
    assert all(kinds.get((r, c), "content") == "content" for r in range(1, 4) for c in range(3)), kinds


def test_langchain_loader_markdown_page_and_single_modes(server: Server, form_file: str) -> None:
    from langchain_community.document_loaders import AzureAIDocumentIntelligenceLoader

    def load(mode: str) -> list:
        loader = AzureAIDocumentIntelligenceLoader(
            api_endpoint=server.url, api_key=server.key, file_path=form_file, mode=mode
        )
        return loader.load()

    (md,) = load("markdown")
    assert md.page_content.startswith("# Office Supplies Order"), md.page_content[:200]
    assert "<table>" in md.page_content and "<th>Item</th>" in md.page_content
    assert "<td>Pencils</td>" in md.page_content
    assert "\u2612" in md.page_content and "\u2610" in md.page_content  # ☒ Approved, ☐ Urgent
    assert md.metadata["modelId"] == "prebuilt-layout" and md.metadata["tables"]
    pages = load("page")
    assert [p.metadata["page"] for p in pages] == [1]
    assert "Pencils" in pages[0].page_content and "Office Supplies Order" in pages[0].page_content
    (single,) = load("single")
    assert "<table>" not in single.page_content and ":selected:" in single.page_content


def test_document_intelligence_sdk_layout(server: Server) -> None:
    client = DocumentIntelligenceClient(endpoint=server.url, credential=AzureKeyCredential(server.key))
    try:
        poller = client.begin_analyze_document(
            "prebuilt-layout", body=order_form(), content_type="application/octet-stream", output=["pdf"]
        )
        result = poller.result()
        # output=pdf on layout (an ocrgw extension): the PDF carries the table's text too
        pdf = b"".join(
            client.get_analyze_result_pdf(model_id="prebuilt-layout", result_id=poller.details["operation_id"])
        )
        layer = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
        assert "Pencils" in layer and "Office Supplies Order" in layer, layer
    finally:
        client.close()
    (table,) = result.tables
    assert (table.row_count, table.column_count) == (4, 3)
    rows = [[""] * 3 for _ in range(4)]
    kinds = {}
    for cell in table.cells:
        rows[cell.row_index][cell.column_index] = cell.content
        kinds[cell.row_index, cell.column_index] = cell.kind or "content"
    _check_table(rows, kinds)
    title = [p for p in result.paragraphs if p.role == "title"]
    assert [p.content for p in title] == ["Office Supplies Order"]
    marks = sorted(result.pages[0].selection_marks, key=lambda m: m.polygon[1])
    assert [m.state for m in marks] == ["selected", "unselected"]
    for m in marks:
        assert result.content[m.span.offset : m.span.offset + m.span.length] in (":selected:", ":unselected:")
    assert result.sections and "/tables/0" in result.sections[0].elements


def test_form_recognizer_33_layout(server: Server) -> None:
    client = DocumentAnalysisClient(server.url, AzureKeyCredential(server.key))
    result = client.begin_analyze_document("prebuilt-layout", order_form()).result()
    (table,) = result.tables
    rows = [[""] * 3 for _ in range(4)]
    kinds = {}
    for cell in table.cells:
        rows[cell.row_index][cell.column_index] = cell.content
        kinds[cell.row_index, cell.column_index] = cell.kind
    _check_table(rows, kinds)
    (page,) = result.pages
    assert sorted(m.state for m in page.selection_marks) == ["selected", "unselected"]
    words = page.lines[0].get_words()  # words inside the line's spans (docintel-layout.md 3.2)
    assert [w.content for w in words] == ["Office", "Supplies", "Order"]
    assert [p.content for p in result.paragraphs if p.role == "title"] == ["Office Supplies Order"]


def test_native_layout_and_markdown_export(server: Server) -> None:
    res = native_result(server, order_form(), "order.png", layout="true")
    (page,) = res["pages"]
    layout = page["layout"]
    (table,) = layout["tables"]
    assert (table["rows"], table["cols"]) == (4, 3)
    texts = {(c["row"], c["col"]): " ".join(page["lines"][i]["text"] for i in c["lines"]) for c in table["cells"]}
    assert texts[1, 0] == "Pencils" and texts[3, 2] == "7.90"
    assert sorted(m["selected"] for m in layout["marks"]) == [False, True]
    assert layout["paragraphs"][0]["role"] == "title"
    url = f"{server.url}/v1/jobs/{res['id']}/result"
    md = httpx.get(url, params={"format": "markdown"}, headers={"X-API-Key": server.key}, timeout=30)
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
    assert md.text.startswith("# Office Supplies Order") and "<th>Quantity</th>" in md.text
    page_html = httpx.get(url, headers={"X-API-Key": server.key, "Accept": "text/html"}, timeout=30)
    assert "<h1>Office Supplies Order</h1>" in page_html.text and "<th>Price</th>" in page_html.text


def test_feature_errors_and_warnings(server: Server) -> None:
    base = f"{server.url}/documentintelligence/documentModels"
    headers = {**server.headers, "Content-Type": "application/octet-stream"}

    def post(model: str, query: str) -> httpx.Response:
        return httpx.post(
            f"{base}/{model}:analyze?api-version=2024-11-30{query}", content=order_form(), headers=headers
        )

    r = post("prebuilt-layout", "&features=foo")
    assert_azure_error(r, 400, "InvalidArgument", "InvalidParameter")
    assert "The parameter features is invalid: 'foo' is not a supported feature." in r.text
    assert_azure_error(post("prebuilt-layout", "&features=queryFields"), 400, "InvalidArgument", "ParameterMissing")
    assert_azure_error(post("prebuilt-read", "&features=keyValuePairs"), 400, "InvalidArgument", "InvalidParameter")
    r = post("prebuilt-layout", "&features=barcodes,keyValuePairs&outputContentFormat=markdown&output=figures")
    assert r.status_code == 202, r.text
    body = poll(server, r.headers["Operation-Location"], timeout=120)
    result = body["analyzeResult"]
    assert result["keyValuePairs"] == [] and result["pages"][0]["barcodes"] == []
    assert [(w["code"], w["target"]) for w in result["warnings"]] == [
        ("FeatureNotSupported", "features"),
        ("FeatureNotSupported", "features"),
        ("FeatureNotSupported", "output"),  # no figure detection: figures is empty, and says so
    ]
    assert result["figures"] == []
    fr = f"{server.url}/formrecognizer/documentModels/prebuilt-layout:analyze?api-version=2023-07-31"
    r = httpx.post(f"{fr}&outputContentFormat=markdown", content=order_form(), headers=headers)
    assert_azure_error(r, 400, "InvalidRequest", "NotSupportedApiVersion")


def test_blank_and_photo_pages_read_with_layout(server: Server) -> None:
    """A page with nothing on it and a noisy photo-like page: layout finds nothing to structure and the
    operation still succeeds, with the arrays clients index into present and empty."""
    rng = np.random.default_rng(7)
    noise = Image.fromarray(rng.integers(0, 255, (600, 800), dtype=np.uint8))
    for img in (Image.new("L", (800, 600), 255), noise):
        buf = io.BytesIO()
        img.save(buf, "PNG")
        base = f"{server.url}/documentintelligence/documentModels/prebuilt-layout:analyze"
        r = httpx.post(
            f"{base}?api-version=2024-11-30&outputContentFormat=markdown",
            content=buf.getvalue(),
            headers={**server.headers, "Content-Type": "application/octet-stream"},
        )
        assert r.status_code == 202, r.text
        body = poll(server, r.headers["Operation-Location"], timeout=120)
        assert body["status"] == "succeeded", body
        result = body["analyzeResult"]
        assert result["tables"] == [] and result["pages"][0]["selectionMarks"] == []
        assert result["pages"][0]["lines"] == [] or img is noise
        assert isinstance(result["paragraphs"], list) and isinstance(result["sections"], list)


def lint_spans(result: dict) -> None:
    """docintel-layout.md §2.4 rules 2-9 on a whole result, counted independently of the server's code."""
    content, unit = result["content"], result["stringIndexType"]
    if unit == "unicodeCodePoint":
        units = list(content)
    elif unit == "utf16CodeUnit":
        raw = content.encode("utf-16-le")
        units = [raw[i : i + 2].decode("utf-16-le", errors="surrogatepass") for i in range(0, len(raw), 2)]
    else:
        units = regex.findall(r"\X", content)

    def text(span: dict) -> str:
        assert span["offset"] >= 0 and span["offset"] + span["length"] <= len(units), span  # rule 9
        return "".join(units[span["offset"] : span["offset"] + span["length"]])

    def ordered(spans: list[dict]) -> None:  # rule 9: siblings sorted, not overlapping
        for a, b in itertools.pairwise(spans):
            assert a["offset"] + a["length"] <= b["offset"], (a, b)

    markdown = result.get("contentFormat") == "markdown"
    pages = result["pages"]
    assert all(len(p["spans"]) == 1 for p in pages)  # rule 8: one span a page, tiling content
    assert pages[0]["spans"][0]["offset"] == 0
    for a, b in itertools.pairwise(pages):
        assert a["spans"][0]["offset"] + a["spans"][0]["length"] == b["spans"][0]["offset"]
    last = pages[-1]["spans"][0]
    assert last["offset"] + last["length"] == len(units)
    for page in pages:
        for w in page["words"]:
            assert text(w["span"]) == w["content"]  # rule 2
        for ln in page["lines"]:
            assert "".join(text(s) for s in ln["spans"]) == ln["content"]  # rule 3
        ordered([w["span"] for w in sorted(page["words"], key=lambda w: w["span"]["offset"])])
        for m in page["selectionMarks"]:  # rule 4
            want = (
                {"selected": "\u2612", "unselected": "\u2610"}
                if markdown
                else {"selected": ":selected:", "unselected": ":unselected:"}
            )
            assert text(m["span"]) == want[m["state"]]
    for table in result["tables"]:  # rule 5
        block = "".join(text(s) for s in table["spans"])
        if markdown:
            assert block.startswith("<table>") and block.endswith("</table>"), block
        for cell in table["cells"]:
            inner = "".join(text(s) for s in cell["spans"])
            assert inner == cell["content"] and inner in block and "<td" not in inner
            assert cell["spans"] or cell["content"] == ""
    for para in result["paragraphs"]:  # rule 7: the span holds the paragraph's text
        rendered = "".join(text(s) for s in para["spans"])
        assert all(line in rendered for line in para["content"].split("\n")), (para, rendered)
    for section in result.get("sections", []):
        assert section["elements"]


@pytest.mark.parametrize(
    ("fmt", "unit"), [("markdown", "textElements"), ("text", "unicodeCodePoint"), ("markdown", "utf16CodeUnit")]
)
def test_layout_spans_obey_the_rules(server: Server, fmt: str, unit: str) -> None:
    base = f"{server.url}/documentintelligence/documentModels/prebuilt-layout:analyze"
    r = httpx.post(
        f"{base}?api-version=2024-11-30&outputContentFormat={fmt}&stringIndexType={unit}",
        content=order_form(),
        headers={**server.headers, "Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 202, r.text
    body = poll(server, r.headers["Operation-Location"], timeout=120)
    lint_spans(body["analyzeResult"])
