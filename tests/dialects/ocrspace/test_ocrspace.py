"""OCR.space dialect against a real server (real workers, real Tesseract): the real PyPI `ocrspace`
client (file upload and base64, as people call it), raw multipart/urlencoded/GET calls, overlays, tables, orientation,
PDFs, searchable PDFs checked by reading their text layer back, and OCR.space's error shapes."""

from __future__ import annotations

import base64
import contextlib
import functools
import http.server
import io
import mimetypes
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image, ImageDraw, ImageFont
from rapidfuzz.distance import Levenshtein
from tests.conftest import Server, doc, manifest_row

IMAGE = "page/tess_phototest.tif"
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def cer(hyp: str, ref: str) -> float:
    h, r = " ".join(hyp.split()).casefold(), " ".join(ref.split()).casefold()
    return Levenshtein.distance(h, r) / max(1, len(r))


def text_image(lines: tuple[str, ...] = ("Hello World 2024",), size: tuple[int, int] = (640, 120)) -> Image.Image:
    im = Image.new("L", size, 255)
    font = ImageFont.truetype(FONT, 40) if Path(FONT).exists() else ImageFont.load_default(40)
    draw = ImageDraw.Draw(im)
    for i, line in enumerate(lines):
        draw.text((20, 25 + 60 * i), line, fill=0, font=font)
    return im


def png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


PNG = png(text_image())
TWO_LINES = png(text_image(("Alpha Beta", "Gamma Delta"), (640, 180)))


def post(
    srv: Server,
    *,
    files: dict | None = None,
    data: dict | None = None,
    headers: dict | None = None,
    path: str = "/parse/image",
) -> httpx.Response:
    data = {"apikey": srv.key, **(data or {})}
    return httpx.post(srv.url + path, files=files, data=data, headers=headers, timeout=120)


def ok(r: httpx.Response) -> dict:
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["IsErroredOnProcessing"] is False, body
    assert body["OCRExitCode"] == 1
    assert isinstance(body["ProcessingTimeInMilliseconds"], str) and body["ProcessingTimeInMilliseconds"].isdigit()
    for res in body["ParsedResults"]:
        assert res["FileParseExitCode"] == 1 and res["ErrorMessage"] == "" and res["ErrorDetails"] == ""
        assert isinstance(res["TextOrientation"], str)
    return body


def errored(r: httpx.Response, exit_code: int, status: int = 200) -> list[str]:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["IsErroredOnProcessing"] is True and body["OCRExitCode"] == exit_code, body
    assert isinstance(body["ErrorMessage"], list) and body["ErrorMessage"]
    assert all(isinstance(m, str) for m in body["ErrorMessage"])
    assert isinstance(body["ProcessingTimeInMilliseconds"], str)
    return body["ErrorMessage"]


@pytest.fixture(scope="module")
def srv(private_server: Server) -> Server:
    """The shared embedded server with loopback URL sources allowed (for GET /parse/imageurl). Scale-out is
    covered by test_ocrspace_clients.py (the real clients on both deployments) and the searchable-PDF artifact
    test on PostgreSQL's blob store; running these too on scale-out cost 46 s of the suite's 15-minute budget."""
    return private_server


# ------------------------------------------------------------------------------------ real clients
def pypi_client_reads(srv: Server, path: Path) -> dict[str, str]:
    """The PyPI `ocrspace` client as its README uses it: `ocr_file`, then `ocr_base64` with a data URI, the
    key and language given to the constructor (a fresh instance per call: the base64 and URL calls leave
    their source in the instance's payload). Returns each call's text; the client raises on any error."""
    import ocrspace

    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    data_uri = f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode()
    endpoint = srv.url + "/parse/image"
    return {
        "file": ocrspace.API(endpoint=endpoint, api_key=srv.key, language="eng").ocr_file(str(path)),
        "base64": ocrspace.API(endpoint=endpoint, api_key=srv.key, language="eng").ocr_base64(data_uri),
    }


