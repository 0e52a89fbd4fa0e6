"""Prometheus metrics. Counters and histograms are module-level objects observed where things happen: HTTP
requests in ``ops.http`` (API process), refusals by a key's limits in ``tenancy.gate``, pages and finished
jobs in the worker's runner. Jobs by state and queue depth are not counted anywhere: they are read from SQL
when /metrics is scraped, so they are right on both deployments (the database is shared) and after restarts.

Embedded (`ocrgw serve`): the API and its local worker processes share a multi-process directory (see
``ops.multiproc``), so the API's /metrics includes the workers' page timings. Scale-out: each `ocrgw worker`
serves its own children's samples on ``--metrics-port``; the API's /metrics has requests and job states."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy.ext.asyncio import async_sessionmaker

from ocrgw import __version__
from ocrgw.clock import as_utc, utcnow
from ocrgw.jobs import repository as repo
from ocrgw.jobs import usage
from ocrgw.jobs.states import JobStatus
from ocrgw.ops import multiproc

log = logging.getLogger("ocrgw.metrics")

# Synchronous APIs hold a request for up to OCRGW_SYNC_WAIT_SECONDS, hence the long tail.
_HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
# A text line takes ~10 ms, a dense 300 dpi page seconds, a huge scan a minute.
_PAGE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0)

HTTP_REQUESTS = Counter(
    "ocrgw_http_requests_total", "HTTP requests by method, route template and status.", ["method", "route", "status"]
)
HTTP_SECONDS = Histogram(
    "ocrgw_http_request_duration_seconds",
    "Time from request to the end of the response body, by method and route template.",
    ["method", "route"],
    buckets=_HTTP_BUCKETS,
)
PAGE_SECONDS = Histogram(
    "ocrgw_page_seconds",
    "Worker wall time per page: rasterize, preprocess (orientation "
    "included), recognise and order lines; not the database write.",
    buckets=_PAGE_BUCKETS,
)
ENGINE_SECONDS = Histogram(
    "ocrgw_engine_seconds",
    "Engine time per page, Tesseract and PP-OCR (recognition and "
    "the result walk, all passes, a second opinion included).",
    buckets=_PAGE_BUCKETS,
)
JOBS_FINISHED = Counter(
    "ocrgw_jobs_finished_total",
    "Job runs that ended in a worker, by outcome (succeeded, failed, lost: another worker took the lease over).",
    ["status"],
)

SYNC_WAITS = Counter(
    "ocrgw_sync_waits_total",
    "Synchronous requests' waits for their job, by how they ended: notice (woken by the job-end notice), "
    "poll (the SQL poll found it ended: notices lost, off, or not available), timeout.",
    ["ended_by"],
)

# Per process like HTTP_REQUESTS (embedded: one API process; scale-out: Prometheus adds up each API's), not
# from SQL as the usage counters: a refusal leaves no row behind (``tenancy.gate``), by design.
REFUSALS = Counter(
    "ocrgw_refusals_total",
    "Calls refused by an API key's own limits (tenancy), by key id, service and reason: RateLimited, "
    "ConcurrencyLimited, QuotaExceeded, NotSubscribed, TooLarge (the key's file size), BacklogFull (its share).",
    ["key_id", "service", "reason"],
)


def refused(key_id: str | None, service: str, reason: str) -> None:
    REFUSALS.labels(key_id or "-", service, reason).inc()


def observe_page(wall_seconds: float, engine_ms: float) -> None:
    PAGE_SECONDS.observe(wall_seconds)
    ENGINE_SECONDS.observe(engine_ms / 1000.0)


def job_finished(status: str) -> None:
    if status != "skipped":  # not claimed: another delivery of a job someone else runs or ran
        JOBS_FINISHED.labels(status).inc()


# --------------------------------------------------------------------------------- read from SQL at scrape
@dataclass(frozen=True)
class JobSnapshot:
    by_state: dict[str, int]
    oldest_queued_age: float  # seconds; 0 when nothing waits
    # (key id, service, billable calls, pages billed) since the beginning: the usage table (jobs.usage) is
    # the count, so the counters are right across processes, hosts and restarts.
    usage: list[tuple[str, str, int, int]]


class JobStats:
    """Jobs by state from the database, at most one query per ``ttl`` seconds however many scrapers there
    are (a lock makes concurrent scrapes share one query); None when the database does not answer."""

    def __init__(self, db: async_sessionmaker, ttl: float = 2.0, timeout: float = 5.0) -> None:
        self.db, self.ttl, self.timeout = db, ttl, timeout
        self._lock = asyncio.Lock()
        self._cached: tuple[float, JobSnapshot] | None = None

    async def get(self) -> JobSnapshot | None:
        async with self._lock:
            now = time.monotonic()
            if self._cached and now - self._cached[0] < self.ttl:
                return self._cached[1]
            try:
                async with asyncio.timeout(self.timeout), self.db() as s:
                    by_state = await repo.count_by_status(s)
                    oldest = await repo.oldest_queued_at(s)
                    billed = await usage.totals(s)
            except Exception as exc:
                log.warning("metrics: could not read job counts (%s)", type(exc).__name__)
                return None
            age = max(0.0, (utcnow() - as_utc(oldest)).total_seconds()) if oldest else 0.0
            snap = JobSnapshot(by_state, age, billed)
            self._cached = (now, snap)
            return snap


class _ScrapeCollector:
    """The values gathered for one scrape (async, before rendering) as metric families."""

    def __init__(self, snap: JobSnapshot | None, workers_live: int | None) -> None:
        self.snap, self.workers_live = snap, workers_live

    def collect(self) -> Iterator[Metric]:
        info = GaugeMetricFamily("ocrgw_build_info", "The running ocrgw version.", labels=["version"])
        info.add_metric([__version__], 1)
        yield info
        yield GaugeMetricFamily(
            "ocrgw_gc_frozen_objects",
            "Objects this API process froze out of the garbage collector's full collections once started "
            "(ops.heap); 0 before its startup ended.",
            value=gc.get_freeze_count(),
        )
        yield GaugeMetricFamily(
            "ocrgw_database_up",
            "1 if the job counts below could be read from the database.",
            value=1 if self.snap else 0,
        )
        if self.snap is not None:
            jobs = GaugeMetricFamily(
                "ocrgw_jobs", "Jobs in the database by state (kept until retention purges them).", labels=["state"]
            )
            for state in JobStatus:
                jobs.add_metric([state.value], self.snap.by_state.get(state.value, 0))
            yield jobs
            yield GaugeMetricFamily(
                "ocrgw_queue_depth",
                "Jobs waiting for a worker (state queued).",
                value=self.snap.by_state.get(JobStatus.QUEUED.value, 0),
            )
            yield GaugeMetricFamily(
                "ocrgw_queue_oldest_age_seconds",
                "Age of the oldest queued job (0: none).",
                value=self.snap.oldest_queued_age,
            )
            yield from _usage_counters(self.snap.usage)
        if self.workers_live is not None:
            yield GaugeMetricFamily(
                "ocrgw_workers_live", "Local worker processes alive (embedded deployment).", value=self.workers_live
            )


def _usage_counters(rows: list[tuple[str, str, int, int]]) -> Iterator[Metric]:
    labels = ["key_id", "service"]
    calls = CounterMetricFamily(
        "ocrgw_billable_calls", "Billable calls (2xx) by API key id and service (jobs.usage).", labels=labels
    )
    pages = CounterMetricFamily(
        "ocrgw_billed_pages", "Pages read by jobs that succeeded, by API key id and service.", labels=labels
    )
    for key_id, service, n_calls, n_pages in rows:
        calls.add_metric([key_id or "-", service], n_calls)
        pages.add_metric([key_id or "-", service], n_pages)
    yield calls
    yield pages


def _process_samples() -> bytes:
    """This process's metrics, or in multi-process mode those of every process of the deployment."""
    if multiproc.enabled():
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


async def render(stats: JobStats, workers_live: int | None = None) -> bytes:
    """The API's /metrics body. The database is read on the event loop (async); the multi-process files
    are read in a thread, as any file I/O in the API process."""
    snap = await stats.get()

    def build() -> bytes:
        scrape = CollectorRegistry()
        scrape.register(_ScrapeCollector(snap, workers_live))
        return _process_samples() + generate_latest(scrape)

    return await asyncio.to_thread(build)


def serve_worker_metrics(port: int, host: str) -> None:
    """A Celery worker's own /metrics (a daemon thread in the main process), adding up its children's
    samples; they may run on hosts the API cannot see, so Prometheus scrapes each worker."""
    registry = REGISTRY
    if multiproc.enabled():
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    start_http_server(port, addr=host, registry=registry)
