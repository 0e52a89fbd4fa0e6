"""Form Recognizer / Document Intelligence requests -> an Order and a Source for the job core: the api-version
and model in the path, the query parameters (their options travel to render.py in JobSpec.options), and the
body (the document's bytes, or JSON with `urlSource` or `base64Source`), each refused with FR/DI's codes."""

from __future__ import annotations

import dataclasses

from starlette.requests import Request

from ocrgw import intake
from ocrgw.dialects.azure.docintel.errors import InnerCodeError
from ocrgw.dialects.azure.docintel.render import INDEX_TYPES
from ocrgw.dialects.azure.shared import LANGUAGES as BCP47
from ocrgw.errors import ErrorCode as E
from ocrgw.errors import OcrgwError
from ocrgw.formats import ImageLimits
from ocrgw.intake import jsonbody
from ocrgw.intake.sources import StreamSource, UrlSource
from ocrgw.jobs.pages import PageSelection
from ocrgw.jobs.schemas import JobSpec, StoredBlob
from ocrgw.jobs.service import Order, Source
from ocrgw.settings import Settings
from ocrgw.storage import BlobStore

MODELS = ("prebuilt-read", "prebuilt-layout")
API_VERSIONS = {
    "formrecognizer": ("2022-08-31", "2023-07-31"),
    "documentintelligence": ("2024-11-30", "2023-10-31-preview", "2024-02-29-preview", "2024-07-31-preview"),
}
# The add-on features each service knows (docintel-layout.md 2.1). Served: languages. Accepted without
# effect: ocrHighResolution (we always read at the resolution given). The others are accepted, answered
# with an empty collection and a FeatureNotSupported warning, so clients that ask for them keep working;
# keyValuePairs and queryFields are refused on prebuilt-read, as the service does.
FEATURES = {
    "documentintelligence": (
        "ocrHighResolution",
        "languages",
        "barcodes",
        "formulas",
        "keyValuePairs",
        "styleFont",
        "queryFields",
    ),
    "formrecognizer": ("ocrHighResolution", "languages", "barcodes", "formulas", "keyValuePairs", "styleFont"),
}
FEATURES_SERVED = ("languages",)
FEATURES_IGNORED = ("ocrHighResolution",)
LAYOUT_FEATURES = ("keyValuePairs", "queryFields")
# `output` (2024-11-30): what each model can make besides the JSON. Azure makes the searchable PDF for
# prebuilt-read only (docintel-layout.md 1.1); figures are cropped where figures are detected (layout):
# the worker stores a PNG of each, served at GET .../analyzeResults/{id}/figures/{figureId}.
OUTPUTS = {"prebuilt-read": ("pdf",), "prebuilt-layout": ("pdf", "figures")}
OUTPUT_VALUES = ("pdf", "figures")
RAW_TYPES = ("application/octet-stream", "application/pdf", "text/html")
JSON_OVERHEAD = 64 * 1024
LANGUAGES = dataclasses.replace(BCP47, param="locale", prefix="The parameter locale is invalid: ")


def api_version(service_name: str, value: str | None) -> str:
    if not value:
        why = "The api-version query parameter is required."
        raise InnerCodeError(E.INVALID_PARAMETER, why, inner="ParameterMissing", param="api-version")
    supported = API_VERSIONS[service_name]
    if value not in supported:
        why = f"The API version {value!r} is not supported by /{service_name}; use one of {', '.join(supported)}."
        raise OcrgwError(E.UNSUPPORTED_API_VERSION, why, param="api-version")
    return value


def model(model_id: str) -> str:
    if model_id not in MODELS:
        why = f"The requested model {model_id!r} wasn't found; this server serves {', '.join(MODELS)}."
        raise OcrgwError(E.MODEL_NOT_FOUND, why, param="modelId")
    return model_id


def _csv(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _invalid(param: str, why: str, code: E = E.INVALID_PARAMETER) -> OcrgwError:
    return OcrgwError(code, f"The parameter {param} is invalid: {why}", param=param)


def _choice(param: str, value: str | None, allowed: tuple[str, ...]) -> str:
    """``value``, or when not given the first of ``allowed`` (the default); anything else is refused."""
    if (value or allowed[0]) not in allowed:
        raise _invalid(param, f"{value!r} is not one of {', '.join(allowed)}.")
    return value or allowed[0]


def order(
    service_name: str,
    version: str,
    model_id: str,
    pages: str | None,
    locale: str | None,
    string_index_type: str | None,
    features: str | None,
    output_content_format: str | None,
    output: str | None,
    query_fields: str | None = None,
) -> Order:
    """FR/DI query parameters -> Order; the render options travel in JobSpec.options. Document
    Intelligence alone knows `outputContentFormat` and `output`: Form Recognizer ignores them."""
    try:
        selection = PageSelection.parse(pages)
    except OcrgwError as exc:
        raise _invalid("pages", f"{pages!r} is not a page range such as 1-2,4.", E.INVALID_PAGE_RANGE) from exc
    index_type = _choice("stringIndexType", string_index_type, INDEX_TYPES)
    wanted = _features(service_name, model_id, features, query_fields)
    served = ",".join(f for f in wanted if f in FEATURES_SERVED)
    options = {"apiVersion": version, "modelId": model_id, "stringIndexType": index_type, "features": served}
    unserved = [f for f in wanted if f not in FEATURES_SERVED + FEATURES_IGNORED]
    if unserved:
        options["featuresNotSupported"] = ",".join(unserved)
    if service_name == "documentintelligence":
        options["outputContentFormat"] = _choice("outputContentFormat", output_content_format, ("text", "markdown"))
        outputs = _outputs(model_id, output)
    else:  # no `output` before 2024-11-30; the FR SDK cannot send it, a raw REST call can
        if output is not None or output_content_format is not None:
            why = "The requested operation requires 2024-11-30 or later."
            param = "output" if output is not None else "outputContentFormat"
            raise InnerCodeError(E.UNSUPPORTED_API_VERSION, why, inner="NotSupportedApiVersion", param=param)
        outputs = ()
    hint = (locale or "").strip() or None
    if model_id == "prebuilt-layout":
        outputs = (*outputs, "layout")
    spec = JobSpec(language_hint=hint, pages=selection.ranges, options=options, outputs=outputs)
    return Order(spec, LANGUAGES.ask(hint))


def _features(service_name: str, model_id: str, features: str | None, query_fields: str | None) -> list[str]:
    """The add-on features asked for, each known to the service (else InvalidParameter, as the raw SDK
    forwards any string), allowed on the model, and queryFields with its field names."""
    wanted = _csv(features)
    for value in wanted:
        if value not in FEATURES[service_name]:
            raise _invalid("features", f"{value!r} is not a supported feature.")
        if value in LAYOUT_FEATURES and model_id == "prebuilt-read":
            raise _invalid("features", f"{value!r} is not supported by model '{model_id}'.")
    if "queryFields" in wanted and not _csv(query_fields):
        raise InnerCodeError(
            E.INVALID_PARAMETER, "The parameter queryFields is required.", inner="ParameterMissing", param="queryFields"
        )
    return wanted


def _outputs(model_id: str, output: str | None) -> tuple[str, ...]:
    """`output=pdf` asks the worker for the searchable PDF (the job's `searchable_pdf` rendering), and
    `output=figures` for a PNG of each figure, both ready before the operation says succeeded; values are
    compared case-insensitively, as SDKs differ."""
    wanted = [v.lower() for v in _csv(output)]
    for value in wanted:
        if value not in OUTPUT_VALUES:
            raise _invalid("output", f"{value!r} is not one of {', '.join(OUTPUT_VALUES)}.")
        if value not in OUTPUTS.get(model_id, ()):
            raise _invalid("output", f"{value} output is not supported by model '{model_id}'.")
    return (*(("searchable_pdf",) if "pdf" in wanted else ()), *(("figures",) if "figures" in wanted else ()))


def source(request: Request) -> Source:
    """The document as FR/DI take it: its bytes (PDF, images, Office documents, HTML), or JSON."""
    ctype = request.headers.get("content-type", "application/octet-stream").split(";")[0].strip().lower()
    if ctype == "application/json":
        return JsonSource(request)
    if ctype in (*RAW_TYPES, "") or ctype.startswith(("image/", "application/vnd.openxmlformats-officedocument.")):
        return StreamSource.of(request)
    why = (
        f"Content-Type {ctype!r} is not supported; send the document bytes as application/octet-stream (or "
        'application/pdf, image/*), or application/json with {"urlSource": ...} or {"base64Source": ...}.'
    )
    raise OcrgwError(E.UNSUPPORTED_MEDIA_TYPE, why)


@dataclasses.dataclass(slots=True)
class JsonSource:
    """`{"urlSource": ...}` or `{"base64Source": ...}`, read only when accept stores it (so a full backlog
    refuses it unread) and streamed: a long base64Source goes to a file and is decoded from there."""

    request: Request

    async def save(self, store: BlobStore, settings: Settings, limits: ImageLimits) -> StoredBlob:
        cap = settings.max_upload_bytes * 4 // 3 + JSON_OVERHEAD
        try:
            doc = await jsonbody.read(intake.body(self.request, cap), cap=cap, settings=settings)
        except jsonbody.JsonSyntaxError:
            raise _not_json() from None
        try:
            inner = _json_source(doc, settings.max_upload_bytes)
        except BaseException:
            doc.close()
            raise
        return await inner.save(store, settings, limits)


def _not_json() -> OcrgwError:
    why = 'The request body must be JSON: {"urlSource": ...} or {"base64Source": ...}.'
    return InnerCodeError(E.INVALID_URL, why, inner="InvalidContentSourceFormat")


def _bad_base64() -> OcrgwError:
    return OcrgwError(E.INVALID_URL, "base64Source is not valid base64.", param="base64Source")


def _json_source(doc: jsonbody.JsonBody, max_bytes: int) -> Source:
    body = doc.members()
    if body is None:
        raise _not_json()
    url, b64 = body.get("urlSource"), body.get("base64Source")
    if (url is None) == (b64 is None):
        why = "Exactly one of urlSource and base64Source must be given."
        raise InnerCodeError(E.INVALID_PARAMETER, why, inner="ParameterMissing" if url is None else "InvalidParameter")
    if url is not None:
        if not isinstance(url, str) or not url.strip() or isinstance(doc.text(url), jsonbody.Spooled):
            raise OcrgwError(E.INVALID_URL, "urlSource must be an http(s) URL.", param="urlSource")
        return UrlSource(url, invalid="Image URL is badly formatted: only http(s) URLs are accepted.")
    text = doc.text(b64)
    if text is None:
        raise OcrgwError(E.INVALID_URL, "base64Source must be a base64 string.", param="base64Source")
    if (len(text) if isinstance(text, str) else text.size) * 3 // 4 > max_bytes + 3:
        why = f"The input image is too large: at most {max_bytes / (1024 * 1024):g} MB are accepted."
        raise OcrgwError(E.TOO_LARGE, why)
    return jsonbody.Base64Source(text, invalid=_bad_base64, data_uri=False)
