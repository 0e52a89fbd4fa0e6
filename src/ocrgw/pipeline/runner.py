"""Worker side entry point: ``run(job_id)`` claims a job under a lease, reads its blob page by page,
preprocesses, recognises, orders lines and writes every page as soon as it is done. Any queue (the
local dispatcher, Celery) only has to deliver the job id; a second delivery of the same id is harmless."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from ocrgw.clock import utcnow
from ocrgw.db import sync_sessionmaker
from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.jobs import repository as repo
from ocrgw.jobs import usage
from ocrgw.jobs.leases import owner_id
from ocrgw.jobs.schemas import (
    CellResult,
    FigureResult,
    JobSpec,
    LayoutResult,
    LineResult,
    MarkResult,
    PageResult,
    ParagraphResult,
    TableResult,
    WordResult,
)
from ocrgw.jobs.states import JobStatus
from ocrgw.ops import metrics
from ocrgw.ops.context import job_scope, set_job_request_id
from ocrgw.ops.logs import JOB_LOGGER
from ocrgw.pipeline import langdetect, rasterize, reader
from ocrgw.pipeline.engines import Choice, Engine, Engines
from ocrgw.pipeline.engines.tesseract import OrientationDetector, RawLine
from ocrgw.pipeline.mrz import MrzReader
from ocrgw.pipeline.preprocess import to_source
from ocrgw.pipeline.structure.compose import RawLayout
from ocrgw.settings import Settings
from ocrgw.storage import BlobStore, make_blob_store

log = logging.getLogger("ocrgw.runner")
job_log = logging.getLogger(JOB_LOGGER)


@dataclass
class WorkerContext:
    """Per-process state a worker keeps between jobs: DB sessions, blob store and warm engines."""

    settings: Settings
    worker_id: str = field(default_factory=owner_id)
    _engines: Engines | None = None
    _osd: OrientationDetector | None = None
    _mrz: MrzReader | None = None
    # Exceptions the queue raises inside a job that overruns its soft time limit (Celery's).
    timeout_errors: tuple[type[BaseException], ...] = ()
    _db: sessionmaker | None = None
    _store: BlobStore | None = None
    ran: str | None = None  # the job the last ``run`` claimed, whatever message it was handed

    @property
    def db(self) -> sessionmaker:
        if self._db is None:
            self._db = sync_sessionmaker(self.settings)
        return self._db

    @property
    def store(self) -> BlobStore:
        if self._store is None:
            self._store = make_blob_store(self.settings)
        return self._store

    @property
    def osd(self) -> OrientationDetector | None:
        """Tesseract's orientation model, when installed (tesseract-ocr-osd); without it pages are read
        as they come."""
        if self._osd is None and (self.settings.resolved_tessdata_dir / "osd.traineddata").exists():
            self._osd = OrientationDetector(self.settings.resolved_tessdata_dir)
        return self._osd

    @property
    def mrz_reader(self) -> MrzReader:
        """Made on the first job that asks for an MRZ; most workers never need it."""
        if self._mrz is None:
            self._mrz = MrzReader(self.settings.resolved_tessdata_dir)
        return self._mrz

    @property
    def engines(self) -> Engines:
        if self._engines is None:
            self._engines = Engines(
                self.settings.resolved_tessdata_dir,
                self.settings.mode,
                self.settings.second_opinion_below,
                self.settings.resolved_model_cache_dir,
                self.settings.ppocr_int8,
            )
        return self._engines

    def engine(self, languages: tuple[str, ...]) -> Engine:
        """The warm Tesseract engine for a language set (what the default mode reads with)."""
        return self.engines.get("tesseract", languages)

    def warm(self) -> None:
        """Load, before the first job arrives, what a default job reads with: the default Tesseract model,
        the orientation model and, where the default mode has the second engine read Tesseract's doubtful
        runs (most pages), its recogniser, and the language identifier, so no job pays a model load
        (0.5-1 s each) inside its time limit."""
        languages = tuple(m for m in self.settings.default_language.replace(",", "+").split("+") if m)
        self.engine(languages)
        _ = self.osd
        if self.settings.detect_language:
            langdetect.identifier()  # its model loads in 0.5-0.8 s
        _, _, second = self.engines.for_spec(JobSpec(languages=languages))
        if second is not None and self.settings.reread_below > 0:
            reader = second()
            if hasattr(reader, "read_line"):
                reader.read_line(np.full((32, 96), 255, np.uint8))


class _LeaseKeeper(threading.Thread):
    """Renews the job's lease while a long page is being read, so the reaper does not hand it out again."""

    def __init__(self, ctx: WorkerContext, job_id: str) -> None:
        super().__init__(daemon=True, name=f"lease-{job_id[:8]}")
        self.ctx, self.job_id = ctx, job_id
        self.stop = threading.Event()
        self.lost = False

    def run(self) -> None:
        interval = max(1.0, self.ctx.settings.lease_seconds / 3)
        while not self.stop.wait(interval):
            try:
                with self.ctx.db.begin() as s:
                    if not repo.renew(s, self.job_id, self.ctx.worker_id, self.ctx.settings.lease_seconds):
                        self.lost = True
                        return
            except Exception:  # a busy database must not kill the job; the next renewal retries
                log.warning("lease renewal failed for %s", self.job_id, exc_info=True)


