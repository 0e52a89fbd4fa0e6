"""The native /v1 API's JSON and its export formats (text, hOCR, ALTO, TSV) rendered from stored results
without a server: the operation in every state (status words, ISO-8601 UTC times, progress, the error and
the callback's delivery), absolute links from the request, pages numbered from 1 in their own units, the
plain text; exports in pixels (PDF pages at the render DPI), ALTO valid against the official schema. A
golden file per fixture and format, compared exactly.

Renderers: `ocrgw.dialects.native.render.result(view, request, ctx)` and `operation(...)` (each takes the
real Request and AppContext, built here), and `ocrgw.render.exports.FORMATS`.
Goldens: tests/data/results/golden/native; rewrite with OCRGW_UPDATE_GOLDEN=1. The ocrgw version that hOCR
and ALTO name is written there as VERSION, so a release does not change them."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path

import lxml.html
import pytest
from lxml import etree
from tests.results import FIXTURES, SUCCEEDED, conforms, golden, http_request, load, settings

from ocrgw import __version__
from ocrgw.auth import KeyResolver
from ocrgw.context import AppContext
from ocrgw.db import make_async_engine, make_async_sessionmaker
from ocrgw.dialects.native import render
from ocrgw.dialects.native import schemas as S
from ocrgw.queue.local import LocalDispatcher
from ocrgw.render import exports
from ocrgw.storage import make_blob_store

DIALECT = "native"
ALTO_DIR = Path(__file__).resolve().parents[2] / "data" / "alto"
XLINK_URL = "http://www.loc.gov/standards/xlink/xlink.xsd"
UTC_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppContext]:
    """The API process's context as main.create_app builds it; rendering reads only its settings, and
    nothing here connects to the database or starts a worker."""
    s = settings(data_dir=tmp_path_factory.mktemp("native"))
    engine = make_async_engine(s)
    db = make_async_sessionmaker(engine)
    yield AppContext(s, db, LocalDispatcher(s, db), make_blob_store(s, db), KeyResolver(s, db))
    asyncio.run(engine.dispose())


def as_sent(model: S.Operation) -> dict:
    """The body as the route sends it (`model_dump_json`), parsed back."""
    return json.loads(model.model_dump_json())


@pytest.mark.parametrize("name", FIXTURES)
def test_native_result_every_state(name: str, ctx: AppContext) -> None:
    view = load(name)
    body = as_sent(render.result(view, http_request(f"/v1/jobs/{view.id}/result"), ctx))
    conforms(S.Result, body)
    assert list(body) == [
        "id",
        "status",
        "created_at",
        "updated_at",
        "expires_at",
        "progress",
        "attempts",
        "error",
        "callback",
        "links",
        "pages",
        "text",
    ]
    assert body["id"] == view.id and body["status"] == view.status.value
    assert all(UTC_TIME.match(body[k]) for k in ("created_at", "updated_at", "expires_at"))
    assert body["progress"] == {"pages_done": view.pages_done, "pages_total": view.pages_total}
    base = f"https://ocr.example.com/v1/jobs/{view.id}"
    assert body["links"] == {"self": base, "result": base + "/result"}
    pages = view.pages or []
    assert [p["page"] for p in body["pages"]] == list(range(1, len(pages) + 1))
    for out, page in zip(body["pages"], pages, strict=True):
        assert list(out) == ["page", "width", "height", "unit", "angle", "language", "preprocessing", "lines", "layout"]
        assert (out["width"], out["height"], out["unit"], out["angle"]) == (
            page.width,
            page.height,
            page.unit,
            page.angle,
        )
        assert all("step" in step for step in out["preprocessing"])
        for line, stored in zip(out["lines"], page.lines, strict=True):
            assert list(line) == ["text", "bbox", "confidence", "words", "style", "style_confidence", "language"]
            assert (line["style"], line["style_confidence"]) == (stored.style, stored.style_confidence)
            assert line["text"] == stored.text and len(line["bbox"]) == 8 and 0 <= line["confidence"] <= 1
            assert [w["text"] for w in line["words"]] == [w.text for w in stored.words]
            assert all(len(w["bbox"]) == 8 and 0 <= w["confidence"] <= 1 for w in line["words"])
    # Lines end in "\n" and pages are separated by a form feed, as `tesseract ... txt` writes them.
    assert body["text"] == "\f".join("".join(ln.text + "\n" for ln in p.lines) for p in pages)
    if name == "failed":
        assert body["error"] == {"code": "InvalidImage", "message": view.error_message, "param": None}
        assert body["callback"] == {
            "url": view.callback.url if view.callback else None,
            "state": "failed",
            "attempts": 1,
            "last_error": "ConnectError: All connection attempts failed",
        }
    else:
        assert body["error"] is None and body["callback"] is None
    golden(DIALECT, name, body)


def test_native_operation_is_the_result_without_pages(ctx: AppContext) -> None:
    view = load("running")
    request = http_request(f"/v1/jobs/{view.id}")
    operation = as_sent(render.operation(view, request, ctx))
    conforms(S.Operation, operation)
    assert operation["progress"] == {"pages_done": 1, "pages_total": 2}
    result = as_sent(render.result(view, request, ctx))
    assert {**operation, "pages": [], "text": ""} == result
    golden(DIALECT, "running-operation", operation)


def test_native_links_follow_the_configured_public_base_url(ctx: AppContext) -> None:
    view = load("queued")
    behind_proxy = AppContext(
        settings(public_base_url="https://gw.example.org/ocr/"), ctx.db, ctx.queue, ctx.store, ctx.keys
    )
    links = as_sent(render.operation(view, http_request(host="10.0.0.5:8000", scheme="http"), behind_proxy))["links"]
    assert links["self"] == f"https://gw.example.org/ocr/v1/jobs/{view.id}"


# ------------------------------------------------------------------------------------------------ exports
@pytest.fixture(scope="module")
def alto_schema() -> etree.XMLSchema:
    class LocalXlink(etree.Resolver):
        def resolve(self, url, pubid, context):
            return self.resolve_filename(str(ALTO_DIR / "xlink.xsd"), context) if url == XLINK_URL else None

    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(LocalXlink())
    return etree.XMLSchema(etree.parse(str(ALTO_DIR / "alto-4-4.xsd"), parser))


def export(name: str, fmt: str) -> str:
    """As GET /v1/jobs/{id}/result?format=<fmt> renders it: the pages at the server's PDF DPI."""
    _, render, _ = exports.FORMATS[fmt]
    return render(load(name).pages or [], float(settings().pdf_dpi))


