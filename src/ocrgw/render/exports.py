"""Result model -> the interchange formats OCR tools read: plain text, hOCR (XHTML), ALTO v4 XML and
Tesseract's TSV. Vendor-neutral and pure (no I/O), so any dialect or the native API can offer them.

All four are in pixels: pages measured in inches (PDF pages) are scaled by the DPI they were rendered at,
so a box lines up with the page image a client renders at that DPI. Boxes are the axis-aligned hull of
our quads, which is what all three box formats can express."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ocrgw import __version__
from ocrgw.jobs.schemas import PageResult
from ocrgw.render import document

ALTO_NS = "http://www.loc.gov/standards/alto/ns-v4#"
ALTO_SCHEMA = "http://www.loc.gov/standards/alto/v4/alto-4-4.xsd"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
XHTML_NS = "http://www.w3.org/1999/xhtml"


@dataclass(frozen=True, slots=True)
class Box:
    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top


def _scale(page: PageResult, dpi: float) -> float:
    return dpi if page.unit == "inch" else 1.0


def _box(quad: Sequence[float], k: float) -> Box:
    xs, ys = quad[0::2], quad[1::2]
    return Box(round(min(xs) * k), round(min(ys) * k), round(max(xs) * k), round(max(ys) * k))


def _page_size(page: PageResult, k: float) -> tuple[int, int]:
    return round(page.width * k), round(page.height * k)


def _pages(pages: Sequence[PageResult]) -> list[PageResult]:
    return sorted(pages, key=lambda p: p.page_no)


# ------------------------------------------------------------------------------------------- text
def to_text(pages: Sequence[PageResult], dpi: float = 300.0) -> str:
    """Lines in reading order, one per line; pages separated by a form feed, as `tesseract ... txt` does."""
    return "\f".join("".join(line.text + "\n" for line in page.lines) for page in _pages(pages))


# ------------------------------------------------------------------------------------------- TSV
TSV_HEADER = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"


def _clean(text: str) -> str:
    return text.replace("\t", " ").replace("\n", " ").replace("\r", " ")


def to_tsv(pages: Sequence[PageResult], dpi: float = 300.0) -> str:
    """Tesseract's TSV columns and levels (1 page, 4 line, 5 word; one block and paragraph per page, since
    our results have no block structure). Confidences are 0-100 on words and -1 elsewhere, as Tesseract's."""
    rows = [TSV_HEADER]
    for page in _pages(pages):
        k = _scale(page, dpi)
        w, h = _page_size(page, k)
        n = page.page_no
        rows.append(f"1\t{n}\t0\t0\t0\t0\t0\t0\t{w}\t{h}\t-1\t")
        for li, line in enumerate(page.lines, start=1):
            b = _box(line.bbox, k)
            rows.append(f"4\t{n}\t1\t1\t{li}\t0\t{b.left}\t{b.top}\t{b.width}\t{b.height}\t-1\t")
            for wi, word in enumerate(line.words, start=1):
                b = _box(word.bbox, k)
                rows.append(
                    f"5\t{n}\t1\t1\t{li}\t{wi}\t{b.left}\t{b.top}\t{b.width}\t{b.height}\t"
                    f"{word.confidence * 100:.2f}\t{_clean(word.text)}"
                )
    return "\n".join(rows) + "\n"


# ------------------------------------------------------------------------------------------- hOCR
def _title(box: Box, extra: str = "") -> str:
    return f"bbox {box.left} {box.top} {box.right} {box.bottom}" + (f"; {extra}" if extra else "")


def to_hocr(pages: Sequence[PageResult], dpi: float = 300.0, *, source: str = "") -> str:
    """hOCR 1.2 as XHTML: `ocr_page` > `ocr_line` > `ocrx_word`, with `bbox`, `x_wconf` (0-100) and the
    page's `textangle` when it was read turned."""
    ET.register_namespace("", XHTML_NS)
    html = ET.Element(f"{{{XHTML_NS}}}html", {"xml:lang": "en", "lang": "en"})
    head = ET.SubElement(html, f"{{{XHTML_NS}}}head")
    ET.SubElement(head, f"{{{XHTML_NS}}}title").text = source or "ocrgw result"
    ET.SubElement(head, f"{{{XHTML_NS}}}meta", {"http-equiv": "Content-Type", "content": "text/html;charset=utf-8"})
    ET.SubElement(head, f"{{{XHTML_NS}}}meta", {"name": "ocr-system", "content": f"ocrgw {__version__}"})
    ET.SubElement(
        head, f"{{{XHTML_NS}}}meta", {"name": "ocr-capabilities", "content": "ocr_page ocr_line ocrx_word ocrp_wconf"}
    )
    body = ET.SubElement(html, f"{{{XHTML_NS}}}body")
    for page in _pages(pages):
        k = _scale(page, dpi)
        w, h = _page_size(page, k)
        n = page.page_no
        extra = f"ppageno {n - 1}" + (f'; image "{source}"' if source else "")
        page_el = ET.SubElement(
            body,
            f"{{{XHTML_NS}}}div",
            {"class": "ocr_page", "id": f"page_{n}", "title": _title(Box(0, 0, w, h), extra)},
        )
        for li, line in enumerate(page.lines, start=1):
            line_extra = "; ".join(
                part
                for part in (
                    f"textangle {round(-page.angle) % 360}" if page.angle else "",
                    # hOCR has no handwriting property; an engine-specific x_ one, as the spec allows
                    f"x_style handwriting {line.style_confidence or 0.5:.2f}" if line.style == "handwriting" else "",
                )
                if part
            )
            line_el = ET.SubElement(
                page_el,
                f"{{{XHTML_NS}}}span",
                {
                    "class": "ocr_line",
                    "id": f"line_{n}_{li}",
                    "title": _title(_box(line.bbox, k), line_extra),
                    **({"lang": line.language} if line.language else {}),
                },
            )
            for wi, word in enumerate(line.words, start=1):
                word_el = ET.SubElement(
                    line_el,
                    f"{{{XHTML_NS}}}span",
                    {
                        "class": "ocrx_word",
                        "id": f"word_{n}_{li}_{wi}",
                        "title": _title(_box(word.bbox, k), f"x_wconf {round(word.confidence * 100)}"),
                    },
                )
                word_el.text = word.text
                word_el.tail = " " if wi < len(line.words) else None
            line_el.tail = "\n"
    xml = ET.tostring(html, encoding="unicode")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
        '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n' + xml + "\n"
    )


