"""Image Analysis query parameters: only `features=read` is offered (other visual features are refused, never
faked); the language goes through Read's order, limited to page 1."""

from __future__ import annotations

from ocrgw.dialects.azure.imageanalysis.render import MODEL_VERSION
from ocrgw.dialects.azure.read import parse as read_parse
from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.jobs.service import Order

API_VERSIONS = ("2023-10-01", "2024-02-01")
MODEL_VERSIONS = ("latest", MODEL_VERSION)
VISUAL_FEATURES = ("tags", "caption", "denseCaptions", "objects", "read", "smartCrops", "people")
MSG_NO_FEATURES = "Either 'features' or 'model-name' needs to be specified in the query parameter"


def order(language: str | None) -> Order:
    asked = read_parse.order(language)
    return Order(asked.spec.model_copy(update={"pages": ((1, 1),)}), asked.languages)


def check_query(
    api_version: str | None,
    features: str | None,
    model_name: str | None,
    model_version: str | None,
    gender_neutral: str | None,
) -> None:
    if not api_version:
        raise OcrgwError(
            ErrorCode.UNSUPPORTED_API_VERSION,
            f"The api-version query parameter is required; supported: {', '.join(API_VERSIONS)}.",
            param="api-version",
        )
    if api_version not in API_VERSIONS:
        raise OcrgwError(
            ErrorCode.UNSUPPORTED_API_VERSION,
            f"The HTTP resource does not support api-version {api_version!r}; supported: {', '.join(API_VERSIONS)}.",
            param="api-version",
        )
    asked = [f.strip() for f in (features or "").split(",") if f.strip()]
    if model_name:
        raise OcrgwError(
            ErrorCode.MODEL_NOT_FOUND,
            f"Custom model {model_name!r} was not found; this service offers features=read only.",
            param="model-name",
        )
    if not asked:
        raise OcrgwError(ErrorCode.INVALID_PARAMETER, MSG_NO_FEATURES, param="features")
    known = {f.lower(): f for f in VISUAL_FEATURES}
    for name in asked:
        if name.lower() not in known:
            raise OcrgwError(
                ErrorCode.INVALID_PARAMETER,
                f"Unknown visual feature {name!r}; valid values: {', '.join(VISUAL_FEATURES)}.",
                param="features",
            )
        if name.lower() != "read":
            raise OcrgwError(
                ErrorCode.UNSUPPORTED_FEATURE,
                f"The visual feature {known[name.lower()]!r} is not supported by this service; only 'read' is.",
                param="features",
            )
    mv = (model_version or "latest").strip()
    if mv not in MODEL_VERSIONS:
        raise OcrgwError(
            ErrorCode.INVALID_MODEL,
            f"The model version {mv!r} is not supported; use {' or '.join(MODEL_VERSIONS)}.",
            param="model-version",
        )
    if gender_neutral is not None and gender_neutral.strip().lower() not in ("true", "false"):
        raise OcrgwError(
            ErrorCode.INVALID_PARAMETER, "gender-neutral-caption must be true or false.", param="gender-neutral-caption"
        )
