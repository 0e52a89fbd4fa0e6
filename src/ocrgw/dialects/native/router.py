"""Native `/v1` routes. Languages: which Tesseract models this server has, and the BCP-47 codes that
select each, so clients can check before they submit."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from ocrgw import languages
from ocrgw.context import AppContext, app_context
from ocrgw.dialects.native.schemas import ErrorResponse

TAG = "ocrgw native API"


class Language(BaseModel):
    """An installed Tesseract model and the language codes that pick it."""

    model: str = Field(description="Tesseract model name, e.g. deu.", examples=["deu"])
    codes: list[str] = Field(description="BCP-47 codes that select this model (Azure's `language`).", examples=[["de"]])


class LanguageList(BaseModel):
    """What this server can read, and how to add more."""

    languages: list[Language]
    default: str = Field(description="Model(s) used when a request names no language, e.g. eng or eng+deu.")
    install_hint: str = Field(description="How an operator adds a language.")


def build_router() -> APIRouter:
    router = APIRouter(prefix="/v1", tags=[TAG])

    @router.get(
        "/languages",
        operation_id="listLanguages",
        response_model=LanguageList,
        summary="List the installed OCR languages",
        responses={"default": {"model": ErrorResponse, "description": "An unexpected error, in the native envelope."}},
    )
    async def list_languages(ctx: Annotated[AppContext, Depends(app_context)]) -> LanguageList:
        """The Tesseract models installed on this server, each with the BCP-47 codes that select it, so a
        client can check a language before it submits. Needs no key."""
        tessdata = ctx.settings.resolved_tessdata_dir
        models = await anyio.to_thread.run_sync(languages.installed, tessdata)
        by_model: dict[str, list[str]] = {}
        for code, model in languages.BCP47_TO_TESSERACT.items():
            by_model.setdefault(model, []).append(languages.canonical_bcp47(code))
        return LanguageList(
            languages=[Language(model=m, codes=sorted(set(by_model.get(m, [])))) for m in sorted(models)],
            default=ctx.settings.default_language,
            install_hint="apt-get install tesseract-ocr-<model>, e.g. tesseract-ocr-deu",
        )

    return router