def test_real_client_file_and_base64(srv: Server) -> None:
    import ocrspace

    path = doc(IMAGE)
    ref = manifest_row(IMAGE)["text"]
    text = ocrspace.API(endpoint=srv.url + "/parse/image", api_key=srv.key).ocr_file(str(path))  # the defaults
    assert cer(text, ref) <= 0.05, text
    for mode, text in pypi_client_reads(srv, path).items():
        assert cer(text, ref) <= 0.05, (mode, text)


def test_real_client_bad_key_is_403_string(srv: Server) -> None:
    import ocrspace

    with pytest.raises(Exception, match="API key is invalid"):
        ocrspace.API(endpoint=srv.url + "/parse/image", api_key="0" * 32).ocr_base64(
            "data:image/png;base64," + base64.b64encode(PNG).decode()
        )
    r = httpx.post(srv.url + "/parse/image", data={"apikey": "nope", "url": "http://127.0.0.1/x.png"}, timeout=30)
    assert r.status_code == 403 and isinstance(r.json(), str)
    r = httpx.post(srv.url + "/parse/image", files={"file": ("a.png", PNG)}, timeout=30)  # no key at all
    assert r.status_code == 403 and isinstance(r.json(), str)


# ------------------------------------------------------------------------------------ sources
def test_odd_part_name_and_header_key(srv: Server) -> None:
    r = httpx.post(
        srv.url + "/parse/image",
        files={r"C:\Users\me\scan.png": ("scan.png", PNG)},
        data={"Language": "ENG", "isOverlayRequired": "False"},
        headers={"apikey": srv.key},
        timeout=120,
    )
    body = ok(r)
    assert "hello world 2024" in body["ParsedResults"][0]["ParsedText"].lower()
    assert body["ParsedResults"][0]["TextOverlay"] == {
        "Lines": [],
        "HasOverlay": False,
        "Message": "Text overlay is not provided as it is not requested",
    }
    assert body["SearchablePDFURL"] == "Searchable PDF not generated as it was not requested."


def test_base64_form_encoded(srv: Server) -> None:
    r = post(srv, data={"base64Image": "data:image/png;base64," + base64.b64encode(PNG).decode()})
    assert "Hello World 2024" in ok(r)["ParsedResults"][0]["ParsedText"]


@contextlib.contextmanager
def file_server(directory: Path) -> Iterator[str]:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    handler.func.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_get_imageurl(srv: Server, tmp_path: Path) -> None:
    (tmp_path / "x.png").write_bytes(PNG)
    with file_server(tmp_path) as base:
        r = httpx.get(
            srv.url + "/parse/ImageUrl",
            params={"apikey": srv.key, "url": base + "/x.png", "OCREngine": "2"},
            timeout=120,
        )
    assert "Hello World 2024" in ok(r)["ParsedResults"][0]["ParsedText"]


# ------------------------------------------------------------------------------------ options
def test_overlay_shape(srv: Server) -> None:
    body = ok(post(srv, files={"filename": ("two.png", TWO_LINES)}, data={"isOverlayRequired": "True"}))
    overlay = body["ParsedResults"][0]["TextOverlay"]
    assert overlay["HasOverlay"] is True and overlay["Message"] == "Total lines: 2"
    lines = overlay["Lines"]
    assert [ln["LineText"] for ln in lines] == ["Alpha Beta", "Gamma Delta"]
    for ln in lines:
        words = ln["Words"]
        assert " ".join(w["WordText"] for w in words) == ln["LineText"]
        for w in words:
            assert set(w) == {"WordText", "Left", "Top", "Height", "Width"}
            assert all(isinstance(w[k], int) for k in ("Left", "Top", "Height", "Width"))
            assert 0 <= w["Left"] < 640 and 0 <= w["Top"] < 180 and 10 < w["Height"] < 70 and w["Width"] > 20
        assert ln["MaxHeight"] == max(w["Height"] for w in words)
        assert ln["MinTop"] == min(w["Top"] for w in words)
    assert 15 <= lines[0]["Words"][0]["Left"] <= 35 and 20 <= lines[0]["MinTop"] <= 45
    assert lines[1]["MinTop"] - lines[0]["MinTop"] in range(45, 75)


