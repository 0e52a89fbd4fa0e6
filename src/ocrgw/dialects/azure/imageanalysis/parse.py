"""Image Analysis query parameters: only `features=read` is offered (other visual features are refused, never
faked); the language is a BCP-47 code as for Read, and only page 1 is read."""

from __future__ import annotations

from ocrgw.dialects.azure.imageanalysis.render import MODEL_VERSION
from ocrgw.dialects.azure.shared import LANGUAGES
from ocrgw.errors import ErrorCode as E
from ocrgw.errors import OcrgwError
from ocrgw.jobs.schemas import JobSpec
from ocrgw.jobs.service import Order

API_VERSIONS = ("2023-10-01", "2024-02-01")
MODEL_VERSIONS = ("latest", MODEL_VERSION)
VISUAL_FEATURES = ("tags", "caption", "denseCaptions", "objects", "read", "smartCrops", "people")
MSG_NO_FEATURES = "Either 'features' or 'model-name' needs to be specified in the query parameter"


def order(language: str | None) -> Order:
    return Order(JobSpec(language_hint=language, pages=((1, 1),)), LANGUAGES.ask(language))


def check_query(
    api_version: str | None,
    features: str | None,
    model_name: str | None,
    model_version: str | None,
    gender_neutral: str | None,
) -> None:
    """Each parameter checked in Azure's order; the first bad one is refused in Azure's words."""
    supported = f"supported: {', '.join(API_VERSIONS)}."
    if not api_version:
        raise OcrgwError(
            E.UNSUPPORTED_API_VERSION, f"The api-version query parameter is required; {supported}", param="api-version"
        )
    if api_version not in API_VERSIONS:
        why = f"The HTTP resource does not support api-version {api_version!r}; {supported}"
        raise OcrgwError(E.UNSUPPORTED_API_VERSION, why, param="api-version")
    if model_name:
        why = f"Custom model {model_name!r} was not found; this service offers features=read only."
        raise OcrgwError(E.MODEL_NOT_FOUND, why, param="model-name")
    asked = [f.strip() for f in (features or "").split(",") if f.strip()]
    if not asked:
        raise OcrgwError(E.INVALID_PARAMETER, MSG_NO_FEATURES, param="features")
    known = {f.lower(): f for f in VISUAL_FEATURES}
    for name in asked:
        if name.lower() not in known:
            why = f"Unknown visual feature {name!r}; valid values: {', '.join(VISUAL_FEATURES)}."
            raise OcrgwError(E.INVALID_PARAMETER, why, param="features")
        if name.lower() != "read":
            why = f"The visual feature {known[name.lower()]!r} is not supported by this service; only 'read' is."
            raise OcrgwError(E.UNSUPPORTED_FEATURE, why, param="features")
    mv = (model_version or "latest").strip()
    if mv not in MODEL_VERSIONS:
        why = f"The model version {mv!r} is not supported; use {' or '.join(MODEL_VERSIONS)}."
        raise OcrgwError(E.INVALID_MODEL, why, param="model-version")
    if gender_neutral is not None and gender_neutral.strip().lower() not in ("true", "false"):
        why = "gender-neutral-caption must be true or false."
        raise OcrgwError(E.INVALID_PARAMETER, why, param="gender-neutral-caption")
