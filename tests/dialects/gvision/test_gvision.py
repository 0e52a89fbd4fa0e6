"""Google Cloud Vision dialect against real servers (embedded and scale-out, real workers and Tesseract):
the official `google-cloud-vision` client over REST, unchanged but for `api_endpoint` (and its key), for
TEXT_DETECTION and DOCUMENT_TEXT_DETECTION, batches with a failed image, files:annotate on a PDF, language
hints, URL sources from a loopback file server, a wrong key and the refused asynchronous calls; the text it
returns equals the native API's for the same document. Then plain HTTP as in Google's curl samples
(`?key=`, enum names) and the whole-request errors as google.rpc.Status."""

from __future__ import annotations

import base64
import io
import json

import httpx
import pytest
from google.api_core import exceptions as gexc
from google.cloud import vision
from PIL import Image
from tests.conftest import Server, doc, native_result
from tests.dialects.azure.test_imageanalysis import serve_directory
from tests.dialects.ocrspace.test_ocrspace import png, text_image

IMAGE = "page/tess_phototest.tif"
DOC_TEXT = vision.Feature(type_=vision.Feature.Type.DOCUMENT_TEXT_DETECTION)
TEXT = vision.Feature(type_=vision.Feature.Type.TEXT_DETECTION)


def client(srv: Server, key: str | None = None) -> vision.ImageAnnotatorClient:
    options = {"api_endpoint": srv.url, "api_key": key or srv.key}
    return vision.ImageAnnotatorClient(transport="rest", client_options=options)


def native_lines(srv: Server, data: bytes, page: int = 1) -> list[str]:
    result = native_result(srv, data)
    (found,) = [p for p in result["pages"] if p["page"] == page]
    return [" ".join(ln["text"].split()) for ln in found["lines"] if ln["text"].strip()]


def lines_of(text: str) -> list[str]:
    return [" ".join(ln.split()) for ln in text.splitlines() if ln.strip()]


def three_page_pdf() -> bytes:
    pages = [text_image((words,)).convert("RGB") for words in ("First page here", "Second page now", "Third page last")]
    buf = io.BytesIO()
    pages[0].save(buf, format="PDF", save_all=True, append_images=pages[1:], resolution=150)
    return buf.getvalue()


def post(srv: Server, body: object, path: str = "/v1/images:annotate", key: str | None = "key") -> httpx.Response:
    query = f"?key={srv.key if key == 'key' else key}" if key else ""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json; charset=utf-8"}
    return httpx.post(f"{srv.url}{path}{query}", content=content, headers=headers, timeout=120)


def status_error(r: httpx.Response, status: int, rpc: str) -> str:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    error = r.json()["error"]
    assert error["code"] == status and error["status"] == rpc, error
    return error["message"]


# ----------------------------------------------------------------------------------------- the real SDK
def test_sdk_document_text_equals_native(server: Server) -> None:
    """DOCUMENT_TEXT_DETECTION through the SDK's helper: the whole hierarchy, with confidences, and the
    same lines as the native API reads from the same file."""
    data = doc(IMAGE).read_bytes()
    r = client(server).document_text_detection(image=vision.Image(content=data))
    assert r.error.message == ""
    full = r.full_text_annotation
    assert lines_of(full.text) == native_lines(server, data)
    assert r.text_annotations[0].description == full.text and r.text_annotations[0].locale == "en"
    words = [w for b in full.pages[0].blocks for p in b.paragraphs for w in p.words]
    assert [a.description for a in r.text_annotations[1:]] == ["".join(s.text for s in w.symbols) for w in words]
    width, height = Image.open(doc(IMAGE)).size
    page = full.pages[0]
    assert (page.width, page.height) == (width, height)
    assert page.blocks[0].block_type == vision.Block.BlockType.TEXT
    assert all(0 < w.confidence <= 1 for w in words)
    last = words[-1].symbols[-1].property.detected_break.type_
    assert last == vision.TextAnnotation.DetectedBreak.BreakType.LINE_BREAK
    for w in words:
        xs = [v.x for v in w.bounding_box.vertices]
        assert len(xs) == 4 and 0 <= min(xs) <= max(xs) <= width
    rows = server.query("SELECT calls FROM usage WHERE service = 'google-vision'")
    assert rows and sum(r[0] for r in rows) >= 1


