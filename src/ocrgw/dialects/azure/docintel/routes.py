"""Form Recognizer (2022-08-31, 2023-07-31) and Document Intelligence (2024-11-30) `prebuilt-read` and
`prebuilt-layout` routes:
submit answers 202 with an absolute Operation-Location carrying `?api-version=`, the result GET answers 200
in every state, DI's DELETE 204. One set of endpoints serves both services, each learning which from its
route's path. Thin: parse -> job service -> render."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response, StreamingResponse

from ocrgw import ids
from ocrgw.context import Ctx, public_base_url
from ocrgw.dialects import error_docs
from ocrgw.dialects.azure.docintel import parse, render
from ocrgw.dialects.azure.docintel.errors import InnerCodeError
from ocrgw.dialects.azure.docintel.schemas import AnalyzeDocumentRequest, AnalyzeResultOperation, DocumentErrorResponse
from ocrgw.dialects.azure.shared import (
    BINARY,
    KEY_DOC,
    Caller,
    accepted_doc,
    azure_json,
    body_doc,
    result_docs,
    submit_errors,
)
from ocrgw.errors import ErrorCode as E
from ocrgw.errors import OcrgwError
from ocrgw.formats import ImageLimits
from ocrgw.jobs import service
from ocrgw.jobs.schemas import JobView
from ocrgw.jobs.states import JobStatus

DIALECTS = {"formrecognizer": "azure-formrecognizer", "documentintelligence": "azure-docintel"}
TAGS = {"formrecognizer": "Azure Form Recognizer", "documentintelligence": "Azure Document Intelligence"}
# Images 50 x 50 to 10000 x 10000 px (shared/contracts/azure.md 4). PDF pages, at most 17 x 17 in on
# Azure, are rendered to fit the server's caps rather than refused.
LIMITS = {name: ImageLimits(tag, min_side=50, max_side=10_000) for name, tag in TAGS.items()}
POLL_SECONDS = 1


def _checked(request: Request, api_version: str | None, model_id: str) -> tuple[str, str, str]:
    """(service, api-version, model): the service from the route's path (one endpoint serves
    `/formrecognizer/...` and `/documentintelligence/...`), then its api-version checked, then the model."""
    name = request.scope["route"].path.split("/")[1]
    return name, parse.api_version(name, api_version), parse.model(model_id)


async def analyze(
    request: Request,
    model_id: str,
    ctx: Ctx,
    principal: Caller,
    api_version: Annotated[
        str | None, Query(alias="api-version", description="2022-08-31 or 2023-07-31 (FR); 2024-11-30 (DI).")
    ] = None,
    pages: Annotated[str | None, Query(description="1-based pages, e.g. 1-3,5.")] = None,
    locale: Annotated[str | None, Query(description="BCP-47 hint, e.g. en-US, de.")] = None,
    stringIndexType: Annotated[
        str | None, Query(description="textElements (default), unicodeCodePoint or utf16CodeUnit.")
    ] = None,
    features: Annotated[
        str | None,
        Query(
            description="languages (served); ocrHighResolution (accepted, no effect); barcodes, formulas, "
            "keyValuePairs, styleFont, queryFields (accepted: empty results and a FeatureNotSupported warning)."
        ),
    ] = None,
    outputContentFormat: Annotated[
        str | None, Query(description="text (default) or markdown; Document Intelligence only.")
    ] = None,
    output: Annotated[
        str | None,
        Query(
            description="pdf: also make the searchable PDF (GET .../analyzeResults/{resultId}/pdf); figures "
            "(prebuilt-layout): a PNG of each figure (GET .../analyzeResults/{resultId}/figures/{figureId}); "
            "2024-11-30."
        ),
    ] = None,
    queryFields: Annotated[str | None, Query(description="Field names for features=queryFields.")] = None,
) -> Response:
    name, version, model = _checked(request, api_version, model_id)
    job = await service.accept(
        ctx,
        dialect=DIALECTS[name],
        owner=principal,
        order=parse.order(
            name, version, model, pages, locale, stringIndexType, features, outputContentFormat, output, queryFields
        ),
        source=parse.source(request),
        limits=LIMITS[name],
        retention_hours=ctx.settings.retention_docintel_hours,
    )
    base = public_base_url(request, ctx.settings)
    location = f"{base}/{name}/documentModels/{model}/analyzeResults/{job.id}?api-version={version}"
    headers = {"Operation-Location": location, "apim-request-id": ids.new_id()}
    if name == "documentintelligence":
        headers["Retry-After"] = str(POLL_SECONDS)
    return Response(status_code=202, headers=headers)


async def _operation(
    request: Request,
    model_id: str,
    result_id: str,
    ctx: Ctx,
    principal: Caller,
    api_version: Annotated[str | None, Query(alias="api-version")] = None,
) -> JobView:
    """The job a result URL names, once its api-version and model are checked, if it is an FR/DI job of
    this caller (otherwise OperationNotFound, as for an unknown id); its pages only for the result GET (the
    PDF and figure GETs need the job's state and blobs, not every line of a long document)."""
    _checked(request, api_version, model_id)
    return await service.get(
        db=ctx.db,
        job_id=result_id,
        owner_key_id=principal.key_id,
        with_result=request.scope["route"].endpoint is get_result,
        dialects=tuple(DIALECTS.values()),
    )


Operation = Annotated[JobView, Depends(_operation)]


async def get_result(view: Operation) -> Response:
    headers = {"apim-request-id": ids.new_id()}
    if not view.status.terminal:
        headers["Retry-After"] = str(POLL_SECONDS)
    return azure_json(render.operation(view), headers)


async def get_pdf(view: Operation, ctx: Ctx) -> Response:
    """The searchable PDF of a succeeded operation that asked for it (`output=pdf`): raw bytes. Any other
    state answers 404 "Analyze result does not exist." as the service does, JSON and without Retry-After
    (azure-core would retry an error that carries one)."""
    if view.status is not JobStatus.SUCCEEDED or "searchable_pdf" not in view.spec.outputs:
        why = "Analyze result does not exist."  # the service's words for a PDF it did not make
        if view.status is JobStatus.FAILED:
            why += " The operation failed."
        elif not view.status.terminal:
            why += " The operation has not finished yet."
        raise InnerCodeError(E.NOT_FOUND, why, inner="")
    _, pdf = await service.read_artifact(db=ctx.db, store=ctx.store, job_id=view.id, dialects=tuple(DIALECTS.values()))
    headers = {"apim-request-id": ids.new_id()}
    return StreamingResponse(pdf, media_type="application/pdf", headers=headers)


async def get_figure(view: Operation, ctx: Ctx, figure_id: str) -> Response:
    """The PNG crop of one figure of a succeeded `prebuilt-layout` operation that asked for them
    (`output=figures`); its id is the figure's `id` in the result ("{page}.{n}"). A figure the result does
    not have, or an operation without crops (not asked for, not finished, failed), answers 404 as the PDF
    GET does: JSON, without Retry-After."""
    if view.status is not JobStatus.SUCCEEDED or "figures" not in view.spec.outputs:
        why = "Analyze result does not exist."
        if view.status is JobStatus.FAILED:
            why += " The operation failed."
        elif not view.status.terminal:
            why += " The operation has not finished yet."
        elif "figures" not in view.spec.outputs:
            why += " The analysis was not asked for output=figures."
        raise InnerCodeError(E.NOT_FOUND, why, inner="")
    try:  # the worker stored a crop for every figure of the result, under its id, before it succeeded
        png = await service.read_figure(store=ctx.store, view=view, figure_id=figure_id)
    except OcrgwError as exc:
        why = f"The figure {figure_id!r} does not exist in this result."
        raise InnerCodeError(E.NOT_FOUND, why, inner="") from exc
    return StreamingResponse(png, media_type="image/png", headers={"apim-request-id": ids.new_id()})


async def delete_result(view: Operation, ctx: Ctx, principal: Caller) -> Response:
    await service.delete(db=ctx.db, store=ctx.store, job_id=view.id, owner_key_id=principal.key_id)
    return Response(status_code=204, headers={"apim-request-id": ids.new_id()})


FIRST_POLL = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds before the first poll."}}
BODY = {media: BINARY for media in ("application/octet-stream", "application/pdf", "image/*")}
BODY["application/json"] = {"schema": AnalyzeDocumentRequest.model_json_schema()}

# The result routes check the api-version (and model) as the submit does, before the operation is looked up.
BAD_VERSION = error_docs(DocumentErrorResponse, e400="Missing or unsupported api-version.")
router = APIRouter(default_response_class=Response)
for _name, _tag in TAGS.items():
    _slug = "FormRecognizer" if _name == "formrecognizer" else "DocumentIntelligence"
    _is_di = _name == "documentintelligence"
    _base = f"/{_name}/documentModels/{{model_id}}"
    _versions = {"x-api-versions": parse.API_VERSIONS[_name]}
    router.add_api_route(
        f"{_base}:analyze",
        analyze,
        methods=["POST"],
        status_code=202,
        tags=[_tag],
        operation_id=f"azure{_slug}AnalyzeDocument",
        summary=f"{_tag}: analyze a document (prebuilt-read, prebuilt-layout)",
        description="Stores the document and answers 202 with an absolute `Operation-Location` (carrying "
        "`?api-version=`); poll it for the result.",
        responses={
            202: accepted_doc("Absolute URL of the result.", FIRST_POLL if _is_di else None),
            **submit_errors(
                DocumentErrorResponse, "Invalid document, source or parameter.", e404="Unknown model (ModelNotFound)."
            ),
        },
        openapi_extra={**body_doc(BODY), "x-api-versions": parse.API_VERSIONS[_name]},
    )
    router.add_api_route(
        f"{_base}/analyzeResults/{{result_id}}",
        get_result,
        methods=["GET"],
        tags=[_tag],
        operation_id=f"azure{_slug}GetAnalyzeResult",
        summary=f"{_tag}: get the analyze result",
        responses={
            **result_docs(
                AnalyzeResultOperation,
                DocumentErrorResponse,
                "Unknown, expired, deleted or someone else's operation.",
                "The operation in any state; `Retry-After` while not finished.",
            ),
            **BAD_VERSION,
        },
        openapi_extra=_versions,
    )
    if _is_di:
        router.add_api_route(
            f"{_base}/analyzeResults/{{result_id}}/pdf",
            get_pdf,
            methods=["GET"],
            tags=[_tag],
            operation_id=f"azure{_slug}GetAnalyzeResultPdf",
            summary=f"{_tag}: get the searchable PDF of an analyze result (output=pdf)",
            response_class=Response,
            responses={
                200: {"description": "The searchable PDF.", "content": {"application/pdf": BINARY}},
                **error_docs(
                    DocumentErrorResponse,
                    e404="Unknown operation, not finished, failed, or analysed without output=pdf.",
                    e401=KEY_DOC,
                ),
                **BAD_VERSION,
            },
            openapi_extra=_versions,
        )
        router.add_api_route(
            f"{_base}/analyzeResults/{{result_id}}/figures/{{figure_id}}",
            get_figure,
            methods=["GET"],
            tags=[_tag],
            operation_id=f"azure{_slug}GetAnalyzeResultFigure",
            summary=f"{_tag}: get the cropped image of a figure of an analyze result (output=figures)",
            response_class=Response,
            responses={
                200: {"description": "The figure, cropped from the document.", "content": {"image/png": BINARY}},
                **error_docs(
                    DocumentErrorResponse,
                    e404="Unknown operation or figure, not finished, failed, or analysed without output=figures.",
                    e401=KEY_DOC,
                ),
                **BAD_VERSION,
            },
            openapi_extra=_versions,
        )
        router.add_api_route(
            f"{_base}/analyzeResults/{{result_id}}",
            delete_result,
            methods=["DELETE"],
            status_code=204,
            tags=[_tag],
            operation_id=f"azure{_slug}DeleteAnalyzeResult",
            summary=f"{_tag}: delete an analyze result",
            description="Deletes the result, the stored document and the PDF and figure crops made for it now; "
            "afterwards the id is unknown (404).",
            responses={
                204: {"description": "Deleted"},
                **error_docs(DocumentErrorResponse, e404="Unknown or expired operation.", e401=KEY_DOC),
                **BAD_VERSION,
            },
            openapi_extra=_versions,
        )
