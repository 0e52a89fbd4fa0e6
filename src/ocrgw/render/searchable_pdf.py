"""Result model -> searchable PDF (the worker's artifact for the native `format=pdf`, OCR.space and Document
Intelligence `output=pdf`): every page of the submitted document, as it was, with an invisible text layer
(render/pdf_text.py) over the pages that were read. Pure CPU work, run in the worker.

A PDF keeps its own pages (content, boxes, /Rotate, annotations: nothing is re-rendered), and a page whose
own text already holds a word gets no second copy of it. An image becomes one page per image (per frame of
a TIFF) at its stated resolution, or 300 dpi, its pixels embedded without loss (render/pdf_images.py).
Built with pikepdf (qpdf): the output is a plain, unencrypted PDF that qpdf checks clean."""

from __future__ import annotations

import io
from collections.abc import Sequence
from difflib import SequenceMatcher
from pathlib import Path

import pikepdf
import pypdfium2 as pdfium
from PIL import Image

from ocrgw.formats import PIL_FORMATS
from ocrgw.jobs.schemas import LineResult, PageResult
from ocrgw.render import pdf_images, pdf_text

FONT_KEY = "OcrgwText"  # the text layer's font in each page's /Resources
COVERED = 0.6  # share of a word's letters the page's own text must show in the word's box to count as there


def build(source: Path, media_type: str, results: Sequence[PageResult]) -> bytes:
    """The searchable PDF for ``results`` (one entry per page read, any order) of the document at
    ``source``: every page of the document, in order; pages without a result carry no text."""
    by_page = {r.page_no: r for r in results}
    is_pdf = media_type == "application/pdf"
    pdf = pikepdf.open(source) if is_pdf else pikepdf.new()
    try:
        if is_pdf:
            _layer_pdf(pdf, source, by_page)
            version = ""  # its own: a PDF/A-1 file stays 1.4
        else:
            _pages_from_images(pdf, source, media_type, by_page)
            pdf.docinfo[pikepdf.Name.Producer] = "ocrgw"
            version = "1.5"  # 16-bit samples
        buf = io.BytesIO()
        pdf.save(buf, min_version=version, deterministic_id=True)  # never encrypted (the default drops it)
        return buf.getvalue()
    finally:
        pdf.close()


# --------------------------------------------------------------------------------------------- from images
def _pages_from_images(pdf: pikepdf.Pdf, source: Path, media_type: str, by_page: dict[int, PageResult]) -> None:
    font = pdf_text.TextFont(pdf)
    with Image.open(source, formats=[PIL_FORMATS[media_type]]) as im:
        # Pages as the rasterizer counts them: every frame of a TIFF, the first of anything else.
        total = getattr(im, "n_frames", 1) if media_type == "image/tiff" else 1
        data = source.read_bytes() if total == 1 and media_type in ("image/jpeg", "image/png") else None
        for index in range(total):
            im.seek(index)
            im.load()
            placed = pdf_images.place(pdf, im, media_type, data)
            _image_page(pdf, placed, by_page.get(index + 1), font)
    font.finish()


def _image_page(
    pdf: pikepdf.Pdf, placed: pdf_images.Placed, result: PageResult | None, font: pdf_text.TextFont
) -> None:
    w, h = placed.width_pt, placed.height_pt
    content = b"q\n%s 0 0 %s 0 0 cm\n/Im0 Do\nQ\n" % (pdf_text.num(w), pdf_text.num(h))
    resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=placed.xobject))
    if result is not None and result.lines:
        if result.unit == "inch":
            kx = ky = 72.0
        else:  # pixels of the image as stored, at the resolution the page is sized by
            kx, ky = w / placed.width_px, h / placed.height_px

        def to_user(x: float, y: float) -> tuple[float, float]:
            return x * kx, h - y * ky

        layer = pdf_text.page_ops(result, to_user, font, FONT_KEY.encode())
        if layer:
            content += layer
            resources.Font = pikepdf.Dictionary({"/" + FONT_KEY: font.obj})
    page = pikepdf.Dictionary(
        Type=pikepdf.Name.Page,
        MediaBox=[0, 0, w, h],
        Resources=resources,
        Contents=pikepdf.Stream(pdf, content),
    )
    if placed.rotate:
        page.Rotate = placed.rotate
    pdf.pages.append(pikepdf.Page(page))


# ------------------------------------------------------------------------------------------------ from PDF
def _visible_box(page: pikepdf.Page) -> tuple[float, float, float, float]:
    """The page area viewers show (and the rasterizer rendered): the CropBox within the MediaBox."""
    mx0, my0, mx1, my1 = _normal(page.mediabox)
    cx0, cy0, cx1, cy1 = _normal(page.cropbox)
    box = (max(mx0, cx0), max(my0, cy0), min(mx1, cx1), min(my1, cy1))
    return box if box[2] > box[0] and box[3] > box[1] else (mx0, my0, mx1, my1)


def _normal(box: pikepdf.Array) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = (float(v) for v in box)
    return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