def unversioned(text: str) -> str:
    return text.replace(f"ocrgw {__version__}", "ocrgw VERSION").replace(
        f"<softwareVersion>{__version__}<", "<softwareVersion>VERSION<"
    )


@pytest.mark.parametrize("name", SUCCEEDED)
@pytest.mark.parametrize("fmt", list(exports.FORMATS))
def test_native_exports(name: str, fmt: str, alto_schema: etree.XMLSchema) -> None:
    pages = load(name).pages or []
    text = export(name, fmt)
    words = [w for p in pages for ln in p.lines for w in ln.words]
    if fmt == "text":
        assert text == "\f".join("".join(ln.text + "\n" for ln in p.lines) for p in pages)
    elif fmt == "tsv":
        rows = [r.split("\t") for r in text.splitlines()]
        assert rows[0] == exports.TSV_HEADER.split("\t") and all(len(r) == 12 for r in rows)
        assert [r[11] for r in rows if r[0] == "5"] == [w.text for w in words]
        assert [r[1] for r in rows if r[0] == "1"] == [str(p.page_no) for p in pages]
    elif fmt == "hocr":
        doc = etree.fromstring(text.encode())
        found = doc.findall(".//h:span[@class='ocrx_word']", {"h": exports.XHTML_NS})
        assert [w.text for w in found] == [w.text for w in words]
    elif fmt == "markdown":  # no layout stored with these jobs: their paragraphs, pages apart
        assert text.count("<!-- PageBreak -->") == len(pages) - 1
        assert all(ln.text in text for p in pages for ln in p.lines)
    elif fmt == "html":
        body = lxml.html.document_fromstring(text).body
        assert len(body.findall("section")) == len(pages)
        assert " ".join(body.text_content().split()) == " ".join(ln.text for p in pages for ln in p.lines)
    else:
        doc = etree.fromstring(text.encode())
        alto_schema.assertValid(doc)
        found = doc.findall(".//a:String", {"a": exports.ALTO_NS})
        assert [s.get("CONTENT") for s in found] == [w.text for w in words]
    golden(DIALECT, name, unversioned(text), ext=exports.FORMATS[fmt][2])


def test_native_exports_put_pdf_pages_in_pixels_at_the_render_dpi() -> None:
    doc = etree.fromstring(export("two_pages", "alto").encode())
    sizes = [(p.get("WIDTH"), p.get("HEIGHT")) for p in doc.findall(".//a:Page", {"a": exports.ALTO_NS})]
    assert sizes == [("2550", "3301"), ("1200", "1801")]  # 8.5 x 11.0033 in and 4 x 6.0033 in at 300 dpi
    assert "textangle 90" in export("two_pages", "hocr")  # page 2 was read turned a quarter
