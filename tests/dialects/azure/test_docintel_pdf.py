"""Document Intelligence `output=pdf` (shared/contracts/docintel-layout.md §1, §4, §5): paperless-ngx's
remote-OCR call sequence with the official `azure-ai-documentintelligence` SDK, unchanged but for the
endpoint (base64 JSON body, `output=[PDF]`, `poller.details["operation_id"]`, the PDF download under the
hard-coded `prebuilt-read`), on a PNG, a GIF and a scanned 3-page PDF; and the PDF GET's errors."""

from __future__ import annotations

import io
import subprocess

import httpx
import pikepdf
import pytest
from azure.ai.documentintelligence import DocumentIntelligenceClient
from azure.ai.documentintelligence.models import AnalyzeDocumentRequest, AnalyzeOutputOption, DocumentContentFormat
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from PIL import Image
from pypdf import PdfReader
from rapidfuzz.distance import Levenshtein
from tests.bodies import assert_azure_error
from tests.conftest import Server, doc, poll
from tests.test_documents import pdf_bytes, text_page

API = "api-version=2024-11-30"
ANALYZE = "/documentintelligence/documentModels/prebuilt-read:analyze"


def cer(hyp: str, ref: str) -> float:
    h, r = " ".join(hyp.split()).casefold(), " ".join(ref.split()).casefold()
    return Levenshtein.distance(h, r) / max(1, len(r))


def paperless(server: Server, data: bytes) -> tuple[str, bytes]:
    """What paperless-ngx's RemoteDocumentParser does with an `azureai` engine: the whole file as a
    base64 JSON body to prebuilt-read with text content and a PDF, wait, then download the PDF under the
    hard-coded model id. Returns (result.content, the PDF's bytes)."""
    client = DocumentIntelligenceClient(endpoint=server.url, credential=AzureKeyCredential(server.key))
    try:
        poller = client.begin_analyze_document(
            model_id="prebuilt-read",
            body=AnalyzeDocumentRequest(bytes_source=data),
            output_content_format=DocumentContentFormat.TEXT,
            output=[AnalyzeOutputOption.PDF],
            content_type="application/json",
        )
        poller.wait()
        result_id = poller.details["operation_id"]
        result = poller.result()
        pdf = b"".join(client.get_analyze_result_pdf(model_id="prebuilt-read", result_id=result_id))
        return result.content, pdf
    finally:
        client.close()


def _gif(path: str) -> bytes:
    buf = io.BytesIO()
    with Image.open(doc(path)) as im:
        im.convert("L").save(buf, "GIF")
    return buf.getvalue()


BORN = ["Quarterly report of the gateway", "Sales rose by eleven percent in the third quarter"]


def _born_digital_pdf() -> bytes:
    """A one-page PDF whose text is real text (Helvetica), as a word processor writes it."""
    pdf = pikepdf.new()
    helvetica = pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica)
    ops = b"BT /F1 18 Tf 72 740 Td 24 TL " + b" ".join(b"(%s) Tj T*" % t.encode() for t in BORN) + b" ET\n"
    page = pikepdf.Dictionary(
        Type=pikepdf.Name.Page,
        MediaBox=[0, 0, 612, 792],
        Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=helvetica)),
        Contents=pikepdf.Stream(pdf, ops),
    )
    pdf.pages.append(pikepdf.Page(page))
    buf = io.BytesIO()
    pdf.save(buf)
    return buf.getvalue()


def _scanned_pdf() -> bytes:
    pages = [
        text_page(
            [f"Page {n} of the scanned letter", "The quick brown fox jumps over", "the lazy dog near the river."],
            size=(1700, 700),
        )
        for n in (1, 2, 3)
    ]
    return pdf_bytes(pages)


def test_paperless_sequence_on_a_born_digital_pdf_keeps_its_own_text_once(server: Server) -> None:
    content, pdf = paperless(server, _born_digital_pdf())
    assert all(line in content for line in BORN), content
    (page,) = PdfReader(io.BytesIO(pdf)).pages
    text = page.extract_text()
    assert all(text.count(line) == 1 for line in BORN), text  # no second layer on top of its own


@pytest.mark.parametrize("kind", ["png", "gif", "pdf3"])
def test_paperless_sequence_gets_text_and_a_searchable_pdf(server: Server, kind: str) -> None:
    data = {
        "png": lambda: doc("page/letter_de.png").read_bytes(),
        "gif": lambda: _gif("page/tess_phototest.tif"),
        "pdf3": _scanned_pdf,
    }[kind]()
    content, pdf = paperless(server, data)
    assert pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == (3 if kind == "pdf3" else 1)
    layer = "\n".join(page.extract_text() for page in reader.pages)
    # the text layer says what the JSON says, word spaces and all (paperless indexes one, shows the other)
    assert cer(layer, content) <= 0.01, (layer[:300], content[:300])
    if kind == "pdf3":
        assert [p.extract_text().split("\n")[0].strip() for p in reader.pages] == [
            f"Page {n} of the scanned letter" for n in (1, 2, 3)
        ]
    for page in reader.pages:
        assert page.extract_text().strip()  # every page yields text (some pipelines check exactly this)
    # poppler too: words kept apart, lines kept apart
    text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True).stdout
    assert cer(text.decode(), content) <= 0.02