def pdf_to_user(page: pikepdf.Page, result: PageResult) -> pdf_text.ToUser:
    """Result units (measured from the top left of the page as shown, /Rotate applied) -> the page's own
    user space. Results of PDF pages are in inches; another unit is scaled by the page's width."""
    x0, y0, x1, y1 = _visible_box(page)
    rotate = page.rotation % 360
    shown_w = (y1 - y0) if rotate in (90, 270) else (x1 - x0)
    k = 72.0 if result.unit == "inch" or result.width <= 0 else shown_w / result.width
    if rotate == 90:
        return lambda x, y: (x0 + y * k, y0 + x * k)
    if rotate == 180:
        return lambda x, y: (x1 - x * k, y0 + y * k)
    if rotate == 270:
        return lambda x, y: (x1 - y * k, y1 - x * k)
    return lambda x, y: (x0 + x * k, y1 - y * k)


def _layer_pdf(pdf: pikepdf.Pdf, source: Path, by_page: dict[int, PageResult]) -> None:
    font = pdf_text.TextFont(pdf)
    own = pdfium.PdfDocument(source)  # the pages' own text, to leave out words they already have
    try:
        for index, page in enumerate(pdf.pages):
            result = by_page.get(index + 1)
            if result is None or not result.lines:
                continue
            to_user = pdf_to_user(page, result)
            result = _without_own_text(own, index, result, to_user)
            name = _font_name(page, font)
            layer = pdf_text.page_ops(result, to_user, font, name.encode())
            if layer:
                _append(pdf, page, layer, name, font)
    finally:
        own.close()
    font.finish()


def _font_name(page: pikepdf.Page, font: pdf_text.TextFont) -> str:
    fonts = page.resources.get(pikepdf.Name.Font)
    name, n = FONT_KEY, 0
    while fonts is not None and "/" + name in fonts and fonts["/" + name].objgen != font.obj.objgen:
        n += 1
        name = f"{FONT_KEY}{n}"
    return name


def _append(pdf: pikepdf.Pdf, page: pikepdf.Page, layer: bytes, name: str, font: pdf_text.TextFont) -> None:
    """Draw ``layer`` after the page's own content, which is wrapped in q/Q so the layer starts from the
    default graphics state; a new /Contents array, so pages sharing content streams stay as they were."""
    contents = page.obj.get(pikepdf.Name.Contents)
    if contents is None:
        own: list[pikepdf.Object] = []
    elif isinstance(contents, pikepdf.Array):
        own = list(contents)
    else:
        own = [contents]
    closing = b"Q\n" * (1 + _unclosed_saves(page))
    before, after = pikepdf.Stream(pdf, b"q\n"), pikepdf.Stream(pdf, b"\n" + closing + layer)
    page.obj.Contents = pikepdf.Array([pdf.make_indirect(before), *own, pdf.make_indirect(after)])
    resources = page.resources  # qpdf gives the page its own copy of inherited or shared resources
    if pikepdf.Name.Font not in resources:
        resources.Font = pikepdf.Dictionary()
    resources.Font["/" + name] = font.obj


def _unclosed_saves(page: pikepdf.Page) -> int:
    """How many q the page's content leaves open (a malformed page may): each needs its Q before the
    layer, or the layer would be drawn under the page's last transformation."""
    depth = 0
    try:
        for instruction in pikepdf.parse_content_stream(page, "q Q"):
            depth = depth + 1 if str(instruction.operator) == "q" else max(0, depth - 1)
    except pikepdf.PdfError:
        return 0
    return depth


def _covered(own_text: str, word: str) -> bool:
    want = "".join(word.split()).casefold()
    got = "".join(own_text.split()).casefold()
    if not want or not got:
        return False
    matched = sum(block.size for block in SequenceMatcher(None, want, got, autojunk=False).get_matching_blocks())
    return matched >= COVERED * len(want)


def _without_own_text(own: pdfium.PdfDocument, index: int, result: PageResult, to_user: pdf_text.ToUser) -> PageResult:
    """``result`` less the words the page's own text already has in their boxes (a born-digital page gets
    no second layer; a scan inside it, or text whose fonts cannot be extracted, still does)."""
    page = own[index]
    try:
        textpage = page.get_textpage()
        try:
            if textpage.count_chars() <= 0:
                return result
            lines = []
            for line in result.lines:
                words = [w for w in line.words if not _covered(_text_in(textpage, w.bbox, to_user), w.text)]
                if line.words and words:
                    lines.append(_with_words(line, words))
                elif not line.words and not _covered(_text_in(textpage, line.bbox, to_user), line.text):
                    lines.append(line)
        finally:
            textpage.close()
    finally:
        page.close()
    return PageResult(
        result.page_no, result.width, result.height, result.unit, result.angle, result.language, [], lines
    )


def _with_words(line: LineResult, words: list) -> LineResult:
    if len(words) == len(line.words):
        return line
    return LineResult(" ".join(w.text for w in words), line.bbox, line.confidence, words, line.style)


def _text_in(textpage: pdfium.PdfTextPage, bbox: Sequence[float], to_user: pdf_text.ToUser) -> str:
    pts = [to_user(float(bbox[i]), float(bbox[i + 1])) for i in range(0, 8, 2)]
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    pad = 0.15 * min(max(xs) - min(xs), max(ys) - min(ys))
    return textpage.get_text_bounded(min(xs) - pad, min(ys) - pad, max(xs) + pad, max(ys) + pad)
