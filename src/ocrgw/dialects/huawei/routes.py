"""Huawei Cloud OCR routes at the host root (the SDK drops any path prefix of its endpoint):
`POST /v2/{project_id}/ocr/general-text` and `/passport`, answered synchronously over the job core.
Thin: the request (parse.Body) -> job service (submit and a bounded wait) -> Huawei's `{"result": ...}`
(render). Passport fields come from the worker's MRZ reading (JobSpec.outputs "mrz")."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.security import APIKeyHeader
from starlette.responses import Response

from ocrgw.context import AppContext, Ctx
from ocrgw.dialects.huawei import parse, render
from ocrgw.dialects.huawei.errors import json_response
from ocrgw.jobs import service
from ocrgw.jobs.schemas import JobView

TAG = "Huawei Cloud OCR"
DIALECT = "huawei"


async def _recognize(request: Request, ctx: AppContext, *, passport: bool) -> tuple[JobView, dict[str, Any]]:
    body = parse.Body(request, ctx.keys, passport, await parse.token_principal(request, ctx))
    view = await service.accept(
        ctx,
        dialect=DIALECT,
        owner=body.owner,
        order=body.order,
        source=body,
        limits=parse.PASSPORT_LIMITS if passport else parse.GENERAL_TEXT_LIMITS,
        retention_hours=ctx.settings.retention_sync_hours,
        wait=ctx.settings.sync_wait_seconds,
    )
    return view, body.data


async def general_text(project_id: str, request: Request, ctx: Ctx) -> Response:
    """Read all text on an image (or one PDF page): one block per line, with 4-point locations."""
    view, data = await _recognize(request, ctx, passport=False)
    return json_response(request, {"result": render.render_general_text(view, data, ctx.settings)})


async def passport(project_id: str, request: Request, ctx: Ctx) -> Response:
    """Read a passport's machine-readable zone: fields, per-field confidence and every check digit."""
    view, _ = await _recognize(request, ctx, passport=True)
    return json_response(request, {"result": render.render_passport(view)})


AUTH_DOC = (
    "Authenticate with `X-Auth-Token: <ocrgw key>` or sign with an AK/SK pair from "
    "`ocrgw keys create --aksk` (SDK-HMAC-SHA256, as huaweicloudsdkocr does). Errors are "
    '`{"error_code": "AIS.xxxx", "error_msg": ...}`.'
)

_ERROR = {
    "type": "object",
    "required": ["error_code", "error_msg"],
    "properties": {"error_code": {"type": "string"}, "error_msg": {"type": "string"}},
}
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "content": {"application/json": {"schema": _ERROR}}}
    for status, text in (
        (
            400,
            "Bad input (AIS.*, ModelArts.*): no or an unreadable image, a refused URL, a bad option; an API "
            "the key is not subscribed to (ModelArts.4204).",
        ),
        (401, "Missing or invalid X-Auth-Token or AK/SK signature (APIG.0301)."),
        (413, "The body is over the upload limit (APIG.0201)."),
        (
            429,
            "Backlog full, or the key's rate or page quota reached (APIG.0308), or its concurrent calls "
            "(ModelArts.4401); with `Retry-After`.",
        ),
        (500, "Recognition failed (AIS.0105)."),
        (504, "Reading took longer than the server waits (APIG.0201)."),
    )
}

# The spec's security scheme for X-Auth-Token (parse.token_principal reads it; an AK/SK signature in
# Authorization is the other way in, which no OpenAPI scheme describes): the dependency only documents it.
_TOKEN = APIKeyHeader(
    name="X-Auth-Token",
    scheme_name="HuaweiAuthToken",
    auto_error=False,
    description="An ocrgw API key, or sign the request with an AK/SK pair (SDK-HMAC-SHA256) instead.",
)

router = APIRouter(tags=[TAG], dependencies=[Depends(_TOKEN)])
for _api, _endpoint, _id, _summary, _schema in (
    ("general-text", general_text, "huaweiRecognizeGeneralText", "Huawei: general text", "GeneralText"),
    ("passport", passport, "huaweiRecognizePassport", "Huawei: passport", "Passport"),
):
    _body = {"schema": {"$ref": f"#/components/schemas/Huawei{_schema}RequestBody"}}
    router.add_api_route(
        f"/v2/{{project_id}}/ocr/{_api}",
        _endpoint,
        methods=["POST"],
        operation_id=_id,
        summary=_summary,
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": _body}}},
        response_class=Response,
        responses=ERRORS,
        description=AUTH_DOC,
    )
