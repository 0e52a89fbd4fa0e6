"""Internal, vendor-neutral schemas: what a dialect hands the core (JobSpec) and what it gets back
(JobView with its result pages). Dialects render these; they never see ORM rows."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from ocrgw.jobs.pages import PageSelection
from ocrgw.jobs.states import JobStatus
from ocrgw.storage import StoredBlob as StoredBlob  # re-exported: described by the store, seen by dialects

ReadingOrder = Literal["basic", "natural"]
EngineName = Literal["tesseract", "rapidocr"]
Mode = Literal["default", "accurate"]


class JobSpec(BaseModel):
    """Everything a worker needs to know about how to read a document, parsed from any dialect."""

    model_config = ConfigDict(frozen=True)

    languages: tuple[str, ...] = ("eng",)  # Tesseract model names, e.g. ("deu", "eng")
    language_hint: str | None = None  # the vendor code as asked, echoed in results
    # No language was given and the vendor's API identifies it (Azure, the native API): each page is read
    # with ``languages`` (the server's default) first, its language identified and, when another installed
    # model fits it, read again with that one (``pipeline.langdetect``); the page reports what was found.
    # A spec stored before this field existed reads as False: the pages are read with ``languages`` only.
    languages_detect: bool = False
    pages: tuple[tuple[int | None, int | None], ...] | None = None  # inclusive ranges, None = open end
    reading_order: ReadingOrder = "basic"
    model_version: str = "latest"
    # Which recogniser reads the pages: None lets ``mode`` decide (``pipeline.engines.choose``). "default"
    # is Tesseract within 1.5x the bare engine's time; "accurate" spends up to ~4x for fewer errors
    # (the second engine where it reads the job's languages). mode None: the server's OCRGW_MODE.
    engine: EngineName | None = None
    mode: Mode | None = None
    # Options only a dialect's renderer needs (e.g. Document Intelligence's stringIndexType), kept with
    # the job so the result can be rendered as asked; the core never reads them.
    options: dict[str, str] = {}
    # Extra work the worker does once the pages are read: "searchable_pdf" (the document with an invisible
    # text layer, stored as the job's artifact), "mrz" (find and read a passport's or ID card's
    # machine-readable zone on the first page, stored under JobView.analysis["mrz"]), "layout" (each page's
    # structure, PageResult.layout) and "figures" (with layout: a PNG of each figure, cropped from the
    # document, its blob key under JobView.analysis["figures"][figure id]).
    outputs: tuple[str, ...] = ()

    @property
    def selection(self) -> PageSelection:
        """The page selection, parsed once by the dialect (``PageSelection.parse``) and kept as ranges."""
        return PageSelection(self.pages)


@dataclass(slots=True)
class WordResult:
    text: str
    bbox: list[float]
    confidence: float


@dataclass(slots=True)
class LineResult:
    text: str
    bbox: list[float]
    confidence: float
    words: list[WordResult] = field(default_factory=list)
    style: str | None = None  # "handwriting" or "other" (None: read before styles were told apart)
    style_confidence: float | None = None
    language: str | None = None  # identified on the line, only where it differs from the page's


@dataclass(slots=True)
class CellResult:
    """A table cell: its grid position and spans, header kind, box, and the page lines (indices into
    ``PageResult.lines``, in reading order) and selection marks (indices into ``LayoutResult.marks``)
    that are its content."""

    row: int
    col: int
    row_span: int
    col_span: int
    kind: str  # content | columnHeader | rowHeader | stubHead
    bbox: list[float]
    lines: list[int] = field(default_factory=list)
    marks: list[int] = field(default_factory=list)


@dataclass(slots=True)
class TableResult:
    bbox: list[float]
    rows: int
    cols: int
    cells: list[CellResult]  # origin cells only, row by row; a spanned position has no cell of its own


@dataclass(slots=True)
class MarkResult:
    """A selection mark (checkbox). ``before``: the index of the line it precedes in reading order
    (``len(lines)``: after the last), so renderers place it in the text where it is on the page."""

    bbox: list[float]
    selected: bool
    confidence: float
    before: int


@dataclass(slots=True)
class ParagraphResult:
    lines: list[int]  # consecutive indices into PageResult.lines; table lines belong to cells instead
    role: str | None = None  # title | sectionHeading | pageHeader | pageFooter | pageNumber | footnote


@dataclass(slots=True)
class FigureResult:
    """A figure (chart, picture, diagram): its box without the caption, its text as paragraphs and its
    caption's paragraph (indices into ``LayoutResult.paragraphs``: those paragraphs are the figure's, not the
    body's), and ``before``: the line it precedes in reading order, so one without text has a place too.
    Its id in Document Intelligence is "{page}.{n}", n counting the page's figures from 1 in this order."""

    bbox: list[float]
    paragraphs: list[int] = field(default_factory=list)
    caption: int | None = None
    before: int = 0