def test_sdk_text_detection_and_blank_image(server: Server) -> None:
    """TEXT_DETECTION: the same text, no word confidences unless asked; a page without text is `{}`."""
    data = png(text_image(("Hello World 2024",)))
    blank = png(Image.new("L", (400, 200), 255))
    requests = [
        vision.AnnotateImageRequest(image=vision.Image(content=data), features=[TEXT]),
        vision.AnnotateImageRequest(
            image=vision.Image(content=data),
            features=[TEXT],
            image_context=vision.ImageContext(
                text_detection_params=vision.TextDetectionParams(enable_text_detection_confidence_score=True)
            ),
        ),
        vision.AnnotateImageRequest(image=vision.Image(content=blank), features=[DOC_TEXT]),
    ]
    plain, scored, empty = client(server).batch_annotate_images(requests=requests).responses
    for r in (plain, scored):
        assert r.error.message == "" and r.full_text_annotation.text == "Hello World 2024\n"
        assert [a.description for a in r.text_annotations[1:]] == ["Hello", "World", "2024"]
    assert plain.full_text_annotation.pages[0].blocks[0].paragraphs[0].words[0].confidence == 0
    assert scored.full_text_annotation.pages[0].blocks[0].paragraphs[0].words[0].confidence > 0
    assert empty == vision.AnnotateImageResponse()


def test_sdk_batch_with_failed_images(server: Server) -> None:
    """One call, several images: each answered in order, a bad one as its own error inside the 200."""
    good = png(text_image(("Alpha Beta",)))
    requests = [
        vision.AnnotateImageRequest(image=vision.Image(content=good), features=[DOC_TEXT]),
        vision.AnnotateImageRequest(image=vision.Image(content=b"not an image at all"), features=[DOC_TEXT]),
        vision.AnnotateImageRequest(
            image=vision.Image(source=vision.ImageSource(image_uri="gs://bucket/sign.jpg")), features=[TEXT]
        ),
        vision.AnnotateImageRequest(image=vision.Image(content=good), features=[vision.Feature(type_=4)]),
    ]
    ok, bad, gcs, label = client(server).batch_annotate_images(requests=requests).responses
    assert ok.error.message == "" and ok.full_text_annotation.text == "Alpha Beta\n"
    assert bad.error.code == 3 and bad.error.message.startswith("Bad image data.")
    assert gcs.error.code == 7 and "gs://bucket/sign.jpg" in gcs.error.message
    assert label.error.code == 12 and "LABEL_DETECTION" in label.error.message
    assert not bad.full_text_annotation.text and not gcs.text_annotations
    # annotate_image without features asks for all 12: the text ones are answered, the others left empty
    every = client(server).annotate_image({"image": {"content": good}})
    assert every.error.message == "" and every.full_text_annotation.text == "Alpha Beta\n"
    assert not every.label_annotations and not every.face_annotations


def test_sdk_files_annotate_pdf(server: Server) -> None:
    """files:annotate on a 3-page PDF: the pages asked (negative from the end), in that order, each with
    its page number, and the file's page count; each page's text equals the native API's."""
    pdf = three_page_pdf()
    request = vision.AnnotateFileRequest(
        input_config=vision.InputConfig(content=pdf, mime_type="application/pdf"), features=[DOC_TEXT], pages=[1, -1]
    )
    (file,) = client(server).batch_annotate_files(requests=[request]).responses
    assert file.error.message == "" and file.total_pages == 3
    assert [r.context.page_number for r in file.responses] == [1, 3]
    first, last = file.responses
    assert first.full_text_annotation.text == "First page here\n"
    assert last.full_text_annotation.text == "Third page last\n"
    assert lines_of(last.full_text_annotation.text) == native_lines(server, pdf, page=3)
    page = first.full_text_annotation.pages[0]
    assert (page.width, page.height) == (307, 58)  # 640 x 120 px at 150 dpi, in points
    box = page.blocks[0].bounding_box.normalized_vertices
    assert len(box) == 4 and all(0 <= v.x <= 1 and 0 <= v.y <= 1 for v in box)
    six = vision.AnnotateFileRequest(
        input_config=vision.InputConfig(content=pdf, mime_type="application/pdf"),
        features=[TEXT],
        pages=[1, 2, 3, 1, 2, 3],
    )
    (refused,) = client(server).batch_annotate_files(requests=[six]).responses
    assert refused.error.code == 3 and "At most 5 pages" in refused.error.message


def test_sdk_files_annotate_tiff(server: Server) -> None:
    """A 2-page TIFF, no pages asked: both pages (up to the first 5), pixel sizes; a PNG is no file here."""
    frames = [text_image((words,)) for words in ("Alpha Beta", "Gamma Delta")]
    buf = io.BytesIO()
    frames[0].save(buf, format="TIFF", save_all=True, append_images=frames[1:])
    tiff = vision.AnnotateFileRequest(
        input_config=vision.InputConfig(content=buf.getvalue(), mime_type="image/tiff"), features=[TEXT]
    )
    (file,) = client(server).batch_annotate_files(requests=[tiff]).responses
    assert file.error.message == "" and file.total_pages == 2
    assert [r.full_text_annotation.text for r in file.responses] == ["Alpha Beta\n", "Gamma Delta\n"]
    assert [r.context.page_number for r in file.responses] == [1, 2]
    assert (
        file.responses[0].full_text_annotation.pages[0].width,
        file.responses[0].full_text_annotation.pages[0].height,
    ) == (640, 120)
    png_file = vision.AnnotateFileRequest(
        input_config=vision.InputConfig(content=png(frames[0]), mime_type="image/tiff"), features=[TEXT]
    )
    (refused,) = client(server).batch_annotate_files(requests=[png_file]).responses
    assert refused.error.code == 3 and "PDF, TIFF and GIF" in refused.error.message


