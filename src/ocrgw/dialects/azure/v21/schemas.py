"""Computer Vision v2.1 Batch Read wire shapes, for the OpenAPI document (the renderer builds plain dicts)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class BatchReadWord(BaseModel):
    boundingBox: list[float] = Field(description="8 numbers: TL, TR, BR, BL corners as x, y, clockwise.")
    text: str
    confidence: Literal["Low"] | None = Field(None, description='Only on doubtful words: "Low".')


class BatchReadLine(BaseModel):
    boundingBox: list[float]
    text: str
    words: list[BatchReadWord]


class TextRecognitionResult(BaseModel):
    page: int
    clockwiseOrientation: float = Field(ge=0, lt=360, description="Degrees clockwise the text is turned.")
    width: float
    height: float
    unit: Literal["pixel", "inch"]
    lines: list[BatchReadLine]


class BatchReadOperationResult(BaseModel):
    status: Literal["NotStarted", "Running", "Failed", "Succeeded"]
    recognitionResults: list[TextRecognitionResult] | None = Field(None, description="Only when Succeeded.")


class ComputerVisionErrorV21(BaseModel):
    code: str = Field(examples=["InvalidImageFormat"])
    message: str
    requestId: str