def test_pdf_get_errors_are_the_service_404s(server: Server) -> None:
    """Not asked for, unknown id: 404 JSON without Retry-After; the SDK raises ResourceNotFoundError."""
    client = DocumentIntelligenceClient(endpoint=server.url, credential=AzureKeyCredential(server.key))
    try:
        ops = httpx.post(
            f"{server.url}{ANALYZE}?{API}",
            content=doc("line/uw3_0768_010009.png").read_bytes(),
            headers={**server.headers, "Content-Type": "application/octet-stream"},
            timeout=60,
        )
        assert ops.status_code == 202
        result_id = ops.headers["Operation-Location"].split("/")[-1].split("?")[0]
        assert poll(server, ops.headers["Operation-Location"])["status"] == "succeeded"
        with pytest.raises(ResourceNotFoundError) as err:
            b"".join(client.get_analyze_result_pdf(model_id="prebuilt-read", result_id=result_id))
        assert "Analyze result does not exist" in str(err.value)
        r = httpx.get(
            f"{server.url}/documentintelligence/documentModels/prebuilt-read/analyzeResults/{result_id}/pdf?{API}",
            headers=server.headers,
            timeout=30,
        )
        assert r.status_code == 404 and "Retry-After" not in r.headers
        assert r.json() == {"error": {"code": "NotFound", "message": "Analyze result does not exist."}}
        unknown = "00000000-0000-4000-8000-000000000000"
        with pytest.raises(ResourceNotFoundError):
            b"".join(client.get_analyze_result_pdf(model_id="prebuilt-read", result_id=unknown))
    finally:
        client.close()


def _broken_png() -> bytes:
    """A PNG whose header and size are sound (intake accepts it) and whose pixel data is not: the
    worker fails the job."""
    buf = io.BytesIO()
    Image.new("L", (400, 200), 255).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    at = data.find(b"IDAT")
    data[at + 8 : at + 20] = bytes(12)
    return bytes(data)


def test_pdf_of_a_failed_job_is_the_service_404_and_the_server_keeps_serving(server: Server) -> None:
    """paperless-ngx's sequence on a file the worker cannot decode: the poller raises the operation's
    error (not a 500), and the PDF download that follows raises ResourceNotFoundError."""
    client = DocumentIntelligenceClient(endpoint=server.url, credential=AzureKeyCredential(server.key))
    try:
        poller = client.begin_analyze_document(
            model_id="prebuilt-read",
            body=AnalyzeDocumentRequest(bytes_source=_broken_png()),
            output=[AnalyzeOutputOption.PDF],
            content_type="application/json",
        )
        with pytest.raises(HttpResponseError) as err:
            poller.result()
        assert "not a valid image" in str(err.value)
        result_id = poller.details["operation_id"]
        with pytest.raises(ResourceNotFoundError) as missing:
            b"".join(client.get_analyze_result_pdf(model_id="prebuilt-read", result_id=result_id))
        assert "Analyze result does not exist" in str(missing.value)
        r = httpx.get(
            f"{server.url}/documentintelligence/documentModels/prebuilt-read/analyzeResults/{result_id}/pdf?{API}",
            headers=server.headers,
            timeout=30,
        )
        assert r.status_code == 404 and "Retry-After" not in r.headers
        assert r.json()["error"]["code"] == "NotFound"
        assert "The operation failed" in r.json()["error"]["message"]
        content, pdf = paperless(server, doc("line/uw3_0768_010009.png").read_bytes())  # still serving
        assert content.strip() and pdf.startswith(b"%PDF")
    finally:
        client.close()


def test_output_parameter_errors(server: Server) -> None:
    def post(query: str, path: str = ANALYZE) -> httpx.Response:
        return httpx.post(
            f"{server.url}{path}?{query}",
            content=doc("line/uw3_0768_010009.png").read_bytes(),
            headers={**server.headers, "Content-Type": "application/octet-stream"},
            timeout=60,
        )

    r = post(f"{API}&output=docx")
    assert_azure_error(r, 400, "InvalidArgument", "InvalidParameter")
    assert "The parameter output is invalid" in r.text
    r = post(f"{API}&output=figures")  # figures come from layout, not read
    assert_azure_error(r, 400, "InvalidArgument", "InvalidParameter")
    assert "figures output is not supported by model 'prebuilt-read'" in r.text
    fr = "/formrecognizer/documentModels/prebuilt-read:analyze"
    r = post("api-version=2023-07-31&output=pdf", fr)  # no output before 2024-11-30
    assert_azure_error(r, 400, "InvalidRequest", "NotSupportedApiVersion")
    assert post(f"{API}&output=PDF").status_code == 202  # compared case-insensitively


def test_sdk_raises_for_bad_output(server: Server) -> None:
    client = DocumentIntelligenceClient(endpoint=server.url, credential=AzureKeyCredential(server.key))
    try:
        with pytest.raises(HttpResponseError) as err:
            client.begin_analyze_document("prebuilt-read", body=b"\x89PNG", output=["bogus"])
        assert err.value.status_code == 400
    finally:
        client.close()
