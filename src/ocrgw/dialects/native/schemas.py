"""Named schemas of the native `/v1` API. Every body and answer is a model here (no anonymous inline
schemas), so the OpenAPI spec gives generated clients readable type names."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

Status = Literal["queued", "running", "succeeded", "failed"]


class SubmitOptions(BaseModel):
    """How to read the document; every field optional."""

    languages: str | None = Field(None, description="BCP-47 codes or Tesseract model names, comma-separated "
                                  "(`en`, `de,fr`, `eng+deu`). Default: the server's default language.",
                                  examples=["en"])
    pages: str | None = Field(None, description="Pages to read, e.g. `1-3,5`. Default: all.", examples=["1-3"])
    reading_order: Literal["basic", "natural"] = Field(
        "natural", description="`natural` keeps columns one after another; `basic` reads rows across the page.")
    searchable_pdf: bool = Field(False, description="Also make a searchable PDF (GET .../result?format=pdf).")


class SubmitRequest(SubmitOptions):
    """A document by URL or inline base64 (exactly one), with the reading options."""

    url: str | None = Field(None, description="An http(s) URL the server downloads the document from.",
                            examples=["https://example.com/scan.png"])
    base64: str | None = Field(None, description="The document bytes, base64-encoded (a `data:` prefix is "
                               "allowed).")


class SubmitForm(BaseModel):
    """A multipart upload: the document under `file`, options as form fields."""

    file: bytes = Field(description="The document: PDF, TIFF, JPEG, PNG, BMP, GIF or WEBP.")
    languages: str | None = None
    pages: str | None = None
    reading_order: Literal["basic", "natural"] | None = None
    searchable_pdf: bool | None = None


class Progress(BaseModel):
    pages_done: int = Field(description="Pages read so far.")
    pages_total: int | None = Field(description="Pages that will be read (after the page selection).")


class ErrorDetail(BaseModel):
    code: str = Field(description="A stable error code, e.g. InvalidImage, NotFound, Timeout.",
                      examples=["InvalidImage"])
    message: str = Field(description="What went wrong, for a person.")
    param: str | None = Field(None, description="The request parameter at fault, when there is one.")


class ErrorResponse(BaseModel):
    """Every native error has this shape, with the HTTP status saying the class of error."""

    error: ErrorDetail


class Links(BaseModel):
    self: str = Field(description="This operation.")
    result: str = Field(description="Its result (when it has succeeded).")


class Operation(BaseModel):
    """A submitted document's job: where it is, how far it got, and how it ended."""

    id: str = Field(description="The job's UUID.")
    status: Status
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None = Field(description="When the job and its results are deleted.")
    progress: Progress
    attempts: int = Field(description="Times a worker has started on it (a crashed worker costs one).")
    error: ErrorDetail | None = Field(None, description="Why it failed (status failed only).")
    links: Links


class Word(BaseModel):
    text: str
    bbox: list[float] = Field(description="Quad x1,y1 … x4,y4: top-left, top-right, bottom-right, bottom-left, in "
                              "the page's unit, in the submitted page's coordinates.")
    confidence: float = Field(ge=0, le=1)


class Line(BaseModel):
    text: str
    bbox: list[float]
    confidence: float = Field(ge=0, le=1)
    words: list[Word]


class Page(BaseModel):
    page: int = Field(description="1-based page number in the submitted document.")
    width: float
    height: float
    unit: Literal["pixel", "inch"] = Field(description="`inch` for PDF pages, `pixel` for images.")
    angle: float = Field(description="Degrees clockwise the text was turned, (-180, 180].")
    language: str | None
    preprocessing: list[dict] = Field(description="Steps applied before recognition, each {step, ...}.")
    lines: list[Line]


class Result(Operation):
    """A finished job with everything read: pages, lines, words, boxes, confidences, and the plain text."""

    pages: list[Page]
    text: str = Field(description="All lines in reading order; pages separated by a form feed.")


class OperationList(BaseModel):
    items: list[Operation]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")