def test_sdk_language_hints(server: Server) -> None:
    """`languageHints` choose the models (German here); a hint no model reads is that image's error."""
    data = doc("page/letter_de.png").read_bytes()
    german = vision.ImageContext(language_hints=["de"])
    unknown = vision.ImageContext(language_hints=["xx-unknown"])
    r = client(server).document_text_detection(image=vision.Image(content=data), image_context=german)
    assert r.error.message == ""
    assert any(ch in r.full_text_annotation.text for ch in "äöüß"), r.full_text_annotation.text
    assert r.text_annotations[0].locale == "de"
    bad = client(server).text_detection(image=vision.Image(content=data), image_context=unknown)
    assert bad.error.code == 3 and "xx-unknown" in bad.error.message


def test_sdk_wrong_key(server: Server) -> None:
    """A wrong key is 400 INVALID_ARGUMENT with reason API_KEY_INVALID, raised by the SDK, as Google's."""
    with pytest.raises(gexc.BadRequest) as caught:
        client(server, key="not-a-key").text_detection(image=vision.Image(content=b"x"))
    assert "API key not valid" in caught.value.message
    assert caught.value.reason == "API_KEY_INVALID"


def test_sdk_with_a_static_token(server: Server) -> None:
    """A client built with OAuth credentials holding the key sends `Authorization: Bearer <key>`: accepted
    (an ocrgw convenience; Google would take it for an OAuth token)."""
    from google.oauth2.credentials import Credentials

    options = {"api_endpoint": server.url}
    token = vision.ImageAnnotatorClient(transport="rest", client_options=options, credentials=Credentials(server.key))
    r = token.text_detection(image=vision.Image(content=png(text_image(("Alpha Beta",)))))
    assert r.error.message == "" and r.full_text_annotation.text == "Alpha Beta\n"


def test_sdk_async_batch_is_refused(server: Server) -> None:
    """The asynchronous calls need Cloud Storage: Vision's INVALID_ARGUMENT, raised at the submit."""
    request = vision.AsyncAnnotateFileRequest(
        input_config=vision.InputConfig(
            gcs_source=vision.GcsSource(uri="gs://in/doc.pdf"), mime_type="application/pdf"
        ),
        features=[DOC_TEXT],
        output_config=vision.OutputConfig(gcs_destination=vision.GcsDestination(uri="gs://out/res-")),
    )
    with pytest.raises(gexc.BadRequest, match="not supported by this server"):
        client(server).async_batch_annotate_files(requests=[request])


def test_sdk_image_uri_from_loopback(private_server: Server, tmp_path) -> None:
    """`imageUri` fetched through the SSRF guard (this server allows loopback); the default server refuses
    a loopback URL as that image's error."""
    (tmp_path / "hello.png").write_bytes(png(text_image(("Hello World 2024",))))
    with serve_directory(tmp_path) as base:
        image = vision.Image(source=vision.ImageSource(image_uri=f"{base}/hello.png"))
        r = client(private_server).text_detection(image=image)
        assert r.error.message == "" and r.full_text_annotation.text == "Hello World 2024\n"
        missing = client(private_server).text_detection(image=vision.Image(source={"image_uri": f"{base}/none.png"}))
        assert missing.error.code == 4 and "can not access the URL" in missing.error.message


def test_loopback_uri_refused_by_default(embedded_server: Server) -> None:
    image = vision.Image(source=vision.ImageSource(image_uri="http://127.0.0.1:9/x.png"))
    r = client(embedded_server).text_detection(image=image)
    assert r.error.code == 7 and "not allowed to access the URL" in r.error.message


