"""Stored results for the fast renderer tests: JobViews as JSON under tests/data/results/ (made from real
runs by tests/data/results/make_fixtures.py), loaded back into the one result model every dialect renders,
and golden files of each dialect's rendering compared exactly.

Goldens live in tests/data/results/golden/<dialect>/<case>.<ext>. Set OCRGW_UPDATE_GOLDEN=1 to rewrite
them from the current renderers (then read the diff: a golden that changed is a wire change)."""

from __future__ import annotations

import difflib
import json
import os
import re
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from ocrgw.jobs.schemas import (
    CallbackView,
    JobSpec,
    JobView,
    LineResult,
    PageResult,
    StoredBlob,
    WordResult,
)
from ocrgw.jobs.states import JobStatus
from ocrgw.settings import Settings

RESULTS = Path(__file__).resolve().parent / "data" / "results"
GOLDEN = RESULTS / "golden"
UPDATE = os.environ.get("OCRGW_UPDATE_GOLDEN", "") not in ("", "0")

# Every stored fixture, by name (tests/data/results/<name>.json); make_fixtures.py writes exactly these.
FIXTURES = ("phototest", "two_pages", "passport", "blank", "failed", "queued", "running")
SUCCEEDED = ("phototest", "two_pages", "passport", "blank")


# ----------------------------------------------------------------------------------------- JSON <-> model
def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


def _page_json(page: PageResult) -> dict[str, Any]:
    return {
        "page_no": page.page_no,
        "width": page.width,
        "height": page.height,
        "unit": page.unit,
        "angle": page.angle,
        "language": page.language,
        "preprocessing": page.preprocessing,
        "lines": [
            {
                "text": ln.text,
                "bbox": ln.bbox,
                "confidence": ln.confidence,
                "words": [{"text": w.text, "bbox": w.bbox, "confidence": w.confidence} for w in ln.words],
            }
            for ln in page.lines
        ],
    }


def _page(data: dict[str, Any]) -> PageResult:
    return PageResult(
        page_no=data["page_no"],
        width=data["width"],
        height=data["height"],
        unit=data["unit"],
        angle=data["angle"],
        language=data["language"],
        preprocessing=data["preprocessing"],
        lines=[
            LineResult(
                text=ln["text"],
                bbox=ln["bbox"],
                confidence=ln["confidence"],
                words=[WordResult(w["text"], w["bbox"], w["confidence"]) for w in ln["words"]],
            )
            for ln in data["lines"]
        ],
    )


def view_json(view: JobView) -> dict[str, Any]:
    """A JobView as plain JSON, every field kept (the inverse of ``view_from_json``)."""
    cb = view.callback
    return {
        "id": view.id,
        "dialect": view.dialect,
        "status": view.status.value,
        "spec": view.spec.model_dump(mode="json"),
        "created_at": _time(view.created_at),
        "updated_at": _time(view.updated_at),
        "attempts": view.attempts,
        "pages_total": view.pages_total,
        "pages_done": view.pages_done,
        "error_code": view.error_code,
        "error_message": view.error_message,
        "expires_at": _time(view.expires_at),
        "artifact_key": view.artifact_key,
        "analysis": view.analysis,
        "callback": (
            {"url": cb.url, "state": cb.state, "attempts": cb.attempts, "last_error": cb.last_error} if cb else None
        ),
        "pages": [_page_json(p) for p in view.pages] if view.pages is not None else None,
    }


def view_from_json(data: dict[str, Any]) -> JobView:
    created, updated = _parse_time(data["created_at"]), _parse_time(data["updated_at"])
    assert created is not None and updated is not None
    cb = data["callback"]
    return JobView(
        id=data["id"],
        dialect=data["dialect"],
        status=JobStatus(data["status"]),
        spec=JobSpec.model_validate(data["spec"]),
        created_at=created,
        updated_at=updated,
        attempts=data["attempts"],
        pages_total=data["pages_total"],
        pages_done=data["pages_done"],
        error_code=data["error_code"],
        error_message=data["error_message"],
        expires_at=_parse_time(data["expires_at"]),
        artifact_key=data["artifact_key"],
        analysis=data["analysis"],
        callback=CallbackView(cb["url"], cb["state"], cb["attempts"], cb["last_error"]) if cb else None,
        pages=[_page(p) for p in data["pages"]] if data["pages"] is not None else None,
    )


