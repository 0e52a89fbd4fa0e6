"""Named schemas of the native `/v1` API. Every body and answer is a model here (no anonymous inline
schemas), so the OpenAPI spec gives generated clients readable type names; the model-level examples end up
in /docs and in the generated SDKs' docstrings."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["queued", "running", "succeeded", "failed"]
# The models' examples (in /docs and the generated SDKs' docstrings).
_JOB_ID = "0f8e5a52-3c1e-4a57-9d8a-5b1f2f6b7c10"
_SELF = f"https://ocr.example.com/v1/jobs/{_JOB_ID}"
_OPERATION_EXAMPLE: dict[str, Any] = {
    "id": _JOB_ID,
    "status": "running",
    "created_at": "2025-01-01T12:00:00Z",
    "updated_at": "2025-01-01T12:00:01Z",
    "expires_at": "2025-01-02T12:00:00Z",
    "progress": {"pages_done": 1, "pages_total": 3},
    "attempts": 1,
    "links": {"self": _SELF, "result": _SELF + "/result"},
}


def _quad(left: int, top: int, right: int, bottom: int) -> list[int]:
    return [left, top, right, top, right, bottom, left, bottom]


_HELLO = {"text": "Hello", "bbox": _quad(10, 10, 60, 30), "confidence": 0.97}
_WORLD = {"text": "world", "bbox": _quad(70, 10, 120, 30), "confidence": 0.95}
_LINE = {"text": "Hello world", "bbox": _quad(10, 10, 120, 30), "confidence": 0.96, "words": [_HELLO, _WORLD]}
_PAGE = {"page": 1, "width": 640, "height": 480, "unit": "pixel", "angle": 0, "language": "eng"}
_RESULT_EXAMPLE = {
    **_OPERATION_EXAMPLE,
    "status": "succeeded",
    "progress": {"pages_done": 1, "pages_total": 1},
    "pages": [{**_PAGE, "preprocessing": [{"step": "deskew", "angle": 0.4}], "lines": [_LINE]}],
    "text": "Hello world",
}
_LIST_EXAMPLE: dict[str, Any] = {
    "items": [_OPERATION_EXAMPLE],
    "next_cursor": "MjAyNS0wMS0wMVQxMjowMDowMFp8MGY4ZTVhNTI",
}
_BAD_FORMAT = "format must be one of json, text, hocr, alto, tsv, pdf."
_ERROR_EXAMPLE: dict[str, Any] = {"code": "InvalidParameter", "message": _BAD_FORMAT, "param": "format"}
_SUBMIT_EXAMPLES: list[Any] = [
    {"url": "https://example.com/scan.png", "languages": "en"},
    {"base64": "iVBORw0KGgo...", "languages": "de,fr", "pages": "1-3", "searchable_pdf": True},
]


class SubmitOptions(BaseModel):
    """How to read the document; every field optional."""

    languages: str | None = Field(
        None,
        description="BCP-47 codes or Tesseract model names, comma-separated "
        "(`en`, `de,fr`, `eng+deu`). Default: identified on each page (read with the server's default "
        "language, then again with the model of the language found, when installed; the page's `language` "
        "says what was found).",
        examples=["en"],
    )
    pages: str | None = Field(None, description="Pages to read, e.g. `1-3,5`. Default: all.", examples=["1-3"])
    reading_order: Literal["basic", "natural"] = Field(
        "natural", description="`natural` keeps columns one after another; `basic` reads rows across the page."
    )
    mode: Literal["default", "accurate"] | None = Field(
        None,
        description="`default`: Tesseract (the second engine re-reads pages Tesseract reads badly), about 1.2x the "
        "bare engine's time per page. `accurate`: the second engine (PP-OCR via RapidOCR) where it reads the job's "
        "languages (English, Chinese), else Tesseract; about 3x the time, line-aligned CER 2.3 % instead of 8.0 % "
        "on the dev set (docs/accuracy.md). Default: the server's OCRGW_MODE.",
    )
    engine: Literal["tesseract", "rapidocr"] | None = Field(
        None,
        description="Pick the recogniser yourself instead of by `mode`. `rapidocr` reads English and "
        "Chinese only; other languages are refused.",
    )
    searchable_pdf: bool = Field(False, description="Also make a searchable PDF (GET .../result?format=pdf).")
    layout: bool = Field(
        False,
        description="Also find each page's structure: paragraphs with roles (title, sectionHeading, pageHeader, "
        "pageFooter, pageNumber, footnote), tables (cells with row/column, spans, header kinds), checkboxes and "
        "figures with their captions; in the result's `layout` and in the markdown and HTML exports.",
    )
    callback_url: str | None = Field(
        None,
        description="An http(s) URL that gets a signed POST (see GET /v1/callbacks/secret) when the job ends; "
        "retried with backoff until it answers 2xx.",
        examples=["https://example.com/ocr-done"],
    )


class SubmitRequest(SubmitOptions):
    """A document by URL or inline base64 (exactly one), with the reading options."""

    model_config = ConfigDict(json_schema_extra={"examples": _SUBMIT_EXAMPLES})

    url: str | None = Field(
        None,
        description="An http(s) URL the server downloads the document from.",
        examples=["https://example.com/scan.png"],
    )
    base64: str | None = Field(None, description="The document bytes, base64-encoded (a `data:` prefix is allowed).")


class SubmitForm(BaseModel):
    """A multipart upload: the document under `file`, options as form fields."""

    file: bytes = Field(description="The document: PDF, TIFF, JPEG, PNG, BMP, GIF or WEBP.")
    languages: str | None = None
    pages: str | None = None
    reading_order: Literal["basic", "natural"] | None = None
    mode: Literal["default", "accurate"] | None = None
    engine: Literal["tesseract", "rapidocr"] | None = None
    searchable_pdf: bool | None = None
    layout: bool | None = None
    callback_url: str | None = None


class Progress(BaseModel):
    """How far a job got, in pages."""

    pages_done: int = Field(description="Pages read so far.")
    pages_total: int | None = Field(description="Pages that will be read (after the page selection).")


class LimitDetail(BaseModel):
    """The key's limit a refused call met (RateLimited, ConcurrencyLimited, QuotaExceeded, NotSubscribed,
    or TooLarge by the key's file size), as its operator set it."""

    service: str = Field(description="The service the limit is for, e.g. native, azure-read, ocrspace.")
    count: int = Field(
        description="The figure met: calls per `seconds` (RateLimited), jobs not yet ended "
        "(ConcurrencyLimited), pages per `period` (QuotaExceeded), bytes per file (TooLarge); 0 for a "
        "service the key is not subscribed to (NotSubscribed)."
    )
    seconds: int | None = Field(None, description="The rate's window in seconds (RateLimited).")
    period: Literal["day", "month"] | None = Field(None, description="The quota's period (QuotaExceeded).")
    tier: str | None = Field(None, description="The tier profile the limits were copied from, if any.")


