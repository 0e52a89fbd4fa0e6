"""Azure Read v3.x wire shapes, as pydantic models for the OpenAPI document (named schemas the docs
console and client generators use). Responses are rendered by render.py to exactly these shapes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ReadUrlBody(BaseModel):
    url: str = Field(
        description="Publicly reachable URL of a JPEG, PNG, BMP, TIFF, GIF or WEBP image.",
        examples=["https://example.com/scan.png"],
    )


class Style(BaseModel):
    name: Literal["handwriting", "other"]
    confidence: float


class Appearance(BaseModel):
    style: Style


class ReadWord(BaseModel):
    boundingBox: list[float] = Field(description="8 numbers: TL, TR, BR, BL corners as x, y, clockwise.")
    text: str
    confidence: float = Field(ge=0, le=1)


class ReadLine(BaseModel):
    boundingBox: list[float]
    text: str
    appearance: Appearance | None = None
    words: list[ReadWord]


class ReadResult(BaseModel):
    page: int
    language: str | None = None
    angle: float = Field(description="Degrees clockwise the text is turned, in (-180, 180].")
    width: float
    height: float
    unit: Literal["pixel", "inch"]
    lines: list[ReadLine]


class AnalyzeResult(BaseModel):
    version: str
    modelVersion: str | None = None
    readResults: list[ReadResult]


class ReadOperationResult(BaseModel):
    status: Literal["notStarted", "running", "failed", "succeeded"]
    createdDateTime: str
    lastUpdatedDateTime: str
    analyzeResult: AnalyzeResult | None = None


class InnerError(BaseModel):
    code: str
    message: str


class ErrorDetail(BaseModel):
    code: str
    message: str
    innererror: InnerError | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail
