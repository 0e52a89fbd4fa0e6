"""Image Analysis 4.0 wire shapes (the `readResult` part), for the OpenAPI document."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ImagePoint(BaseModel):
    x: int
    y: int


class DetectedTextWord(BaseModel):
    text: str
    boundingPolygon: list[ImagePoint] = Field(description="4 points, clockwise from top-left, in pixels.")
    confidence: float = Field(ge=0, le=1)


class DetectedTextLine(BaseModel):
    text: str
    boundingPolygon: list[ImagePoint]
    words: list[DetectedTextWord]


class DetectedTextBlock(BaseModel):
    lines: list[DetectedTextLine]


class ReadResult(BaseModel):
    blocks: list[DetectedTextBlock]


class ImageMetadata(BaseModel):
    width: int
    height: int


class ImageAnalysisResult(BaseModel):
    modelVersion: str = Field(examples=["2023-10-01"])
    metadata: ImageMetadata
    readResult: ReadResult