def _layout_result(layout: RawLayout, quad) -> LayoutResult:
    """The page's structure with its boxes in the page's units, as stored."""
    return LayoutResult(
        paragraphs=[ParagraphResult(lines, role) for lines, role in layout.paragraphs],
        tables=[
            TableResult(
                quad(table.box),
                table.rows,
                table.cols,
                [
                    CellResult(c.row, c.col, c.row_span, c.col_span, c.kind, quad(c.box), lines, marks)
                    for c, lines, marks in zip(table.cells, cell_lines, cell_marks, strict=True)
                ],
            )
            for table, cell_lines, cell_marks in layout.tables
        ],
        marks=[MarkResult(quad(m.box), m.selected, round(m.confidence, 3), before) for m, before in layout.marks],
        figures=[FigureResult(quad(f.box), f.paragraphs, f.caption, f.before) for f in layout.figures],
    )


def _page_result(
    page: rasterize.RasterPage,
    raw: list[RawLine],
    matrix,
    angle: float,
    steps: list[dict],
    language: str | None,
    layout: RawLayout | None = None,
) -> PageResult:
    sx, sy = page.scales()

    def quad(box: tuple[int, int, int, int]) -> list[float]:
        x0, y0, x1, y1 = box
        pts = to_source([x0, y0, x1, y0, x1, y1, x0, y1], matrix)
        if sx == sy == 1.0:
            return pts
        digits = 1 if page.unit == "pixel" else 4  # a reduced image's pixels, as to_source rounds them
        return [round(v * (sy if i % 2 else sx), digits) for i, v in enumerate(pts)]

    lines = [
        LineResult(
            text=" ".join(w.text for w in ln.words),
            bbox=quad(ln.box),
            confidence=round(ln.confidence, 4),
            words=[WordResult(w.text, quad(w.box), round(w.confidence, 4)) for w in ln.words],
            style=ln.style,
            style_confidence=ln.style_confidence if ln.style else None,
            language=ln.language,
        )
        for ln in raw
    ]
    width, height = page.result_size()
    return PageResult(
        page.page_no,
        width,
        height,
        page.unit,
        round(angle, 2),
        language,
        steps,
        lines,
        None if layout is None else _layout_result(layout, quad),
    )


@dataclass(frozen=True)
class _Claimed:
    """What a run needs of the job it claimed, read in the claim's transaction."""

    job_id: str
    request_id: str | None
    spec: JobSpec
    blob_key: str
    media_type: str
    done: set[int]  # pages an interrupted attempt already wrote


def run(message_id: str, ctx: WorkerContext) -> str:
    """Claim a job for the queue's message ``message_id`` (the queued job first in fair order across keys,
    not necessarily that one: ``jobs.fairness``) and process it; returns the status it ended in ("skipped"
    if none could be claimed). ``ctx.ran`` is then the id of the job run (None if none), whose end the
    queue announces. Log lines meanwhile carry the job's id and its submitting request's id; one job-log
    line and the finished-jobs counter record the outcome."""
    started = time.perf_counter()
    ctx.ran = None
    with job_scope(message_id):
        claimed = _claim(message_id, ctx)
    job_id = message_id if claimed is None else claimed.job_id
    ctx.ran = None if claimed is None else job_id
    with job_scope(job_id):
        status = "skipped" if claimed is None else _run(claimed, ctx)
        metrics.job_finished(status)
        ms = (time.perf_counter() - started) * 1000
        job_log.log(
            logging.DEBUG if status == "skipped" else logging.INFO,
            "job %s %s in %.0f ms",
            job_id,
            status,
            ms,
            extra={"status": status, "duration_ms": round(ms, 1), "worker": ctx.worker_id},
        )
    return status


def _claim(message_id: str, ctx: WorkerContext) -> _Claimed | None:
    with ctx.db.begin() as s:
        job = repo.claim(s, message_id, ctx.worker_id, ctx.settings.lease_seconds)
        if job is None:
            return None
        done = repo.done_page_numbers(s, job.id) if job.pages_done else set()
        return _Claimed(job.id, job.request_id, JobSpec.model_validate(job.spec), job.blob_key, job.media_type, done)


