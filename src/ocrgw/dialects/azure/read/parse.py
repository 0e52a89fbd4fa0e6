"""Read v3.x query parameters -> an Order for the job core, each refused with Azure's own error code."""

from __future__ import annotations

import re

from ocrgw.dialects.azure.read.render import KNOWN_MODELS
from ocrgw.dialects.azure.shared import LANGUAGES
from ocrgw.errors import ErrorCode as E
from ocrgw.errors import OcrgwError
from ocrgw.jobs.pages import PageSelection
from ocrgw.jobs.schemas import JobSpec
from ocrgw.jobs.service import Order

_MODEL_RE = re.compile(r"^(latest|\d{4}-\d{2}-\d{2})(-preview)?$")


def order(
    language: str | None, pages: str | None = None, reading_order: str | None = None, model_version: str | None = None
) -> Order:
    """v3.2's parameters; v3.0/v3.1 (and the APIs that reuse this) pass only ``language``."""
    selection = PageSelection.parse(pages)
    sort = (reading_order or "basic").strip().lower()
    if sort not in ("basic", "natural"):
        why = f"readingOrder must be 'basic' or 'natural', not {reading_order!r}."
        raise OcrgwError(E.INVALID_READING_ORDER, why, param="readingOrder")
    mv = (model_version or "latest").strip()
    if not _MODEL_RE.match(mv):
        raise OcrgwError(E.INVALID_MODEL, f"The model version {mv!r} is not valid.", param="model-version")
    if mv != "latest" and mv.removesuffix("-preview") not in KNOWN_MODELS:
        why = f"The model version {mv!r} is not supported; use 'latest' or one of {', '.join(KNOWN_MODELS)}."
        raise OcrgwError(E.INVALID_MODEL, why, param="model-version")
    spec = JobSpec(
        language_hint=language,
        pages=selection.ranges,
        reading_order=sort,  # type: ignore[arg-type]
        model_version=mv.removesuffix("-preview"),
    )
    return Order(spec, LANGUAGES.ask(language))
