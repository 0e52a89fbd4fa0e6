"""A JobView as Image Analysis 4.0 JSON: pixels, ints, 4-point polygons, one block for page 1."""

from __future__ import annotations

from ocrgw.jobs.schemas import JobView, PageResult
from ocrgw.settings import Settings

MODEL_VERSION = "2023-10-01"


def _polygon(values: list[float], scale: float) -> list[dict[str, int]]:
    return [{"x": round(values[i] * scale), "y": round(values[i + 1] * scale)} for i in range(0, 8, 2)]


def _scale(page: PageResult, settings: Settings) -> float:
    # Image Analysis speaks pixels only; a PDF page (inches) is given at its nominal render resolution.
    return float(settings.pdf_dpi) if page.unit == "inch" else 1.0


def render_result(view: JobView, settings: Settings) -> dict:
    pages = view.pages or []
    page = pages[0] if pages else None
    if page is None:
        return {
            "modelVersion": MODEL_VERSION,
            "metadata": {"width": 0, "height": 0},  # never for a read image: page 1 always exists
            "readResult": {"blocks": []},
        }
    k = _scale(page, settings)
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
