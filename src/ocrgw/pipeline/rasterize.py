"""Worker side, first step: a stored blob -> pages, one decoded page at a time, only the selected ones.
PDFs are rendered with PDFium at a DPI policy; multi-page TIFFs are multi-page documents (animations are
read as their first frame). Decoding happens here and nowhere in the API process.

Every page handed on holds at most ``max_read_megapixels`` (the worker's per-page pixel budget): a larger
image is reduced right after decoding (JPEGs already in libjpeg), a larger PDF page is rendered at a lower
DPI, and the page's first step says so. Everything after decoding (preprocessing, the engines, the second
engine's passes) costs a few bytes per pixel at once, so bounding the pixels bounds the worker's memory;
the page's size and boxes stay in the units of the page as submitted (``RasterPage.size``)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pypdfium2 as pdfium
from PIL import Image

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
    # The page's width and height in result units when ``gray`` was reduced to the pixel budget (an image's
    # own size in pixels: the client's boxes are in it); None: ``gray``'s size times ``unit_per_px``.
    size: tuple[float, float] | None = None
    steps: list[dict] = field(default_factory=list)  # what decoding did to the page (a reduction)

    def scales(self) -> tuple[float, float]:
        """Result units per pixel of ``gray`` along x and y (a reduced image's two differ by rounding)."""
        if self.size is None:
            return self.unit_per_px, self.unit_per_px
        h, w = self.gray.shape
        return self.size[0] / w, self.size[1] / h

    def result_size(self) -> tuple[float, float]:
        """(width, height) in result units."""
        if self.size is not None:
            return self.size
        h, w = self.gray.shape
        return round(w * self.unit_per_px, 4), round(h * self.unit_per_px, 4)


def read_budget_px(settings: Settings) -> float:
    """The most pixels a page is read with: the read budget, never above the intake cap."""
    return min(settings.max_read_megapixels, settings.max_megapixels) * 1_000_000


def pdf_render_dpi(width_pt: float, height_pt: float, settings: Settings) -> float:
    """The DPI to render a PDF page at: the configured DPI, lowered so the bitmap stays within the
    per-page pixel budget and the per-side limit (a poster-sized page must not become a 2 GB bitmap)."""
    dpi = float(settings.pdf_dpi)
    w_in, h_in = max(width_pt, 1.0) / 72, max(height_pt, 1.0) / 72
    cap_px = read_budget_px(settings)
    if w_in * h_in * dpi * dpi > cap_px:
        # the bitmap's sides are rounded up to whole pixels: (w d + 1)(h d + 1) <= cap
        a, b = w_in * h_in, w_in + h_in
        dpi = (math.sqrt(b * b + 4 * a * (cap_px - 1)) - b) / (2 * a)
    if max(w_in, h_in) * dpi > settings.max_dimension:
        dpi = settings.max_dimension / max(w_in, h_in)
    return max(dpi, 1.0)


def _pdf_note(width_pt: float, height_pt: float, dpi: float, settings: Settings) -> dict:
    """The step of a PDF page rendered under the configured DPI, and why."""
    w_in, h_in = width_pt / 72, height_pt / 72
    full_mp = w_in * h_in * settings.pdf_dpi**2 / 1e6
    if max(w_in, h_in) * settings.pdf_dpi > settings.max_dimension and full_mp <= read_budget_px(settings) / 1e6:
        why = f"a side over {settings.max_dimension} px (OCRGW_MAX_DIMENSION)"
    else:
        why = f"over the {read_budget_px(settings) / 1e6:g}-megapixel page budget (OCRGW_MAX_READ_MEGAPIXELS)"
    return {
        "step": "reduce",
        "dpi": round(dpi, 2),
        "requested_dpi": settings.pdf_dpi,
        "reason": f"a {w_in:.4g} x {h_in:.4g} in page is {full_mp:.4g} MP at {settings.pdf_dpi} dpi: {why}",
    }


# Colour, alpha and 16-bit frames are made grey this many rows at a time, so their conversion never holds
# a second full-size colour copy (a 100-megapixel RGBA frame is 400 MB; its composite over white was 1.2 GB).
STRIP_ROWS = 512
_WIDE_MODES = ("I;16", "I;16B", "I;16L", "I")


def _strip_gray(im: Image.Image) -> Image.Image:
    """One strip as grey: alpha over white paper, 16-bit levels to 8 (stretched afterwards, page-wide)."""
    if im.mode in ("RGBA", "LA") and im.getchannel("A").getextrema()[0] == 255:
        return im.convert("L")  # opaque (most RGBA scans): compositing on white changes nothing
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, rgba)
    if im.mode in _WIDE_MODES:
        im = im.convert("I").point(lambda v: v / 256)
    return im.convert("L")


