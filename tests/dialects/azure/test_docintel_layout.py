"""Document Intelligence / Form Recognizer `prebuilt-layout` end to end (shared/contracts/docintel-layout.md
§1-§4): LangChain's AzureAIDocumentIntelligenceLoader in its three modes, `azure-ai-documentintelligence`
and `azure-ai-formrecognizer` 3.3 returning tables, header cells, selection marks and a title, unchanged
but for the endpoint, against real servers; figures as azure-search-openai-demo asks for them (`output=
figures`, markdown `<figure>` blocks, the crops from `get_analyze_result_figure`), the figure GET's 404s and
DELETE taking the crops; the native API's `layout` option and its markdown and HTML exports; and the
feature errors and warnings."""

from __future__ import annotations

import functools
import io
import itertools
import json
import math
from pathlib import Path

import httpx
import lxml.html
import numpy as np
import pytest
import regex
from azure.ai.documentintelligence import DocumentIntelligenceClient
from azure.ai.documentintelligence.models import AnalyzeDocumentRequest, AnalyzeOutputOption
from azure.ai.formrecognizer import DocumentAnalysisClient
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import ResourceNotFoundError
from PIL import Image, ImageDraw, ImageFont
from pypdf import PdfReader
from tests.bodies import assert_azure_error
from tests.conftest import ScaleoutServer, Server, doc, native_result, poll
from tests.render_documents import FIGURE_CAPTIONS, FIGURE_CHART, FIGURE_PICTURE

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
    ]
    assert result["figures"] == []  # the order form has none
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
    for figure in result.get("figures", []):  # rule 6: the whole block, its caption and text inside
        block = "".join(text(s) for s in figure["spans"])
        if markdown:
            assert block.startswith("<figure>\n") and block.endswith("\n</figure>"), block
        if "caption" in figure:
            caption = "".join(text(s) for s in figure["caption"]["spans"])
            assert caption == figure["caption"]["content"] and caption in block
            if markdown:
                assert f"<figcaption>{caption}</figcaption>" in block
        for ref in figure["elements"]:
            para = result["paragraphs"][int(ref.rsplit("/", 1)[1])]
            assert "".join(text(s) for s in para["spans"]) in block
    ordered([f["spans"][0] for f in result.get("figures", [])] + [t["spans"][0] for t in result["tables"]])
    for section in result.get("sections", []):
        assert section["elements"]


