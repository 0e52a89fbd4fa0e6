"""The seed systems' own APIs against real servers (uvicorn, worker processes, SQLite, Tesseract): the
Flask-style /ocr_process, /batch_process, /generate_api_key and the streaming server's POST /{api_name},
on real dev images checked by CER, each error in its own shape, and the server still serving after."""

from __future__ import annotations

import base64
import contextlib
import functools
import http.server
import io
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image, ImageDraw, ImageFont
from rapidfuzz.distance import Levenshtein
from tests.bodies import png_header_only
from tests.conftest import SHARED_ENV, Server, doc, manifest_row

from ocrgw.dialects.tesseract_style import status_of
from ocrgw.errors import ErrorCode, OcrgwError

PHOTOTEST = "page/tess_phototest.tif"
RECEIPT = "receipt/till_clean.jpg"
FILLER = "multicol/tess_8071_093.3B.tif"  # a slow page (~1-2 s), to keep the backlog full for a moment
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
MIB = 1024 * 1024
CUSTOM = "api/recognise-text"


def cer(hyp: str, ref: str) -> float:
    h, r = " ".join(hyp.split()).casefold(), " ".join(ref.split()).casefold()
    return Levenshtein.distance(h, r) / max(1, len(r))


def text_png(text: str = "Hello World 2024") -> bytes:
    im = Image.new("L", (640, 120), 255)
    font = ImageFont.truetype(FONT, 40) if Path(FONT).exists() else ImageFont.load_default(40)
    ImageDraw.Draw(im).text((20, 25), text, fill=0, font=font)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


PNG = text_png()
CORRUPT = PNG[:300]  # a valid header, truncated data: only decoding finds out
BAD_HEADER = b"\x89PNG\r\n\x1a\n" + b"garbage" * 40  # a PNG signature and nothing valid after it
NOT_IMAGE = b"hello, this is plain text and no image at all\n" * 20
# past the upload limit of both servers (8 MiB on the shared one, 3 MiB on srv2)
OVERSIZE = b"\x89PNG\r\n\x1a\n" + b"\0" * (int(SHARED_ENV["OCRGW_MAX_UPLOAD_BYTES"]) + MIB)
BOMB = png_header_only(20000, 20000)


def missing_language() -> str:
    """A real Tesseract code whose model this machine does not have (others may install some meanwhile)."""
    from ocrgw.settings import Settings

    have = {p.name.removesuffix(".traineddata") for p in Settings().resolved_tessdata_dir.glob("*.traineddata")}
    return next(code for code in ("yor", "tgk", "mri", "khm", "lao", "mya", "amh", "jpn") if code not in have)


def data(name: str) -> bytes:
    return doc(name).read_bytes()


def flask_error(r: httpx.Response, status: int, contains: str = "") -> str:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error", "success"} and body["success"] is False, body
    assert isinstance(body["error"], str) and body["error"].strip()
    assert contains.lower() in body["error"].lower(), body
    return body["error"]


def stream_error(r: httpx.Response, status: int, contains: str = "") -> str:
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"].strip(), body
    assert contains.lower() in body["error"].lower(), body
    return body["error"]


@contextlib.contextmanager
def file_server(directory: Path) -> Iterator[str]:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    handler.func.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def srv(embedded_server: Server) -> Server:
    """The shared embedded server: default settings (private URLs refused, api_name `ocr`), an 8 MiB upload
    limit."""
    return embedded_server


