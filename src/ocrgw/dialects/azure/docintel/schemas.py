"""Form Recognizer / Document Intelligence wire shapes, as pydantic models for the OpenAPI document (named
schemas the docs console and client generators use); render.py builds plain dicts of exactly these shapes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class AnalyzeDocumentRequest(BaseModel):
    """JSON body of an analyze request: exactly one of the two sources."""

    urlSource: str | None = Field(
        None, description="URL of the document (http/https).", examples=["https://example.com/scan.pdf"]
    )
    base64Source: str | None = Field(None, description="The document's bytes, base64-encoded.")


class DocumentSpan(BaseModel):
    offset: int = Field(description="Start in `content`, in units of `stringIndexType`.")
    length: int


class DocumentWord(BaseModel):
    content: str
    polygon: list[float] = Field(description="8 numbers: TL, TR, BR, BL corners as x, y, clockwise.")
    confidence: float = Field(ge=0, le=1)
    span: DocumentSpan


class DocumentLine(BaseModel):
    content: str
    polygon: list[float]
    spans: list[DocumentSpan]


class DocumentPage(BaseModel):
    pageNumber: int
    angle: float
    width: float
    height: float
    unit: Literal["pixel", "inch"]
    words: list[DocumentWord]
    lines: list[DocumentLine]
    spans: list[DocumentSpan]


class BoundingRegion(BaseModel):
    pageNumber: int
    polygon: list[float]


class DocumentParagraph(BaseModel):
    content: str
    spans: list[DocumentSpan]
    boundingRegions: list[BoundingRegion]


class DocumentStyle(BaseModel):
    isHandwritten: bool | None = None
    confidence: float
    spans: list[DocumentSpan]


class DocumentLanguage(BaseModel):
    locale: str
    confidence: float
    spans: list[DocumentSpan]


class DocumentAnalyzeResult(BaseModel):
    apiVersion: str
    modelId: str
    stringIndexType: Literal["textElements", "unicodeCodePoint", "utf16CodeUnit"]
    content: str
    contentFormat: Literal["text", "markdown"] | None = Field(None, description="Document Intelligence only.")
    pages: list[DocumentPage]
    paragraphs: list[DocumentParagraph]
    styles: list[DocumentStyle]
    languages: list[DocumentLanguage] | None = Field(None, description="Only with features=languages.")


class DocumentInnerError(BaseModel):
    code: str
    message: str


class DocumentError(BaseModel):
    code: str
    message: str
    innererror: DocumentInnerError | None = None


class DocumentErrorResponse(BaseModel):
    error: DocumentError


class AnalyzeResultOperation(BaseModel):
    status: Literal["notStarted", "running", "failed", "succeeded"]
    createdDateTime: str = Field(description="ISO-8601 UTC.")
    lastUpdatedDateTime: str
    analyzeResult: DocumentAnalyzeResult | None = None
    error: DocumentError | None = None
