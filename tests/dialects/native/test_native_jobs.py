"""Native /v1 jobs API against real servers (embedded and scale-out): submit by multipart, raw body and
JSON (base64), poll with progress, the result as JSON and every export format (ALTO validated against its
schema, hOCR parsed as XHTML, the searchable PDF's text layer read back), cursor pagination, delete, and
errors in the native envelope."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import httpx
import pypdfium2 as pdfium
import pytest
from lxml import etree
from rapidfuzz.distance import Levenshtein
from tests.conftest import Server, doc, manifest_row

IMAGE = "page/tess_phototest.tif"
ALTO_DIR = Path(__file__).resolve().parents[2] / "data" / "alto"


def cer(hyp: str, ref: str) -> float:
    h, r = " ".join(hyp.split()).casefold(), " ".join(ref.split()).casefold()
    return Levenshtein.distance(h, r) / max(1, len(r))


def headers(srv: Server) -> dict[str, str]:
    return {"X-API-Key": srv.key}


def wait_done(srv: Server, location: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        r = httpx.get(location, headers=headers(srv), timeout=30)
        assert r.status_code == 200, r.text
        op = r.json()
        if op["status"] in ("succeeded", "failed") or time.monotonic() > deadline:
            return op
        time.sleep(0.2)


def native_error(r: httpx.Response, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code and err["message"], err
    return err


def submit_file(srv: Server, data: bytes, **fields: str) -> httpx.Response:
    return httpx.post(
        srv.url + "/v1/jobs", headers=headers(srv), files={"file": ("doc", data)}, data=fields, timeout=60
    )


def test_submit_poll_result_and_formats(server: Server) -> None:
    data = doc(IMAGE).read_bytes()
    r = submit_file(server, data, languages="en", reading_order="natural")
    assert r.status_code == 202, r.text
    op = r.json()
    assert r.headers["location"] == op["links"]["self"] and op["links"]["self"].endswith(op["id"])
    assert op["status"] in ("queued", "running", "succeeded")
    done = wait_done(server, r.headers["location"])
    assert done["status"] == "succeeded", done
    assert done["progress"] == {"pages_done": 1, "pages_total": 1}
    res = httpx.get(done["links"]["result"], headers=headers(server), timeout=30).json()
    assert cer(res["text"], manifest_row(IMAGE)["text"]) <= 0.05
    page = res["pages"][0]
    assert page["unit"] == "pixel" and page["page"] == 1 and isinstance(page["preprocessing"], list)
    words = [w for ln in page["lines"] for w in ln["words"]]
    assert words and all(len(w["bbox"]) == 8 and 0 <= w["confidence"] <= 1 for w in words)

    def fmt(name: str | None = None, accept: str | None = None) -> httpx.Response:
        h = {**headers(server), **({"Accept": accept} if accept else {})}
        return httpx.get(done["links"]["result"], params={"format": name} if name else None, headers=h, timeout=30)

    assert fmt("text").text == res["text"] and fmt(accept="text/plain").text == res["text"]
    hocr = etree.fromstring(fmt("hocr").content)
    ns = {"h": "http://www.w3.org/1999/xhtml"}
    hwords = hocr.findall(".//h:span[@class='ocrx_word']", ns)
    assert [w.text for w in hwords] == [w["text"] for w in words]
    first = words[0]["bbox"]
    assert (
        hwords[0]
        .get("title")
        .startswith(
            f"bbox {round(min(first[0::2]))} {round(min(first[1::2]))} "
            f"{round(max(first[0::2]))} {round(max(first[1::2]))}"
        )
    )
    parser = etree.XMLParser(no_network=True)
    schema_doc = etree.parse(str(ALTO_DIR / "alto-4-4.xsd"), parser)
    text = etree.tostring(schema_doc).replace(
        b"http://www.loc.gov/standards/xlink/xlink.xsd", (ALTO_DIR / "xlink.xsd").as_uri().encode()
    )
    schema = etree.XMLSchema(etree.fromstring(text, base_url=str(ALTO_DIR) + "/"))
    alto = etree.fromstring(fmt("alto").content)
    schema.assertValid(alto)
    assert len(alto.findall(".//{http://www.loc.gov/standards/alto/ns-v4#}String")) == len(words)
    tsv = fmt("tsv").text.splitlines()
    assert len([row for row in tsv[1:] if row.startswith("5\t")]) == len(words)
    native_error(fmt("pdf"), 400, "NotRequested")  # not asked for at submit: waiting will not help
    native_error(fmt("docx"), 400, "InvalidParameter")


def test_json_base64_with_searchable_pdf_and_raw_body(server: Server) -> None:
    data = doc(IMAGE).read_bytes()
    r = httpx.post(
        server.url + "/v1/jobs",
        headers=headers(server),
        timeout=60,
        json={"base64": base64.b64encode(data).decode(), "searchable_pdf": True},
    )
    assert r.status_code == 202, r.text
    assert wait_done(server, r.headers["location"])["status"] == "succeeded"
    pdf = httpx.get(r.json()["links"]["result"], params={"format": "pdf"}, headers=headers(server), timeout=30)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    searchable = pdfium.PdfDocument(pdf.content)
    assert cer(searchable[0].get_textpage().get_text_range(), manifest_row(IMAGE)["text"]) <= 0.1
    raw = httpx.post(
        server.url + "/v1/jobs?languages=eng&pages=1",
        content=data,
        timeout=60,
        headers={**headers(server), "Content-Type": "image/tiff"},
    )
    assert raw.status_code == 202, raw.text
    assert wait_done(server, raw.headers["location"])["status"] == "succeeded"


def test_list_pagination_status_filter_and_delete(own_key: Server) -> None:
    srv = own_key
    from tests.dialects.ocrspace.test_ocrspace import PNG

    ids = []
    for _ in range(3):
        r = submit_file(srv, PNG)
        assert r.status_code == 202, r.text
        ids.append(r.json()["id"])
    for job_id in ids:
        assert wait_done(srv, f"{srv.url}/v1/jobs/{job_id}")["status"] == "succeeded"
    page1 = httpx.get(srv.url + "/v1/jobs", params={"limit": 2}, headers=headers(srv)).json()
    assert [j["id"] for j in page1["items"]] == ids[::-1][:2] and page1["next_cursor"]
    page2 = httpx.get(
        srv.url + "/v1/jobs", params={"limit": 2, "cursor": page1["next_cursor"]}, headers=headers(srv)
    ).json()
    assert [j["id"] for j in page2["items"]] == [ids[0]] and page2["next_cursor"] is None
    assert httpx.get(srv.url + "/v1/jobs", params={"status": "failed"}, headers=headers(srv)).json()["items"] == []
    native_error(
        httpx.get(srv.url + "/v1/jobs", params={"cursor": "garbage!"}, headers=headers(srv)), 400, "InvalidParameter"
    )
    # Another key sees none of them; an Azure-submitted job does not show up here either.
    other = srv.cli("keys", "create", "--name", "other", "-q").strip()
    assert httpx.get(srv.url + "/v1/jobs", headers={"X-API-Key": other}).json()["items"] == []
    native_error(
        httpx.get(f"{srv.url}/v1/jobs/{ids[0]}", headers={"Authorization": f"Bearer {other}"}), 404, "NotFound"
    )
    r = httpx.delete(f"{srv.url}/v1/jobs/{ids[0]}", headers=headers(srv))
    assert r.status_code == 204
    native_error(httpx.get(f"{srv.url}/v1/jobs/{ids[0]}", headers=headers(srv)), 404, "NotFound")
    native_error(httpx.delete(f"{srv.url}/v1/jobs/{ids[0]}", headers=headers(srv)), 404, "NotFound")


def test_native_errors(embedded_server: Server) -> None:
    srv = embedded_server
    native_error(httpx.post(srv.url + "/v1/jobs", files={"file": ("a", b"x")}), 401, "MissingKey")
    native_error(
        httpx.post(srv.url + "/v1/jobs", headers={"X-API-Key": "0" * 32}, files={"file": ("a", b"x")}),
        401,
        "InvalidKey",
    )
    native_error(submit_file(srv, b"this is not an image at all"), 400, "InvalidImage")
    native_error(submit_file(srv, b"\x89PNG\r\n\x1a\n" + b"\0" * 30), 400, "InvalidImage")
    native_error(
        httpx.post(srv.url + "/v1/jobs", content=b"<x/>", headers={**headers(srv), "Content-Type": "text/xml"}),
        415,
        "UnsupportedMediaType",
    )
    native_error(
        httpx.post(srv.url + "/v1/jobs", headers=headers(srv), json={"url": "x", "base64": "eA=="}),
        400,
        "InvalidParameter",
    )
    native_error(
        httpx.post(
            srv.url + "/v1/jobs", headers=headers(srv), json={"url": "http://169.254.169.254/latest/meta-data/"}
        ),
        400,
        "UrlForbidden",
    )
    native_error(
        httpx.post(srv.url + "/v1/jobs", headers=headers(srv), json={"base64": "@@@"}), 400, "InvalidParameter"
    )
    native_error(
        httpx.post(
            srv.url + "/v1/jobs", headers={**headers(srv), "Content-Type": "application/json"}, content=b"{oops"
        ),
        400,
        "InvalidParameter",
    )
    from tests.dialects.ocrspace.test_ocrspace import PNG

    native_error(submit_file(srv, PNG, languages="xx"), 400, "UnsupportedLanguage")
    native_error(submit_file(srv, PNG, pages="0-"), 400, "InvalidPageRange")
    native_error(submit_file(srv, PNG, reading_order="sideways"), 400, "InvalidParameter")
    # Options in the query of a multipart or JSON submit would go unread: refused, the body carries them.
    for body in ({"files": {"file": ("a.png", PNG)}}, {"json": {"url": "http://127.0.0.1:9/a.png"}}):
        r = httpx.post(srv.url + "/v1/jobs?languages=deu", headers=headers(srv), timeout=30, **body)  # type: ignore[arg-type]
        assert "goes in the body" in native_error(r, 400, "InvalidParameter")["message"]
    native_error(httpx.get(srv.url + "/v1/jobs/not-a-uuid", headers=headers(srv)), 404, "NotFound")
    native_error(httpx.get(srv.url + "/v1/nothing-here", headers=headers(srv)), 404, "RouteNotFound")
    assert submit_file(srv, PNG).status_code == 202  # still serving


def test_idempotency_key_returns_the_original_operation(own_key: Server) -> None:
    import concurrent.futures

    from tests.dialects.ocrspace.test_ocrspace import PNG

    srv = own_key

    def submit(key: str) -> httpx.Response:
        return httpx.post(
            srv.url + "/v1/jobs",
            headers={**headers(srv), "Idempotency-Key": key},
            files={"file": ("doc", PNG)},
            timeout=60,
        )

    first = submit("order-1")
    assert first.status_code == 202
    again = submit("order-1")
    assert again.status_code == 202 and again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert submit("order-2").json()["id"] != first.json()["id"]
    # Another caller's identical key is its own.
    other = srv.cli("keys", "create", "--name", "other", "-q").strip()
    r = httpx.post(
        srv.url + "/v1/jobs",
        headers={"X-API-Key": other, "Idempotency-Key": "order-1"},
        files={"file": ("doc", PNG)},
        timeout=60,
    )
    assert r.json()["id"] != first.json()["id"]
    # Concurrent retries of one new key make exactly one job.
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        ids = {r.json()["id"] for r in pool.map(lambda _: submit("order-3"), range(8))}
    assert len(ids) == 1
    listed = httpx.get(srv.url + "/v1/jobs", params={"limit": 100}, headers=headers(srv)).json()["items"]
    assert len(listed) == 3
    native_error(submit("x" * 300), 400, "InvalidParameter")


class _Receiver:
    """A callback receiver on 127.0.0.1 that fails its first ``failures`` deliveries with HTTP 500."""

    def __init__(self, failures: int) -> None:
        import http.server
        import threading

        self.failures = failures
        self.received: list[tuple[dict[str, str], bytes, float]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append(({k.lower(): v for k, v in self.headers.items()}, body, time.time()))
                self.send_response(500 if len(outer.received) <= outer.failures else 204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()


@pytest.mark.parametrize("deployment", ["embedded", "scaleout"])
def test_callback_signed_and_retried_until_delivered(deployment: str, request: pytest.FixtureRequest) -> None:
    import hashlib
    import hmac

    from tests.dialects.ocrspace.test_ocrspace import PNG

    env = {
        "OCRGW_URL_ALLOW_PRIVATE": "true",
        "OCRGW_CALLBACK_RETRY_BASE_SECONDS": "0.5",
        "OCRGW_CALLBACK_POLL_SECONDS": "0.2",
    }
    srv: Server
    if deployment == "embedded":  # the shared server with these settings
        srv = request.getfixturevalue("private_server")
        assert env.items() <= srv.env.items(), srv.env
    else:
        srv = request.getfixturevalue("make_scaleout")(env=env, apis=2).start()
    receiver = _Receiver(failures=2)
    try:
        r = submit_file(srv, PNG, callback_url=receiver.url)
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]
        assert r.json()["callback"] == {"url": receiver.url, "state": "pending", "attempts": 0, "last_error": None}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            op = httpx.get(f"{srv.url}/v1/jobs/{job_id}", headers=headers(srv)).json()
            if op["callback"]["state"] != "pending":
                break
            time.sleep(0.2)
        assert op["callback"]["state"] == "delivered" and op["callback"]["attempts"] == 3, op
        assert len(receiver.received) == 3  # two failures, then the delivery; never a duplicate after it
        time.sleep(1.5)
        assert len(receiver.received) == 3
        secret = httpx.get(srv.url + "/v1/callbacks/secret", headers=headers(srv)).json()["secret"]
        gaps = [b[2] - a[2] for a, b in zip(receiver.received, receiver.received[1:], strict=False)]
        # The waits are at least the doubling backoff (0.5 s, then 1 s); load can only lengthen them.
        assert gaps[0] >= 0.45 and gaps[1] >= 0.95, gaps
        for hdrs, body, got_at in receiver.received:
            t, v1 = (part.split("=", 1)[1] for part in hdrs["ocrgw-signature"].split(","))
            expect = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
            assert hmac.compare_digest(v1, expect)
            assert abs(int(t) - got_at) < 30
            event = __import__("json").loads(body)
            assert event["event"] == "job.succeeded" and event["id"] == job_id and event["status"] == "succeeded"
            assert event["links"]["result"].endswith(f"/v1/jobs/{job_id}/result")
            assert hdrs["ocrgw-event"] == "job.succeeded"
        # Another key has another secret: a receiver can tell whose event it is.
        other = srv.cli("keys", "create", "--name", "other", "-q").strip()
        assert httpx.get(srv.url + "/v1/callbacks/secret", headers={"X-API-Key": other}).json()["secret"] != secret
    finally:
        receiver.close()


def test_callback_url_is_ssrf_guarded(embedded_server: Server) -> None:
    from tests.dialects.ocrspace.test_ocrspace import PNG

    srv = embedded_server  # private addresses not allowed (the default)
    for url in ("http://127.0.0.1:9/hook", "http://169.254.169.254/latest", "ftp://example.com/x", "not a url"):
        err = native_error(
            submit_file(srv, PNG, callback_url=url), 400, "UrlForbidden" if url.startswith("http://1") else "InvalidUrl"
        )
        assert err["param"] == "callback_url"


def test_accurate_mode_reads_with_the_second_engine(server: Server) -> None:
    """mode=accurate on a faded receipt Tesseract reads at ~18 % CER: the worker (embedded or Celery) reads it
    with PP-OCR, says so in the page's steps, and the text comes back at a few per cent. A language the
    second engine cannot read is refused at submit when that engine is asked for by name."""
    image = "receipt/till_faded.jpg"
    data = doc(image).read_bytes()
    r = submit_file(server, data, mode="accurate", languages="en")
    assert r.status_code == 202, r.text
    done = wait_done(server, r.headers["location"])
    assert done["status"] == "succeeded", done
    res = httpx.get(done["links"]["result"], headers=headers(server), timeout=30).json()
    assert cer(res["text"], manifest_row(image)["text"]) <= 0.04, res["text"]
    steps = res["pages"][0]["preprocessing"]
    assert steps[0] == {"step": "engine", "name": "rapidocr", "mode": "accurate"}, steps
    err = native_error(submit_file(server, data, engine="rapidocr", languages="de"), 400, "InvalidParameter")
    assert err["param"] == "engine" and "deu" in err["message"]
    native_error(submit_file(server, data, mode="fastest"), 400, "InvalidParameter")