@pytest.fixture(scope="module")
def srv2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Loopback URL sources allowed, a custom api_name, a batch cap of 4, a backlog bound of 2."""
    server = Server(
        tmp_path_factory.mktemp("seed2"),
        env={
            "OCRGW_MAX_UPLOAD_BYTES": str(3 * MIB),
            "OCRGW_URL_ALLOW_PRIVATE": "true",
            "OCRGW_STREAM_API_NAME": CUSTOM,
            "OCRGW_BATCH_MAX_ITEMS": "4",
            "OCRGW_MAX_BACKLOG": "2",
            "OCRGW_SHUTDOWN_GRACE_SECONDS": "1",
        },
    ).start()
    yield server
    server.stop()


def ocr(
    srv: Server,
    files: dict | list | None,
    data: dict | None = None,
    headers: dict | None = None,
    key: bool = True,
    **kw,
) -> httpx.Response:
    hdrs = {"X-API-Key": srv.key} if key else {}
    return httpx.post(
        srv.url + "/ocr_process", files=files, data=data, headers={**hdrs, **(headers or {})}, timeout=120, **kw
    )


# ------------------------------------------------------------------------------------ /ocr_process
def test_ocr_process_phototest(srv: Server) -> None:
    r = ocr(srv, {"file": ("tess_phototest.tif", data(PHOTOTEST), "image/tiff")}, {"method": "tesseract"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"success", "text", "method", "language", "confidence", "processing_time", "filename", "pages"}
    assert body["success"] is True and body["method"] == "tesseract" and body["language"] == "eng"
    assert body["filename"] == "tess_phototest.tif" and body["pages"] == 1
    assert isinstance(body["processing_time"], float) and 0 < body["processing_time"] < 60
    assert 60 <= body["confidence"] <= 100
    assert cer(body["text"], manifest_row(PHOTOTEST)["text"]) <= 0.05, body["text"]


def test_ocr_process_receipt_other_part_names_and_key_forms(srv: Server) -> None:
    ref = manifest_row(RECEIPT)["text"]
    receipt = data(RECEIPT)
    r = ocr(
        srv, {"image": ("r.jpg", receipt)}, {"lang": "eng"}, key=False, headers={"Authorization": f"Bearer {srv.key}"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["filename"] == "r.jpg" and cer(r.json()["text"], ref) <= 0.25, r.json()["text"]
    r = ocr(srv, {"upload": ("hello.png", PNG, "image/png")}, {"api_key": srv.key, "language": "en"}, key=False)
    assert r.status_code == 200 and "Hello World 2024" in r.json()["text"], r.text
    r = ocr(srv, {"file": ("hello.png", PNG)}, key=False, params={"api_key": srv.key})
    assert r.status_code == 200 and r.json()["language"] == "eng", r.text


def test_ocr_process_errors(srv: Server) -> None:
    flask_error(ocr(srv, {"file": ("a.png", PNG)}, key=False), 401, "api key")
    flask_error(ocr(srv, {"file": ("a.png", PNG)}, headers={"X-API-Key": "0" * 32}), 401)
    flask_error(ocr(srv, {"file": ("a.png", PNG)}, {"api_key": "nope"}, key=False), 401)
    msg = flask_error(ocr(srv, {"file": ("a.png", PNG)}, {"method": "easyocr"}), 400, "easyocr")
    assert "tesseract" in msg
    flask_error(ocr(srv, {"file": ("a.png", PNG)}, {"lang": "eng+" + missing_language()}), 400, "not installed")
    flask_error(ocr(srv, {"file": ("a.png", PNG)}, {"lang": "klingon"}), 400, "klingon")
    flask_error(ocr(srv, {"note": (None, "no file here")}), 400, "no image")
    flask_error(ocr(srv, [("file", ("a.png", PNG)), ("file", ("b.png", PNG))]), 400, "/batch_process")
    flask_error(
        httpx.post(srv.url + "/ocr_process", json={"image": "x"}, headers={"X-API-Key": srv.key}, timeout=30),
        415,
        "multipart",
    )
    flask_error(ocr(srv, {"file": ("a.txt", NOT_IMAGE, "text/plain")}), 415, "not a valid image")
    flask_error(ocr(srv, {"file": ("c.png", CORRUPT)}), 400, "truncated")
    flask_error(ocr(srv, {"file": ("h.png", BAD_HEADER)}), 400, "header is corrupt")
    flask_error(ocr(srv, {"file": ("big.png", OVERSIZE)}), 413, "too large")
    flask_error(ocr(srv, {"file": ("bomb.png", BOMB)}), 400, "pixels")
    flask_error(httpx.get(srv.url + "/ocr_process", timeout=30), 405)
    assert httpx.get(srv.url + "/health", timeout=10).status_code == 200
    r = ocr(srv, {"file": ("hello.png", PNG)})  # still serving
    assert r.status_code == 200 and "Hello World 2024" in r.json()["text"]


# ------------------------------------------------------------------------------------ /batch_process
def test_batch_mixed_items_and_hostile_urls(srv: Server) -> None:
    files = [
        ("files", ("tess_phototest.tif", data(PHOTOTEST))),
        ("files[]", ("c.png", CORRUPT)),
        ("images", ("receipt.jpg", data(RECEIPT))),
        ("files", ("a.txt", NOT_IMAGE, "text/plain")),
        ("whatever", ("bomb.png", BOMB)),
    ]
    form = {"urls": ["http://169.254.169.254/latest/meta-data/", "http://127.0.0.1:9/x.png"], "lang": "eng"}
    r = httpx.post(srv.url + "/batch_process", files=files, data=form, headers={"X-API-Key": srv.key}, timeout=120)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"success", "results", "total", "successful", "failed", "processing_time"}
    assert (body["success"], body["total"], body["successful"], body["failed"]) == (True, 7, 2, 5), body
    res = body["results"]
    assert [x["index"] for x in res] == list(range(7))
    # Input order is the body's order; httpx sends the form fields (the URLs) before the files.
    assert [x.get("url") or x.get("filename") for x in res] == [
        *form["urls"],
        "tess_phototest.tif",
        "c.png",
        "receipt.jpg",
        "a.txt",
        "bomb.png",
    ]
    assert [x["success"] for x in res] == [False, False, True, False, True, False, False]
    assert cer(res[2]["text"], manifest_row(PHOTOTEST)["text"]) <= 0.05
    assert cer(res[4]["text"], manifest_row(RECEIPT)["text"]) <= 0.25
    assert all(0 < res[i]["confidence"] <= 100 for i in (2, 4))
    for x in res:
        assert set(x) == (
            {"index", "success", "text", "confidence"} if x["success"] else {"index", "success", "error"}
        ) | ({"url"} if "url" in x else {"filename"})
    assert "non-public address" in res[0]["error"] and "non-public address" in res[1]["error"]
    assert "truncated" in res[3]["error"]  # the worker found out while decoding
    assert "not a valid image" in res[5]["error"]
    assert "pixels" in res[6]["error"]
    assert httpx.get(srv.url + "/health", timeout=10).status_code == 200


def test_batch_urls_from_local_server(srv2: Server, tmp_path: Path) -> None:
    (tmp_path / "p.tif").write_bytes(data(PHOTOTEST))
    (tmp_path / "h.png").write_bytes(PNG)
    with file_server(tmp_path) as base:
        r = httpx.post(
            srv2.url + "/batch_process",
            files=[("files", ("h.png", PNG))],
            data={"urls": [f"{base}/p.tif", f"{base}/missing.png"]},
            headers={"X-API-Key": srv2.key},
            timeout=120,
        )
        assert r.status_code == 200, r.text
        res = r.json()["results"]
        assert [x.get("url") or x.get("filename") for x in res] == [f"{base}/p.tif", f"{base}/missing.png", "h.png"]
        assert cer(res[0]["text"], manifest_row(PHOTOTEST)["text"]) <= 0.05
        assert res[1]["success"] is False and "404" in res[1]["error"]
        assert "Hello World 2024" in res[2]["text"]
        r = httpx.post(srv2.url + "/batch_process", json={"urls": [f"{base}/h.png"], "api_key": srv2.key}, timeout=120)
        assert r.status_code == 200 and r.json()["successful"] == 1, r.text
        assert "Hello World 2024" in r.json()["results"][0]["text"]


def test_batch_refuses_paths_caps_and_empty(srv: Server, srv2: Server) -> None:
    hdr = {"X-API-Key": srv.key}
    for field in ("path", "paths", "file_path", "filepath", "directory", "paths[]"):
        flask_error(
            httpx.post(
                srv.url + "/batch_process",
                files={"files": ("a.png", PNG)},
                data={field: "/etc/passwd"},
                headers=hdr,
                timeout=60,
            ),
            400,
            "server-side file paths are not accepted",
        )
    flask_error(
        httpx.post(srv.url + "/batch_process", json={"paths": ["/etc"]}, headers=hdr, timeout=30),
        400,
        "server-side file paths are not accepted",
    )
    flask_error(
        httpx.post(srv.url + "/batch_process", data={"directory": "/"}, headers=hdr, timeout=30),
        400,
        "server-side file paths are not accepted",
    )
    flask_error(httpx.post(srv.url + "/batch_process", json={"urls": []}, headers=hdr, timeout=30), 400, "no images")
    # A file field sent as text (a file name, a path) is refused, not dropped while the other items run.
    for body in ({"data": {"files": "scan.png", "urls": "http://127.0.0.1:9/a.png"}}, {"json": {"image": "x"}}):
        r = httpx.post(srv.url + "/batch_process", **body, headers=hdr, timeout=30)  # type: ignore[arg-type]
        flask_error(r, 400, "must be an uploaded file")
    r = httpx.post(
        srv.url + "/batch_process", json={"urls": ["http://127.0.0.1:9/a.png"], "lang": ["deu"]}, headers=hdr
    )
    flask_error(r, 400, "'lang' must be a string")
    flask_error(httpx.post(srv.url + "/batch_process", files={"files": ("a.png", PNG)}, timeout=30), 401)
    flask_error(
        httpx.post(
            srv.url + "/batch_process",
            files={"files": ("a.png", PNG)},
            data={"method": "keras"},
            headers=hdr,
            timeout=30,
        ),
        400,
        "tesseract",
    )
    five = [("files", (f"{i}.png", PNG)) for i in range(5)]
    flask_error(
        httpx.post(srv2.url + "/batch_process", files=five, headers={"X-API-Key": srv2.key}, timeout=60),
        400,
        "at most 4",
    )
    flask_error(
        httpx.post(
            srv2.url + "/batch_process", json={"urls": ["http://a/1"] * 5}, headers={"X-API-Key": srv2.key}, timeout=60
        ),
        400,
        "at most 4",
    )
    flask_error(
        httpx.post(srv.url + "/batch_process", content=b"x", headers={**hdr, "Content-Type": "image/png"}, timeout=30),
        415,
    )


# ------------------------------------------------------------------------------------ /generate_api_key
def test_generate_api_key_admin_only_and_the_key_works_everywhere(srv: Server) -> None:
    admin = srv.cli("keys", "create", "--admin", "--name", "seed-admin", "-q").strip()
    flask_error(
        httpx.post(srv.url + "/generate_api_key", json={"name": "x"}, headers={"X-API-Key": srv.key}, timeout=30),
        403,
        "admin",
    )
    flask_error(httpx.post(srv.url + "/generate_api_key", json={"name": "x"}, timeout=30), 401)
    r = httpx.post(
        srv.url + "/generate_api_key", json={"name": "tutorial-app"}, headers={"X-API-Key": admin}, timeout=30
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == {"success", "api_key", "name", "id"} and body["success"] is True
    assert body["name"] == "tutorial-app" and len(body["api_key"]) == 32
    new = body["api_key"]
    r = httpx.post(srv.url + "/generate_api_key", data={"name": "form-made", "api_key": admin}, timeout=30)
    assert r.status_code == 201 and r.json()["name"] == "form-made", r.text
    r = httpx.post(srv.url + "/generate_api_key", headers={"Authorization": f"Bearer {admin}"}, timeout=30)
    assert r.status_code == 201 and r.json()["name"], r.text
    # The name: at most 100 characters, none a control, bidi override or line separator (the spec's
    # pattern); null is the default name, as absent is.
    for name in ("x" * 500, "\x1b[31mred", "admin\u202eyek", "two\u2028lines"):
        r = httpx.post(srv.url + "/generate_api_key", json={"name": name}, headers={"X-API-Key": admin}, timeout=30)
        flask_error(r, 400, "name")
    for name, stored in (("Zürich 東京", "Zürich 東京"), (None, "generated")):
        r = httpx.post(srv.url + "/generate_api_key", json={"name": name}, headers={"X-API-Key": admin}, timeout=30)
        assert r.status_code == 201 and r.json()["name"] == stored, r.text
    # The new key is an ordinary key, at once, on every dialect.
    flask_error(httpx.post(srv.url + "/generate_api_key", headers={"X-API-Key": new}, timeout=30), 403)
    r = ocr(srv, {"file": ("h.png", PNG)}, key=False, headers={"X-API-Key": new})
    assert r.status_code == 200 and "Hello World 2024" in r.json()["text"]
    r = httpx.post(
        srv.url + "/ocr", json={"image": base64.b64encode(PNG).decode()}, headers={"X-API-Key": new}, timeout=120
    )
    assert r.status_code == 200 and "Hello World 2024" in r.json()["text"]
    r = httpx.post(srv.url + "/parse/image", files={"file": ("h.png", PNG)}, headers={"apikey": new}, timeout=120)
    assert r.status_code == 200 and "Hello World 2024" in r.json()["ParsedResults"][0]["ParsedText"]
    r = httpx.post(
        srv.url + "/vision/v3.2/read/analyze",
        content=PNG,
        headers={"Ocp-Apim-Subscription-Key": new, "Content-Type": "application/octet-stream"},
        timeout=60,
    )
    assert r.status_code == 202, r.text


# ------------------------------------------------------------------------------------ streaming server
def test_stream_default_name(srv: Server) -> None:
    b64 = base64.b64encode(data(PHOTOTEST)).decode()
    r = httpx.post(srv.url + "/ocr", json={"image": b64}, headers={"X-API-Key": srv.key}, timeout=120)
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"text"} and cer(r.json()["text"], manifest_row(PHOTOTEST)["text"]) <= 0.05
    uri = "data:image/jpeg;base64," + base64.b64encode(data(RECEIPT)).decode()
    r = httpx.post(srv.url + "/ocr", json={"image": uri, "lang": "eng", "api_key": srv.key}, timeout=120)
    assert r.status_code == 200 and cer(r.json()["text"], manifest_row(RECEIPT)["text"]) <= 0.25, r.text


def test_stream_errors(srv: Server) -> None:
    hdr = {"X-API-Key": srv.key}

    def post(body: object, headers: dict | None = None, **kw) -> httpx.Response:
        return httpx.post(
            srv.url + "/ocr", json=body, headers=headers if headers is not None else hdr, timeout=120, **kw
        )

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    stream_error(post({"image": b64(PNG)}, headers={}), 401)
    stream_error(post({"image": b64(PNG)}, headers={"Authorization": "Bearer nope"}), 401)
    stream_error(post({}), 400, "image")
    stream_error(post({"image": "@@not base64@@"}), 400, "base64")
    stream_error(post({"image": "data:image/png,abc"}), 400, "data URI")
    stream_error(post([1, 2]), 400, "JSON object")
    stream_error(
        httpx.post(srv.url + "/ocr", content=b"{nope", headers={**hdr, "Content-Type": "application/json"}, timeout=30),
        400,
        "JSON",
    )
    stream_error(
        httpx.post(srv.url + "/ocr", content=PNG, headers={**hdr, "Content-Type": "image/png"}, timeout=30), 415
    )
    stream_error(post({"image": b64(NOT_IMAGE)}), 415, "not a valid image")
    stream_error(post({"image": b64(CORRUPT)}), 400, "truncated")
    stream_error(post({"image": b64(BAD_HEADER)}), 400, "header is corrupt")
    stream_error(post({"image": b64(BOMB)}), 400, "pixels")
    stream_error(post({"image": b64(OVERSIZE)}), 413, "large")
    stream_error(post({"image": b64(PNG), "lang": missing_language()}), 400, "not installed")
    stream_error(httpx.get(srv.url + "/ocr", timeout=30), 405)
    r = post({"image": b64(PNG)})  # still serving
    assert r.status_code == 200 and r.json()["text"].strip() == "Hello World 2024"


def test_stream_custom_name_and_backlog_429(srv2: Server) -> None:
    hdr = {"X-API-Key": srv2.key}
    r = httpx.post(f"{srv2.url}/{CUSTOM}", json={"image": base64.b64encode(PNG).decode()}, headers=hdr, timeout=120)
    assert r.status_code == 200 and r.json() == {"text": "Hello World 2024"}, r.text
    assert httpx.post(srv2.url + "/ocr", json={"image": "x"}, headers=hdr, timeout=30).status_code == 404
    # Backlog bound 2 with 2 workers: fill it with slow jobs through Azure Read, then every seed endpoint
    # answers 429 with Retry-After in its own shape.
    filler = data(FILLER)
    for _ in range(8):
        r = httpx.post(
            srv2.url + "/vision/v3.2/read/analyze",
            content=filler,
            headers={"Ocp-Apim-Subscription-Key": srv2.key, "Content-Type": "application/octet-stream"},
            timeout=60,
        )
        if r.status_code == 429:
            break
    assert r.status_code == 429, "the backlog never filled"
    r1 = httpx.post(f"{srv2.url}/{CUSTOM}", json={"image": "x"}, headers=hdr, timeout=30)
    r2 = httpx.post(srv2.url + "/ocr_process", files={"file": ("a.png", PNG)}, headers=hdr, timeout=30)
    r3 = httpx.post(srv2.url + "/batch_process", files={"files": ("a.png", PNG)}, headers=hdr, timeout=30)
    stream_error(r1, 429)
    flask_error(r2, 429)
    flask_error(r3, 429)
    assert all(r.headers.get("retry-after", "").isdigit() for r in (r1, r2, r3))


def test_stream_name_that_collides_is_refused_at_startup() -> None:
    """`ocrgw serve` builds the app before it listens, so a clashing name stops it with this message."""
    from ocrgw.dialects.streamapi.parse import api_path
    from ocrgw.main import create_app
    from ocrgw.settings import Settings

    with pytest.raises(ValueError, match="collides with the existing route /parse"):
        create_app(Settings(stream_api_name="parse"))
    routes = create_app(Settings(stream_api_name="ocr/v1")).routes  # a nested name of its own is fine
    for name in (
        "v1",
        "v2",
        "vision",
        "formrecognizer",
        "documentintelligence",
        "computervision",
        "health",
        "ready",
        "docs",
        "openapi.json",
        "ocr_process",
        "batch_process",
        "generate_api_key",
        "/parse/image",
        "v2/x",
        "static-offline-docs",
    ):
        with pytest.raises(ValueError, match="collides with the existing route"):
            api_path(Settings(stream_api_name=name), routes)
    with pytest.raises(ValueError, match="not a plain URL path"):
        api_path(Settings(stream_api_name="a b?"), routes)
    assert api_path(Settings(stream_api_name="/ocr-stream/"), routes) == "/ocr-stream"


# ------------------------------------------------------------------------------------ the core underneath
def test_jobs_belong_to_their_dialect(srv: Server) -> None:
    assert ocr(srv, {"file": ("h.png", PNG)}).status_code == 200
    r = httpx.post(
        srv.url + "/ocr", json={"image": base64.b64encode(PNG).decode()}, headers={"X-API-Key": srv.key}, timeout=120
    )
    assert r.status_code == 200
    rows = srv.query("select id, dialect from jobs where dialect like 'seed-%'")
    assert {d for _, d in rows} == {"seed-flask", "seed-stream"}, rows
    for job_id, _ in rows[:3]:  # not visible through any polling API of another family
        r = httpx.get(f"{srv.url}/vision/v3.2/read/analyzeResults/{job_id}", headers=srv.headers, timeout=30)
        assert r.status_code == 404, r.text


def test_status_mapping() -> None:
    assert status_of(OcrgwError(ErrorCode.TIMEOUT, "slow")) == 504
    assert status_of(OcrgwError(ErrorCode.WORKER_CRASHED, "boom")) == 500
    assert status_of(OcrgwError(ErrorCode.BACKLOG_FULL, "busy")) == 429
    assert status_of(OcrgwError(ErrorCode.URL_FORBIDDEN, "no")) == 400
    assert status_of(OcrgwError(ErrorCode.INVALID_IMAGE, "header is corrupt")) == 400
