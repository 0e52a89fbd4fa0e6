"""Renders a JobView as OCR.space JSON: one ParsedResult per page, `ParsedText` lines ending "\\r\\n"
("\\t\\r\\n" for tables), the TextOverlay in pixels (PDF pages scaled by the render DPI), and the
string-typed `TextOrientation` and `ProcessingTimeInMilliseconds` its clients expect. Pure functions."""

from __future__ import annotations

from ocrgw.dialects.ocrspace.parse import Options
from ocrgw.jobs.schemas import JobView, PageResult
from ocrgw.render.geometry import ltwh, pixel_scale
from ocrgw.settings import Settings

NOT_REQUESTED_PDF = "Searchable PDF not generated as it was not requested."
NOT_REQUESTED_OVERLAY = "Text overlay is not provided as it is not requested"


def _overlay(page: PageResult, k: float) -> dict:
    """Whole pixels for images, as OCR.space's; PDF pages scaled to pixels keep two decimals."""
    lines = []
    for ln in page.lines:
        words = []
        for w in ln.words or []:
            left, top, width, height = (round(v, 2) if k != 1.0 else round(v) for v in ltwh(w.bbox, k))
            words.append({"WordText": w.text, "Left": left, "Top": top, "Height": height, "Width": width})
        if words:
            tops, heights = [w["Top"] for w in words], [w["Height"] for w in words]
            lines.append({"LineText": ln.text, "Words": words, "MaxHeight": max(heights), "MinTop": min(tops)})
    return {"Lines": lines, "HasOverlay": True, "Message": f"Total lines: {len(lines)}"}


def orientation(angle: float) -> str:
    """Page angle (degrees clockwise the text is turned) -> OCR.space's "0"/"90"/"180"/"270"."""
    return str(round(angle / 90.0) % 4 * 90)


def render_result(view: JobView, opts: Options, settings: Settings, pdf_url: str | None, elapsed_ms: int) -> dict:
    end = "\t\r\n" if opts.table else "\r\n"
    not_requested = {"Lines": [], "HasOverlay": False, "Message": NOT_REQUESTED_OVERLAY}
    results = [
        {
            "TextOverlay": _overlay(page, pixel_scale(page, settings.pdf_dpi)) if opts.overlay else not_requested,
            "TextOrientation": orientation(page.angle) if opts.orientation else "0",
            "FileParseExitCode": 1,
            "ParsedText": "".join(ln.text + end for ln in page.lines),
            "ErrorMessage": "",
            "ErrorDetails": "",
        }
        for page in sorted(view.pages or [], key=lambda p: p.page_no)
    ]
    return {
        "ParsedResults": results,
        "OCRExitCode": 1,
        "IsErroredOnProcessing": False,
        "ProcessingTimeInMilliseconds": str(elapsed_ms),
        "SearchablePDFURL": pdf_url if pdf_url else NOT_REQUESTED_PDF,
    }
