"""Renders a JobView as Azure Read v3.x JSON: camelCase statuses, ISO-8601 UTC timestamps, 8-number
boxes (integers for pixel units, as Azure sends them)."""

from __future__ import annotations

from ocrgw.dialects.azure.errors import failure_codes
from ocrgw.dialects.azure.shared import box, timestamp
from ocrgw.jobs.schemas import JobView, PageResult
from ocrgw.jobs.states import JobStatus

STATUS = {
    JobStatus.QUEUED: "notStarted",
    JobStatus.RUNNING: "running",
    JobStatus.SUCCEEDED: "succeeded",
    JobStatus.FAILED: "failed",
}
LATEST_MODEL = "2022-04-30"
KNOWN_MODELS = ("2021-04-12", "2022-04-30")
# We do not classify handwriting: every line is "other", with a confidence that says we do not know.
STYLE = {"style": {"name": "other", "confidence": 0.5}}


def _page(page: PageResult, version: str) -> dict:
    with_style = version == "v3.2"
    lines = []
    for ln in page.lines:
        line: dict = {"boundingBox": box(ln.bbox, page.unit), "text": ln.text}
        if with_style:
            line["appearance"] = STYLE
        line["words"] = [
            {"boundingBox": box(w.bbox, page.unit), "text": w.text, "confidence": round(w.confidence, 3)}
            for w in ln.words
        ]
        lines.append(line)
    out: dict = {"page": page.page_no}
    if page.language:
        out["language"] = page.language
    out.update(
        angle=page.angle,
        width=round(page.width) if page.unit == "pixel" else page.width,
        height=round(page.height) if page.unit == "pixel" else page.height,
        unit=page.unit,
        lines=lines,
    )
    return out


def operation(view: JobView, version: str) -> dict:
    body: dict = {
        "status": STATUS[view.status],
        "createdDateTime": timestamp(view.created_at),
        "lastUpdatedDateTime": timestamp(view.updated_at),
    }
    if view.status is JobStatus.SUCCEEDED:
        result: dict = {"version": version.removeprefix("v") + ".0"}
        if version == "v3.2":
            mv = view.spec.model_version
            result["modelVersion"] = LATEST_MODEL if mv == "latest" else mv
        result["readResults"] = [_page(p, version) for p in view.pages or []]
        body["analyzeResult"] = result
    elif view.status is JobStatus.FAILED:
        top, inner = failure_codes(view.error_code)
        err: dict = {"code": top, "message": view.error_message or "The operation failed."}
        if inner:
            err["innererror"] = {"code": inner, "message": err["message"]}
        body["error"] = err
    return body
