"""Bad input through the real server (uvicorn + worker processes + SQLite + Tesseract): every kind of
broken, hostile or oversized body gets its Azure error, nothing answers 500, the server keeps serving, and
no job that was accepted (202) is ever lost."""

from __future__ import annotations

import contextlib
import io
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import httpx
import pytest
from PIL import Image, ImageDraw, ImageFont

from tests.bodies import assert_azure_error as assert_error
from tests.bodies import gif_frames, png_header_only
from tests.conftest import Server, doc, poll

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
MIB = 1024 * 1024
ACCEPTED: list[str] = []  # Operation-Location of every 202 in this module


# --- helpers ---------------------------------------------------------------------------------------------


def text_png(text: str = "Hello World 2024", size: tuple[int, int] = (640, 120)) -> bytes:
    im = Image.new("L", size, 255)
    font = ImageFont.truetype(FONT, 44) if Path(FONT).exists() else ImageFont.load_default(44)
    ImageDraw.Draw(im).text((20, 30), text, fill=0, font=font)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def submit(
    srv: Server,
    content,
    *,
    content_type: str | None = "application/octet-stream",
    query: str = "",
    headers: dict | None = None,
    timeout: float = 60,
) -> httpx.Response:
    hdrs = {**srv.headers, **(headers or {})}
    if content_type is not None:
        hdrs["Content-Type"] = content_type
    r = httpx.post(f"{srv.url}/vision/v3.2/read/analyze{query}", content=content, headers=hdrs, timeout=timeout)
    if r.status_code == 202:
        ACCEPTED.append(r.headers["Operation-Location"])
    return r


def peak_rss(pid: int) -> int:
    """The process's high-water resident set (VmHWM), in bytes: catches allocations already freed."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


# --- a tiny HTTP server on 127.0.0.1 for URL sources ---------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    files: ClassVar[dict[str, bytes]] = {}

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:
        if self.path == "/slow.png":  # nothing at all before the fetch timeout
            time.sleep(30)
        if self.path == "/dribble.png":  # headers at once, then a byte every half second
            body = png_header_only(100, 100)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(body) + 1000))
            self.end_headers()
            try:
                for b in body + b"\x00" * 1000:
                    self.wfile.write(bytes([b]))
                    self.wfile.flush()
                    time.sleep(0.5)
            except OSError:
                pass
            return
        if self.path in ("/huge-declared.png", "/huge-undeclared.png"):  # 9 MiB, over the 8 MiB limit
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            if self.path == "/huge-declared.png":
                self.send_header("Content-Length", str(9 * MIB))
            self.end_headers()  # HTTP/1.0: without Content-Length the body ends when the connection closes
            with contextlib.suppress(OSError):
                self.wfile.write(b"\x89PNG\r\n\x1a\n")
                for _ in range(9 * 16):
                    self.wfile.write(b"\x00" * (64 * 1024))
            return
        if self.path == "/redirect-to-image":
            self.send_response(302)
            self.send_header("Location", "/image.tif")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = self.files.get(self.path)
        if body is None:
            with contextlib.suppress(OSError):
                self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(OSError):
            self.wfile.write(body)


@pytest.fixture(scope="module")
def file_server() -> Iterator[str]:
    _Handler.files = {
        "/image.tif": doc("page/tess_phototest.tif").read_bytes(),
        "/small.png": text_png(size=(40, 40)),
    }
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


# --- the acceptance list -------------------------------------------------------------------------


def test_corrupt_jpeg(server: Server) -> None:
    r = submit(server, b"\xff\xd8\xff" + b"this is not a JPEG at all " * 40, content_type="image/jpeg")
    err = assert_error(r, 400, "InvalidRequest", "InvalidImageFormat")
    assert "not a valid image" in err["message"]


def test_truncated_real_jpeg_is_refused_or_fails_never_500(server: Server) -> None:
    data = doc("receipt/till_clean.jpg").read_bytes()
    r = submit(server, data[: len(data) // 2])
    assert r.status_code in (400, 202), r.text
    if r.status_code == 400:
        assert_error(r, 400, "InvalidRequest", "InvalidImageFormat")
        return
    # The headers are intact, so intake accepts it; the worker must then fail it, with an error object.
    assert r.content == b""
    result = poll(server, r.headers["Operation-Location"], timeout=60)
    assert result["status"] == "failed", result
    assert "analyzeResult" not in result
    err = result["error"]
    assert err["code"] == "InvalidRequest", err
    assert err["innererror"]["code"] == "InvalidImageFormat", err
    assert err["message"]


def test_text_file(server: Server) -> None:
    text = b"Dear team,\nthis is a plain text file, not an image.\n"
    r = submit(server, text * 20, content_type="image/png")
    assert_error(r, 400, "InvalidRequest", "InvalidImageFormat")
    r = submit(server, text)
    assert_error(r, 400, "InvalidRequest", "InvalidImageFormat")


def test_empty_body(server: Server) -> None:
    r = submit(server, b"")
    assert r.request.headers.get("content-length") == "0"
    assert_error(r, 400, "InvalidRequest", "InvalidImage")


def test_empty_chunked_body(server: Server) -> None:
    r = submit(server, iter([b""]))
    assert "content-length" not in r.request.headers
    assert_error(r, 400, "InvalidRequest", "InvalidImage")


def test_oversized_body_with_content_length(server: Server) -> None:
    body = text_png() + b"\x00" * (9 * MIB)
    t0 = time.monotonic()
    r = submit(server, body)
    assert r.request.headers["content-length"] == str(len(body))
    err = assert_error(r, 400, "InvalidRequest", "InvalidImageSize")
    assert "too large" in err["message"]
    assert time.monotonic() - t0 < 20


def test_oversized_chunked_body_without_content_length(server: Server) -> None:
    """Like the CV SDK's read_in_stream: Transfer-Encoding chunked, no Content-Length."""
    head = text_png()

    def gen() -> Iterator[bytes]:
        yield head
        for _ in range(9 * 16):
            yield b"\x00" * (64 * 1024)

    r = submit(server, gen())
    assert "content-length" not in r.request.headers
    assert r.request.headers.get("transfer-encoding") == "chunked"
    assert_error(r, 400, "InvalidRequest", "InvalidImageSize")


