"""Worker side, first step: a stored blob -> pages, one decoded page at a time, only the selected ones.
PDFs are rendered with PDFium at a DPI policy; multi-page TIFFs are multi-page documents (animations are
read as their first frame). Decoding happens here and nowhere in the API process."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
from PIL import Image, ImageOps

from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.formats import PIL_FORMATS
from ocrgw.jobs.pages import PageSelection
from ocrgw.settings import Settings


@dataclass(slots=True)
class RasterPage:
    page_no: int
    gray: np.ndarray  # 2-D uint8, the page as submitted (EXIF orientation NOT applied: boxes match the file)
    dpi: int | None  # resolution to tell the engine, when known
    unit: str = "pixel"  # the unit results for this page are reported in
    unit_per_px: float = 1.0  # result units per pixel of ``gray``: 1 for images, 1/dpi for PDF (inches)


def pdf_render_dpi(width_pt: float, height_pt: float, settings: Settings) -> float:
    """The DPI to render a PDF page at: the configured DPI, lowered so the bitmap stays within the
    megapixel cap and the per-side limit (a poster-sized page must not become a 2 GB bitmap)."""
    dpi = float(settings.pdf_dpi)
    w_in, h_in = max(width_pt, 1.0) / 72, max(height_pt, 1.0) / 72
    cap_px = settings.max_megapixels * 1_000_000
    if w_in * h_in * dpi * dpi > cap_px:
        dpi = math.sqrt(cap_px / (w_in * h_in))
    if max(w_in, h_in) * dpi > settings.max_dimension:
        dpi = settings.max_dimension / max(w_in, h_in)
    return max(dpi, 1.0)


def _to_gray(im: Image.Image) -> np.ndarray:
    if im.mode in ("RGBA", "LA") and im.getchannel("A").getextrema()[0] == 255:
        return np.asarray(im.convert("L"))  # opaque (most RGBA scans): compositing on white changes nothing
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, rgba)
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        im = ImageOps.autocontrast(im.convert("I").point(lambda v: v / 256).convert("L"))
    return np.asarray(im.convert("L"))


def _dpi(im: Image.Image) -> int | None:
    dpi = im.info.get("dpi")
    try:
        value = round(float(dpi[0])) if dpi else None
    except (TypeError, ValueError, IndexError):
        return None
    # Many files say 72 or 96 because a tool wrote a default; Tesseract estimates better than those.
    return value if value and value >= 100 else None


def iter_pages(
    path: Path, media_type: str, selection: PageSelection, skip: set[int], settings: Settings
) -> Iterator[RasterPage]:
    """Decode the selected pages that are not already done, one at a time."""
    if media_type == "application/pdf":
        yield from _pdf_pages(path, selection, skip, settings)
        return
    try:
        with Image.open(path, formats=[PIL_FORMATS[media_type]]) as im:
            total = getattr(im, "n_frames", 1) if media_type == "image/tiff" else 1  # see sniff.inspect_image
            for page_no in selection.numbers(total):
                if page_no in skip:
                    continue
                im.seek(page_no - 1)
                if im.format == "JPEG" and im.mode in ("RGB", "YCbCr"):
                    # libjpeg hands over its luma plane, skipping the chroma and the colour conversion, in
                    # about a third of the time. Decoding to RGB and converting gives the same grey levels
                    # but where a colour clipped (ocr-dev's JPEGs: 0-5 % of pixels, by 1-10 levels)
                    im.draft("L", None)
                im.load()
                yield RasterPage(page_no, _to_gray(im), _dpi(im))
    except OcrgwError:
        raise
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as exc:
        raise OcrgwError(ErrorCode.INVALID_IMAGE, f"Input data is not a valid image: {exc}.") from exc


REOPEN_EVERY = 25  # pages; PDFium keeps what it parsed for the document's life, so long documents reopen


def _open_pdf(path: Path) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        raise OcrgwError(ErrorCode.INVALID_IMAGE, "The PDF is corrupt or truncated.") from exc


def _pdf_pages(path: Path, selection: PageSelection, skip: set[int], settings: Settings) -> Iterator[RasterPage]:
    """Render one PDF page at a time; each page and its bitmap are released before the next is made, and
    the document is reopened every few pages so PDFium's per-document caches cannot pile up."""
    doc = _open_pdf(path)
    rendered = 0
    try:
        for page_no in selection.numbers(len(doc)):
            if page_no in skip:
                continue
            if rendered and rendered % REOPEN_EVERY == 0:
                doc.close()
                doc = _open_pdf(path)
            rendered += 1
            page = doc[page_no - 1]
            try:
                width_pt, height_pt = page.get_size()
                if page.get_rotation() in (90, 270):
                    width_pt, height_pt = height_pt, width_pt
                dpi = pdf_render_dpi(width_pt, height_pt, settings)
                bitmap = page.render(scale=dpi / 72, grayscale=True, may_draw_forms=True)
                try:
                    gray = np.array(bitmap.to_numpy(), dtype=np.uint8, copy=True)
                finally:
                    bitmap.close()
            except pdfium.PdfiumError as exc:
                raise OcrgwError(ErrorCode.INVALID_IMAGE, f"Page {page_no} of the PDF cannot be rendered.") from exc
            finally:
                page.close()
            if gray.ndim == 3:
                gray = gray[..., 0]
            yield RasterPage(page_no, gray, round(dpi), unit="inch", unit_per_px=1.0 / dpi)
    finally:
        doc.close()
