"""Form Recognizer 2023-07-31 / Document Intelligence 2024-11-30 `prebuilt-read` (shared/contracts/azure.md
§0, §4-§7): the official SDKs unchanged against real servers, the raw wire contract, spans in every
stringIndexType (pure renderer and end to end), URL and base64 sources, DELETE, and 429 under backlog."""

from __future__ import annotations

import base64
import functools
import http.server
import io
import re
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import regex
from PIL import Image
from rapidfuzz.distance import Levenshtein
from tests.bodies import assert_azure_error
from tests.conftest import Server, doc, manifest_row
from tests.dialects.azure.sdk_clients import document_intelligence_read, form_recognizer_read
from tests.test_documents import pdf_bytes, text_page

from ocrgw.dialects.azure.docintel.render import (
    SpanIndex,
    analyze_result,
    offset_table,
    operation,
    paragraphs_of,
    span_text,
)
from ocrgw.jobs.schemas import JobSpec, JobView, LineResult, PageResult, WordResult
from ocrgw.jobs.states import JobStatus

PHOTOTEST = "page/tess_phototest.tif"
TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?Z$")
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
FR = ("formrecognizer", "2023-07-31")
DI = ("documentintelligence", "2024-11-30")


# ------------------------------------------------------------------------------------------- helpers
def cer(hyp: str, ref: str) -> float:
    h, r = " ".join(hyp.split()).casefold(), " ".join(ref.split()).casefold()
    return Levenshtein.distance(h, r) / max(1, len(r))


def png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


@functools.cache
def small_page() -> bytes:
    return png(text_page(["Hello from the gateway"], size=(900, 300)))


@functools.cache
def big_page() -> bytes:
    lines = [f"Line {i} of a long page that keeps the only worker busy" for i in range(18)]
    return png(text_page(lines))


def analyze_url(srv: Server, api: tuple[str, str] = DI, model: str = "prebuilt-read", query: str = "") -> str:
    return f"{srv.url}/{api[0]}/documentModels/{model}:analyze?api-version={api[1]}{query}"


def submit(
    srv: Server,
    body: bytes | None = None,
    *,
    api: tuple[str, str] = DI,
    query: str = "",
    json_body: dict | None = None,
    content_type: str = "application/octet-stream",
) -> httpx.Response:
    if json_body is not None:
        return httpx.post(analyze_url(srv, api, query=query), json=json_body, headers=srv.headers, timeout=60)
    return httpx.post(
        analyze_url(srv, api, query=query),
        content=small_page() if body is None else body,
        headers={**srv.headers, "Content-Type": content_type},
        timeout=60,
    )


def wait(srv: Server, location: str, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        r = httpx.get(location, headers=srv.headers, timeout=30)
        assert r.status_code == 200, r.text
        body = r.json()
        if body["status"] in ("succeeded", "failed"):
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.1)


