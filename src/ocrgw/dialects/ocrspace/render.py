"""Renders a JobView as OCR.space JSON: one ParsedResult per page, `ParsedText` lines ending "\\r\\n"
("\\t\\r\\n" for tables), the TextOverlay in pixels (PDF pages scaled by the render DPI), and the
string-typed `TextOrientation` and `ProcessingTimeInMilliseconds` its clients expect. Pure functions."""

from __future__ import annotations

from ocrgw.dialects.ocrspace.parse import Options
from ocrgw.jobs.schemas import JobView, PageResult
from ocrgw.settings import Settings

NOT_REQUESTED_PDF = "Searchable PDF not generated as it was not requested."
NOT_REQUESTED_OVERLAY = "Text overlay is not provided as it is not requested"


def _scale(page: PageResult, settings: Settings) -> float:
    return float(settings.pdf_dpi) if page.unit == "inch" else 1.0  # PDF pages: pixels at the render dpi


def _num(value: float, scaled: bool) -> float | int:
    return round(value, 2) if scaled else round(value)


def _box(bbox: list[float], k: float) -> tuple[float, float, float, float]:
    xs, ys = bbox[0::2], bbox[1::2]
    return min(xs) * k, min(ys) * k, (max(xs) - min(xs)) * k, (max(ys) - min(ys)) * k


def _overlay(page: PageResult, k: float) -> dict:
    scaled = k != 1.0
    lines = []
    for ln in page.lines:
        words = []
        for w in ln.words or []:
            left, top, width, height = _box(w.bbox, k)
            words.append(
                {
                    "WordText": w.text,
                    "Left": _num(left, scaled),
                    "Top": _num(top, scaled),
                    "Height": _num(height, scaled),
                    "Width": _num(width, scaled),
                }
            )
        if not words:
            continue
        lines.append(
            {
                "LineText": ln.text,
                "Words": words,
                "MaxHeight": max(w["Height"] for w in words),
                "MinTop": min(w["Top"] for w in words),
            }
        )
    return {"Lines": lines, "HasOverlay": True, "Message": f"Total lines: {len(lines)}"}


def orientation(angle: float) -> str:
    """Page angle (degrees clockwise the text is turned) -> OCR.space's "0"/"90"/"180"/"270"."""
    return str(round(angle / 90.0) % 4 * 90)


def render_result(view: JobView, opts: Options, settings: Settings, pdf_url: str | None, elapsed_ms: int) -> dict:
    results = []
    for page in sorted(view.pages or [], key=lambda p: p.page_no):
        end = "\t\r\n" if opts.table else "\r\n"
        text = "".join(ln.text + end for ln in page.lines)
        overlay = (
            _overlay(page, _scale(page, settings))
            if opts.overlay
            else {"Lines": [], "HasOverlay": False, "Message": NOT_REQUESTED_OVERLAY}
        )
        results.append(
            {
                "TextOverlay": overlay,
                "TextOrientation": orientation(page.angle) if opts.orientation else "0",
                "FileParseExitCode": 1,
                "ParsedText": text,
                "ErrorMessage": "",
                "ErrorDetails": "",
            }
        )
    return {
        "ParsedResults": results,
        "OCRExitCode": 1,
        "IsErroredOnProcessing": False,
        "ProcessingTimeInMilliseconds": str(elapsed_ms),
        "SearchablePDFURL": pdf_url if pdf_url else NOT_REQUESTED_PDF,
    }
