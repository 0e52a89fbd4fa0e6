"""Azure AI Vision Read v3.x wire contract (shared/contracts/azure.md §0, §1, §5, §7), checked over HTTP
against the real server: submit/poll shapes, headers, every error envelope, auth, keys, routing, docs."""

from __future__ import annotations

import io
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from PIL import Image, ImageDraw, ImageFont
from tests.bodies import assert_azure_error as assert_error
from tests.conftest import Server, doc, poll

VERSIONS = ("v3.0", "v3.1", "v3.2")
TAG = "Azure AI Vision Read v3.x"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?Z$")
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
TESSDATA = Path("/usr/share/tesseract-ocr/5/tessdata")
MSG_INVALID_KEY = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key "
    "for an active subscription and use a correct regional API endpoint for your resource."
)
MSG_MISSING_KEY = (
    "Access denied due to missing subscription key. Make sure to include subscription key when making "
    "requests to an API."
)


# --- helpers ---------------------------------------------------------------------------------------------


def text_png(lines: tuple[str, ...] = ("Hello World 2024",), size: tuple[int, int] = (640, 120)) -> bytes:
    im = Image.new("L", size, 255)
    font = ImageFont.truetype(FONT, 40) if Path(FONT).exists() else ImageFont.load_default(40)
    draw = ImageDraw.Draw(im)
    for i, line in enumerate(lines):
        draw.text((20, 25 + 60 * i), line, fill=0, font=font)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


PNG = text_png()
TWO_LINES = text_png(("Invoice number 4711", "Total amount 99 EUR"), size=(640, 180))


def analyze_url(srv: Server, version: str = "v3.2") -> str:
    return f"{srv.url}/vision/{version}/read/analyze"


def post(
    srv: Server,
    *,
    version: str = "v3.2",
    query: str = "",
    body: bytes = PNG,
    headers: dict | None = None,
    content_type: str = "application/octet-stream",
) -> httpx.Response:
    hdrs = {**srv.headers, "Content-Type": content_type, **(headers or {})}
    return httpx.post(analyze_url(srv, version) + query, content=body, headers=hdrs, timeout=60)


def accepted(r: httpx.Response) -> str:
    assert r.status_code == 202, (r.status_code, r.text)
    return r.headers["Operation-Location"]


def parse_ts(value: str) -> datetime:
    assert TS_RE.match(value), value
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert dt.utcoffset() == timedelta(0)
    return dt


def check_status_body(body: dict) -> str:
    assert body["status"] in ("notStarted", "running", "succeeded", "failed"), body
    created = parse_ts(body["createdDateTime"])
    updated = parse_ts(body["lastUpdatedDateTime"])
    assert created <= updated
    now = datetime.now(UTC)
    # UTC, not local time
    assert now - timedelta(minutes=10) < created < now + timedelta(seconds=5), (created, now)
    if body["status"] != "succeeded":
        assert "analyzeResult" not in body, body
    return body["status"]


def check_box(box: list, width: int, height: int) -> None:
    """8 numbers, TL TR BR BL clockwise, inside the page."""
    assert isinstance(box, list) and len(box) == 8, box
    assert all(isinstance(v, int | float) and not isinstance(v, bool) for v in box), box
    tl, tr, br, bl = box[0:2], box[2:4], box[4:6], box[6:8]
    assert tl[0] < tr[0] and bl[0] < br[0], box  # left before right
    assert tl[1] < bl[1] and tr[1] < br[1], box  # top above bottom
    assert all(0 <= x <= width for x in box[0::2]) and all(0 <= y <= height for y in box[1::2]), box


def check_succeeded(body: dict, version: str, *, width: int, height: int) -> list[str]:
    """The full v3.x succeeded shape; returns the lines' text."""
    assert check_status_body(body) == "succeeded", body
    result = body["analyzeResult"]
    assert result["version"] == {"v3.0": "3.0.0", "v3.1": "3.1.0", "v3.2": "3.2.0"}[version]
    if version == "v3.2":
        assert re.match(r"^(latest|\d{4}-\d{2}-\d{2})(-preview)?$", result["modelVersion"]), result
    else:
        assert "modelVersion" not in result
    pages = result["readResults"]
    assert isinstance(pages, list) and len(pages) == 1
    page = pages[0]
    assert page["page"] == 1
    assert isinstance(page["angle"], int | float) and -180 < page["angle"] <= 180
    assert page["width"] == width and page["height"] == height
    assert page["unit"] == "pixel"
    texts = []
    assert page["lines"], page
    for line in page["lines"]:
        check_box(line["boundingBox"], width, height)
        assert isinstance(line["text"], str) and line["text"]
        if version == "v3.2":
            style = line["appearance"]["style"]
            assert style["name"] in ("handwriting", "other")
            assert 0 <= style["confidence"] <= 1
        else:
            assert "appearance" not in line
        assert line["words"], line
        for word in line["words"]:
            check_box(word["boundingBox"], width, height)
            assert isinstance(word["text"], str) and word["text"]
            assert isinstance(word["confidence"], int | float) and 0 <= word["confidence"] <= 1
        assert " ".join(w["text"] for w in line["words"]) == line["text"]
        texts.append(line["text"])
    return texts


