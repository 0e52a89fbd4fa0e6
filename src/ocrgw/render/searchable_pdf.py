"""Result model -> searchable PDF: each page is the submitted page (an image, or the original PDF page)
with an invisible text layer (render mode 3), every word placed on its box and stretched to its width, so
viewers can search, select and copy the text where it is seen. Pure CPU work: call it in a thread.

Built with pypdfium2's raw API and the standard Helvetica font (WinAnsi: characters outside Latin-1 are
not encoded)."""

from __future__ import annotations

import ctypes
import io
import math
from collections.abc import Sequence
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from ocrgw.jobs.schemas import PageResult

PT_PER_INCH = 72.0
DEFAULT_DPI = 72.0  # an image without a resolution: one pixel per point
FONT = b"Helvetica"
# Helvetica's descender and ascender, in em: a word box (as Tesseract gives it) spans about this much.
DESCENT, ASCENT = 0.207, 0.718


def _image_dpi(im: Image.Image) -> float:
    dpi = im.info.get("dpi")
    try:
        value = float(dpi[0]) if dpi else 0.0
    except (TypeError, ValueError, IndexError):
        value = 0.0
    return value if value >= 1 else DEFAULT_DPI


def _jpeg(im: Image.Image) -> bytes:
    mode = "L" if im.mode in ("1", "L", "LA", "I", "I;16", "F") else "RGB"
    buf = io.BytesIO()
    im.convert(mode).save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def _wide(text: str) -> ctypes.Array:
    raw = (text + "\0").encode("utf-16-le")
    return (ctypes.c_ushort * (len(raw) // 2)).from_buffer_copy(raw)


def _place_word(
    pdf: pdfium.PdfDocument, page: pdfium.PdfPage, text: str, quad: Sequence[float], k: float, page_h: float
) -> None:
    """One invisible text object for a word whose 4-point box (page units, y down) is ``quad``."""
    text = text.strip()
    if not text:
        return
    x0, y0, x1, y1, _, _, x3, y3 = (float(v) for v in quad[:8])
    # To PDF space: points, y up.
    p0 = (x0 * k, page_h - y0 * k)
    p1 = (x1 * k, page_h - y1 * k)
    p3 = (x3 * k, page_h - y3 * k)
    length = math.hypot(p1[0] - p0[0], p1[1] - p0[1])
    height = math.hypot(p3[0] - p0[0], p3[1] - p0[1])
    if length <= 0 or height <= 0:
        return
    ux, uy = (p1[0] - p0[0]) / length, (p1[1] - p0[1]) / length  # along the baseline
    vx, vy = -uy, ux  # up the glyphs
    obj = pdfium_c.FPDFPageObj_NewTextObj(pdf.raw, FONT, ctypes.c_float(1.0))
    if not obj:
        return
    pdfium_c.FPDFText_SetText(obj, ctypes.cast(_wide(text), ctypes.POINTER(ctypes.c_ushort)))
    pdfium_c.FPDFTextObj_SetTextRenderMode(obj, pdfium_c.FPDF_TEXTRENDERMODE_INVISIBLE)
    left, bottom, right, top = (ctypes.c_float(), ctypes.c_float(), ctypes.c_float(), ctypes.c_float())
    ok = pdfium_c.FPDFPageObj_GetBounds(
        obj, ctypes.byref(left), ctypes.byref(bottom), ctypes.byref(right), ctypes.byref(top)
    )
    natural = (right.value - left.value) if ok else 0.0
    if natural <= 0:
        natural = 0.5 * len(text)
    em = height / (ASCENT + DESCENT)  # font size so the glyphs' full height fills the box
    sx = length / natural  # horizontal scale: the word's ink spans exactly its box
    ox = p3[0] + vx * DESCENT * em - ux * left.value * sx
    oy = p3[1] + vy * DESCENT * em - uy * left.value * sx
    pdfium_c.FPDFPageObj_Transform(obj, ux * sx, uy * sx, vx * em, vy * em, ox, oy)
    pdfium_c.FPDFPage_InsertObject(page.raw, obj)


def _text_layer(pdf: pdfium.PdfDocument, page: pdfium.PdfPage, result: PageResult, k: float) -> None:
    page_h = page.get_height()
    for line in result.lines:
        words = line.words or []
        if not words and line.text.strip():
            _place_word(pdf, page, line.text, line.bbox, k, page_h)
        for word in words:
            _place_word(pdf, page, word.text, word.bbox, k, page_h)
    page.gen_content()


def build(source: Path, media_type: str, results: Sequence[PageResult]) -> bytes:
    """The searchable PDF for ``results`` (one entry per page read) of the document at ``source``."""
    pdf = pdfium.PdfDocument.new()
    try:
        if media_type == "application/pdf":
            _from_pdf(pdf, source, results)
        else:
            _from_image(pdf, source, results)
        buf = io.BytesIO()
        pdf.save(buf)
        return buf.getvalue()
    finally:
        pdf.close()


def _from_image(pdf: pdfium.PdfDocument, source: Path, results: Sequence[PageResult]) -> None:
    with Image.open(source) as im:
        for result in sorted(results, key=lambda r: r.page_no):
            im.seek(result.page_no - 1)
            im.load()
            dpi = _image_dpi(im)
            k = PT_PER_INCH / dpi if result.unit != "inch" else PT_PER_INCH
            width_pt, height_pt = im.width * PT_PER_INCH / dpi, im.height * PT_PER_INCH / dpi
            page = pdf.new_page(width_pt, height_pt)
            try:
                image = pdfium.PdfImage.new(pdf)
                image.load_jpeg(io.BytesIO(_jpeg(im)), inline=False)
                image.set_matrix(pdfium.PdfMatrix().scale(width_pt, height_pt))
                page.insert_obj(image)
                _text_layer(pdf, page, result, k)
            finally:
                page.close()


def _from_pdf(pdf: pdfium.PdfDocument, source: Path, results: Sequence[PageResult]) -> None:
    src = pdfium.PdfDocument(source)
    try:
        ordered = sorted(results, key=lambda r: r.page_no)
        pdf.import_pages(src, [r.page_no - 1 for r in ordered])
        for index, result in enumerate(ordered):
            page = pdf[index]
            try:
                # Results of PDF pages are in inches; a page in pixels would have been rendered at 72 dpi.
                _text_layer(pdf, page, result, PT_PER_INCH if result.unit == "inch" else 1.0)
            finally:
                page.close()
    finally:
        src.close()
