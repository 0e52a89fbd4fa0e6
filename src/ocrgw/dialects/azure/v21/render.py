"""A JobView as v2.1 Batch Read JSON: PascalCase statuses, `recognitionResults`, clockwise orientation, and
"Low" on doubtful words only."""

from __future__ import annotations

from ocrgw.dialects.azure.shared import box
from ocrgw.jobs.schemas import JobView, PageResult
from ocrgw.jobs.states import JobStatus

LOW_CONFIDENCE = 0.5  # v2 marks only doubtful words, with "confidence": "Low"

STATUS = {
    JobStatus.QUEUED: "NotStarted",
    JobStatus.RUNNING: "Running",
    JobStatus.SUCCEEDED: "Succeeded",
    JobStatus.FAILED: "Failed",
}


def _orientation(angle: float) -> float:
    """(-180, 180] -> [0, 360), two decimals."""
    value = round(angle % 360.0, 2)
    return 0.0 if value >= 360.0 else value + 0.0


def _page(page: PageResult) -> dict:
    lines = []
    for ln in page.lines:
        words = []
        for w in ln.words:
            word: dict = {"boundingBox": box(w.bbox, page.unit), "text": w.text}
            if w.confidence < LOW_CONFIDENCE:
                word["confidence"] = "Low"
            words.append(word)
        lines.append({"boundingBox": box(ln.bbox, page.unit), "text": ln.text, "words": words})
    pixel = page.unit == "pixel"
    return {
        "page": page.page_no,
        "clockwiseOrientation": _orientation(page.angle),
        "width": round(page.width) if pixel else page.width,
        "height": round(page.height) if pixel else page.height,
        "unit": page.unit,
        "lines": lines,
    }


def operation(view: JobView) -> dict:
    body: dict = {"status": STATUS[view.status]}
    if view.status is JobStatus.SUCCEEDED:
        body["recognitionResults"] = [_page(p) for p in view.pages or []]
    return body