def figure_id(page_no: int, n: int) -> str:
    """Document Intelligence's figure id: the page number and the figure's place among the page's figures
    (``LayoutResult.figures``, in reading order), from 1."""
    return f"{page_no}.{n}"


@dataclass(slots=True)
class LayoutResult:
    """A page's structure, made when the job asked for layout (Document Intelligence prebuilt-layout,
    the native API's layout option): lines grouped into paragraphs with roles, tables, selection marks,
    figures. Every line is in exactly one paragraph or one cell, in the page's reading order; a figure's
    paragraphs (its text and caption) follow each other."""

    paragraphs: list[ParagraphResult] = field(default_factory=list)
    tables: list[TableResult] = field(default_factory=list)
    marks: list[MarkResult] = field(default_factory=list)
    figures: list[FigureResult] = field(default_factory=list)

    def figure_paragraphs(self) -> dict[int, int]:
        """Paragraph index -> the figure it belongs to (its text or its caption)."""
        out = {}
        for k, fig in enumerate(self.figures):
            for p in fig.paragraphs:
                out[p] = k
            if fig.caption is not None:
                out[fig.caption] = k
        return out


def layout_to_json(layout: LayoutResult | None) -> dict | None:
    return None if layout is None else asdict(layout)


def layout_from_json(data: dict | None) -> LayoutResult | None:
    """The stored JSON back as a LayoutResult (pages.layout; None for a job that did not ask for layout)."""
    if not data:
        return None
    return LayoutResult(
        paragraphs=[ParagraphResult(**p) for p in data.get("paragraphs", [])],
        tables=[
            TableResult(t["bbox"], t["rows"], t["cols"], [CellResult(**c) for c in t["cells"]])
            for t in data.get("tables", [])
        ],
        marks=[MarkResult(**m) for m in data.get("marks", [])],
        figures=[FigureResult(**f) for f in data.get("figures", [])],  # none in pages stored before figures
    )


@dataclass(slots=True)
class PageResult:
    page_no: int
    width: float
    height: float
    unit: str
    angle: float
    language: str | None
    preprocessing: list[dict]
    lines: list[LineResult] = field(default_factory=list)
    layout: LayoutResult | None = None  # only for jobs that asked for layout


@dataclass(slots=True, frozen=True)
class CallbackView:
    url: str
    state: str  # pending, delivered, failed
    attempts: int
    last_error: str | None


@dataclass(slots=True)
class JobView:
    id: str
    dialect: str
    status: JobStatus
    spec: JobSpec
    created_at: datetime
    updated_at: datetime
    attempts: int
    pages_total: int | None
    pages_done: int
    error_code: str | None
    error_message: str | None
    expires_at: datetime | None = None
    artifact_key: str | None = None  # blob key of the worker-made rendering (see JobSpec.outputs)
    analysis: dict | None = None  # document-level findings by kind, e.g. {"mrz": {...}}
    callback: CallbackView | None = None
    pages: list[PageResult] | None = None  # loaded only for succeeded jobs, when asked for
