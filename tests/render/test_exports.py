"""Export formats from result pages: hOCR parses as XHTML with the hOCR classes and our boxes, ALTO
validates against the official v4.4 schema (shipped in tests/data/alto), TSV has Tesseract's columns, and
PDF pages (measured in inches) come out in pixels at the render DPI."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from ocrgw.jobs.schemas import LineResult, PageResult, WordResult
from ocrgw.render import exports

ALTO_DIR = Path(__file__).resolve().parents[1] / "data" / "alto"
XLINK_URL = "http://www.loc.gov/standards/xlink/xlink.xsd"


def _word(text: str, x0: float, y0: float, x1: float, y1: float, conf: float = 0.9) -> WordResult:
    return WordResult(text, [x0, y0, x1, y0, x1, y1, x0, y1], conf)


def _line(*words: WordResult) -> LineResult:
    xs = [v for w in words for v in w.bbox[0::2]]
    ys = [v for w in words for v in w.bbox[1::2]]
    box = [min(xs), min(ys), max(xs), min(ys), max(xs), max(ys), min(xs), max(ys)]
    return LineResult(" ".join(w.text for w in words), box, 0.88, list(words))


PAGES = [
    PageResult(
        1,
        600,
        400,
        "pixel",
        0.0,
        "en",
        [],
        [
            _line(_word("Invoice", 10, 10, 120, 40, 0.97), _word("#42", 130, 10, 180, 40, 0.5)),
            _line(_word("A&B", 10, 60, 70, 90), _word("<tag>", 80, 60, 160, 90), _word("Größe", 170, 60, 260, 90)),
        ],
    ),
    PageResult(2, 8.5, 11.0, "inch", 90.0, "en", [], [_line(_word("Second", 1.0, 1.0, 2.0, 1.5))]),
    PageResult(3, 600, 400, "pixel", 0.0, "en", [], []),  # a blank page
]


class _LocalXlink(etree.Resolver):
    def resolve(self, url, pubid, context):
        if url == XLINK_URL:
            return self.resolve_filename(str(ALTO_DIR / "xlink.xsd"), context)
        return None


@pytest.fixture(scope="module")
def alto_schema() -> etree.XMLSchema:
    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(_LocalXlink())
    return etree.XMLSchema(etree.parse(str(ALTO_DIR / "alto-4-4.xsd"), parser))


def test_alto_validates_against_the_official_schema(alto_schema: etree.XMLSchema) -> None:
    doc = etree.fromstring(exports.to_alto(PAGES, 300, source="scan.pdf").encode())
    alto_schema.assertValid(doc)
    ns = {"a": exports.ALTO_NS}
    strings = doc.findall(".//a:String", ns)
    assert [s.get("CONTENT") for s in strings] == ["Invoice", "#42", "A&B", "<tag>", "Größe", "Second"]
    first = strings[0]
    assert (first.get("HPOS"), first.get("VPOS"), first.get("WIDTH"), first.get("HEIGHT")) == ("10", "10", "110", "30")
    assert float(strings[1].get("WC")) == pytest.approx(0.5)
    second_page = doc.findall(".//a:Page", ns)[1]
    assert (second_page.get("WIDTH"), second_page.get("HEIGHT")) == ("2550", "3300")  # 8.5 x 11 in at 300 dpi
    assert strings[-1].get("HPOS") == "300" and strings[-1].get("WIDTH") == "300"
    assert len(doc.findall(".//a:SP", ns)) == 3


def test_hocr_is_xhtml_with_hocr_classes_and_boxes() -> None:
    text = exports.to_hocr(PAGES, 300, source="scan.pdf")
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0')
    doc = etree.fromstring(text.encode())  # well-formed XML
    ns = {"h": exports.XHTML_NS}
    assert doc.tag == f"{{{exports.XHTML_NS}}}html"
    pages = doc.findall(".//h:div[@class='ocr_page']", ns)
    assert [p.get("title").split(";")[0] for p in pages] == [
        "bbox 0 0 600 400",
        "bbox 0 0 2550 3300",
        "bbox 0 0 600 400",
    ]
    lines = doc.findall(".//h:span[@class='ocr_line']", ns)
    words = doc.findall(".//h:span[@class='ocrx_word']", ns)
    assert len(lines) == 3 and [w.text for w in words] == ["Invoice", "#42", "A&B", "<tag>", "Größe", "Second"]
    assert words[0].get("title") == "bbox 10 10 120 40; x_wconf 97"
    assert lines[0].get("title") == "bbox 10 10 180 40"
    assert "textangle 270" in lines[2].get("title")  # page 2 was read turned 90 degrees clockwise
    meta = {m.get("name"): m.get("content") for m in doc.findall(".//h:meta", ns) if m.get("name")}
    assert "ocrx_word" in meta["ocr-capabilities"] and meta["ocr-system"].startswith("ocrgw")
    assert len({el.get("id") for el in doc.iter() if el.get("id")}) == len(pages) + len(lines) + len(words)


def test_tsv_has_tesseracts_columns() -> None:
    rows = [r.split("\t") for r in exports.to_tsv(PAGES, 300).splitlines()]
    assert rows[0] == exports.TSV_HEADER.split("\t")
    assert all(len(r) == 12 for r in rows)
    words = [r for r in rows[1:] if r[0] == "5"]
    assert [w[11] for w in words] == ["Invoice", "#42", "A&B", "<tag>", "Größe", "Second"]
    assert words[0][6:11] == ["10", "10", "110", "30", "97.00"]
    assert [r[0] for r in rows[1:]].count("1") == 3


def test_text_pages_are_form_feed_separated() -> None:
    assert exports.to_text(PAGES) == "Invoice #42\nA&B <tag> Größe\n\fSecond\n\f"


def test_handwritten_lines_are_marked_in_hocr_and_alto(alto_schema: etree.XMLSchema) -> None:
    """hOCR has no handwriting property: an engine-specific ``x_style`` in the line's title, as the spec
    allows; ALTO points the line at an OtherTag (TAGREFS), valid against the official schema."""
    hand = _line(_word("Call", 10, 100, 80, 140), _word("me", 90, 100, 130, 140))
    hand.style, hand.style_confidence = "handwriting", 0.87
    printed = _line(_word("Printed", 10, 10, 120, 40))
    printed.style, printed.style_confidence = "other", 0.96
    pages = [PageResult(1, 600, 400, "pixel", 0.0, "en", [], [printed, hand])]
    ns = {"h": exports.XHTML_NS}
    lines = etree.fromstring(exports.to_hocr(pages, 300).encode()).findall(".//h:span[@class='ocr_line']", ns)
    assert [ln.get("title") for ln in lines] == ["bbox 10 10 120 40", "bbox 10 100 130 140; x_style handwriting 0.87"]
    doc = etree.fromstring(exports.to_alto(pages, 300).encode())
    alto_schema.assertValid(doc)
    a = {"a": exports.ALTO_NS}
    (tag,) = doc.findall(".//a:Tags/a:OtherTag", a)
    assert (tag.get("ID"), tag.get("LABEL")) == ("handwriting", "handwriting")
    assert [ln.get("TAGREFS") for ln in doc.findall(".//a:TextLine", a)] == [None, "handwriting"]
    plain = etree.fromstring(exports.to_alto(PAGES, 300).encode())
    assert plain.find(".//a:Tags", a) is None  # no handwriting, no tag
