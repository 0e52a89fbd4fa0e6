"""Huawei Cloud OCR request bodies as pydantic models, for the OpenAPI document only (the SDK's own names,
prefixed): the routes read the JSON themselves, because an AK/SK signature covers its exact bytes."""

from __future__ import annotations

from pydantic import BaseModel, Field


class GeneralTextRequestBody(BaseModel):
    """`image` (plain base64, no `data:` prefix) or `url`, exactly one."""

    image: str | None = Field(None, description="The image or PDF, base64-encoded.")
    url: str | None = Field(None, description="An http(s) URL the server fetches the image from.")
    detect_direction: bool = Field(False, description="Report the page's rotation as `direction`.")
    quick_mode: bool = Field(False, description="Accepted; single-line images read the same way.")
    character_mode: bool = Field(False, description="Add `char_list` (character boxes estimated from words).")
    language: str | None = Field(None, description="zh (default: Chinese and English), en, de, fr, ...")
    single_orientation_mode: bool = False
    pdf_page_number: int = Field(1, ge=1, description="The PDF page to read.")
    return_markdown_result: bool = False


class PassportRequestBody(BaseModel):
    """`image` or `url`; `country_code` GENERAL (MRZ only) or a country; every country reads its MRZ."""

    image: str | None = None
    url: str | None = None
    country_code: str | None = None


SCHEMAS: dict[str, type[BaseModel]] = {
    "HuaweiGeneralTextRequestBody": GeneralTextRequestBody,
    "HuaweiPassportRequestBody": PassportRequestBody,
}
