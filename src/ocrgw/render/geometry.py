"""Box arithmetic the vendors' renderings share. Stored boxes are 8-number quads (TL, TR, BR, BL as x, y)
in the page's unit: pixels for images, inches for PDF pages, which pixel-only APIs (Image Analysis,
OCR.space, Huawei) give at the server's nominal render resolution."""

from __future__ import annotations

from ocrgw.jobs.schemas import PageResult


def pixel_scale(page: PageResult, pdf_dpi: int) -> float:
    """Factor from the page's unit to pixels: 1 for images, the render resolution for PDF pages."""
    return float(pdf_dpi) if page.unit == "inch" else 1.0


def corners(bbox: list[float], k: float = 1.0) -> list[tuple[int, int]]:
    """The quad's four corners in whole pixels, clockwise from top left."""
    return [(round(bbox[i] * k), round(bbox[i + 1] * k)) for i in range(0, 8, 2)]


def ltwh(bbox: list[float], k: float = 1.0) -> tuple[float, float, float, float]:
    """Left, top, width and height of the quad's upright bounding rectangle, scaled by ``k``."""
    xs, ys = bbox[0::2], bbox[1::2]
    return min(xs) * k, min(ys) * k, (max(xs) - min(xs)) * k, (max(ys) - min(ys)) * k