def check_operation_location(r: httpx.Response, base: str, version: str) -> str:
    """202 + empty body + absolute Operation-Location ending in a lowercase UUID; returns the id."""
    assert r.status_code == 202, (r.status_code, r.text)
    assert r.content == b""
    assert "location" not in r.headers  # azure-core would do a final GET on it
    loc = r.headers["Operation-Location"]
    parts = urlsplit(loc)
    assert f"{parts.scheme}://{parts.netloc}" == base, loc
    assert parts.query == "" and parts.fragment == "" and "?" not in loc, loc
    assert parts.path.startswith(f"/vision/{version}/read/analyzeResults/"), loc
    op_id = loc.split("/")[-1]
    assert UUID_RE.match(op_id), op_id
    assert str(uuid.UUID(op_id)) == op_id
    assert loc[-36:] == op_id  # .NET samples take the last 36 characters
    return op_id


@pytest.fixture(scope="module")
def other_key(server: Server) -> str:
    return server.cli("keys", "create", "--name", "contract-other", "-q").strip()


# --- submit + poll ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_submit_and_poll_each_version(server: Server, version: str) -> None:
    query = "?language=en" if version != "v3.2" else ""  # what the v3.0/v3.1 SDKs always send
    r = post(server, version=version, query=query)
    check_operation_location(r, server.url, version)
    body = poll(server, r.headers["Operation-Location"])
    texts = check_succeeded(body, version, width=640, height=120)
    assert "Hello World 2024" in texts, texts


def test_get_answers_200_in_every_state(server: Server) -> None:
    """Four jobs for two workers: the last one is seen waiting, then running or done, always 200."""
    receipt = doc("receipt/till_clean.jpg").read_bytes()
    locations = [accepted(post(server, body=receipt)) for _ in range(4)]
    seen: list[str] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        r = httpx.get(locations[-1], headers=server.headers, timeout=30)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].split(";")[0] == "application/json"
        assert "retry-after" not in r.headers or r.headers["retry-after"].isdigit()
        status = check_status_body(r.json())
        seen.append(status)
        if status in ("succeeded", "failed"):
            break
        time.sleep(0.05)
    assert seen[-1] == "succeeded", seen
    assert seen[0] in ("notStarted", "running"), seen
    assert set(seen) <= {"notStarted", "running", "succeeded"}, seen
    for loc in locations[:-1]:
        assert poll(server, loc)["status"] == "succeeded"


def test_forwarded_proto_and_host_are_honoured(server: Server) -> None:
    r = post(server, headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "ocr.example.com"})
    op_id = check_operation_location(r, "https://ocr.example.com", "v3.2")
    assert r.headers["Operation-Location"] == f"https://ocr.example.com/vision/v3.2/read/analyzeResults/{op_id}"
    local = f"{server.url}/vision/v3.2/read/analyzeResults/{op_id}"
    assert poll(server, local)["status"] == "succeeded"


def test_forwarded_host_with_port(server: Server) -> None:
    r = post(server, headers={"X-Forwarded-Proto": "http", "X-Forwarded-Host": "gw.internal:8443"})
    check_operation_location(r, "http://gw.internal:8443", "v3.2")


def test_sdk_default_query(server: Server) -> None:
    """What ComputerVisionClient.read_in_stream 0.9.1 sends, chunked and with no Content-Length."""
    r = httpx.post(
        analyze_url(server) + "?model-version=latest&readingOrder=basic",
        content=iter([PNG]),
        headers={
            **server.headers,
            "Content-Type": "application/octet-stream",
            "Accept": "application/json",
            "X-BingApis-SDK-Client": "Python-SDK",
        },
        timeout=60,
    )
    assert "content-length" not in r.request.headers
    check_operation_location(r, server.url, "v3.2")
    body = poll(server, r.headers["Operation-Location"])
    check_succeeded(body, "v3.2", width=640, height=120)
    assert body["analyzeResult"]["modelVersion"] == "2022-04-30"