def _to_gray(im: Image.Image) -> np.ndarray:
    """The frame as 2-D uint8 grey, converted in strips of ``STRIP_ROWS``; a 16-bit frame is then stretched
    to its full range (what ``ImageOps.autocontrast`` does, on the whole page)."""
    if im.mode == "L":
        return np.asarray(im)
    w, h = im.size
    out = np.empty((h, w), np.uint8)
    for top in range(0, h, STRIP_ROWS):
        bottom = min(h, top + STRIP_ROWS)
        out[top:bottom] = np.asarray(_strip_gray(im.crop((0, top, w, bottom))))
    if im.mode in _WIDE_MODES:
        lo, hi = (int(v) for v in cv2.minMaxLoc(out)[:2])
        if hi > lo:
            scale = 255.0 / (hi - lo)
            lut = np.clip([int(i * scale - lo * scale) for i in range(256)], 0, 255).astype(np.uint8)
            cv2.LUT(out, lut, dst=out)
    return out


def _reduce_note(size: tuple[int, int], to: tuple[int, int], budget_px: float) -> dict:
    w, h = size
    return {
        "step": "reduce",
        "from": [w, h],
        "to": list(to),
        "factor": round(to[0] / w, 4),
        "reason": f"{w * h / 1e6:.4g} MP is over the {budget_px / 1e6:g}-megapixel page budget "
        "(OCRGW_MAX_READ_MEGAPIXELS); boxes are in the image's own pixels",
    }


def _budget_size(w: int, h: int, budget_px: float) -> tuple[int, int]:
    f = math.sqrt(budget_px / (w * h))
    return max(1, math.floor(w * f)), max(1, math.floor(h * f))


def _decode_frame(im: Image.Image, budget_px: float) -> tuple[np.ndarray, list[dict]]:
    """The current frame as grey, reduced (area average) to the page budget when larger. A JPEG over it is
    decoded already scaled by libjpeg (1/2, 1/4, 1/8) as far as that stays above the target size."""
    size = im.size
    big = size[0] * size[1] > budget_px
    target = _budget_size(*size, budget_px) if big else size
    rgb = im.mode in ("RGB", "YCbCr")
    if im.format == "JPEG" and (rgb or (big and im.mode in ("L", "CMYK"))):
        # libjpeg hands over its luma plane, skipping the chroma and the colour conversion, in about a
        # third of the time. Decoding to RGB and converting gives the same grey levels but where a colour
        # clipped (ocr-dev's JPEGs: 0-5 % of pixels, by 1-10 levels)
        im.draft("L" if rgb else None, target if big else None)
    im.load()
    gray = _to_gray(im)
    if not big:
        return gray, []
    if gray.shape[::-1] != target:
        gray = cv2.resize(gray, target, interpolation=cv2.INTER_AREA)
    return gray, [_reduce_note(size, target, budget_px)]


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
    budget = read_budget_px(settings)
    try:
        with Image.open(path, formats=[PIL_FORMATS[media_type]]) as im:
            total = getattr(im, "n_frames", 1) if media_type == "image/tiff" else 1  # see sniff.inspect_image
            for page_no in selection.numbers(total):
                if page_no in skip:
                    continue
                im.seek(page_no - 1)
                size = im.size  # before a JPEG draft shrinks it
                gray, steps = _decode_frame(im, budget)
                # The file stays open for the next frame's seek, but not the decoded frame (a 100-megapixel
                # RGB one is 300 MB) while the engines read this page: a frame that no longer fits the buffer
                # is decoded into a new one (PIL's TIFF seek).
                im.im = Image.core.new("1", (1, 1))
                dpi = _dpi(im)
                if steps:  # what the file says is of its own pixels; the engine is told the reduced page's
                    dpi = round(dpi * gray.shape[1] / size[0]) if dpi else None
                yield RasterPage(page_no, gray, dpi, size=size if steps else None, steps=steps)
                del gray  # the next frame is decoded without this one held
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
                steps = [] if dpi >= settings.pdf_dpi else [_pdf_note(width_pt, height_pt, dpi, settings)]
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
                gray = np.ascontiguousarray(gray[..., 0])
            # A page rendered at a DPI lowered to the budget is a fraction of a pixel off its size in inches
            # (the bitmap is whole pixels): reported in the page's own inches, the boxes scaled to them.
            size = (round(width_pt / 72, 4), round(height_pt / 72, 4)) if steps else None
            yield RasterPage(page_no, gray, round(dpi), "inch", 1.0 / dpi, size, steps)
            del gray
    finally:
        doc.close()