# ----------------------------------------------------------------------------------------- plain HTTP
def test_curl_with_key_in_query(server: Server) -> None:
    """As Google's curl samples: `?key=`, feature names; the answer uses enum names and explicit zeros."""
    data = png(text_image(("Alpha Beta",)))
    body = {
        "requests": [{"image": {"content": base64.b64encode(data).decode()}, "features": [{"type": "TEXT_DETECTION"}]}]
    }
    r = post(server, body)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json; charset=UTF-8"
    (resp,) = r.json()["responses"]
    assert resp["textAnnotations"][0]["description"] == resp["fullTextAnnotation"]["text"] == "Alpha Beta\n"
    block = resp["fullTextAnnotation"]["pages"][0]["blocks"][0]
    assert block["blockType"] == "TEXT"
    last = block["paragraphs"][0]["words"][-1]["symbols"][-1]
    assert last["property"]["detectedBreak"] == {"type": "LINE_BREAK"}
    assert all(set(v) == {"x", "y"} for v in resp["textAnnotations"][0]["boundingPoly"]["vertices"])
    scoped = post(server, body, "/v1/projects/p1/locations/eu/images:annotate")  # the proto's other binding
    assert scoped.status_code == 200 and scoped.json()["responses"][0]["fullTextAnnotation"]["text"] == "Alpha Beta\n"
    assert post(server, body, key=None).status_code == 403
    header = httpx.post(
        server.url + "/v1/images:annotate", json=body, headers={"x-goog-api-key": server.key}, timeout=60
    )
    assert header.status_code == 200


def test_whole_request_errors(server: Server) -> None:
    ok_image = {"content": base64.b64encode(b"x").decode()}
    feature = [{"type": "TEXT_DETECTION"}]
    assert "Invalid JSON payload" in status_error(post(server, b"{not json"), 400, "INVALID_ARGUMENT")
    bad64 = {"requests": [{"image": {"content": "***"}, "features": feature}]}
    assert "Base64 decoding failed" in status_error(post(server, bad64), 400, "INVALID_ARGUMENT")
    unknown = {"requests": [{"image": ok_image, "features": feature, "colour": 1}]}
    assert 'Unknown name "colour"' in status_error(post(server, unknown), 400, "INVALID_ARGUMENT")
    bad_type = {"requests": [{"image": ok_image, "features": [{"type": "OCR_PLEASE"}]}]}
    assert "OCR_PLEASE" in status_error(post(server, bad_type), 400, "INVALID_ARGUMENT")
    many = {"requests": [{"image": ok_image, "features": feature}] * 17}
    assert "at most 16" in status_error(post(server, many), 400, "INVALID_ARGUMENT")
    assert "No requests" in status_error(post(server, {"requests": []}), 400, "INVALID_ARGUMENT")
    two_files = {"requests": [{"inputConfig": {"content": "", "mimeType": "application/pdf"}, "features": feature}] * 2}
    assert "at most 1" in status_error(post(server, two_files, "/v1/files:annotate"), 400, "INVALID_ARGUMENT")
    status_error(post(server, b"{}", "/v1/images:translate"), 404, "NOT_FOUND")
    # no operation is ever made (the asynchronous calls are refused): a poll finds none, in Vision's envelope
    status_error(httpx.get(f"{server.url}/v1/operations/abc123?key={server.key}", timeout=30), 404, "NOT_FOUND")
    null_type = {"requests": [{"image": ok_image, "features": [{"type": None}]}]}
    (unset,) = post(server, null_type).json()["responses"]  # proto3: null is TYPE_UNSPECIFIED
    assert unset["error"]["code"] == 12, unset
    r = httpx.get(f"{server.url}/v1/images:annotate?key={server.key}", timeout=30)
    status_error(r, 405, "UNIMPLEMENTED")
    assert "POST" in r.headers["allow"]


def test_oversize_body(embedded_server: Server) -> None:
    """Over Vision's 10 MB request limit: Google's INVALID_ARGUMENT, refused from Content-Length unread."""
    big = json.dumps({"requests": [{"image": {"content": "A" * (10 * 1024 * 1024)}, "features": []}]}).encode()
    r = post(embedded_server, big)
    assert "Request payload size exceeds the limit" in status_error(r, 400, "INVALID_ARGUMENT")


def test_sdk_over_a_keys_rate_is_resource_exhausted(server: Server) -> None:
    """A key over its rate (an operator's limit, tests/limits.py): the SDK raises 429 RESOURCE_EXHAUSTED
    with the seconds to wait, as Vision answers a quota; the key's first call was read."""
    from tests.limits import new_key, set_limits

    secret, key_id, _ = new_key(server)
    set_limits(server, key_id, "google-vision", rate=1, rate_seconds=60, burst=1)
    sdk = client(server, key=secret)
    image = vision.Image(content=png(text_image(("Alpha Beta",))))
    assert sdk.text_detection(image=image).full_text_annotation.text == "Alpha Beta\n"
    with pytest.raises(gexc.TooManyRequests) as caught:
        sdk.text_detection(image=image)
    assert "Rate limit" in caught.value.message or "rate" in caught.value.message.lower()
    assert caught.value.response is not None and caught.value.response.headers["Retry-After"].isdigit()