@pytest.mark.parametrize(
    "query", ["?modelVersion=2022-04-30", "?model-version=2022-04-30", "?model-version=2022-04-30-preview"]
)
def test_model_version_accepted(server: Server, query: str) -> None:
    body = poll(server, accepted(post(server, query=query)))
    check_succeeded(body, "v3.2", width=640, height=120)
    assert body["analyzeResult"]["modelVersion"] == "2022-04-30"


def test_older_ga_model_version_is_echoed(server: Server) -> None:
    body = poll(server, accepted(post(server, query="?model-version=2021-04-12")))
    assert body["analyzeResult"]["modelVersion"] == "2021-04-12"


@pytest.mark.parametrize("order", ["basic", "natural", "NATURAL"])
def test_reading_orders(server: Server, order: str) -> None:
    body = poll(server, accepted(post(server, query=f"?readingOrder={order}", body=TWO_LINES)))
    texts = check_succeeded(body, "v3.2", width=640, height=180)
    assert texts == ["Invoice number 4711", "Total amount 99 EUR"], texts


@pytest.mark.parametrize(
    "query",
    [
        "?language=en",
        "?language=EN",
        "?language=en-US",
        "?pages=1",
        "?pages=1-",
        "?pages=-1",
        "?pages=1,1-3",
        "?pages=1%2C3-5",
    ],
)
def test_valid_parameters(server: Server, query: str) -> None:
    body = poll(server, accepted(post(server, query=query)))
    check_succeeded(body, "v3.2", width=640, height=120)


def test_missing_or_image_content_type_means_raw_bytes(server: Server) -> None:
    r = httpx.post(analyze_url(server), content=PNG, headers=server.headers, timeout=60)
    assert "content-type" not in r.request.headers
    check_operation_location(r, server.url, "v3.2")
    r = post(server, content_type="image/png")
    check_operation_location(r, server.url, "v3.2")


def test_operation_id_lookup_is_case_insensitive(server: Server) -> None:
    loc = accepted(post(server))
    assert poll(server, loc)["status"] == "succeeded"
    base, op_id = loc.rsplit("/", 1)
    r = httpx.get(f"{base}/{op_id.upper()}", headers=server.headers, timeout=30)
    assert r.status_code == 200 and r.json()["status"] == "succeeded"


def test_repeated_slashes_route(server: Server) -> None:
    r = httpx.post(
        f"{server.url}//vision/v3.2//read/analyze",
        content=PNG,
        headers={**server.headers, "Content-Type": "application/octet-stream"},
        timeout=60,
    )
    op_id = check_operation_location(r, server.url, "v3.2")
    r = httpx.get(f"{server.url}//vision//v3.2/read/analyzeResults//{op_id}", headers=server.headers, timeout=30)
    assert r.status_code == 200, r.text
    check_status_body(r.json())
    assert poll(server, f"{server.url}/vision/v3.2/read/analyzeResults/{op_id}")["status"] == "succeeded"


# --- parameter errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["xx", "klingon", "en_US_POSIX_x", "123"])
def test_unknown_language(server: Server, language: str) -> None:
    assert_error(post(server, query=f"?language={language}"), 400, "InvalidRequest", "NotSupportedLanguage")


@pytest.mark.parametrize("version", VERSIONS)
def test_known_but_uninstalled_language(server: Server, version: str) -> None:
    if (TESSDATA / "jpn.traineddata").exists():
        pytest.skip("jpn is installed here")
    err = assert_error(
        post(server, version=version, query="?language=ja"), 400, "InvalidRequest", "NotSupportedLanguage"
    )
    assert "apt-get install tesseract-ocr-jpn" in err["message"]
    assert "apt-get" in err["innererror"]["message"]


@pytest.mark.parametrize("pages", ["1-x", "0", "3-1", "x", "1,,2", "-", "1-2-3", "0-2", "-0"])
def test_bad_page_ranges(server: Server, pages: str) -> None:
    assert_error(post(server, query=f"?pages={pages}"), 400, "InvalidRequest", "InvalidPageRange")


@pytest.mark.parametrize("pages", ["2", "2-5", "3-"])
def test_page_selection_past_a_one_page_image(server: Server, pages: str) -> None:
    assert_error(post(server, query=f"?pages={pages}"), 400, "InvalidRequest", "InvalidPageRange")


@pytest.mark.parametrize("order", ["sideways", "0", "basic,natural"])
def test_bad_reading_order(server: Server, order: str) -> None:
    assert_error(post(server, query=f"?readingOrder={order}"), 400, "InvalidRequest", "InvalidReadingOrder")