# ----------------------------------------------------------------------------------------------- loading
def _fixture(name: str) -> dict[str, Any]:
    path = RESULTS / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run tests/data/results/make_fixtures.py")
    return json.loads(path.read_text(encoding="utf-8"))


def load(name: str) -> JobView:
    """The stored JobView called ``name`` (a fresh object each call, so a test may change it freely)."""
    return view_from_json(_fixture(name)["view"])


def document(name: str) -> StoredBlob:
    """What intake recorded about the fixture's submitted document (the renderers that echo its size
    when nothing was read need it)."""
    d = _fixture(name)["document"]
    return StoredBlob(d["key"], d["size"], d["media_type"], d["width"], d["height"], d["frames"])


def with_options(view: JobView, **options: str) -> JobView:
    """The same job as if submitted with other renderer options (JobSpec.options)."""
    return replace(view, spec=view.spec.model_copy(update={"options": {**view.spec.options, **options}}))


# ------------------------------------------------------------------------------------- what renderers take
def settings(**overrides: Any) -> Settings:
    """Real settings with the values renderers read pinned (the PDF render DPI scales inch pages to pixels),
    so an OCRGW_* variable in the environment cannot change a golden."""
    return Settings(**{"pdf_dpi": 300, "public_base_url": None, **overrides})


def http_request(
    path: str = "/", *, host: str = "ocr.example.com", scheme: str = "https", state: dict | None = None
) -> Request:
    """A real starlette Request for renderers that build absolute URLs or keep per-request state."""
    scope: dict[str, Any] = {
        "type": "http",
        "http_version": "1.1",
        "method": "GET",
        "scheme": scheme,
        "server": (host, 443 if scheme == "https" else 80),
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", host.encode())],
        "state": dict(state or {}),
    }
    return Request(scope)


def response_json(response: Response) -> Any:
    return json.loads(bytes(response.body))


def conforms(model: type[BaseModel], data: dict[str, Any]) -> None:
    """``data`` has exactly the members the dialect's published wire schema (its OpenAPI model) names,
    with values of the declared types: validating and dumping again gives back the same JSON."""
    parsed = model.model_validate(data)
    assert parsed.model_dump(mode="json", exclude_unset=True) == data, f"{model.__name__}: members outside the schema"


# ----------------------------------------------------------------------------------------------- goldens
_NUMBERS = re.compile(r"\[\s*(-?[\d.e+-]+(?:,\s*-?[\d.e+-]+)*)\s*\]")


def golden_json(value: Any) -> str:
    """One member a line, but a list of numbers (a box, a point) on one line, so goldens diff readably."""
    text = json.dumps(value, ensure_ascii=False, indent=1)
    return _NUMBERS.sub(lambda m: "[" + ", ".join(v.strip() for v in m.group(1).split(",")) + "]", text) + "\n"


def golden(dialect: str, case: str, rendered: Any, ext: str = "json") -> None:
    """Compare ``rendered`` with tests/data/results/golden/<dialect>/<case>.<ext> exactly: JSON as text
    (one member a line), so member order and 1 versus 1.0 count too; other formats byte for byte.
    With OCRGW_UPDATE_GOLDEN=1, write the file instead."""
    path = GOLDEN / dialect / f"{case}.{ext}"
    text = golden_json(rendered) if ext == "json" else rendered
    assert isinstance(text, str)
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
        return
    if not path.exists():
        pytest.fail(f"golden {path} is missing: run the test with OCRGW_UPDATE_GOLDEN=1 and review it")
    want = path.read_bytes().decode("utf-8")
    if text != want:
        diff = "".join(
            difflib.unified_diff(
                want.splitlines(keepends=True), text.splitlines(keepends=True), "golden", "rendered", n=2
            )
        )
        pytest.fail(f"{dialect}/{case} differs from its golden (OCRGW_UPDATE_GOLDEN=1 rewrites it):\n{diff[:6000]}")
