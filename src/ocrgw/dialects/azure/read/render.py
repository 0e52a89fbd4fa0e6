"""Renders a JobView as Azure Read v3.x JSON: camelCase statuses, ISO-8601 UTC timestamps, 8-number
boxes (integers for pixel units, as Azure sends them)."""

from __future__ import annotations

from ocrgw.dialects.azure.errors import codes, error_object
from ocrgw.dialects.azure.shared import box, operation_state, page_size
from ocrgw.jobs.schemas import JobView, LineResult, PageResult
from ocrgw.jobs.states import JobStatus

LATEST_MODEL = "2022-04-30"
KNOWN_MODELS = ("2021-04-12", "2022-04-30")


def _style(line: LineResult) -> dict:
    """Read v3.2's per-line style: the worker's label (``pipeline.style``); a line stored before labels
    existed says "other" with a confidence that says we do not know."""
    if line.style is None:
        return {"appearance": {"style": {"name": "other", "confidence": 0.5}}}
    return {"appearance": {"style": {"name": line.style, "confidence": round(line.style_confidence or 0.5, 3)}}}


def _page(page: PageResult, version: str) -> dict:
    lines = [
        {
            "boundingBox": box(ln.bbox, page.unit),
            "text": ln.text,
            **({"language": ln.language} if ln.language and version == "v3.2" else {}),
            **(_style(ln) if version == "v3.2" else {}),
            "words": [
                {"boundingBox": box(w.bbox, page.unit), "text": w.text, "confidence": round(w.confidence, 3)}
                for w in ln.words
            ],
        }
        for ln in page.lines
    ]
    language = {"language": page.language} if page.language else {}
    return {"page": page.page_no, **language, "angle": page.angle, **page_size(page), "lines": lines}


def operation(view: JobView, version: str) -> dict:
    body = operation_state(view)
    if view.status is JobStatus.SUCCEEDED:
        result: dict = {"version": version.removeprefix("v") + ".0"}
        if version == "v3.2":
            result["modelVersion"] = LATEST_MODEL if view.spec.model_version == "latest" else view.spec.model_version
        result["readResults"] = [_page(p, version) for p in view.pages or []]
        body["analyzeResult"] = result
    elif view.status is JobStatus.FAILED:
        _, top, inner = codes(view.error_code, "read")
        body["error"] = error_object(top, inner, view.error_message or "The operation failed.")
    return body
