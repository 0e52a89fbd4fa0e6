"""Whole documents through a real server: PDFs (page selection, inches, encrypted/truncated/too long),
multi-page TIFFs, pages turned by 90/180/270 degrees, German and French text, reading order on a real
multi-column page, and a worker killed mid-document resuming at its first unfinished page."""

from __future__ import annotations

import io
import itertools
import sqlite3
import time
from pathlib import Path

import httpx
import numpy as np
import psutil
import pytest
from PIL import Image, ImageDraw, ImageFont
from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from tests.bodies import assert_azure_error
from tests.conftest import Server, doc, manifest_row, poll, slow_page_image, submit_and_wait

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
PAGE_TEXTS = [
    ["Quarterly report for the first page", "Revenue grew in every region"],
    ["Second page describes the warehouse", "Seven trucks arrived on Monday"],
    ["Third page lists the open questions", "Nobody answered the last letter"],
]


def font(size: int) -> ImageFont.ImageFont:
    return ImageFont.truetype(str(DEJAVU), size) if DEJAVU.exists() else ImageFont.load_default(size=size)


def text_page(lines: list[str], size: tuple[int, int] = (1700, 2200), pt: int = 44) -> Image.Image:
    """A letter-sized page at 200 DPI with the given lines."""
    img = Image.new("L", size, 255)
    draw = ImageDraw.Draw(img)
    for i, text in enumerate(lines):
        draw.text((150, 200 + i * 110), text, fill=0, font=font(pt))
    return img


def pdf_bytes(pages: list[Image.Image], dpi: int = 200) -> bytes:
    buf = io.BytesIO()
    pages[0].save(buf, "PDF", save_all=True, append_images=pages[1:], resolution=dpi)
    return buf.getvalue()


def tiff_bytes(pages: list[Image.Image]) -> bytes:
    buf = io.BytesIO()
    pages[0].save(buf, "TIFF", save_all=True, append_images=pages[1:], compression="tiff_lzw", dpi=(200, 200))
    return buf.getvalue()


def norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def cer(hyp: str, ref: str) -> float:
    return Levenshtein.distance(norm(hyp), norm(ref)) / max(1, len(norm(ref)))


def page_text(page: dict) -> str:
    return "\n".join(line["text"] for line in page["lines"])


# --------------------------------------------------------------------------------------------- PDF
def test_sdk_reads_pages_2_and_3_of_a_pdf_in_inches(server: Server, tmp_path: Path) -> None:
    from azure.cognitiveservices.vision.computervision import ComputerVisionClient
    from msrest.authentication import CognitiveServicesCredentials

    path = tmp_path / "three.pdf"
    path.write_bytes(pdf_bytes([text_page(t) for t in PAGE_TEXTS]))
    client = ComputerVisionClient(server.url, CognitiveServicesCredentials(server.key))
    with open(path, "rb") as f:
        raw = client.read_in_stream(f, pages=["2-3"], raw=True)
    operation_id = raw.headers["Operation-Location"].split("/")[-1]
    deadline = time.monotonic() + 120
    while (result := client.get_read_result(operation_id)).status in ("notStarted", "running"):
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert result.status == "succeeded"
    pages = result.analyze_result.read_results
    assert [p.page for p in pages] == [2, 3]
    for page, expected in zip(pages, PAGE_TEXTS[1:], strict=True):
        assert page.unit == "inch"
        assert page.width == pytest.approx(8.5, abs=0.01) and page.height == pytest.approx(11.0, abs=0.01)
        assert [ln.text for ln in page.lines] == expected
        first = page.lines[0].bounding_box
        # 150 px at 200 DPI from the left edge, 200 px from the top: 0.75 in, 1.0 in.
        assert first[0] == pytest.approx(0.75, abs=0.1) and first[1] == pytest.approx(1.0, abs=0.15)
        assert all(0 <= x <= 8.5 for x in first[0::2]) and all(0 <= y <= 11 for y in first[1::2])