@pytest.mark.parametrize(
    "query",
    [
        "?model-version=v2",
        "?model-version=2020-01-01",
        "?modelVersion=v2",
        "?modelVersion=2020-01-01",
        "?model-version=latest-preview-x",
        "?model-version=2022-4-30",
    ],
)
def test_bad_model_version(server: Server, query: str) -> None:
    assert_error(post(server, query=query), 400, "InvalidRequest", "InvalidModel")


# --- routing errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/nope", "/vision/v9.9/read/analyze", "/vision/v3.2/read/analyzeResults", "/vision/v3.2/ocr", "/vision/"]
)  # (GET / is the web playground)
def test_unknown_route(server: Server, path: str) -> None:
    for method in ("GET", "POST"):
        r = httpx.request(method, server.url + path, headers=server.headers, timeout=30)
        err = assert_error(r, 404, "404")
        assert err["message"] == "Resource not found"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/vision/v3.2/read/analyze"),
        ("GET", "/vision/v3.2/read/analyze"),
        ("PUT", "/vision/v3.1/read/analyze"),
        pytest.param("DELETE", f"/vision/v3.2/read/analyzeResults/{uuid.uuid4()}", id="DELETE-analyzeResults-uuid"),
    ],
)
def test_wrong_method_is_a_405_envelope(server: Server, method: str, path: str) -> None:
    r = httpx.request(method, server.url + path, headers=server.headers, timeout=30)
    assert r.status_code == 405, (r.status_code, r.text)
    code = r.json()["error"]["code"]
    assert code in ("MethodNotAllowed", "405"), r.text
    assert_error(r, 405, code)


@pytest.mark.parametrize("version", VERSIONS)
# A fresh uuid each run, under a fixed test id: pytest-xdist needs every worker to collect the same ids.
@pytest.mark.parametrize(
    "op_id",
    [pytest.param(str(uuid.uuid4()), id="random-uuid"), "not-a-uuid", "00000000-0000-0000-0000-000000000000", "%3Fx=1"],
)
def test_unknown_operation_id(server: Server, version: str, op_id: str) -> None:
    r = httpx.get(f"{server.url}/vision/{version}/read/analyzeResults/{op_id}", headers=server.headers, timeout=30)
    assert_error(r, 404, "NotFound", "OperationNotFound")


# --- auth ------------------------------------------------------------------------------------------------


def _check_401(r: httpx.Response, message: str) -> None:
    err = assert_error(r, 401, "401")
    assert err["message"] == message
    auth = r.headers["www-authenticate"]
    assert auth.startswith("AzureApiManagementKey ")
    assert 'name="Ocp-Apim-Subscription-Key"' in auth and 'type="header"' in auth


def test_missing_key(server: Server) -> None:
    r = httpx.post(analyze_url(server), content=PNG, headers={"Content-Type": "application/octet-stream"}, timeout=30)
    _check_401(r, MSG_MISSING_KEY)
    r = httpx.get(f"{server.url}/vision/v3.2/read/analyzeResults/{uuid.uuid4()}", timeout=30)
    _check_401(r, MSG_MISSING_KEY)
    r = httpx.post(
        analyze_url(server),
        content=PNG,
        timeout=30,
        headers={"Content-Type": "application/octet-stream", "Ocp-Apim-Subscription-Key": ""},
    )
    _check_401(r, MSG_MISSING_KEY)


def test_wrong_key(server: Server) -> None:
    bad = {"Ocp-Apim-Subscription-Key": "0" * 32}
    r = httpx.post(
        analyze_url(server), content=PNG, timeout=30, headers={**bad, "Content-Type": "application/octet-stream"}
    )
    _check_401(r, MSG_INVALID_KEY)
    loc = accepted(post(server))
    r = httpx.get(loc, headers=bad, timeout=30)  # a real operation, the wrong key: still 401 first
    _check_401(r, MSG_INVALID_KEY)
    poll(server, loc)


def test_auth_is_checked_before_parameters_and_body(server: Server) -> None:
    """Auth comes before input checks: a bad key never learns whether its input was valid."""
    bad = {"Ocp-Apim-Subscription-Key": "0" * 32, "Content-Type": "application/octet-stream"}
    r = httpx.post(analyze_url(server) + "?language=xx", content=b"junk", headers=bad, timeout=30)
    _check_401(r, MSG_INVALID_KEY)


