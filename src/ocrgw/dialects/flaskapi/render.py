"""Flask-style answers (between the job service and the routes), in the tutorials' `{"success": ...}` JSON:
one upload's text with its method, language, mean confidence, time, filename and page count; a batch's
items in input order, each read or failed on its own; a new key."""

from __future__ import annotations

import time
from dataclasses import dataclass

from starlette.responses import Response

from ocrgw.dialects import json_response
from ocrgw.dialects.tesseract_style import confidence_of, text_of
from ocrgw.errors import OcrgwError
from ocrgw.jobs.schemas import JobView, StoredBlob


def ocr_process(view: JobView, method: str, filename: str, started: float) -> Response:
    return json_response(
        {
            "success": True,
            "text": text_of(view),
            "method": method,
            "language": "+".join(view.spec.languages),
            "confidence": confidence_of(view),
            "processing_time": round(time.monotonic() - started, 3),
            "filename": filename,
            "pages": len(view.pages or []),
        }
    )


@dataclass(slots=True)
class Item:
    """One image of a batch, from its upload (stored until its job takes it) or URL to its job's end;
    an error ends only this item."""

    index: int
    filename: str | None = None
    url: str | None = None
    blob: StoredBlob | None = None
    view: JobView | None = None
    error: OcrgwError | None = None

    def render(self) -> dict:
        out: dict = {"index": self.index}
        out.update({"url": self.url} if self.url is not None else {"filename": self.filename})
        if self.view is not None:
            out.update(success=True, text=text_of(self.view), confidence=confidence_of(self.view))
        else:
            out.update(success=False, error=self.error.message if self.error else "Not processed.")
        return out


def batch_process(items: list[Item], started: float) -> Response:
    results = [it.render() for it in items]
    ok = sum(1 for r in results if r["success"])
    return json_response(
        {
            "success": True,
            "results": results,
            "total": len(results),
            "successful": ok,
            "failed": len(results) - ok,
            "processing_time": round(time.monotonic() - started, 3),
        }
    )


def new_key(secret: str, name: str, key_id: str) -> Response:
    return json_response({"success": True, "api_key": secret, "name": name, "id": key_id}, 201)