def test_encrypted_truncated_and_too_long_pdfs(make_server, tmp_path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    srv = make_server(workers=1, env={"OCRGW_MAX_PAGES": "2"}).start()
    plain = pdf_bytes([text_page(t) for t in PAGE_TEXTS[:2]])
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(plain)))
    writer.encrypt(user_password="secret", algorithm="RC4-128")
    encrypted = io.BytesIO()
    writer.write(encrypted)

    def submit(body: bytes) -> httpx.Response:
        return httpx.post(
            f"{srv.url}/vision/v3.2/read/analyze",
            content=body,
            timeout=60,
            headers={**srv.headers, "Content-Type": "application/octet-stream"},
        )

    err = assert_azure_error(submit(encrypted.getvalue()), 400, "InvalidRequest", "InvalidImage")
    assert "encrypted" in err["message"]
    err = assert_azure_error(submit(plain[: len(plain) // 3]), 400, "InvalidRequest", "InvalidImageFormat")
    assert "corrupt or truncated" in err["message"]
    err = assert_azure_error(
        submit(pdf_bytes([text_page(t) for t in PAGE_TEXTS])), 400, "InvalidRequest", "InvalidImage"
    )
    assert "3 pages" in err["message"]
    # ... and the server keeps serving: the two-page PDF reads fine.
    r = submit(plain)
    assert r.status_code == 202
    body = poll(srv, r.headers["Operation-Location"])
    assert [p["page"] for p in body["analyzeResult"]["readResults"]] == [1, 2]


# -------------------------------------------------------------------------------------------- TIFF
def test_multi_page_tiff_gives_one_result_per_page(server: Server) -> None:
    body = submit_and_wait(server, tiff_bytes([text_page(t) for t in PAGE_TEXTS]))
    pages = body["analyzeResult"]["readResults"]
    assert [p["page"] for p in pages] == [1, 2, 3]
    assert [[ln["text"] for ln in p["lines"]] for p in pages] == PAGE_TEXTS
    assert all(p["unit"] == "pixel" and (p["width"], p["height"]) == (1700, 2200) for p in pages)


def test_page_selection_on_a_tiff(server: Server) -> None:
    body = submit_and_wait(server, tiff_bytes([text_page(t) for t in PAGE_TEXTS]), query="?pages=-1,3-")
    assert [p["page"] for p in body["analyzeResult"]["readResults"]] == [1, 3]


# ------------------------------------------------------------------------------------- orientation
@pytest.mark.parametrize("turn, angle", [(90, 90.0), (180, 180.0), (270, -90.0)])
def test_turned_page_reads_like_the_upright_one(server: Server, turn: int, angle: float) -> None:
    path = doc("page/tess_phototest.tif")
    upright = Image.open(path).convert("L")
    ref = manifest_row("page/tess_phototest.tif")["text"]

    def read(img: Image.Image) -> dict:
        buf = io.BytesIO()
        img.save(buf, "PNG")
        return submit_and_wait(server, buf.getvalue())["analyzeResult"]["readResults"][0]

    base = read(upright)
    turned = read(upright.rotate(-turn, expand=True))  # PIL turns anticlockwise: this is `turn` clockwise
    assert abs(base["angle"]) < 1
    assert turned["angle"] == pytest.approx(angle, abs=1.0)
    assert cer(page_text(turned), ref) <= cer(page_text(base), ref) + 0.02
    assert (turned["width"], turned["height"]) == (
        (base["height"], base["width"]) if turn != 180 else (base["width"], base["height"])
    )
    # Boxes are in the turned page's own pixels, corners in reading order: the first line's top edge
    # runs the way the text does (down the page for 90, up for 270, leftwards for 180).
    tl_x, tl_y, tr_x, tr_y = turned["lines"][0]["boundingBox"][:4]
    direction = {90: (0, 1), 180: (-1, 0), 270: (0, -1)}[turn]
    assert np.sign(tr_x - tl_x) == direction[0] and np.sign(tr_y - tl_y) == direction[1]
    w, h = turned["width"], turned["height"]
    for line in turned["lines"]:
        box = line["boundingBox"]
        assert all(-2 <= x <= w + 2 for x in box[0::2]) and all(-2 <= y <= h + 2 for y in box[1::2])


# --------------------------------------------------------------------------------------- languages
GERMAN = ["Die Größe der Straße überrascht", "Jürgen Müller aß süße Äpfel"]
FRENCH = ["Le garçon élève où Noël préfère", "la fenêtre du château à côté"]


@pytest.mark.parametrize("code, lines", [("de", GERMAN), ("fr", FRENCH)])
def test_german_and_french_accents(server: Server, code: str, lines: list[str]) -> None:
    buf = io.BytesIO()
    text_page(lines, size=(1400, 500), pt=48).save(buf, "PNG")
    body = submit_and_wait(server, buf.getvalue(), query=f"?language={code}")
    page = body["analyzeResult"]["readResults"][0]
    assert page["language"] == code
    assert [ln["text"] for ln in page["lines"]] == lines


def test_several_languages_at_once(server: Server) -> None:
    buf = io.BytesIO()
    text_page([GERMAN[0], FRENCH[0], "The quick brown fox"], size=(1400, 600), pt=48).save(buf, "PNG")
    body = submit_and_wait(server, buf.getvalue(), query="?language=de,fr,en")
    assert [ln["text"] for ln in body["analyzeResult"]["readResults"][0]["lines"]] == [
        GERMAN[0],
        FRENCH[0],
        "The quick brown fox",
    ]


def test_languages_endpoint(server: Server) -> None:
    body = httpx.get(f"{server.url}/v1/languages").json()
    models = {lang["model"]: lang["codes"] for lang in body["languages"]}
    assert {"eng", "deu", "fra"} <= set(models) and "osd" not in models
    assert "de" in models["deu"] and "fr" in models["fra"] and "en" in models["eng"]
    assert body["default"] == "eng"


def test_missing_language_model_is_refused_at_submit(server: Server) -> None:
    buf = io.BytesIO()
    text_page(["nothing"], size=(400, 200)).save(buf, "PNG")
    r = httpx.post(
        f"{server.url}/vision/v3.2/read/analyze?language=en,ja",
        content=buf.getvalue(),
        headers={**server.headers, "Content-Type": "application/octet-stream"},
    )
    err = assert_azure_error(r, 400, "InvalidRequest", "NotSupportedLanguage")
    assert "tesseract-ocr-jpn" in err["message"]


# ----------------------------------------------------------------------------------- reading order
def _gt_line_positions(gt: str, ocr_lines: list[str]) -> list[int]:
    """For each substantial ground-truth line, the index of the OCR line that matches it."""
    positions = []
    for line in gt.splitlines():
        if len(line) < 25:
            continue
        best = max(range(len(ocr_lines)), key=lambda i: fuzz.ratio(line, ocr_lines[i]))
        if fuzz.ratio(line, ocr_lines[best]) > 80:
            positions.append(best)
    return positions


def test_both_reading_orders_read_columns_one_after_another(server: Server) -> None:
    image = "multicol/report_two_column.jpg"
    row = manifest_row(image)
    data = doc(image).read_bytes()
    results = {}
    for order in ("natural", "basic"):
        page = submit_and_wait(server, data, query=f"?readingOrder={order}")["analyzeResult"]["readResults"][0]
        ocr = [ln["text"] for ln in page["lines"]]
        pos = _gt_line_positions(row["text"], ocr)
        assert len(pos) > 40
        # share of consecutive ground-truth lines that are also consecutive in the output
        adjacent = sum(1 for a, b in itertools.pairwise(pos) if b == a + 1) / (len(pos) - 1)
        results[order] = (cer("\n".join(ocr), row["text"]), adjacent, pos)
    natural_cer, natural_adj, natural_pos = results["natural"]
    basic_cer, basic_adj, basic_pos = results["basic"]
    assert natural_pos == sorted(natural_pos), "natural order must follow the columns"
    assert natural_adj > 0.9 and natural_cer < 0.05
    # basic reads rows left to right, but inside each column: the columns stay whole (issue 7)
    assert basic_pos == sorted(basic_pos), "basic order must keep the columns whole"
    assert basic_adj > 0.9 and basic_cer < 0.05


# ------------------------------------------------------------------------------------------ resume
def test_worker_killed_mid_document_resumes_at_the_first_unfinished_page(make_server) -> None:
    pages = [slow_page_image().convert("L")] * 4
    srv = make_server(workers=1).start()
    r = httpx.post(
        f"{srv.url}/vision/v3.2/read/analyze",
        content=tiff_bytes(pages),
        headers={**srv.headers, "Content-Type": "application/octet-stream"},
        timeout=60,
    )
    loc = r.headers["Operation-Location"]
    job_id = loc.rsplit("/", 1)[1]
    db = srv.data_dir / "ocrgw.db"

    def rows(sql: str) -> list[tuple]:
        with sqlite3.connect(db) as conn:
            return conn.execute(sql, (job_id,)).fetchall()

    deadline = time.monotonic() + 60
    while not rows("select 1 from pages where job_id = ?"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    for pid in srv.worker_pids():
        psutil.Process(pid).kill()
    before = dict(rows("select page_no, id from pages where job_id = ?"))
    assert 1 <= len(before) < 4
    assert rows("select pages_done, pages_total from jobs where id = ?") == [(len(before), 4)]
    body = poll(srv, loc, timeout=180)
    assert body["status"] == "succeeded"
    assert [p["page"] for p in body["analyzeResult"]["readResults"]] == [1, 2, 3, 4]
    after = dict(rows("select page_no, id from pages where job_id = ?"))
    assert {no: after[no] for no in before} == before, "pages done before the crash were redone"
    assert rows("select attempts, pages_done from jobs where id = ?") == [(2, 4)]


# ------------------------------------------------------------------------------------------ memory
def _peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def test_long_pdf_and_big_upload_stay_within_memory_bounds(make_server, tmp_path: Path) -> None:
    """Page-at-a-time rendering keeps a worker far under 500 MB on 300-DPI pages, and a 40 MB upload
    streams to disk instead of into the API process (bench/memory.py does the 300-page version)."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument.new()
    for i in range(12):
        one = io.BytesIO()
        text_page(
            [f"Page {i + 1} of a long scanned contract", "Signed by both parties"], size=(2550, 3300), pt=60
        ).save(one, "PDF", resolution=300, quality=75)
        src = pdfium.PdfDocument(one.getvalue())
        doc.import_pages(src)
        src.close()
    pdf_path = tmp_path / "long.pdf"
    doc.save(pdf_path)
    doc.close()
    srv = make_server(workers=1, env={"OCRGW_MAX_UPLOAD_BYTES": str(200 * 1024 * 1024)}).start()
    assert srv.proc is not None
    worker = srv.worker_pids()[0]
    api_before = _peak_mb(srv.proc.pid)
    body = submit_and_wait(srv, pdf_path.read_bytes(), timeout=180)
    pages = body["analyzeResult"]["readResults"]
    assert len(pages) == 12 and pages[11]["lines"][0]["text"] == "Page 12 of a long scanned contract"
    assert _peak_mb(worker) < 500
    big = io.BytesIO()
    text_page(["One very large uncompressed scan"], size=(6400, 6400), pt=120).save(big, "TIFF", compression=None)
    assert big.tell() > 40_000_000
    body = submit_and_wait(srv, big.getvalue(), timeout=180)
    assert body["analyzeResult"]["readResults"][0]["lines"][0]["text"] == "One very large uncompressed scan"
    assert _peak_mb(srv.proc.pid) - api_before < 30, "the API process grew with the upload"


def test_a_local_worker_over_its_memory_limit_is_replaced_after_its_job(make_server) -> None:
    """OCRGW_WORKER_MAX_MEMORY_MB applies to local workers as to Celery's children: a worker holding more
    than the limit after a job is replaced by a fresh process, and the next job is read by that one. The
    limit here is under any warm worker's size, so every job ends its worker."""
    srv = make_server(workers=1, env={"OCRGW_WORKER_MAX_MEMORY_MB": "50"}).start()
    first = srv.worker_pids()
    body = submit_and_wait(srv, doc("receipt/till_clean.jpg").read_bytes(), timeout=120)
    assert body["status"] == "succeeded"
    deadline = time.monotonic() + 60
    while (now := srv.worker_pids()) == first or not now:
        assert time.monotonic() < deadline, "the worker was not replaced"
        time.sleep(0.2)
    assert not psutil.pid_exists(first[0]) or psutil.Process(first[0]).status() == psutil.STATUS_ZOMBIE
    again = submit_and_wait(srv, doc("receipt/till_clean.jpg").read_bytes(), timeout=120)
    assert again["status"] == "succeeded"  # the replacement reads the next job