@pytest.mark.parametrize(
    ("fmt", "unit", "page"),
    [
        ("markdown", "textElements", "order"),
        ("text", "unicodeCodePoint", "order"),
        ("markdown", "utf16CodeUnit", "order"),
        ("markdown", "textElements", "figures"),
        ("text", "utf16CodeUnit", "figures"),
    ],
)
def test_layout_spans_obey_the_rules(server: Server, fmt: str, unit: str, page: str) -> None:
    base = f"{server.url}/documentintelligence/documentModels/prebuilt-layout:analyze"
    r = httpx.post(
        f"{base}?api-version=2024-11-30&outputContentFormat={fmt}&stringIndexType={unit}",
        content=order_form() if page == "order" else doc(FIGURES_PAGE).read_bytes(),
        headers={**server.headers, "Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 202, r.text
    body = poll(server, r.headers["Operation-Location"], timeout=120)
    lint_spans(body["analyzeResult"])
    assert len(body["analyzeResult"]["figures"]) == (2 if page == "figures" else 0)


# ---------------------------------------------------------------------------------------------- figures
FIGURES_PAGE = "page/figures_report.png"  # tests/render_documents.py: figure_page()
LAYOUT = "/documentintelligence/documentModels/prebuilt-layout"


def extent(polygon: list[float]) -> tuple[int, int, int, int]:
    """The pixel box a polygon's crop is cut to."""
    xs, ys = polygon[0::2], polygon[1::2]
    return math.floor(min(xs)), math.floor(min(ys)), math.ceil(max(xs)), math.ceil(max(ys))


def covered(inner: tuple[int, ...], outer: tuple[int, ...]) -> float:
    """Share of ``inner`` inside ``outer``."""
    ix = max(0, min(inner[2], outer[2]) - max(inner[0], outer[0]))
    iy = max(0, min(inner[3], outer[3]) - max(inner[1], outer[1]))
    return ix * iy / ((inner[2] - inner[0]) * (inner[3] - inner[1]))


def test_figures_as_the_search_demo_asks_for_them(server: Server) -> None:
    """azure-search-openai-demo's call (bytes_source, ocrHighResolution, output=figures, markdown); the
    figures' captions, text, boxes and ids; each crop from `get_analyze_result_figure` is a PNG of the
    figure's box cut from the page; the markdown's `<figure>` blocks are the figures' spans."""
    data = doc(FIGURES_PAGE).read_bytes()
    client = DocumentIntelligenceClient(endpoint=server.url, credential=AzureKeyCredential(server.key))
    try:
        poller = client.begin_analyze_document(
            model_id="prebuilt-layout",
            body=AnalyzeDocumentRequest(bytes_source=data),
            output=[AnalyzeOutputOption.FIGURES],
            features=["ocrHighResolution"],
            output_content_format="markdown",
        )
        result = poller.result()
        result_id = poller.details["operation_id"]
        crops = [
            b"".join(client.get_analyze_result_figure(model_id=result.model_id, result_id=result_id, figure_id=f.id))
            for f in result.figures
        ]
    finally:
        client.close()
    chart, picture = result.figures
    assert [chart.id, picture.id] == ["1.1", "1.2"]
    assert [f.caption.content for f in (chart, picture)] == list(FIGURE_CAPTIONS)
    chart_text = " ".join(result.paragraphs[int(ref.rsplit("/", 1)[1])].content for ref in chart.elements)
    assert all(name in chart_text for name in ("North", "East", "South", "2025")), chart_text
    assert picture.elements == []
    # boxes: the figure without its caption, in the page's pixels (the demo reads polygon[0], [1], [4], [5])
    for fig, drawn in ((chart, FIGURE_CHART), (picture, FIGURE_PICTURE)):
        (region,) = fig.bounding_regions
        assert region.page_number == 1
        box = extent(region.polygon)
        assert covered(drawn, box) >= 0.9, (box, drawn)
        assert box[3] <= extent(fig.caption.bounding_regions[0].polygon)[1]  # the caption is below, outside
    # the crops: PNGs of the figures' boxes, cut from the page as submitted (in colour: the page is tinted)
    page = Image.open(io.BytesIO(data)).convert("RGB")
    for fig, png in zip((chart, picture), crops, strict=True):
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        crop = Image.open(io.BytesIO(png))
        box = extent(fig.bounding_regions[0].polygon)
        assert crop.size == (box[2] - box[0], box[3] - box[1]) and crop.mode == "RGB"
        assert np.array_equal(np.asarray(crop), np.asarray(page.crop(box)))
    # markdown: each figure's span is its <figure> block, with the caption and its text in it
    content = result.content
    for fig in (chart, picture):
        (span,) = fig.spans
        block = content[span.offset : span.offset + span.length]
        assert block.startswith(f"<figure>\n<figcaption>{fig.caption.content}</figcaption>\n"), block
        assert block.endswith("\n</figure>")
    assert content.count("<figure>") == 2 and "North East South" in content
    (section,) = result.sections
    assert section.elements.count("/figures/0") == 1 and "/figures/1" in section.elements
    assert not [ref for ref in section.elements for f in result.figures if ref in f.elements]
    assert not result.warnings


def test_figures_of_a_pdf_page_in_inches_and_their_crops(server: Server) -> None:
    """The demo's usual input: a PDF. Polygons are in inches (the demo multiplies them by 72 to crop), ids
    carry the page number and restart on each page, and each crop is the figure rendered at the DPI the page
    was read at (300)."""
    from tests.test_documents import pdf_bytes, text_page

    figures_page = Image.open(doc(FIGURES_PAGE)).convert("RGB")
    data = pdf_bytes([text_page(["A page without figures."]).convert("RGB"), figures_page], dpi=150)
    client = DocumentIntelligenceClient(endpoint=server.url, credential=AzureKeyCredential(server.key))
    try:
        poller = client.begin_analyze_document(
            "prebuilt-layout", body=data, content_type="application/pdf", output=[AnalyzeOutputOption.FIGURES]
        )
        result = poller.result()
        pngs = [
            b"".join(client.get_analyze_result_figure("prebuilt-layout", poller.details["operation_id"], f.id))
            for f in result.figures
        ]
    finally:
        client.close()
    assert [p.unit for p in result.pages] == ["inch", "inch"]
    assert [f.id for f in result.figures] == ["2.1", "2.2"]
    for fig, drawn, png in zip(result.figures, (FIGURE_CHART, FIGURE_PICTURE), pngs, strict=True):
        (region,) = fig.bounding_regions
        assert region.page_number == 2
        inches = list(region.polygon)
        assert covered(drawn, extent([v * 150 for v in inches])) >= 0.9  # in the 150-dpi page's pixels
        crop = Image.open(io.BytesIO(png))
        x0, y0, x1, y1 = (v * 300 for v in (min(inches[0::2]), min(inches[1::2]), max(inches[0::2]), max(inches[1::2])))
        assert abs(crop.size[0] - (x1 - x0)) <= 2 and abs(crop.size[1] - (y1 - y0)) <= 2, (crop.size, x1 - x0, y1 - y0)
        source = figures_page.crop(extent([v * 150 for v in inches])).resize(crop.size)
        diff = np.abs(np.asarray(crop.convert("RGB"), dtype=np.int16) - np.asarray(source, dtype=np.int16))
        assert diff.mean() < 12, diff.mean()  # the same picture, rendered at twice the resolution


def _blob_exists(server: Server, key: str) -> bool:
    if isinstance(server, ScaleoutServer):  # the database blob store
        return server.query("select count(*) from blob_chunks where key = :key", key=key) != [(0,)]
    return (server.data_dir / "blobs" / key[:2] / key).exists()


def test_figure_get_errors_and_delete_takes_the_crops(server: Server) -> None:
    """Not asked for, unknown figure, deleted result: 404 JSON without Retry-After, as for the PDF GET."""
    data = doc(FIGURES_PAGE).read_bytes()
    headers = {**server.headers, "Content-Type": "application/octet-stream"}

    def analyze(query: str) -> str:
        r = httpx.post(f"{server.url}{LAYOUT}:analyze?api-version=2024-11-30{query}", content=data, headers=headers)
        assert r.status_code == 202, r.text
        assert poll(server, r.headers["Operation-Location"], timeout=120)["status"] == "succeeded"
        return r.headers["Operation-Location"].split("/")[-1].split("?")[0]

    def figure(result_id: str, figure_id: str) -> httpx.Response:
        url = f"{server.url}{LAYOUT}/analyzeResults/{result_id}/figures/{figure_id}?api-version=2024-11-30"
        return httpx.get(url, headers=server.headers, timeout=30)

    plain = analyze("&outputContentFormat=markdown")  # figures found, no crops asked for
    r = figure(plain, "1.1")
    assert r.status_code == 404 and "Retry-After" not in r.headers
    assert r.json()["error"]["code"] == "NotFound"
    assert r.json()["error"]["message"].startswith("Analyze result does not exist.")
    client = DocumentIntelligenceClient(endpoint=server.url, credential=AzureKeyCredential(server.key))
    try:
        with pytest.raises(ResourceNotFoundError):
            b"".join(client.get_analyze_result_figure(model_id="prebuilt-layout", result_id=plain, figure_id="1.1"))
    finally:
        client.close()

    cropped = analyze("&output=figures")
    ok = figure(cropped, "1.2")
    assert ok.status_code == 200 and ok.headers["content-type"] == "image/png" and ok.content.startswith(b"\x89PNG")
    for unknown in ("1.3", "2.1", "0.1", "figure"):
        r = figure(cropped, unknown)
        assert r.status_code == 404 and "Retry-After" not in r.headers and r.json()["error"]["code"] == "NotFound"
    ((analysis,),) = server.query("select analysis from jobs where id = :id", id=cropped)
    keys = list((json.loads(analysis) if isinstance(analysis, str) else analysis)["figures"].values())
    assert len(keys) == 2 and all(_blob_exists(server, k) for k in keys)
    url = f"{server.url}{LAYOUT}/analyzeResults/{cropped}?api-version=2024-11-30"
    assert httpx.delete(url, headers=server.headers, timeout=30).status_code == 204
    assert_azure_error(figure(cropped, "1.2"), 404, "NotFound", "OperationNotFound")
    assert not any(_blob_exists(server, k) for k in keys)


def test_native_layout_figures_in_json_markdown_and_html(server: Server) -> None:
    res = native_result(server, doc(FIGURES_PAGE).read_bytes(), "figures.png", layout="true")
    (page,) = res["pages"]
    layout = page["layout"]
    chart, picture = layout["figures"]
    caption_lines = [layout["paragraphs"][f["caption"]]["lines"] for f in (chart, picture)]
    assert [" ".join(page["lines"][i]["text"] for i in lines) for lines in caption_lines] == list(FIGURE_CAPTIONS)
    assert picture["paragraphs"] == [] and chart["paragraphs"]
    url = f"{server.url}/v1/jobs/{res['id']}/result"
    md = httpx.get(url, params={"format": "markdown"}, headers={"X-API-Key": server.key}, timeout=30).text
    assert f"<figure>\n<figcaption>{FIGURE_CAPTIONS[0]}</figcaption>\n\n" in md
    assert f"<figure>\n<figcaption>{FIGURE_CAPTIONS[1]}</figcaption>\n\n</figure>" in md
    page_html = httpx.get(url, headers={"X-API-Key": server.key, "Accept": "text/html"}, timeout=30).text
    body = lxml.html.document_fromstring(page_html).body
    assert [f.find("figcaption").text for f in body.iter("figure")] == list(FIGURE_CAPTIONS)