class ErrorDetail(BaseModel):
    """One error: a stable code for programs, a message for people."""

    code: str = Field(
        description="A stable error code, e.g. InvalidImage, NotFound, Timeout.", examples=["InvalidImage"]
    )
    message: str = Field(description="What went wrong, for a person.")
    param: str | None = Field(None, description="The request parameter at fault, when there is one.")


class RequestErrorDetail(ErrorDetail):
    """A refused request's error: a job's own error (``Operation.error``) never names a key's limit."""

    limit: LimitDetail | None = Field(
        None, description="The key's limit that refused the call, when one did (with `Retry-After` on a 429)."
    )


class ErrorResponse(BaseModel):
    """Every native error has this shape, with the HTTP status saying the class of error."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"error": _ERROR_EXAMPLE}]})

    error: RequestErrorDetail


class Links(BaseModel):
    """Where to poll the job and where to fetch its result."""

    self: str = Field(description="This operation.")
    result: str = Field(description="Its result (when it has succeeded).")


class CallbackStatus(BaseModel):
    url: str
    state: Literal["pending", "delivered", "failed"] = Field(description="`failed` once every attempt has failed.")
    attempts: int
    last_error: str | None = Field(None, description="Why the last attempt failed.")


class CallbackSecret(BaseModel):
    """The key that signs your callbacks: check `Ocrgw-Signature: t=<unix>,v1=<hex>` as
    hex(HMAC-SHA256(secret, "<t>." + raw body)), and refuse old `t`."""

    secret: str


class Operation(BaseModel):
    """A submitted document's job: where it is, how far it got, and how it ended."""

    model_config = ConfigDict(json_schema_extra={"examples": [_OPERATION_EXAMPLE]})

    id: str = Field(description="The job's UUID.")
    status: Status
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None = Field(description="When the job and its results are deleted.")
    progress: Progress
    attempts: int = Field(description="Times a worker has started on it (a crashed worker costs one).")
    error: ErrorDetail | None = Field(None, description="Why it failed (status failed only).")
    callback: CallbackStatus | None = Field(None, description="Delivery of the callback, if one was asked for.")
    links: Links


class Word(BaseModel):
    """A recognised word with its box and confidence."""

    text: str
    bbox: list[float] = Field(
        description="Quad x1,y1 … x4,y4: top-left, top-right, bottom-right, bottom-left, in "
        "the page's unit, in the submitted page's coordinates."
    )
    confidence: float = Field(ge=0, le=1)


class Line(BaseModel):
    """A text line in reading order, with its words."""

    text: str
    bbox: list[float]
    confidence: float = Field(ge=0, le=1)
    words: list[Word]
    style: Literal["handwriting", "other"] | None = Field(
        default=None, description="Handwritten or printed (other), as the worker judged the line's strokes."
    )
    style_confidence: float | None = Field(default=None, ge=0, le=1, description="Confidence in `style`.")
    language: str | None = Field(
        default=None,
        description="The line's own language (BCP-47), only where it was identified and differs from the page's.",
    )