def check_spans(result: dict, index_type: str) -> None:
    """Every word/line/page/paragraph span addresses its text in `content`, counted independently of the
    server's code: graphemes via regex \\X, code points via str, UTF-16 via the codec."""
    content = result["content"]

    def addressed(span: dict) -> str:
        off, n = span["offset"], span["length"]
        if index_type == "unicodeCodePoint":
            return content[off : off + n]
        if index_type == "utf16CodeUnit":
            return content.encode("utf-16-le")[2 * off : 2 * (off + n)].decode("utf-16-le")
        return "".join(regex.findall(r"\X", content)[off : off + n])

    assert result["stringIndexType"] == index_type
    for page in result["pages"]:
        for w in page["words"]:
            assert addressed(w["span"]) == w["content"], (index_type, w)
        for ln in page["lines"]:
            assert "".join(addressed(s) for s in ln["spans"]) == ln["content"], (index_type, ln)
    for para in result["paragraphs"]:
        assert "".join(addressed(s) for s in para["spans"]) == para["content"]
    total = (
        sum(1 for _ in regex.finditer(r"\X", content))
        if index_type == "textElements"
        else (len(content) if index_type == "unicodeCodePoint" else len(content.encode("utf-16-le")) // 2)
    )
    last = result["pages"][-1]["spans"][0]
    assert last["offset"] + last["length"] == total


# ---------------------------------------------------------------------------------- pure: span units
def test_span_units_for_combining_marks_emoji_and_devanagari() -> None:
    content = "cafe\u0301 👍🏽 नमस्ते"
    cp = SpanIndex(content, "unicodeCodePoint")
    te = SpanIndex(content, "textElements")
    u16 = SpanIndex(content, "utf16CodeUnit")
    # "café" with a combining acute: 5 code points, 4 text elements, 5 UTF-16 units
    assert cp.span(0, 5) == {"offset": 0, "length": 5}
    assert te.span(0, 5) == {"offset": 0, "length": 4}
    assert u16.span(0, 5) == {"offset": 0, "length": 5}
    # thumbs up + skin tone: 2 code points, 1 text element, 4 UTF-16 units (two surrogate pairs)
    assert cp.span(6, 8) == {"offset": 6, "length": 2}
    assert te.span(6, 8) == {"offset": 5, "length": 1}
    assert u16.span(6, 8) == {"offset": 6, "length": 4}
    # Devanagari: 6 code points, fewer grapheme clusters (virama/vowel signs join), 6 UTF-16 units
    clusters = len(regex.findall(r"\X", "नमस्ते"))
    assert clusters < 6
    assert cp.span(9, 15) == {"offset": 9, "length": 6}
    assert te.span(9, 15) == {"offset": 7, "length": clusters}
    assert u16.span(9, 15) == {"offset": 11, "length": 6}
    for kind in ("textElements", "unicodeCodePoint", "utf16CodeUnit"):
        table = offset_table(content, kind)
        assert table[0] == 0 and table == sorted(table)
        idx = SpanIndex(content, kind)
        for start, end in ((0, 5), (6, 8), (9, 15), (0, len(content))):
            assert span_text(content, idx.span(start, end), kind) == content[start:end]
    with pytest.raises(ValueError):
        offset_table(content, "bytes")


def _view(options: dict[str, str], lines: list[list[str]], status: JobStatus = JobStatus.SUCCEEDED) -> JobView:
    def line(words: list[str], y: int) -> LineResult:
        ws, x = [], 10
        for w in words:
            ws.append(WordResult(w, [x, y, x + 20 * len(w), y, x + 20 * len(w), y + 30, x, y + 30], 0.91))
            x += 20 * len(w) + 15
        return LineResult(" ".join(words), [10, y, x, y, x, y + 30, 10, y + 30], 0.9, ws)

    pages = [
        PageResult(1, 800, 600, "pixel", 0.0, "fr", [], [line(ws, 40 + 40 * i) for i, ws in enumerate(lines)]),
        PageResult(
            2,
            8.5,
            11,
            "inch",
            0.0,
            None,
            [],
            [
                LineResult(
                    "zweite Seite",
                    [1, 1, 3, 1, 3, 1.3, 1, 1.3],
                    0.9,
                    [
                        WordResult("zweite", [1, 1, 2, 1, 2, 1.3, 1, 1.3], 0.9),
                        WordResult("Seite", [2.1, 1, 3, 1, 3, 1.3, 2.1, 1.3], 0.9),
                    ],
                )
            ],
        ),
    ]
    now = datetime(2024, 1, 1, 12, 0, 0, 123000, tzinfo=UTC)
    return JobView(
        id=str(uuid.uuid4()),
        dialect="azure-docintel",
        status=status,
        spec=JobSpec(languages=("deu", "fra"), language_hint="fr", options=options),
        created_at=now,
        updated_at=now,
        attempts=1,
        pages_total=2,
        pages_done=2,
        error_code=None,
        error_message=None,
        pages=pages if status is JobStatus.SUCCEEDED else None,
    )


def test_render_honours_string_index_type_on_combining_marks_and_emoji() -> None:
    lines = [["Cafe\u0301", "👍🏽", "ok"], ["नमस्ते", "dünn"], ["x\U0001f600y"]]
    results = {}
    for kind in ("textElements", "unicodeCodePoint", "utf16CodeUnit"):
        opts = {
            "apiVersion": "2024-11-30",
            "modelId": "prebuilt-read",
            "stringIndexType": kind,
            "features": "languages",
            "outputContentFormat": "text",
        }
        body = operation(_view(opts, lines))
        assert body["status"] == "succeeded" and TS_RE.match(body["createdDateTime"])
        result = body["analyzeResult"]
        check_spans(result, kind)
        results[kind] = result
        assert result["content"] == "Cafe\u0301 👍🏽 ok\nनमस्ते dünn\nx\U0001f600y\nzweite Seite"
        assert result["contentFormat"] == "text" and result["styles"] == []
        assert [p["pageNumber"] for p in result["pages"]] == [1, 2]
        assert result["pages"][0]["unit"] == "pixel" and result["pages"][1]["unit"] == "inch"
        assert all(len(w["polygon"]) == 8 for p in result["pages"] for w in p["words"])
        assert {lang["locale"] for lang in result["languages"]} == {"fr", "de"}
    words = {k: [w["span"] for w in r["pages"][0]["words"]] for k, r in results.items()}
    assert words["textElements"][1] == {"offset": 5, "length": 1}
    assert words["unicodeCodePoint"][1] == {"offset": 6, "length": 2}
    assert words["utf16CodeUnit"][1] == {"offset": 6, "length": 4}
    assert words["textElements"] != words["unicodeCodePoint"] != words["utf16CodeUnit"]


def test_render_paragraphs_markdown_failed_and_running() -> None:
    opts = {
        "apiVersion": "2023-07-31",
        "modelId": "prebuilt-read",
        "stringIndexType": "unicodeCodePoint",
        "features": "",
    }
    result = analyze_result(_view(opts, [["one"], ["two"]]))
    assert "contentFormat" not in result and "languages" not in result  # FR has no contentFormat
    assert [p["content"] for p in result["paragraphs"]] == ["one\ntwo", "zweite Seite"]
    assert result["paragraphs"][0]["boundingRegions"][0]["pageNumber"] == 1
    md = analyze_result(_view({**opts, "outputContentFormat": "markdown"}, [["one"], ["two"]]))
    assert md["contentFormat"] == "markdown" and "<!-- PageBreak -->" in md["content"]
    check_spans(md, "unicodeCodePoint")
    # phototest's geometry: an even line pitch; the first paragraph ends in a short line with a full stop
    rows = [
        (36, 92, 618, 122, "This is a lot of 12 point text to test the"),
        (36, 126, 600, 157, "ocr code and see if it works on all types"),
        (36, 160, 230, 184, "of file format."),
        (36, 194, 560, 225, "The quick brown dog jumped over the"),
        (36, 228, 580, 259, "lazy fox. The end."),
    ]
    page_lines = [LineResult(t, [x0, y0, x1, y0, x1, y1, x0, y1], 0.9) for x0, y0, x1, y1, t in rows]
    assert paragraphs_of(page_lines) == [[0, 1, 2], [3, 4]]
    gap = [*page_lines[:2], LineResult("far below", [36, 400, 300, 400, 300, 430, 36, 430], 0.9)]
    assert paragraphs_of(gap) == [[0, 1], [2]]
    running = operation(_view(opts, [], JobStatus.RUNNING))
    assert running["status"] == "running" and "analyzeResult" not in running
    failed = _view(opts, [], JobStatus.FAILED)
    failed.error_code, failed.error_message = "InvalidDimensions", "Page 2 is too large."
    body = operation(failed)
    assert body["status"] == "failed"
    assert body["error"]["code"] == "InvalidRequest"
    assert body["error"]["innererror"]["code"] == "InvalidContentDimensions"


# ------------------------------------------------------------------------------------------- the SDKs
def test_sdk_results_are_complete(server: Server) -> None:
    """Both SDKs' read flows (`sdk_clients`): apiVersion, modelId, content, page sizes, and every word's
    span addresses the word in `content` in the stringIndexType the SDK asked for (unicodeCodePoint for
    Form Recognizer, textElements for Document Intelligence); the DI poller finds its operation id."""
    for read in (form_recognizer_read, document_intelligence_read):
        reading = read(server.url, server.key, doc(PHOTOTEST))
        assert reading.problems == [], (read.__name__, reading.problems)
        assert "quick brown" in reading.text, reading.text
    assert re.fullmatch(UUID, reading.operation_location), reading.operation_location


def test_sdks_read_real_document(server: Server) -> None:
    from azure.ai.documentintelligence import DocumentIntelligenceClient
    from azure.ai.formrecognizer import DocumentAnalysisClient
    from azure.core.credentials import AzureKeyCredential
    from azure.core.exceptions import ResourceNotFoundError

    row = manifest_row(PHOTOTEST)
    data = doc(PHOTOTEST).read_bytes()
    fr = DocumentAnalysisClient(server.url, AzureKeyCredential(server.key))
    fr_poller = fr.begin_analyze_document("prebuilt-read", io.BytesIO(data))
    di = DocumentIntelligenceClient(server.url + "/", AzureKeyCredential(server.key))  # portal-style endpoint
    di_poller = di.begin_analyze_document("prebuilt-read", body=data)
    op_id = di_poller.details["operation_id"]
    assert re.fullmatch(UUID, op_id)
    fr_result, di_result = fr_poller.result(timeout=120), di_poller.result(timeout=120)

    assert fr_result.api_version == "2023-07-31" and fr_result.model_id == "prebuilt-read"
    assert di_result.api_version == "2024-11-30" and di_result.model_id == "prebuilt-read"
    assert di_result.string_index_type == "textElements" and di_result.content_format == "text"
    for result in (fr_result, di_result):
        page = result.pages[0]
        assert page.page_number == 1 and page.unit == "pixel" and page.width > 0 and page.height > 0
        text = "\n".join(ln.content for ln in page.lines)
        assert result.content == text
        assert cer(text, row["text"]) <= 0.05, text
        assert all(len(w.polygon) in (4, 8) and 0 <= w.confidence <= 1 for w in page.words)
        assert result.styles == []
        assert [p.content.split("\n")[-1] for p in result.paragraphs] == [page.lines[2].content, page.lines[-1].content]
    # FR asks unicodeCodePoint: word spans are str indexes
    for w in fr_result.pages[0].words:
        assert fr_result.content[w.span.offset : w.span.offset + w.span.length] == w.content

    di.delete_analyze_result("prebuilt-read", op_id)
    r = httpx.get(
        f"{server.url}/documentintelligence/documentModels/prebuilt-read/analyzeResults/{op_id}?api-version=2024-11-30",
        headers=server.headers,
    )
    assert_azure_error(r, 404, "NotFound", "OperationNotFound")
    with pytest.raises(ResourceNotFoundError):
        di.delete_analyze_result("prebuilt-read", op_id)


def test_sdk_pdf_page_selection_in_inches(server: Server) -> None:
    from azure.ai.documentintelligence import DocumentIntelligenceClient
    from azure.ai.formrecognizer import DocumentAnalysisClient
    from azure.core.credentials import AzureKeyCredential

    texts = [["First page about apples"], ["Second page about bananas"], ["Third page about cherries"]]
    data = pdf_bytes([text_page(t, size=(1100, 600)) for t in texts])
    di = DocumentIntelligenceClient(server.url, AzureKeyCredential(server.key))
    di_poller = di.begin_analyze_document("prebuilt-read", body=data, pages="2-3")
    fr = DocumentAnalysisClient(server.url, AzureKeyCredential(server.key))
    fr_poller = fr.begin_analyze_document("prebuilt-read", data, pages="2-3")
    for result in (di_poller.result(timeout=120), fr_poller.result(timeout=120)):
        assert [p.page_number for p in result.pages] == [2, 3]
        for page, want in zip(result.pages, texts[1:], strict=True):
            assert page.unit == "inch" and page.width == pytest.approx(5.5, abs=0.05)
            assert cer(" ".join(ln.content for ln in page.lines), want[0]) <= 0.1
        assert "bananas" in result.content and "apples" not in result.content


@pytest.fixture
def files(tmp_path: Path) -> Iterator[str]:
    """A throwaway http.server on 127.0.0.1 serving tmp_path; yields its base URL."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a, **k: None  # type: ignore[method-assign]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_url_and_base64_sources(private_server: Server, files: str, tmp_path: Path) -> None:
    from azure.ai.documentintelligence import DocumentIntelligenceClient
    from azure.ai.documentintelligence.models import AnalyzeDocumentRequest
    from azure.ai.formrecognizer import DocumentAnalysisClient
    from azure.core.credentials import AzureKeyCredential
    from azure.core.exceptions import HttpResponseError

    srv = private_server
    (tmp_path / "page.png").write_bytes(small_page())
    url = f"{files}/page.png"
    fr = DocumentAnalysisClient(srv.url, AzureKeyCredential(srv.key))
    di = DocumentIntelligenceClient(srv.url, AzureKeyCredential(srv.key))
    fr_poller = fr.begin_analyze_document_from_url("prebuilt-read", url, locale="en-US", features=["languages"])
    di_b64 = di.begin_analyze_document(
        "prebuilt-read", AnalyzeDocumentRequest(bytes_source=small_page()), string_index_type="utf16CodeUnit"
    )
    di_url = di.begin_analyze_document(
        "prebuilt-read", AnalyzeDocumentRequest(url_source=url), output_content_format="markdown"
    )
    fr_result = fr_poller.result(timeout=60)
    assert "Hello" in fr_result.content and fr_result.languages[0].locale == "en-US"
    b64_result = di_b64.result(timeout=60)
    assert "Hello" in b64_result.content and b64_result.string_index_type == "utf16CodeUnit"
    url_result = di_url.result(timeout=60)
    assert "Hello" in url_result.content and url_result.content_format == "markdown"

    with pytest.raises(HttpResponseError) as info:  # a URL that is not there
        di.begin_analyze_document("prebuilt-read", AnalyzeDocumentRequest(url_source=f"{files}/missing.png"))
    assert info.value.status_code == 400 and info.value.error.code == "InvalidRequest"
    r = submit(srv, json_body={"base64Source": "not base64!!"})
    assert_azure_error(r, 400, "InvalidRequest", "InvalidContentSourceFormat")
    r = submit(srv, json_body={"urlSource": url, "base64Source": "AAAA"})
    assert_azure_error(r, 400, "InvalidArgument", "InvalidParameter")
    r = submit(srv, json_body={})
    assert_azure_error(r, 400, "InvalidArgument", "ParameterMissing")
    r = submit(srv, json_body={"base64Source": base64.b64encode(b"hello, not an image").decode()})
    assert_azure_error(r, 400, "InvalidRequest", "InvalidContent")


# ------------------------------------------------------------------------------- end to end: non-ASCII
def test_string_index_types_end_to_end_on_german_text(server: Server) -> None:
    body = png(text_page(["Größe über Straße", "Äpfel öffnen Türen"], size=(1200, 400), pt=48))
    locations = {}
    for kind in ("textElements", "unicodeCodePoint", "utf16CodeUnit"):
        r = submit(server, body, query=f"&locale=de&stringIndexType={kind}&features=languages")
        assert r.status_code == 202, r.text
        locations[kind] = r.headers["Operation-Location"]
    results = {kind: wait(server, loc) for kind, loc in locations.items()}
    contents = set()
    for kind, op in results.items():
        assert op["status"] == "succeeded", op
        result = op["analyzeResult"]
        check_spans(result, kind)
        contents.add(result["content"])
        assert not result["content"].isascii(), result["content"]
        assert cer(result["content"], "Größe über Straße\nÄpfel öffnen Türen") <= 0.1, result["content"]
        assert result["languages"][0]["locale"] == "de"
    assert len(contents) == 1
    # Precomposed umlauts and ß are one code point, one UTF-16 unit and one text element each, so for this
    # text the three units agree; the units diverge only on multi-code-point graphemes and astral
    # characters (covered by the pure renderer tests above).
    words = [[w["span"] for p in results[k]["analyzeResult"]["pages"] for w in p["words"]] for k in results]
    assert words[0] == words[1] == words[2]


# ------------------------------------------------------------------------------------------- raw wire
def test_submit_and_poll_wire_shape(server: Server) -> None:
    r = submit(server, big_page())
    assert r.status_code == 202 and r.content == b"", r.text
    assert "location" not in r.headers
    loc = r.headers["Operation-Location"]
    assert re.fullmatch(
        rf"{re.escape(server.url)}/documentintelligence/documentModels/prebuilt-read/"
        rf"analyzeResults/{UUID}\?api-version=2024-11-30",
        loc,
    ), loc
    assert r.headers["Retry-After"].isdigit()
    first = httpx.get(loc, headers=server.headers)
    assert first.status_code == 200 and first.json()["status"] in ("notStarted", "running"), first.text
    assert first.headers["Retry-After"] == "1"
    assert set(first.json()) == {"status", "createdDateTime", "lastUpdatedDateTime"}
    done = wait(server, loc)
    final = httpx.get(loc, headers=server.headers)
    assert final.status_code == 200 and "retry-after" not in final.headers
    assert done["status"] == "succeeded" and TS_RE.match(done["createdDateTime"])
    assert TS_RE.match(done["lastUpdatedDateTime"])
    result = done["analyzeResult"]
    assert result["apiVersion"] == "2024-11-30" and result["stringIndexType"] == "textElements"
    assert result["contentFormat"] == "text" and "languages" not in result
    check_spans(result, "textElements")

    fr = submit(server, api=FR, query="&pages=1%2C1-1&stringIndexType=unicodeCodePoint")
    assert fr.status_code == 202, fr.text
    fr_loc = fr.headers["Operation-Location"]
    assert fr_loc.startswith(f"{server.url}/formrecognizer/documentModels/prebuilt-read/analyzeResults/")
    assert fr_loc.endswith("?api-version=2023-07-31") and "retry-after" not in fr.headers
    fr_result = wait(server, fr_loc)["analyzeResult"]
    assert fr_result["apiVersion"] == "2023-07-31" and "contentFormat" not in fr_result
    old = submit(server, api=("formrecognizer", "2022-08-31"))
    assert old.status_code == 202 and old.headers["Operation-Location"].endswith("?api-version=2022-08-31")
    assert wait(server, old.headers["Operation-Location"])["analyzeResult"]["apiVersion"] == "2022-08-31"
    # FR has no DELETE
    r = httpx.delete(fr_loc, headers=server.headers)
    assert_azure_error(r, 405, "MethodNotAllowed")


def test_wire_errors(server: Server) -> None:
    base = f"{server.url}/documentintelligence/documentModels"
    r = httpx.post(
        f"{base}/prebuilt-invoice:analyze?api-version=2024-11-30",
        content=small_page(),
        headers={**server.headers, "Content-Type": "application/octet-stream"},
    )
    assert_azure_error(r, 404, "NotFound", "ModelNotFound")
    assert_azure_error(submit(server, query="&stringIndexType=bytes"), 400, "InvalidArgument", "InvalidParameter")
    assert_azure_error(submit(server, query="&features=bogus"), 400, "InvalidArgument", "InvalidParameter")
    assert_azure_error(submit(server, query="&outputContentFormat=html"), 400, "InvalidArgument", "InvalidParameter")
    assert_azure_error(submit(server, query="&pages=two"), 400, "InvalidArgument", "InvalidParameter")
    assert_azure_error(submit(server, query="&pages=9"), 400, "InvalidArgument", "InvalidParameter")
    assert_azure_error(submit(server, query="&locale=xx-YY"), 400, "InvalidArgument", "InvalidParameter")
    assert_azure_error(
        submit(server, api=("documentintelligence", "2023-07-31")), 400, "InvalidRequest", "NotSupportedApiVersion"
    )
    r = httpx.post(f"{base}/prebuilt-read:analyze", content=small_page(), headers=server.headers)
    assert_azure_error(r, 400, "InvalidArgument", "ParameterMissing")
    assert_azure_error(submit(server, b"plain words", content_type="text/plain"), 415, "UnsupportedMediaType")
    assert_azure_error(submit(server, b"\x00garbage" * 40), 400, "InvalidRequest", "InvalidContent")
    assert_azure_error(submit(server, b""), 400, "InvalidRequest", "InvalidContentLength")
    r = submit(server, query="&features=ocrHighResolution,languages")  # accepted (the first has no effect)
    assert r.status_code == 202, r.text

    for op in (str(uuid.uuid4()), "not-a-uuid"):
        r = httpx.get(f"{base}/prebuilt-read/analyzeResults/{op}?api-version=2024-11-30", headers=server.headers)
        assert_azure_error(r, 404, "NotFound", "OperationNotFound")
        r = httpx.delete(f"{base}/prebuilt-read/analyzeResults/{op}?api-version=2024-11-30", headers=server.headers)
        assert_azure_error(r, 404, "NotFound", "OperationNotFound")

    r = httpx.post(analyze_url(server), content=small_page(), headers={"Ocp-Apim-Subscription-Key": "wrong"})
    err = assert_azure_error(r, 401, "401")
    assert err["message"].startswith("Access denied due to invalid subscription key")
    assert 'realm="' in r.headers["WWW-Authenticate"] and "/documentintelligence" in r.headers["WWW-Authenticate"]
    r = httpx.get(
        f"{server.url}/formrecognizer/documentModels/prebuilt-read/analyzeResults/{uuid.uuid4()}?api-version=2023-07-31"
    )
    err = assert_azure_error(r, 401, "401")
    assert err["message"].startswith("Access denied due to missing subscription key")
    r = httpx.get(f"{server.url}/documentintelligence/info?api-version=2024-11-30", headers=server.headers)
    assert_azure_error(r, 404, "404")
    r = httpx.get(f"{server.url}/formrecognizer/nothing/here", headers=server.headers)
    assert_azure_error(r, 404, "404")


def test_backlog_full_answers_429_and_accepted_jobs_complete(make_server) -> None:
    srv = make_server(env={"OCRGW_MAX_BACKLOG": "2"}, workers=1).start()
    body = big_page()
    accepted, refused = [], []
    for _ in range(8):
        r = submit(srv, body)
        if r.status_code == 202:
            accepted.append(r.headers["Operation-Location"])
        else:
            assert_azure_error(r, 429, "429")
            assert r.headers["Retry-After"].isdigit() and int(r.headers["Retry-After"]) >= 1
            refused.append(r)
    assert accepted and refused, (len(accepted), len(refused))
    for loc in accepted:
        assert wait(srv, loc, timeout=120)["status"] == "succeeded"