def test_is_table_line_endings(srv: Server) -> None:
    body = ok(post(srv, files={"file": ("t.png", TWO_LINES)}, data={"isTable": "true"}))
    text = body["ParsedResults"][0]["ParsedText"]
    assert text == "Alpha Beta\t\r\nGamma Delta\t\r\n"
    text = ok(post(srv, files={"file": ("t.png", TWO_LINES)}))["ParsedResults"][0]["ParsedText"]
    assert text == "Alpha Beta\r\nGamma Delta\r\n"


def test_detect_orientation_90(srv: Server) -> None:
    ref = manifest_row(IMAGE)["text"]
    with Image.open(doc(IMAGE)) as im:
        turned = png(im.convert("L").transpose(Image.Transpose.ROTATE_270))  # 90 degrees clockwise
    res = ok(post(srv, files={"file": ("turned.png", turned)}, data={"detectOrientation": "TRUE"}))["ParsedResults"][0]
    assert res["TextOrientation"] == "90"
    assert cer(res["ParsedText"], ref) <= 0.05
    res = ok(post(srv, files={"file": ("up.png", PNG)}, data={"detectOrientation": "true"}))["ParsedResults"][0]
    assert res["TextOrientation"] == "0"


def two_page_pdf() -> bytes:
    pages = [text_image(("Page One",)).convert("RGB"), text_image(("Second Page",)).convert("RGB")]
    buf = io.BytesIO()
    pages[0].save(buf, format="PDF", save_all=True, append_images=pages[1:], resolution=100)
    return buf.getvalue()


def test_pdf_two_pages_and_searchable_pdf(srv: Server) -> None:
    body = ok(
        post(
            srv,
            files={"file": ("doc.pdf", two_page_pdf())},
            data={"isCreateSearchablePdf": "true", "isOverlayRequired": "true", "filetype": "PDF"},
        )
    )
    results = body["ParsedResults"]
    assert [r["ParsedText"].strip() for r in results] == ["Page One", "Second Page"]
    url = body["SearchablePDFURL"]
    assert url.startswith(srv.url + "/parse/searchablepdf/") and url.endswith(".pdf")
    r = httpx.get(url, timeout=30)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(r.content)
    assert len(doc) == 2
    assert " ".join(doc[1].get_textpage().get_text_range().split()) == "Second Page"


def test_searchable_pdf_positions(srv: Server) -> None:
    import pypdfium2 as pdfium

    body = ok(
        post(
            srv,
            files={"file": ("two.png", TWO_LINES)},
            data={"isCreateSearchablePdf": "True", "isOverlayRequired": "True"},
        )
    )
    lines = body["ParsedResults"][0]["TextOverlay"]["Lines"]
    r = httpx.get(body["SearchablePDFURL"], timeout=30)
    assert r.status_code == 200
    doc = pdfium.PdfDocument(r.content)
    page = doc[0]
    width, height = page.get_size()
    k = 72 / 300  # no dpi in the PNG: taken as a 300-dpi scan, so a pixel is 0.24 pt
    assert (round(width, 2), round(height, 2)) == (round(640 * k, 2), round(180 * k, 2))
    tp = page.get_textpage()
    assert " ".join(tp.get_text_range().split()) == "Alpha Beta Gamma Delta"
    # Each word's glyphs span its box's width, on its line's box (one baseline and size a line; PDF y runs up).
    text = tp.get_text_range()
    for line in lines:
        line_top, line_bottom = line["MinTop"], line["MinTop"] + line["MaxHeight"]
        for w in line["Words"]:
            start = text.index(w["WordText"])
            boxes = [tp.get_charbox(i) for i in range(start, start + len(w["WordText"]))]
            left, right = min(b[0] for b in boxes), max(b[2] for b in boxes)
            bottom, top = min(b[1] for b in boxes), max(b[3] for b in boxes)
            assert abs(left - w["Left"] * k) <= 0.5 and abs(right - (w["Left"] + w["Width"]) * k) <= 0.5, (w, left)
            assert abs(bottom - (180 - line_bottom) * k) <= 0.5 and abs(top - (180 - line_top) * k) <= 0.5, (w, top)
    # Invisible: the page renders as the image alone (text render mode 3 draws nothing).
    img = page.render(scale=1).to_pil().convert("L")
    assert img.getpixel((5, 5)) == 255
    assert httpx.get(srv.url + "/parse/searchablepdf/" + "0" * 32 + ".pdf", timeout=30).status_code == 404
    # The link is the job's id; a job made without isCreateSearchablePdf has no PDF to serve.
    plain = ok(post(srv, files={"file": ("two.png", TWO_LINES)}))
    assert plain["SearchablePDFURL"].startswith("Searchable PDF not generated")


