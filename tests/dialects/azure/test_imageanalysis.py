"""Azure AI Vision Image Analysis 4.0 (synchronous read) against real servers: the official SDK unchanged
(bytes, URL, trailing-slash endpoint) and its result models complete, multipart uploads, the Azure error
envelope for refused features/parameters/images/keys, and the bounded wait."""

from __future__ import annotations

import contextlib
import functools
import http.server
import io
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image, ImageDraw, ImageFont
from rapidfuzz.distance import Levenshtein
from tests.bodies import assert_azure_error
from tests.conftest import Server, doc, manifest_row
from tests.dialects.azure.sdk_clients import image_analysis_read

IMAGE = "page/tess_phototest.tif"
PATH = "/computervision/imageanalysis:analyze"
QUERY = "?api-version=2023-10-01&features=read"
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def cer(hyp: str, ref: str) -> float:
    h, r = " ".join(hyp.split()).casefold(), " ".join(ref.split()).casefold()
    return Levenshtein.distance(h, r) / max(1, len(r))


def text_png(text: str = "Hello World 2024", size: tuple[int, int] = (640, 120)) -> bytes:
    im = Image.new("L", size, 255)
    font = ImageFont.truetype(FONT, 40) if Path(FONT).exists() else ImageFont.load_default(40)
    ImageDraw.Draw(im).text((20, 25), text, fill=0, font=font)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


PNG = text_png()


def client(endpoint: str, key: str):
    from azure.ai.vision.imageanalysis import ImageAnalysisClient
    from azure.core.credentials import AzureKeyCredential

    return ImageAnalysisClient(
        endpoint=endpoint, credential=AzureKeyCredential(key), connection_timeout=30, read_timeout=120
    )


def read_features():
    from azure.ai.vision.imageanalysis.models import VisualFeatures

    return [VisualFeatures.READ]


def post(
    srv: Server,
    *,
    query: str = QUERY,
    body: bytes = PNG,
    content_type: str = "application/octet-stream",
    headers: dict | None = None,
    timeout: float = 120,
) -> httpx.Response:
    return httpx.post(
        srv.url + PATH + query,
        content=body,
        timeout=timeout,
        headers={**srv.headers, "Content-Type": content_type, **(headers or {})},
    )


def check_result(result, *, width: int, height: int, ref: str | None = None, max_cer: float = 0.05) -> str:
    """An SDK ImageAnalysisResult: model version, metadata, 4-point int polygons, confidences, text."""
    assert result.model_version == "2023-10-01"
    assert (result.metadata.width, result.metadata.height) == (width, height)
    assert result.read is not None and len(result.read.blocks) == 1
    lines = result.read.blocks[0].lines
    assert lines, "no lines"
    for line in lines:
        assert len(line.bounding_polygon) == 4
        assert all(isinstance(p.x, int) and isinstance(p.y, int) for p in line.bounding_polygon)
        assert all(0 <= p.x <= width and 0 <= p.y <= height for p in line.bounding_polygon)
        tl, tr, br, bl = line.bounding_polygon  # clockwise from top-left
        assert tl.x < tr.x and bl.x < br.x and tl.y < bl.y and tr.y < br.y
        assert line.words
        for w in line.words:
            assert w.text and len(w.bounding_polygon) == 4 and 0.0 <= w.confidence <= 1.0
        assert line.text == " ".join(w.text for w in line.words)
    text = "\n".join(line.text for line in lines)
    if ref is not None:
        score = cer(text, ref)
        assert score <= max_cer, f"CER {score:.3f} > {max_cer}: {text!r}"
    return text


def image_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as im:
        return im.size


