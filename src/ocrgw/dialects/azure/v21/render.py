"""A JobView as v2.1 Batch Read JSON: PascalCase statuses, `recognitionResults`, clockwise orientation, and
"Low" on doubtful words only."""

from __future__ import annotations

from ocrgw.dialects.azure.shared import STATUS, box, page_size
from ocrgw.jobs.schemas import JobView, PageResult
from ocrgw.jobs.states import JobStatus

LOW_CONFIDENCE = 0.5  # v2 marks only doubtful words, with "confidence": "Low"


def _orientation(angle: float) -> float:
    """(-180, 180] -> [0, 360), two decimals."""
    value = round(angle % 360.0, 2)
    return 0.0 if value >= 360.0 else value + 0.0


def _page(page: PageResult) -> dict:
    lines = [
        {
            "boundingBox": box(ln.bbox, page.unit),
            "text": ln.text,
            "words": [
                {"boundingBox": box(w.bbox, page.unit), "text": w.text}
                | ({"confidence": "Low"} if w.confidence < LOW_CONFIDENCE else {})
                for w in ln.words
            ],
        }
        for ln in page.lines
    ]
    return {"page": page.page_no, "clockwiseOrientation": _orientation(page.angle), **page_size(page), "lines": lines}


def operation(view: JobView) -> dict:
    status = STATUS[view.status]  # v3's camelCase status, which v2 capitalises: NotStarted, Running, ...
    body: dict = {"status": status[0].upper() + status[1:]}
    if view.status is JobStatus.SUCCEEDED:
        body["recognitionResults"] = [_page(p) for p in view.pages or []]
    return body