def _run(claimed: _Claimed, ctx: WorkerContext) -> str:
    set_job_request_id(claimed.request_id)
    job_id = claimed.job_id
    keeper = _LeaseKeeper(ctx, job_id)
    keeper.start()
    try:
        ended = _process(job_id, ctx, claimed, keeper)
    except repo.LeaseLost:
        log.warning("job %s: lease lost to another worker; stopping", job_id)
        return "lost"
    except OcrgwError as exc:
        with ctx.db.begin() as s:
            repo.finish(s, job_id, ctx.worker_id, JobStatus.FAILED, exc.code.value, exc.message)
        return JobStatus.FAILED.value
    except ctx.timeout_errors:
        with ctx.db.begin() as s:
            repo.finish(
                s,
                job_id,
                ctx.worker_id,
                JobStatus.FAILED,
                ErrorCode.TIMEOUT.value,
                f"The document took longer than the {ctx.settings.job_soft_timeout_seconds:g} s time limit.",
            )
        return JobStatus.FAILED.value
    except Exception as exc:
        log.exception("job %s failed", job_id)
        with ctx.db.begin() as s:
            repo.finish(
                s,
                job_id,
                ctx.worker_id,
                JobStatus.FAILED,
                ErrorCode.PROCESSING_FAILED.value,
                f"The document could not be processed ({type(exc).__name__}).",
            )
        return JobStatus.FAILED.value
    finally:
        keeper.stop.set()
    if ended:
        return JobStatus.SUCCEEDED.value
    with ctx.db.begin() as s:
        finished = _succeed(s, job_id, ctx)
    return JobStatus.SUCCEEDED.value if finished else "lost"


def _succeed(s: Session, job_id: str, ctx: WorkerContext) -> bool:
    """The job's one transition to succeeded, in the caller's transaction: its pages are billed here, and
    only here. False if the job was no longer this worker's."""
    row = repo.succeed(s, job_id, ctx.worker_id)
    if row is not None:
        usage.bill_pages(s, row, utcnow().date())
    return row is not None


def _after_pages(spec: JobSpec) -> bool:
    """Whether the job has steps after its pages are read (renderings made from the stored pages)."""
    return "searchable_pdf" in spec.outputs or ("figures" in spec.outputs and "layout" in spec.outputs)


def _process(job_id: str, ctx: WorkerContext, claimed: _Claimed, keeper: _LeaseKeeper) -> bool:
    """Pages are counted at submit (pages_total); here each selected page not yet written is read. True if
    the job already ended succeeded with its last page's write (``_read_pages``)."""
    spec, media_type = claimed.spec, claimed.media_type
    choice = ctx.engines.for_spec(spec)
    with ctx.store.materialize(claimed.blob_key) as path:
        ended = _read_pages(job_id, ctx, spec, path, media_type, claimed.done, keeper, choice)
        if "searchable_pdf" in spec.outputs:
            _make_searchable_pdf(job_id, ctx, path, media_type)
        if "figures" in spec.outputs and "layout" in spec.outputs:
            _make_figure_crops(job_id, ctx, path, media_type)
    return ended


def _make_searchable_pdf(job_id: str, ctx: WorkerContext, path: Path, media_type: str) -> None:
    """The document with an invisible text layer, made here (decoding and encoding pages is worker work)
    from the stored pages, so a resumed job includes the pages an earlier attempt wrote."""
    with ctx.db() as s:
        pages = repo.load_pages_sync(s, job_id)
    # Imported here: pikepdf and fontTools cost a worker memory it needs only for jobs that ask for a PDF.
    from ocrgw.render import searchable_pdf

    key = ctx.store.put_bytes(searchable_pdf.build(path, media_type, pages))
    with ctx.db.begin() as s:
        if not repo.set_artifact(s, job_id, ctx.worker_id, key):
            raise repo.LeaseLost(job_id)