def test_body_just_under_the_limit_is_not_refused_for_size(server: Server) -> None:
    body = b"\x89PNG\r\n\x1a\n" + b"\x00" * (8 * MIB - 8)  # exactly the limit: a corrupt PNG, not too large
    assert len(body) == 8 * MIB
    assert_error(submit(server, body), 400, "InvalidRequest", "InvalidImageFormat")


def test_pixel_bomb_png(server: Server) -> None:
    bomb = png_header_only(20000, 20000)
    assert len(bomb) < 200
    assert server.proc is not None
    before = peak_rss(server.proc.pid)
    r = submit(server, bomb, content_type="image/png")
    err = assert_error(r, 400, "InvalidRequest", "InvalidImageDimension")
    assert "20000 x 20000 px (Azure Read needs 50 to 10000 px per side)" in err["message"]
    # 20000 x 20000 decoded would be 400 MB: nothing near that may have been allocated by the API process.
    assert peak_rss(server.proc.pid) - before < 100 * MIB


def test_pixel_bomb_within_dimension_limit_but_over_megapixels(make_server) -> None:
    srv = make_server(env={"OCRGW_MAX_MEGAPIXELS": "20"}, workers=1).start()
    r = submit(srv, png_header_only(5000, 5000))  # 25 MP
    err = assert_error(r, 400, "InvalidRequest", "InvalidImageDimension")
    assert "megapixels" in err["message"]


def test_image_smaller_than_50px(server: Server) -> None:
    r = submit(server, text_png(size=(49, 60)), content_type="image/png")
    err = assert_error(r, 400, "InvalidRequest", "InvalidImageDimension")
    assert err["message"] == (
        "Image must be at least 50 pixels in width and height: it is 49 x 60 px "
        "(Azure Read needs 50 to 10000 px per side)."
    )
    # a real dev document that is too low: a 36 px high text line
    line = doc("line/uw3_0468_010060.png").read_bytes()
    assert_error(submit(server, line), 400, "InvalidRequest", "InvalidImageDimension")


