"""Result model + the submitted document -> a PNG of each figure (Document Intelligence `output=figures`,
fetched at `GET .../analyzeResults/{id}/figures/{figureId}`). Run by the worker once the pages are read
(``runner._make_figure_crops``), from the stored pages, so a resumed job crops the pages an earlier attempt
wrote too.

Crops come from the document as submitted, in colour, not from the grey page the engines read: an image page
is cut from its own pixels (the figure's box is in them: EXIF orientation is not applied, as for the
lines), a PDF page's figure is rendered alone at the DPI the page was read at, so the PNG has the figure's
size in the page's pixels (inches x DPI for a PDF)."""

from __future__ import annotations

import io
import math
from collections.abc import Iterator, Sequence, Set
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
from PIL import Image

from ocrgw.formats import PIL_FORMATS
from ocrgw.jobs.schemas import PageResult, figure_id
from ocrgw.pipeline.rasterize import _to_gray, pdf_render_dpi
from ocrgw.settings import Settings

GREY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")


def crops(
    path: Path, media_type: str, pages: Sequence[PageResult], settings: Settings, skip: Set[str] = frozenset()
) -> Iterator[tuple[str, bytes]]:
    """(figure id, PNG) for every figure of the pages, page by page, but those whose id is in ``skip``."""
    wanted = [
        p
        for p in sorted(pages, key=lambda p: p.page_no)
        if p.layout is not None
        and any(figure_id(p.page_no, n) not in skip for n in range(1, len(p.layout.figures) + 1))
    ]
    if not wanted:
        return
    if media_type == "application/pdf":
        yield from _pdf_crops(path, wanted, settings, skip)
        return
    with Image.open(path, formats=[PIL_FORMATS[media_type]]) as im:
        for page in wanted:
            im.seek(page.page_no - 1)
            im.load()
            # Grey frames are made grey whole (a 16-bit one is stretched page-wide, as it was read); a colour
            # frame is cut first and only the crop composited, never the whole frame (a 100-megapixel RGBA
            # one took 1.6 GB to composite whole).
            grey = Image.fromarray(_to_gray(im)) if im.mode in GREY_MODES else None
            for n, fig in enumerate(page.layout.figures, start=1):  # type: ignore[union-attr]
                if figure_id(page.page_no, n) in skip:
                    continue
                box = _pixels(fig.bbox, 1.0, im.width, im.height)
                yield figure_id(page.page_no, n), _png(grey.crop(box) if grey else _visible(im.crop(box)))


def _pdf_crops(
    path: Path, pages: Sequence[PageResult], settings: Settings, skip: Set[str]
) -> Iterator[tuple[str, bytes]]:
    doc = pdfium.PdfDocument(path)
    try:
        for page in pages:
            pdf_page = doc[page.page_no - 1]
            try:
                width_pt, height_pt = pdf_page.get_size()
                if pdf_page.get_rotation() in (90, 270):
                    width_pt, height_pt = height_pt, width_pt
                dpi = pdf_render_dpi(width_pt, height_pt, settings)
                for n, fig in enumerate(page.layout.figures, start=1):  # type: ignore[union-attr]
                    if figure_id(page.page_no, n) in skip:
                        continue
                    x0, y0, x1, y1 = _pixels(
                        fig.bbox, dpi, math.ceil(width_pt / 72 * dpi), math.ceil(height_pt / 72 * dpi)
                    )
                    points = 72 / dpi
                    crop = (x0 * points, height_pt - y1 * points, width_pt - x1 * points, y0 * points)
                    bitmap = pdf_page.render(scale=dpi / 72, crop=crop, may_draw_forms=True)
                    try:
                        image = bitmap.to_pil().convert("RGB")
                    finally:
                        bitmap.close()
                    yield figure_id(page.page_no, n), _png(image)
            finally:
                pdf_page.close()
    finally:
        doc.close()


def _visible(im: Image.Image) -> Image.Image:
    """The frame as shown: grey stays grey (16-bit scaled to 8), colour becomes RGB, alpha over white."""
    if im.mode in GREY_MODES:
        return Image.fromarray(_to_gray(im))
    rgba = im.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, rgba).convert("RGB")


def _pixels(bbox: Sequence[float], per_unit: float, width: int, height: int) -> tuple[int, int, int, int]:
    """A figure's polygon (page units) as a pixel box, its corners rounded to whole pixels as Document
    Intelligence reports pixel polygons (so the PNG is as large as the polygon says), within the page, at
    least 1x1."""
    xs = np.asarray(bbox[0::2], dtype=np.float64) * per_unit
    ys = np.asarray(bbox[1::2], dtype=np.float64) * per_unit
    x0 = min(max(0, round(float(xs.min()))), width - 1)
    y0 = min(max(0, round(float(ys.min()))), height - 1)
    x1 = max(x0 + 1, min(width, round(float(xs.max()))))
    y1 = max(y0 + 1, min(height, round(float(ys.max()))))
    return x0, y0, x1, y1


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()