def _make_figure_crops(job_id: str, ctx: WorkerContext, path: Path, media_type: str) -> None:
    """A PNG of every figure the pages hold (Document Intelligence `output=figures`), each its own blob,
    their keys stored by figure id under the job's "figures" analysis before the job says succeeded. Each
    key is recorded as soon as its blob exists, so deleting the job deletes every crop; a resumed job keeps
    the crops an earlier attempt made (its pages are not read again)."""
    with ctx.db() as s:
        pages = repo.load_pages_sync(s, job_id)
        keys: dict[str, str] = dict(repo.get_analysis_sync(s, job_id).get("figures") or {})
    from ocrgw.render import figure_crops

    made = False
    for figure_id, png in figure_crops.crops(path, media_type, pages, ctx.settings, skip=set(keys)):
        keys[figure_id] = ctx.store.put_bytes(png)
        made = True
        with ctx.db.begin() as s:
            if not repo.set_analysis(s, job_id, ctx.worker_id, "figures", keys):
                raise repo.LeaseLost(job_id)
    if not made:
        with ctx.db.begin() as s:
            if not repo.set_analysis(s, job_id, ctx.worker_id, "figures", keys):
                raise repo.LeaseLost(job_id)


def _read_pages(
    job_id: str,
    ctx: WorkerContext,
    spec: JobSpec,
    path: Path,
    media_type: str,
    done: set[int],
    keeper: _LeaseKeeper,
    choice: Choice,
) -> bool:
    """Read and write each page; returns True if the job ended succeeded in its last page's transaction.
    A job with nothing to do after its pages ends there (one transaction, not two: the page's write and the
    job's end are on a synchronous request's path), and the rest of the iterator is not read."""
    settings = ctx.settings
    end_with_pages = not _after_pages(spec)
    fresh = not done  # no earlier attempt wrote a page: nothing to replace
    detect = spec.languages_detect
    detector = langdetect.Detector(spec, ctx.engines, ctx.osd, settings.resolved_tessdata_dir) if detect else None
    first = True
    pages = rasterize.iter_pages(path, media_type, spec.selection, skip=done, settings=settings)
    while True:
        page_started = time.perf_counter()  # the page's wall time includes rasterizing it (the iterator)
        page = next(pages, None)
        if page is None:
            break
        decode = {"step": "decode", "ms": round(1000 * (time.perf_counter() - page_started), 1)}
        if keeper.lost:
            raise repo.LeaseLost(job_id)
        if first and "mrz" in spec.outputs and (not done or page.page_no <= min(done)):
            _read_mrz(job_id, ctx, page)
        first = False
        read = partial(_read, ctx, spec, page)
        got, language = detector.read(page, read) if detector else (read(choice), spec.language_hint)
        result = _page_result(
            page, got.lines, got.matrix, got.angle, _with_decode(got.steps, decode, page), language, got.layout
        )
        metrics.observe_page(time.perf_counter() - page_started, got.engine_ms)
        with ctx.db.begin() as s:
            complete = repo.write_page(
                s, job_id, ctx.worker_id, result, settings.lease_seconds, got.engine_ms, fresh=fresh
            )
            if complete and end_with_pages:
                if not _succeed(s, job_id, ctx):
                    raise repo.LeaseLost(job_id)
                return True
        del page, got, read  # not held while the next page is decoded (a page is up to the pixel budget)
    return False


def _with_decode(steps: list[dict], decode: dict, page: rasterize.RasterPage) -> list[dict]:
    """The page's steps with its decoding first (and what decoding did: a reduction to the pixel budget),
    after the step that says which engine read the job."""
    at = 1 if steps and steps[0]["step"] == "engine" else 0
    return [*steps[:at], decode, *page.steps, *steps[at:]]


def _read(ctx: WorkerContext, spec: JobSpec, page: rasterize.RasterPage, choice: Choice) -> reader.PageRead:
    """One reading of a page with the engine(s) chosen (a job's, or the language detection's)."""
    engine, engine_step, second = choice
    return reader.read(
        page,
        engine,
        ctx.osd,
        spec.reading_order,
        second=second,  # the accuracy bench too
        second_below=ctx.settings.second_opinion_below,
        reread_below=ctx.settings.reread_below,
        reread_share=ctx.settings.reread_share,
        reread_budget=ctx.settings.reread_budget,
        missed_text=ctx.settings.missed_text,
        engine_step=engine_step,
        layout="layout" in spec.outputs,
    )


def _read_mrz(job_id: str, ctx: WorkerContext, page: rasterize.RasterPage) -> None:
    """The machine-readable zone of the selection's first page, stored as the job's "mrz" analysis;
    its box is reported in the page's result units, like the lines'."""
    found = ctx.mrz_reader.read(page.gray)
    if found is None:
        value: dict = {"found": False}
    else:
        value = {"found": True, **found}
        sx, sy = page.scales()
        if (sx, sy) != (1.0, 1.0):
            value["box"] = [round(v * (sy if i % 2 else sx), 4) for i, v in enumerate(found["box"])]
    with ctx.db.begin() as s:
        if not repo.set_analysis(s, job_id, ctx.worker_id, "mrz", value):
            raise repo.LeaseLost(job_id)