def test_another_keys_operation_is_not_found(server: Server, other_key: str) -> None:
    loc = accepted(post(server))
    r = httpx.get(loc, headers={"Ocp-Apim-Subscription-Key": other_key}, timeout=30)
    assert_error(r, 404, "NotFound", "OperationNotFound")
    # and the other key's own jobs work
    other = {"Ocp-Apim-Subscription-Key": other_key, "Content-Type": "application/octet-stream"}
    r2 = httpx.post(analyze_url(server), content=PNG, timeout=60, headers=other)
    loc2 = accepted(r2)
    assert_error(httpx.get(loc2, headers=server.headers, timeout=30), 404, "NotFound", "OperationNotFound")
    assert poll(server, loc)["status"] == "succeeded"


def test_revoked_key_stops_working_within_six_seconds(server: Server) -> None:
    secret = server.cli("keys", "create", "--name", "contract-revoke", "-q").strip()
    headers = {"Ocp-Apim-Subscription-Key": secret}
    probe = f"{server.url}/vision/v3.2/read/analyzeResults/{uuid.uuid4()}"
    # the key works (and is now in the resolver's cache)
    assert_error(httpx.get(probe, headers=headers, timeout=30), 404, "NotFound", "OperationNotFound")
    out = server.cli("keys", "revoke", secret[:8])
    assert "revoked 1" in out, out
    revoked_at = time.monotonic()
    while True:
        r = httpx.get(probe, headers=headers, timeout=30)
        if r.status_code == 401:
            break
        assert r.status_code == 404
        assert time.monotonic() - revoked_at < 6.5, "revoked key still accepted after 6.5 s"
        time.sleep(0.25)
    _check_401(r, MSG_INVALID_KEY)
    # the server's own key is untouched
    assert_error(httpx.get(probe, headers=server.headers, timeout=30), 404, "NotFound", "OperationNotFound")


# --- docs and OpenAPI ------------------------------------------------------------------------------------


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "spec-url") and value:
                self.refs.append(value)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_are_offline(server: Server, page: str) -> None:
    r = httpx.get(server.url + page, timeout=30)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    for url in re.findall(r"""(?:https?:)?//[A-Za-z0-9.-]+(?::\d+)?[^\s"'<>)]*""", html):
        host = urlsplit(url if url.startswith("http") else "http:" + url).hostname
        assert host in (None, "127.0.0.1", "localhost"), f"{page} references an external host: {url}"
    parser = _Refs()
    parser.feed(html)
    assets = [ref for ref in parser.refs if ref.endswith((".js", ".css"))]
    assert any(a.endswith(".js") for a in assets), parser.refs
    if page == "/docs":
        assert any(a.endswith(".css") for a in assets), parser.refs
    for ref in parser.refs:
        asset = httpx.get(urljoin(server.url + page, ref), timeout=30)
        assert asset.status_code == 200, (ref, asset.status_code)
        assert urlsplit(str(asset.url)).hostname == "127.0.0.1"
        if ref.endswith(".js"):
            assert "javascript" in asset.headers["content-type"], asset.headers
            assert len(asset.content) > 10_000
        if ref.endswith(".css"):
            assert asset.headers["content-type"].startswith("text/css"), asset.headers


def test_openapi_lists_the_read_routes(server: Server) -> None:
    r = httpx.get(server.url + "/openapi.json", timeout=30)
    assert r.status_code == 200
    spec = r.json()
    paths = spec["paths"]
    op_ids = []
    for version in VERSIONS:
        submit = paths[f"/vision/{version}/read/analyze"]["post"]
        result = paths[f"/vision/{version}/read/analyzeResults/{{operation_id}}"]["get"]
        for op in (submit, result):
            assert op["tags"] == [TAG], op
            assert op["operationId"], op
            op_ids.append(op["operationId"])
        assert "202" in submit["responses"]
        assert "Operation-Location" in submit["responses"]["202"].get("headers", {})
        assert "200" in result["responses"] and "404" in result["responses"]
        content = submit["requestBody"]["content"]
        assert {"application/octet-stream", "application/json"} <= set(content)
    assert len(set(op_ids)) == len(op_ids) == 6, op_ids
    assert TAG in {t["name"] for t in spec.get("tags", [{"name": TAG}])}
    # Liveness and readiness are documented for operators, in their own tag, not among Azure's routes.
    assert paths["/health"]["get"]["tags"] == ["Operations"] and paths["/ready"]["get"]["tags"] == ["Operations"]


# --- HTTP semantics beyond the contract -------------------------------------------------------------


def test_405_carries_an_allow_header(server: Server) -> None:
    """RFC 9110 §15.5.6: a 405 response MUST carry Allow."""
    r = httpx.request("DELETE", analyze_url(server), headers=server.headers, timeout=30)
    assert r.status_code == 405
    assert r.headers.get("allow") == "POST", r.headers