def test_pdf_without_pages_is_invalid(server: Server) -> None:
    pdf = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
    err = assert_error(submit(server, pdf), 400, "InvalidRequest", "InvalidImageFormat")
    assert "PDF" in err["message"]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/x.png",
        "http://localhost:{port}/x.png",
        "http://[::1]:{port}/x.png",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/x.png",
        "http://0.0.0.0:{port}/x.png",
        "http://2130706433:{port}/x.png",
    ],
)
def test_url_to_non_public_address_refused_by_default(server: Server, url: str) -> None:
    body = json.dumps({"url": url.format(port=server.port)}).encode()
    t0 = time.monotonic()
    r = submit(server, body, content_type="application/json; charset=utf-8")
    err = assert_error(r, 400, "InvalidRequest", "InvalidImageUrl")
    assert "non-public" in err["message"]
    assert time.monotonic() - t0 < 5


@pytest.mark.parametrize(
    "body",
    [
        b'{"uri": "https://example.com/a.png"}',
        b"{}",
        b'{"url": 42}',
        b'{"url": null}',
        b'["https://example.com/a.png"]',
        b'"https://example.com/a.png"',
        b"this is not json",
        b"",
        b'{"url": "https://example.com/a.png"',
        b'{"url": "ftp://93.184.216.34/a.png"}',
        b'{"url": "file:///etc/passwd"}',
        b'{"url": "not a url"}',
    ],
    ids=[
        "no-url-key",
        "empty-object",
        "url-int",
        "url-null",
        "array",
        "string",
        "not-json",
        "empty",
        "truncated-json",
        "ftp",
        "file",
        "no-scheme",
    ],
)
def test_bad_json_url_bodies(server: Server, body: bytes) -> None:
    r = submit(server, body, content_type="application/json")
    assert_error(r, 400, "InvalidRequest", "InvalidImageUrl")


@pytest.mark.parametrize(
    "ctype", ["text/plain", "multipart/form-data; boundary=x", "application/xml", "application/x-www-form-urlencoded"]
)
def test_unsupported_content_type(server: Server, ctype: str) -> None:
    r = submit(server, text_png(), content_type=ctype)
    assert_error(r, 415, "UnsupportedMediaType")


def test_url_sources_with_private_targets_allowed(private_server: Server, file_server: str) -> None:
    srv = private_server  # OCRGW_URL_ALLOW_PRIVATE, OCRGW_URL_FETCH_TIMEOUT=2, an 8 MiB upload limit

    def by_url(url: str) -> httpx.Response:
        return httpx.post(f"{srv.url}/vision/v3.2/read/analyze", json={"url": url}, headers=srv.headers, timeout=30)

    # a real dev image served over HTTP from 127.0.0.1
    r = by_url(f"{file_server}/image.tif")
    assert r.status_code == 202, r.text
    assert r.content == b""
    result = poll(srv, r.headers["Operation-Location"], timeout=60)
    assert result["status"] == "succeeded", result
    text = " ".join(ln["text"] for page in result["analyzeResult"]["readResults"] for ln in page["lines"])
    assert "quick brown" in text.lower(), text
    assert result["analyzeResult"]["readResults"][0]["width"] == 640

    # a redirect on the same host is followed
    r = by_url(f"{file_server}/redirect-to-image")
    assert r.status_code == 202, r.text
    assert poll(srv, r.headers["Operation-Location"], timeout=60)["status"] == "succeeded"

    # a 404 on the source
    err = assert_error(by_url(f"{file_server}/missing.png"), 400, "InvalidRequest", "FailedToDownloadImage")
    assert "404" in err["message"]

    # a downloaded body is checked like an upload
    assert_error(by_url(f"{file_server}/small.png"), 400, "InvalidRequest", "InvalidImageDimension")

    # a source over the size limit, with and without Content-Length
    assert_error(by_url(f"{file_server}/huge-declared.png"), 400, "InvalidRequest", "InvalidImageSize")
    assert_error(by_url(f"{file_server}/huge-undeclared.png"), 400, "InvalidRequest", "InvalidImageSize")

    # nothing listens there
    assert_error(by_url("http://127.0.0.1:9/x.png"), 400, "InvalidRequest", "FailedToDownloadImage")

    # a source that answers nothing within OCRGW_URL_FETCH_TIMEOUT=2
    t0 = time.monotonic()
    assert_error(by_url(f"{file_server}/slow.png"), 400, "InvalidRequest", "FailedToDownloadImage")
    assert time.monotonic() - t0 < 15  # gave up on its own timeout, long before the source answers (30 s)

    # a source that answers at once but dribbles its body: the timeout covers the whole download
    t0 = time.monotonic()
    assert_error(by_url(f"{file_server}/dribble.png"), 400, "InvalidRequest", "FailedToDownloadImage")
    assert time.monotonic() - t0 < 15  # the whole body would take ~9 minutes

    # multicast and unspecified addresses stay refused even here
    assert_error(by_url("http://224.0.0.1/x.png"), 400, "InvalidRequest", "InvalidImageUrl")
    assert httpx.get(f"{srv.url}/health", timeout=5).status_code == 200