# ------------------------------------------------------------------------------------------- ALTO
def to_alto(pages: Sequence[PageResult], dpi: float = 300.0, *, source: str = "") -> str:
    """ALTO v4.4 in pixels: Page > PrintSpace > TextBlock (one per page) > TextLine > String/SP, with word
    confidence as WC (0-1). Valid against the official alto-4-4.xsd (the test suite checks)."""
    ET.register_namespace("", ALTO_NS)
    ET.register_namespace("xsi", XSI_NS)
    q = f"{{{ALTO_NS}}}"
    alto = ET.Element(q + "alto", {f"{{{XSI_NS}}}schemaLocation": f"{ALTO_NS} {ALTO_SCHEMA}"})
    desc = ET.SubElement(alto, q + "Description")
    ET.SubElement(desc, q + "MeasurementUnit").text = "pixel"
    src = ET.SubElement(desc, q + "sourceImageInformation")
    ET.SubElement(src, q + "fileName").text = source or "document"
    proc = ET.SubElement(desc, q + "OCRProcessing", {"ID": "OCR_0"})
    step = ET.SubElement(proc, q + "ocrProcessingStep")
    sw = ET.SubElement(step, q + "processingSoftware")
    ET.SubElement(sw, q + "softwareName").text = "ocrgw"
    ET.SubElement(sw, q + "softwareVersion").text = __version__
    if any(line.style == "handwriting" for page in pages for line in page.lines):
        tags = ET.SubElement(alto, q + "Tags")  # handwritten lines point at this tag (TAGREFS)
        ET.SubElement(tags, q + "OtherTag", {"ID": "handwriting", "TYPE": "style", "LABEL": "handwriting"})
    layout = ET.SubElement(alto, q + "Layout")
    for page in _pages(pages):
        k = _scale(page, dpi)
        w, h = _page_size(page, k)
        n = page.page_no
        attrs = {"ID": f"page_{n}", "PHYSICAL_IMG_NR": str(n), "WIDTH": str(w), "HEIGHT": str(h)}
        page_el = ET.SubElement(layout, q + "Page", attrs)
        space = ET.SubElement(page_el, q + "PrintSpace", {"HPOS": "0", "VPOS": "0", "WIDTH": str(w), "HEIGHT": str(h)})
        if not page.lines:
            continue
        boxes = [_box(line.bbox, k) for line in page.lines]
        hull = Box(
            min(b.left for b in boxes),
            min(b.top for b in boxes),
            max(b.right for b in boxes),
            max(b.bottom for b in boxes),
        )
        block = ET.SubElement(space, q + "TextBlock", {"ID": f"block_{n}_1", **_pos(hull)})
        for li, (line, lbox) in enumerate(zip(page.lines, boxes, strict=True), start=1):
            tag = {"TAGREFS": "handwriting"} if line.style == "handwriting" else {}
            if line.language:  # ALTO's LANG: only where the line's language differs from the page's
                tag["LANG"] = line.language
            line_el = ET.SubElement(block, q + "TextLine", {"ID": f"line_{n}_{li}", **tag, **_pos(lbox)})
            for wi, word in enumerate(line.words, start=1):
                if wi > 1:
                    ET.SubElement(line_el, q + "SP")
                ET.SubElement(
                    line_el,
                    q + "String",
                    {
                        "ID": f"string_{n}_{li}_{wi}",
                        "CONTENT": word.text,
                        "WC": f"{min(1.0, max(0.0, word.confidence)):.4f}",
                        **_pos(_box(word.bbox, k)),
                    },
                )
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(alto, encoding="unicode") + "\n"


def _pos(box: Box) -> dict[str, str]:
    return {"HPOS": str(box.left), "VPOS": str(box.top), "WIDTH": str(box.width), "HEIGHT": str(box.height)}


# ------------------------------------------------------------------------------------------- registry
Renderer = Callable[..., str]
# format name -> (media type, renderer, file extension)
FORMATS: dict[str, tuple[str, Renderer, str]] = {
    "text": ("text/plain; charset=utf-8", to_text, "txt"),
    "hocr": ("application/xhtml+xml; charset=utf-8", to_hocr, "hocr.html"),
    "alto": ("application/xml; charset=utf-8", to_alto, "alto.xml"),
    "tsv": ("text/tab-separated-values; charset=utf-8", to_tsv, "tsv"),
    "markdown": ("text/markdown; charset=utf-8", document.to_markdown, "md"),
    "html": ("text/html; charset=utf-8", document.to_html, "html"),
}