# ------------------------------------------------------------------------------------ errors
def test_errors(srv: Server) -> None:
    msgs = errored(post(srv, data={"language": "eng"}), 99)
    assert "No file uploaded or URL or base64 provided" in msgs[0]
    b64 = "data:image/png;base64," + base64.b64encode(PNG).decode()
    msgs = errored(post(srv, data={"base64Image": b64, "url": "http://127.0.0.1/x.png"}), 99)
    assert "exactly one" in msgs[0]
    msgs = errored(post(srv, files={"file": ("a.png", PNG)}, data={"base64Image": b64}), 99)
    assert "exactly one" in msgs[0]
    msgs = errored(post(srv, data={"base64Image": base64.b64encode(PNG).decode()}), 99)  # no data: prefix
    assert msgs[0].startswith("Not a valid base64 image")
    errored(post(srv, data={"base64Image": "data:image/png;base64,@@@"}), 99)
    msgs = errored(post(srv, files={"file": ("x.png", PNG[:200])}), 3)  # truncated: corrupt image
    msgs = errored(post(srv, files={"file": ("x.png", b"hello, not an image" * 10)}), 3)
    assert "E216:Unable to detect the file extension" in msgs
    msgs = errored(post(srv, files={"file": ("a.png", PNG)}, data={"language": "xyz"}), 99)
    assert "language" in msgs[0]
    msgs = errored(post(srv, files={"file": ("a.png", PNG)}, data={"language": "jpn"}), 99)
    assert "not installed" in msgs[0]
    msgs = errored(post(srv, files={"file": ("a.png", PNG)}, data={"attributes": "1"}), 99)
    assert msgs[0].startswith("Parameter name 'attributes' is invalid. Valid parameters: apikey,url,language")
    errored(post(srv, files={"file": ("a.png", PNG)}, data={"isTable": "maybe"}), 99)
    errored(post(srv, files={"file": ("a.png", PNG)}, data={"OCREngine": "7"}), 99)


def test_unknown_route_and_method_in_ocrspace_shape(srv: Server) -> None:
    errored(httpx.get(srv.url + "/parse/nothing", timeout=30), 99, status=404)
    errored(httpx.get(srv.url + "/parse/image", timeout=30), 99, status=405)
    errored(httpx.delete(srv.url + "/parse/image", timeout=30), 99, status=405)
    errored(httpx.get(srv.url + "/parse/a/b/c", timeout=30), 99, status=404)


def test_searchable_pdf_expires_with_its_job(make_server) -> None:
    """The worker-made PDF is the job's artifact: it is served until the job's retention ends, then the
    purge removes it with the job and the document."""
    import time

    server = make_server(
        workers=1, env={"OCRGW_RETENTION_SYNC_HOURS": str(3 / 3600), "OCRGW_PURGE_INTERVAL_SECONDS": "1"}
    ).start()
    body = ok(post(server, files={"file": ("two.png", TWO_LINES)}, data={"isCreateSearchablePdf": "true"}))
    url = body["SearchablePDFURL"]
    assert httpx.get(url, timeout=30).content.startswith(b"%PDF")
    job_id = url.rsplit("/", 1)[1].removesuffix(".pdf")
    (artifact,) = server.query("select artifact_key from jobs where id = :id", id=job_id)[0]
    artifact_file = server.data_dir / "blobs" / artifact[:2] / artifact
    assert artifact_file.exists()
    deadline = time.monotonic() + 30
    while httpx.get(url, timeout=30).status_code != 404 or artifact_file.exists():
        assert time.monotonic() < deadline, "the searchable PDF outlived its job"
        time.sleep(0.3)