def test_many_bad_requests_at_once(server: Server) -> None:
    """Concurrent garbage does not wedge the API process."""
    bodies = [b"", b"\xff\xd8\xffjunk", png_header_only(), b"%PDF-1.4", b"hello"] * 4
    expected = {
        b"": "InvalidImage",
        b"\xff\xd8\xffjunk": "InvalidImageFormat",
        png_header_only(): "InvalidImageDimension",
        b"%PDF-1.4": "InvalidImageFormat",
        b"hello": "InvalidImageFormat",
    }
    results: list[tuple[bytes, httpx.Response]] = []

    def one(body: bytes) -> None:
        results.append((body, submit(server, body)))

    threads = [threading.Thread(target=one, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == len(bodies)
    for body, r in results:
        assert_error(r, 400, "InvalidRequest", expected[body])


# --- afterwards -----------------------------------------------------------------------------------------


def test_server_still_serves_and_no_accepted_job_is_lost(server: Server) -> None:
    health = httpx.get(f"{server.url}/health", timeout=5)
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}

    r = submit(server, text_png())
    assert r.status_code == 202, r.text
    result = poll(server, r.headers["Operation-Location"], timeout=60)
    assert result["status"] == "succeeded", result
    words = [w["text"] for page in result["analyzeResult"]["readResults"] for ln in page["lines"] for w in ln["words"]]
    assert "Hello" in words and "World" in words, words

    assert server.proc is not None and server.proc.poll() is None
    assert "unhandled error" not in server.log(), server.log()[-3000:]  # nothing here was a 500
    mine = [loc for loc in ACCEPTED if loc.startswith(server.url + "/")]  # this deployment's (both run)
    assert mine, "no job was accepted in this module"
    for location in mine:
        final = poll(server, location, timeout=60)
        assert final["status"] in ("succeeded", "failed"), (location, final)


# --- known bug (see the module report): last, so that -x still runs everything above -------------


def test_animated_gif_bomb_is_not_decoded_by_the_api(make_server) -> None:
    """Six 100-megapixel frames (each within the limits) in a 450 KB GIF, on a server that takes at most
    2 pages: an animation is one page (its first frame), so it is accepted from the headers without the
    API process decoding a single frame, and the worker reads just that frame."""
    srv = make_server(env={"OCRGW_MAX_PAGES": "2"}, workers=1).start()
    assert srv.proc is not None
    body = gif_frames(6, 10000)
    assert len(body) < MIB
    before = peak_rss(srv.proc.pid)
    r = submit(srv, body, content_type="image/gif")
    assert r.status_code == 202, r.text
    grown = peak_rss(srv.proc.pid) - before
    assert grown < 100 * MIB, f"API process peak memory grew by {grown // MIB} MiB"
    assert httpx.get(f"{srv.url}/health", timeout=5).status_code == 200
    t0 = time.monotonic()
    done = poll(srv, r.headers["Operation-Location"], timeout=120)
    assert done["status"] == "succeeded", done  # a blank 100-megapixel first frame: no lines, no harm
    assert done["analyzeResult"]["readResults"][0]["width"] == 10000
    print(f"worker read the 100-megapixel frame in {time.monotonic() - t0:.1f}s")