@contextlib.contextmanager
def serve_directory(directory: Path) -> Iterator[str]:
    """A tiny static HTTP server on 127.0.0.1 for URL sources."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))

    class Quiet(http.server.ThreadingHTTPServer):
        def handle_error(self, request, client_address) -> None:
            pass

    httpd = Quiet(("127.0.0.1", 0), handler)
    handler.func.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


# --- the SDK, unchanged -------------------------------------------------------------------------------------


def test_sdk_result_is_complete(server: Server) -> None:
    """The SDK's read flow (`sdk_clients.image_analysis_read`): model version, metadata, 4-point polygons
    and confidences are all filled in its models."""
    reading = image_analysis_read(server.url, server.key, doc(IMAGE))
    assert reading.problems == [], reading.problems
    assert "quick brown" in reading.text


def test_sdk_analyze_bytes(server: Server) -> None:
    path = doc(IMAGE)
    result = client(server.url, server.key).analyze(image_data=path.read_bytes(), visual_features=read_features())
    check_result(result, width=image_size(path)[0], height=image_size(path)[1], ref=manifest_row(IMAGE)["text"])


def test_sdk_endpoint_with_trailing_slash(server: Server) -> None:
    result = client(server.url + "/", server.key).analyze(
        image_data=PNG, visual_features=read_features(), language="en"
    )
    assert "Hello World" in check_result(result, width=640, height=120)


def test_sdk_analyze_from_url(private_server: Server) -> None:
    srv = private_server
    path = doc(IMAGE)
    with serve_directory(path.parent) as base:
        result = client(srv.url, srv.key).analyze_from_url(f"{base}/{path.name}", read_features())
    check_result(result, width=image_size(path)[0], height=image_size(path)[1], ref=manifest_row(IMAGE)["text"])
    # The refusals of a URL source are Azure's too.
    r = httpx.post(srv.url + PATH + QUERY, json={"url": f"{base}/{path.name}"}, headers=srv.headers, timeout=30)
    assert_azure_error(r, 400, "InvalidRequest", "FailedToDownloadImage")  # the directory server is gone


def test_sdk_wrong_key(server: Server) -> None:
    from azure.core.exceptions import ClientAuthenticationError

    with pytest.raises(ClientAuthenticationError) as info:
        client(server.url, "not-a-key").analyze(image_data=PNG, visual_features=read_features())
    assert info.value.status_code == 401
    r = post(server, headers={"Ocp-Apim-Subscription-Key": "not-a-key"})
    assert_azure_error(r, 401, "401")


def test_sdk_other_feature_is_refused(server: Server) -> None:
    from azure.ai.vision.imageanalysis.models import VisualFeatures
    from azure.core.exceptions import HttpResponseError

    with pytest.raises(HttpResponseError) as info:
        client(server.url, server.key).analyze(
            image_data=PNG, visual_features=[VisualFeatures.READ, VisualFeatures.CAPTION]
        )
    assert info.value.status_code == 400
    assert info.value.error is not None and info.value.error.code == "InvalidRequest"


# --- raw REST ---------------------------------------------------------------------------------------------


def test_raw_response_shape(server: Server) -> None:
    r = post(server, query=QUERY + "&language=en&model-version=latest&gender-neutral-caption=true")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"modelVersion", "metadata", "readResult"}
    assert body["metadata"] == {"width": 640, "height": 120}
    line = body["readResult"]["blocks"][0]["lines"][0]
    assert set(line) == {"text", "boundingPolygon", "words"}
    assert all(set(p) == {"x", "y"} and all(isinstance(v, int) for v in p.values()) for p in line["boundingPolygon"])
    assert set(line["words"][0]) == {"text", "boundingPolygon", "confidence"}


def test_api_version_2024(server: Server) -> None:
    r = post(server, query="?api-version=2024-02-01&features=Read", content_type="image/png")
    assert r.status_code == 200, r.text
    assert "Hello" in r.text


def test_multipart_upload(server: Server) -> None:
    files = {
        "note": (None, "not the image"),
        "image": ("hello.png", PNG, "image/png"),
        "second": ("other.png", b"\x89PNG garbage", "image/png"),
    }
    r = httpx.post(server.url + PATH + QUERY, files=files, headers=server.headers, timeout=120)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["metadata"] == {"width": 640, "height": 120}
    assert "Hello World" in body["readResult"]["blocks"][0]["lines"][0]["text"]


def test_multipart_without_file(server: Server) -> None:
    body = b'--xyz\r\nContent-Disposition: form-data; name="note"\r\n\r\nx\r\n--xyz--\r\n'
    r = post(server, body=body, content_type="multipart/form-data; boundary=xyz")
    assert_azure_error(r, 400, "InvalidRequest", "InvalidImage")


def test_multi_page_tiff_reads_page_one(server: Server) -> None:
    pages = [Image.open(io.BytesIO(text_png(t))).copy() for t in ("First page here", "Second page there")]
    buf = io.BytesIO()
    pages[0].save(buf, format="TIFF", save_all=True, append_images=pages[1:])
    r = post(server, body=buf.getvalue())
    assert r.status_code == 200, r.text
    assert "First" in r.text and "Second" not in r.text


@pytest.mark.parametrize(
    "query", ["?api-version=2023-10-01", "?api-version=2023-10-01&features=", "?api-version=2023-10-01&features=,"]
)
def test_features_missing(server: Server, query: str) -> None:
    err = assert_azure_error(post(server, query=query), 400, "InvalidRequest")
    assert err["message"] == "Either 'features' or 'model-name' needs to be specified in the query parameter"


@pytest.mark.parametrize("features", ["caption", "read,caption", "tags", "denseCaptions,read", "SMARTCROPS"])
def test_other_visual_features(server: Server, features: str) -> None:
    r = post(server, query=f"?api-version=2023-10-01&features={features}")
    assert_azure_error(r, 400, "InvalidRequest", "NotSupportedVisualFeature")


@pytest.mark.parametrize(
    "query, inner",
    [
        ("?features=read", "NotSupportedApiVersion"),
        ("?api-version=2022-10-12-preview&features=read", "NotSupportedApiVersion"),
        ("?api-version=2023-10-01&features=read,colour", "BadArgument"),
        ("?api-version=2023-10-01&features=read&language=xx-nope", "NotSupportedLanguage"),
        ("?api-version=2023-10-01&features=read&model-version=2099-01-01", "InvalidModel"),
        ("?api-version=2023-10-01&features=read&gender-neutral-caption=maybe", "BadArgument"),
    ],
)
def test_bad_parameters(server: Server, query: str, inner: str) -> None:
    assert_azure_error(post(server, query=query), 400, "InvalidRequest", inner)


def test_custom_model_is_not_found(server: Server) -> None:
    assert_azure_error(post(server, query="?api-version=2023-10-01&model-name=mine"), 404, "NotFound", "ModelNotFound")


def test_corrupt_images(server: Server) -> None:
    # Not an image at all (refused at intake), and a PNG whose header is fine but whose data is cut
    # short (the job fails in the worker): both are the caller's problem, 400 InvalidImageFormat.
    assert_azure_error(
        post(server, body=b"this is not an image at all" * 10), 400, "InvalidRequest", "InvalidImageFormat"
    )
    big = text_png(size=(1200, 900))
    assert_azure_error(post(server, body=big[: len(big) // 2]), 400, "InvalidRequest", "InvalidImageFormat")


def test_empty_body_and_media_type(server: Server) -> None:
    assert_azure_error(post(server, body=b""), 400, "InvalidRequest", "InvalidImage")
    assert_azure_error(post(server, content_type="text/plain"), 415, "UnsupportedMediaType")


def test_missing_key(server: Server) -> None:
    r = httpx.post(server.url + PATH + QUERY, content=PNG, headers={"Content-Type": "image/png"}, timeout=30)
    assert_azure_error(r, 401, "401")


def test_operation_is_in_openapi(server: Server) -> None:
    spec = httpx.get(server.url + "/openapi.json", timeout=30).json()
    op = spec["paths"][PATH]["post"]
    assert op["operationId"] == "azureImageAnalysisAnalyze"
    assert op["tags"] == ["Azure AI Vision Image Analysis 4.0"]
    assert op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/ImageAnalysisResult")
    assert "multipart/form-data" in op["requestBody"]["content"]


# --- the bounded wait ---------------------------------------------------------------------------------------


def test_wait_is_bounded(make_server) -> None:
    srv = make_server(env={"OCRGW_SYNC_WAIT_SECONDS": "0.05"}, workers=1).start()
    # A full page of text: seconds of OCR, far past the 50 ms bound.
    page = Image.new("L", (2400, 3000), 255)
    font = ImageFont.truetype(FONT, 36) if Path(FONT).exists() else ImageFont.load_default(36)
    draw = ImageDraw.Draw(page)
    for i in range(60):
        draw.text(
            (60, 40 + 48 * i), f"Line {i} of a long page that keeps the worker busy for a while", fill=0, font=font
        )
    buf = io.BytesIO()
    page.save(buf, format="PNG")
    big = buf.getvalue()
    started = time.monotonic()
    r = post(srv, body=big, timeout=30)
    elapsed = time.monotonic() - started
    # 408, not 500: azure-core retries a POST's 500 three times, which would start three more jobs.
    err = assert_azure_error(r, 408, "Timeout", "Timeout")
    assert "accepted" in err["message"] and "longer than" in err["message"]
    assert elapsed < 10, elapsed  # bounded: it answered instead of hanging for the whole page
    assert srv.query("select count(*) from jobs") == [(1,)]
    # The official SDK gets the same answer once: no retry, so no duplicate job.
    from azure.ai.vision.imageanalysis import ImageAnalysisClient
    from azure.ai.vision.imageanalysis.models import VisualFeatures
    from azure.core.credentials import AzureKeyCredential
    from azure.core.exceptions import HttpResponseError

    client = ImageAnalysisClient(endpoint=srv.url, credential=AzureKeyCredential(srv.key))
    with pytest.raises(HttpResponseError) as info:
        client.analyze(image_data=big, visual_features=[VisualFeatures.READ])
    assert info.value.status_code == 408
    assert srv.query("select count(*) from jobs") == [(2,)]
