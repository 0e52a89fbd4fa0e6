"""A job as the native `/v1` API shows it (between the job service and the routes): the operation (status,
progress, error, callback delivery, absolute links), the result (pages, lines, words, plain text), and the
export formats (text, hOCR, ALTO, TSV; the searchable PDF is the worker's artifact). Pure functions of
the JobView and the request; the exports themselves are ``ocrgw.render.exports``."""

from __future__ import annotations

import dataclasses
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ocrgw.context import AppContext, public_base_url
from ocrgw.dialects.native import schemas as S
from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.jobs.schemas import JobView
from ocrgw.jobs.states import JobStatus
from ocrgw.render import exports


def _fields(obj: Any) -> dict[str, Any]:
    """A stored dataclass's fields by name: what a wire model of the same field names validates from
    (``from_attributes`` also turns its nested stored objects, lines and words, into wire models)."""
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


def operation(view: JobView, request: Request, ctx: AppContext) -> S.Operation:
    error = None
    if view.status is JobStatus.FAILED:
        error = {
            "code": view.error_code or ErrorCode.PROCESSING_FAILED.value,
            "message": view.error_message or "The document could not be read.",
        }
    base = f"{public_base_url(request, ctx.settings)}/v1/jobs/{view.id}"
    wire = {  # the Operation's fields only: every submit and poll renders one, and a view has more fields
        "id": view.id,
        "created_at": view.created_at,
        "updated_at": view.updated_at,
        "expires_at": view.expires_at,
        "attempts": view.attempts,
        "callback": view.callback,
        "status": view.status.value,
        "error": error,
        "progress": {"pages_done": view.pages_done, "pages_total": view.pages_total},
        "links": {"self": base, "result": base + "/result"},
    }
    return S.Operation.model_validate(wire, from_attributes=True)


def result(view: JobView, request: Request, ctx: AppContext) -> S.Result:
    """The operation with everything read; pages empty until the job has succeeded."""
    pages = [{**_fields(p), "page": p.page_no} for p in sorted(view.pages or [], key=lambda p: p.page_no)]
    op = operation(view, request, ctx)
    text = exports.to_text(view.pages or [])
    return S.Result.model_validate({**op.model_dump(), "pages": pages, "text": text}, from_attributes=True)


def json(model: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(model.model_dump_json(), status_code=status, media_type="application/json", headers=headers)


def accepted(view: JobView, request: Request, ctx: AppContext, *, replayed: bool = False) -> Response:
    """202 with `Location`; a retried submit (the same Idempotency-Key) also says it was replayed."""
    op = operation(view, request, ctx)
    headers = {"Location": op.links.self, **({"Idempotent-Replayed": "true"} if replayed else {})}
    return json(op, 202, headers)


def check_exportable(view: JobView, fmt: str) -> None:
    """An export needs a succeeded job (NotReady: waiting may help), and the searchable PDF a job that
    asked for it at submit (NotRequested: waiting will not)."""
    if fmt == "pdf" and "searchable_pdf" not in view.spec.outputs:
        raise OcrgwError(
            ErrorCode.NOT_REQUESTED,
            "No searchable PDF is made for this job: resubmit the document with searchable_pdf=true.",
            param="format",
        )
    if view.status is JobStatus.FAILED:
        raise OcrgwError(ErrorCode.NOT_READY, f"The job failed ({view.error_code}): {view.error_message}")
    if view.status is not JobStatus.SUCCEEDED:
        raise OcrgwError(ErrorCode.NOT_READY, f"The job is {view.status.value}; poll it until it has succeeded.")


def disposition(view: JobView, fmt: str) -> dict[str, str]:
    ext = exports.FORMATS[fmt][2] if fmt in exports.FORMATS else "pdf"
    return {"Content-Disposition": f'inline; filename="{view.id}.{ext}"'}


def export(view: JobView, fmt: str, dpi: float) -> tuple[str, str]:
    """(media type, body) of a text export; blocking (large documents), so the routes run it in a thread."""
    media, render, _ = exports.FORMATS[fmt]
    return media, render(view.pages or [], dpi)
