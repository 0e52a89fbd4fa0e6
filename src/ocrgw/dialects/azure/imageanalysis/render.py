"""A JobView as Image Analysis 4.0 JSON: pixels, ints, 4-point polygons, one block for page 1."""

from __future__ import annotations

from ocrgw.jobs.schemas import JobView
from ocrgw.render.geometry import corners, pixel_scale
from ocrgw.settings import Settings

MODEL_VERSION = "2023-10-01"


def _polygon(bbox: list[float], k: float) -> list[dict[str, int]]:
    return [{"x": x, "y": y} for x, y in corners(bbox, k)]


def render_result(view: JobView, settings: Settings) -> dict:
    page = view.pages[0] if view.pages else None
    if page is None:  # never for a read image: page 1 always exists
        return {"modelVersion": MODEL_VERSION, "metadata": {"width": 0, "height": 0}, "readResult": {"blocks": []}}
    k = pixel_scale(page, settings.pdf_dpi)  # Image Analysis speaks pixels only: a PDF page at its render resolution
    lines = [
        {
            "text": ln.text,
            "boundingPolygon": _polygon(ln.bbox, k),
            "words": [
                {"text": w.text, "boundingPolygon": _polygon(w.bbox, k), "confidence": round(w.confidence, 3)}
                for w in ln.words
            ],
        }
        for ln in page.lines
    ]
    return {
        "modelVersion": MODEL_VERSION,
        "metadata": {"width": round(page.width * k), "height": round(page.height * k)},
        "readResult": {"blocks": [{"lines": lines}] if lines else []},
    }
