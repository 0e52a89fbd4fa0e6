"""Configuration for every process (API, local workers, CLI): one Settings object read from ``OCRGW_*``.

Everything that differs between a laptop and a cluster is here, so the code paths stay the same.
"""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

TESSDATA_CANDIDATES = (
    "/usr/share/tesseract-ocr/5/tessdata",
    "/usr/share/tesseract-ocr/4.00/tessdata",
    "/usr/share/tessdata",
    "/usr/local/share/tessdata",
)


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "ocrgw"


class Settings(BaseSettings):
    """All knobs, with defaults that suit one machine; see README "Configuration"."""

    model_config = SettingsConfigDict(env_prefix="OCRGW_", env_file=None, extra="ignore")

    data_dir: Path = Field(default_factory=_default_data_dir)
    database_url: str | None = None  # default: SQLite file in data_dir (WAL)
    workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    host: str = "127.0.0.1"
    port: int = 8000

    # Intake limits, enforced while streaming and before any decode. The pixel limits each API documents
    # (Azure's 50 px minimum, Huawei's 15, ...) are its dialect's ``ImageLimits``; the two pixel caps here
    # are the server's own, on top of them for every API (memory and time; Tesseract takes no side over
    # 32767 px, and preprocessing keeps what it enlarges within that).
    max_upload_bytes: int = 50 * 1024 * 1024
    max_dimension: int = Field(default=10000, ge=1, le=32767)
    max_megapixels: float = 100.0
    max_pages: int = 2000
    pdf_dpi: int = Field(default=300, ge=50, le=1200)  # PDF pages render at this, lowered for huge pages
    # The worker's per-page pixel budget: a larger image page is reduced after decoding (area average), a
    # larger PDF page rendered at a lower DPI, and the page's preprocessing says so; its size and boxes stay
    # in the page's own units. The pipeline holds ~6-10 bytes per page pixel at its peaks, so this bounds a
    # worker's memory per page (README "Image sizes"). 50 leaves every ordinary page as it is (A4/letter at
    # 600 dpi: 35 MP; 48-50 MP phone photos), and the intake cap of 100 MP is then reduced by at most 1/1.41
    # a side: text 23 px high keeps the 16 px Tesseract is given at least (preprocess._TARGET_TEXT).
    max_read_megapixels: float = Field(default=50.0, gt=0)

    # URL sources.
    url_fetch_timeout: float = 30.0
    url_allow_private: bool = False  # allow loopback/private/link-local/metadata targets (tests, intranets)
    # Comma-separated host names (or IP literals) URL sources and callbacks may name; empty: any host the
    # address guard allows. A host not listed is refused before it is resolved, so no DNS query leaves for
    # it: for servers that fetch from known hosts only, and for tests that send generated URLs.
    url_allowed_hosts: str = ""

    # Externally visible base URL for Operation-Location; else derived from the request.
    public_base_url: str | None = None

    # Deployment: the embedded default (`serve`: local worker processes, local blobs) or scale-out
    # (`api` + `worker`: Celery over a broker, documents in the database so hosts share no disk).
    queue: Literal["local", "celery"] = "local"
    broker_url: str = "redis://127.0.0.1:6379/0"
    celery_queue: str = "ocrgw"  # deployments sharing one broker need a queue each
    blob_store: Literal["local", "database"] = "local"

    auth: Literal["key", "off"] = "key"
    bootstrap_key: bool = True  # print a first key on `serve` when none exists

    # Retention: results answer 404 after this and are purged with their documents (as the vendors do).
    retention_read_hours: float = 48.0  # Azure Read (v2.1, v3.x)
    retention_docintel_hours: float = 24.0  # Form Recognizer / Document Intelligence
    retention_sync_hours: float = 1.0  # synchronous APIs (Image Analysis): kept only to answer the call
    purge_interval_seconds: float = 300.0

    # Backpressure: submits answer 429 + Retry-After while this many jobs wait (0: no bound).
    max_backlog: int = Field(default=10000, ge=0)
    backlog_retry_after_seconds: int = Field(default=5, ge=1)
    # One key may hold at most this share of max_backlog waiting (``jobs.backlog``), so its burst cannot lock
    # other keys out; 1: no per-key bound. Keyless jobs (auth off) only meet max_backlog.
    backlog_key_share: float = Field(default=0.5, gt=0, le=1)

    # Synchronous APIs (Image Analysis) wait this long for a job before answering a timeout error.
    sync_wait_seconds: float = Field(default=120.0, gt=0)
    # A waiting synchronous request wakes on a notice of its job's end (the embedded dispatcher's, or the
    # Celery workers' on the broker's Redis: ``jobs.endings``) and reads SQL this often besides, in case a
    # notice was lost. Without notices (another broker, Redis unreachable) it polls SQL every 20-500 ms.
    sync_poll_seconds: float = Field(default=1.0, gt=0)
    # Give those notices (the dispatcher, the Celery workers). False only to see the SQL poll alone work
    # (tests, diagnosis): waiters then learn of each end up to sync_poll_seconds late.
    job_end_notify: bool = True

    # The seed systems' own APIs: the streaming-server route is `POST /{stream_api_name}` (checked at
    # startup against every other route), and `/batch_process` takes at most this many files and URLs.
    stream_api_name: str = "ocr"
    batch_max_items: int = Field(default=20, ge=1)

    # Job execution.
    max_attempts: int = Field(default=3, ge=1)
    lease_seconds: float = 60.0
    job_timeout_seconds: float = 600.0  # hard limit: the worker process is killed
    job_soft_timeout_seconds: float = 540.0  # Celery raises in the task first, so the job fails cleanly
    requeue_after_seconds: float = 30.0
    reaper_interval_seconds: float = 10.0
    shutdown_grace_seconds: float = 10.0  # on stop, running jobs get this long before they are handed back
    worker_max_tasks: int = 500  # recycle a worker process after this many jobs (0: never)
    worker_max_memory_mb: int = 1500  # recycle a worker (local or Celery child) whose memory passes this
    # Worker processes run at this lower CPU priority (os.nice; 0: as the API), so that OCR filling every
    # core does not starve the API's event loop: submits and polls stay quick while the queue drains.
    worker_nice: int = Field(default=10, ge=0, le=19)
    # PostgreSQL: workers' commits wait for the WAL flush (true), or not (false: as SQLite's WAL mode does;
    # a database crash may lose the last moment of worker commits, which redelivery redoes; see db.py).
    worker_synchronous_commit: bool = False

    # Server secret: Huawei-style SKs are derived from it (HMAC of the AK), so it must be the same on every
    # API host and must not change, or issued SKs stop verifying. Default: a random one kept in
    # data_dir/secret.key (fine on one machine; scale-out sets OCRGW_SECRET_KEY on every host).
    secret_key: str | None = None
    huawei_clock_skew_seconds: float = 900.0  # AK/SK signatures older or newer than this are refused
    # AWS Textract (dialects/textract): SigV4 signatures older or newer than this are refused (AWS: 5 min);
    # a synchronous call waits at most this long (botocore's read timeout is 60 s and it retries a timeout);
    # asynchronous jobs and their results are kept this long (Textract: 7 days).
    aws_clock_skew_seconds: float = 900.0
    textract_sync_wait_seconds: float = Field(default=55.0, gt=0)
    retention_textract_hours: float = 168.0
    # The S3-compatible store Textract's S3Object documents are read from (MinIO, Ceph, AWS): path-style
    # addressing; unset, S3Object requests answer InvalidS3ObjectException.
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    s3_timeout_seconds: float = Field(default=30.0, gt=0)

    # Callbacks (native API callback_url): a signed POST when a job ends, retried with exponential backoff.
    callback_max_attempts: int = Field(default=10, ge=1)
    callback_retry_base_seconds: float = 2.0  # waits 2, 4, 8, ... seconds between attempts
    callback_retry_max_seconds: float = 600.0
    callback_timeout_seconds: float = 10.0
    callback_poll_seconds: float = 1.0  # how often each API process looks for due callbacks

    # Operations (see README "Operations: metrics and logs"). Logs: `auto` is text on a terminal, JSON
    # lines otherwise; the access and job lines stay at INFO whatever the level. /metrics is unauthenticated:
    # keep it off public listeners. A Celery worker serves its own /metrics on worker_metrics_port (0: none).
    log_format: Literal["auto", "json", "text"] = "auto"
    log_level: str = "info"
    access_log: bool = True
    metrics_enabled: bool = True
    # The submits' fast lane (``ocrgw.fastlane``): the same endpoints without the router's walk and FastAPI's
    # dependency solving. Off, every call takes the router; the answers are the same (tests/test_fastlane.py).
    fast_lanes: bool = True
    worker_metrics_port: int = Field(default=0, ge=0, le=65535)
    worker_metrics_host: str = "0.0.0.0"

    # OCR.
    tessdata_dir: Path | None = None
    default_language: str = "eng"
    # A job that names no language through an API whose vendor identifies it (Azure, the native API) has
    # each page's language identified and read with that language's model when installed. False: such
    # jobs are read with default_language only (as OCR.space and Huawei are).
    detect_language: bool = True
    # The reading mode of jobs that do not ask for one (every Azure and Huawei request, OCR.space's
    # OCREngine=1): "default" (Tesseract, ~1.2x the bare engine's time) or "accurate" (the second engine
    # where it reads the job's languages, ~3x). See docs/accuracy.md.
    mode: Literal["default", "accurate"] = "default"
    # Default mode: a page Tesseract reads with a mean word confidence under this is read again by the
    # second engine (when it reads the job's languages) and the more confident reading kept. 0 turns it
    # off (and the second engine's ~0.5 GB per worker is then only spent on accurate jobs).
    second_opinion_below: float = Field(default=0.7, ge=0.0, le=1.0)
    # Default mode: each line Tesseract reads with a mean word confidence under this is read again by the
    # second engine's recogniser alone, on the line's crop (``pipeline.reread``). 0 turns it off.
    # 0.93 until issue 16: runs at 0.90-0.93 came back with other words 19 % of the time (6 % at
    # 0.93-0.97, 36-86 % under 0.9); leaving them out read ocr-dev and held-out the same for less time.
    reread_below: float = Field(default=0.9, ge=0.0, le=1.0)
    # ... within this share of the page's text, in the recogniser's cost units (a run's width over its
    # height, +1 a call; ``pipeline.reread.run_units``): what a page gets reread is fixed by the page, not by
    # how busy the machine is. ocr-dev and held-out figures per share in docs/accuracy.md. None: no such cap.
    reread_share: float | None = Field(default=0.15, ge=0.0, le=10.0)
    # ... and/or within this share of Tesseract's time on the page (the budget before issue 16, 0.4 then;
    # under load it rereads less, and upscaling a page raises it). None: no time cap.
    reread_budget: float | None = Field(default=None, ge=0.0, le=10.0)
    # Default mode: ink Tesseract's layout passed over is grouped into line-shaped runs and read by the
    # recogniser, within half the budget above (``pipeline.reread.missed_lines``).
    missed_text: bool = True
    # The second engine reads with model files derived once from the packaged ones (pipeline/engines/
    # rapid_models.py: an int8 detector, and for non-CJK jobs a recogniser whose output layer holds the
    # Latin alphabet only): ~40 % less CPU a page at the same readings on ocr-dev (bench/README, ppocr.py).
    # False: the packaged files as they are.
    ppocr_derived_models: bool = True
    # With the derived models, the Latin recogniser's pointwise layers in int8 (``rapid_models.
    # int8_recognizer``), on CPUs that multiply int8 natively (VNNI, AMX; elsewhere the float one stays):
    # ~1.6x faster a line, accurate mode ~25 % less CPU a page, at a small cost in readings (ocr-dev:
    # +0.3 % character errors, +3 % line errors; bench/README ``ppocr.py``, "Session 14"). Off by default:
    # issue 16 keeps the accuracy measured; an operator trading it for throughput turns it on.
    ppocr_int8: bool = False
    # Where the derived files are kept: default ~/.cache/ocrgw/models (made once per user and machine,
    # not per data_dir, ~15 s on the first worker start).
    model_cache_dir: Path | None = None

    @property
    def resolved_model_cache_dir(self) -> Path | None:
        """The derived PP-OCR models' folder, or None to read with the packaged models."""
        if not self.ppocr_derived_models:
            return None
        return (self.model_cache_dir or Path("~/.cache/ocrgw/models")).expanduser()

    @field_validator("data_dir", mode="after")
    @classmethod
    def _expand(cls, v: Path) -> Path:
        return v.expanduser().resolve()

    @property
    def sync_database_url(self) -> str:
        if self.database_url:
            url = self.database_url
            if url.startswith("postgresql://") or url.startswith("postgres://"):
                url = "postgresql+psycopg://" + url.split("://", 1)[1]
            return url.replace("sqlite+aiosqlite://", "sqlite://")
        return f"sqlite:///{self.data_dir / 'ocrgw.db'}"

    @property
    def async_database_url(self) -> str:
        url = self.sync_database_url
        if url.startswith("sqlite://"):
            return "sqlite+aiosqlite://" + url[len("sqlite://") :]
        return url  # psycopg 3 serves both sync and async

    @property
    def is_sqlite(self) -> bool:
        return self.sync_database_url.startswith("sqlite")

    @property
    def resolved_secret_key(self) -> bytes:
        """The configured secret, else the one in data_dir/secret.key, made (mode 0600) on first use.
        Read once per data dir and process: it is used on every signed request and callback."""
        if self.secret_key:
            return self.secret_key.encode("utf-8")
        return _secret_from_file(self.data_dir / "secret.key")

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def resolved_tessdata_dir(self) -> Path:
        if self.tessdata_dir:
            return self.tessdata_dir
        env = os.environ.get("TESSDATA_PREFIX")
        candidates = ([env] if env else []) + list(TESSDATA_CANDIDATES)
        for c in candidates:
            if Path(c).is_dir() and any(Path(c).glob("*.traineddata")):
                return Path(c)
        return Path(TESSDATA_CANDIDATES[0])


@lru_cache(maxsize=8)
def _secret_from_file(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
        try:
            os.link(tmp, path)  # atomic and first-wins when two processes start together
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip().encode("utf-8")


@lru_cache
def get_settings() -> Settings:
    return Settings()