class Paragraph(BaseModel):
    """Consecutive lines that form a paragraph, with its role (null for body text)."""

    lines: list[int] = Field(description="Indices into the page's `lines`.")
    role: Literal["title", "sectionHeading", "pageHeader", "pageFooter", "pageNumber", "footnote"] | None = None


class Cell(BaseModel):
    """A table cell (origin cells only: a spanned grid position has none of its own)."""

    row: int = Field(ge=0)
    col: int = Field(ge=0)
    row_span: int = Field(ge=1)
    col_span: int = Field(ge=1)
    kind: Literal["content", "columnHeader", "rowHeader", "stubHead"]
    bbox: list[float]
    lines: list[int] = Field(description="Indices into the page's `lines`: the cell's text.")
    marks: list[int] = Field(description="Indices into the layout's `marks`: checkboxes in the cell.")


class Table(BaseModel):
    bbox: list[float]
    rows: int
    cols: int
    cells: list[Cell]


class Mark(BaseModel):
    """A checkbox, ticked (`selected`) or not."""

    bbox: list[float]
    selected: bool
    confidence: float = Field(ge=0, le=1)
    before: int = Field(description="The index of the line it precedes in reading order (its label, usually).")


class Figure(BaseModel):
    """A figure (chart, picture, diagram) and its caption; its text and caption are paragraphs of the layout."""

    bbox: list[float] = Field(description="The figure without its caption.")
    paragraphs: list[int] = Field(description="Indices into the layout's `paragraphs`: the figure's text.")
    caption: int | None = Field(None, description="Index into the layout's `paragraphs`: its caption.")
    before: int = Field(description="The index of the line it precedes in reading order.")


class Layout(BaseModel):
    """A page's structure (jobs submitted with `layout=true`): every line is in one paragraph or one cell."""

    paragraphs: list[Paragraph]
    tables: list[Table]
    marks: list[Mark]
    figures: list[Figure] = Field(default_factory=list, description="Charts, pictures, diagrams.")


class Page(BaseModel):
    """One page of the result."""

    page: int = Field(description="1-based page number in the submitted document.")
    width: float
    height: float
    unit: Literal["pixel", "inch"] = Field(description="`inch` for PDF pages, `pixel` for images.")
    angle: float = Field(description="Degrees clockwise the text was turned, (-180, 180].")
    language: str | None = Field(
        description="The page's language: identified on the page (BCP-47, e.g. `de`) when the job named none, "
        "else the languages as asked; null when it could not be told (see the `language` step)."
    )
    preprocessing: list[dict] = Field(
        description="The steps the page went through (decoding, preprocessing, recognition, second engine, "
        "styles, language), each {step, ...}; `ms` is a step's wall time, `applied: false` a step measured "
        "and skipped."
    )
    lines: list[Line]
    layout: Layout | None = Field(
        None, description="Paragraphs, tables, checkboxes and figures, when asked for (`layout`)."
    )


class Result(Operation):
    """A finished job with everything read: pages, lines, words, boxes, confidences, and the plain text."""

    model_config = ConfigDict(json_schema_extra={"examples": [_RESULT_EXAMPLE]})

    pages: list[Page]
    text: str = Field(description="All lines in reading order; pages separated by a form feed.")


class OperationList(BaseModel):
    """A page of the caller's jobs, newest first."""

    model_config = ConfigDict(json_schema_extra={"examples": [_LIST_EXAMPLE]})

    items: list[Operation]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class Language(BaseModel):
    """An installed Tesseract model and the language codes that pick it."""

    model: str = Field(description="Tesseract model name, e.g. deu.", examples=["deu"])
    codes: list[str] = Field(description="BCP-47 codes that select this model (Azure's `language`).", examples=[["de"]])


class LanguageList(BaseModel):
    """What this server can read, and how to add more."""

    languages: list[Language]
    default: str = Field(description="Model(s) used when a request names no language, e.g. eng or eng+deu.")
    detect: bool = Field(
        description="Whether a request that names no language has each page's language identified (read with "
        "`default` first, then with the model of the language found); OCRGW_DETECT_LANGUAGE."
    )
    install_hint: str = Field(description="How an operator adds a language.")


class UsageRecord(BaseModel):
    """One key's billable use of one service on one UTC day."""

    day: date
    key_id: str | None = Field(description="The API key's id; null for calls made while auth was off.")
    key_name: str | None = Field(description="The key's name (null if the key no longer exists).")
    service: str = Field(description="The vendor API billed, e.g. azure-read, azure-docintel, huawei-general-text.")
    calls: int = Field(
        description="Billable calls: 2xx answers of submits that made a job (asynchronous APIs: the 202; "
        "synchronous APIs: the answer, whatever became of the job). Polls, result reads, idempotent replays "
        "and requests refused before a job was made are not billed."
    )
    pages: int = Field(description="Pages read by this key's jobs that succeeded, counted once per job.")


class UsageReport(BaseModel):
    """Usage records, oldest day first, and their sums."""

    items: list[UsageRecord]
    calls: int
    pages: int
