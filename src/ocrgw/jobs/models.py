"""SQLAlchemy ORM models: the single source of truth for jobs and their results.

Boxes are 8-number quads (TL, TR, BR, BL as x,y) in pixels of the page as submitted; confidences are 0..1.
These models never leave the repository: dialects see the schemas in ``jobs.schemas``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ocrgw.auth.models import ApiKey  # noqa: F401 - the table jobs.owner_key_id refers to
from ocrgw.db import Base


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # lowercase canonical UUID
    owner_key_id: Mapped[str | None] = mapped_column(ForeignKey("api_keys.id"), nullable=True)
    dialect: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16))
    spec: Mapped[dict] = mapped_column(JSON)  # JobSpec as JSON (languages, pages, reading order, ...)
    blob_key: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(40))
    size_bytes: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    lease_owner: Mapped[str | None] = mapped_column(String(100), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    pages_total: Mapped[int | None] = mapped_column(Integer, nullable=True)
    pages_done: Mapped[int] = mapped_column(Integer, default=0)
    error_code: Mapped[str | None] = mapped_column(String(40), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)  # retention
    artifact_key: Mapped[str | None] = mapped_column(String(200), nullable=True)  # e.g. a searchable PDF
    # Document-level findings beyond lines and words, keyed by kind, e.g. {"mrz": {...}} for passports.
    analysis: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    # sha256 of (dialect, owner, client's Idempotency-Key): a retried submit finds the job it already made.
    idempotency_key: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    # sha256 of that submit's document and options (jobs.idempotency): a reuse of the key for another
    # request is refused. None for jobs made before it was recorded (replayed as before).
    request_fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # A signed POST to callback_url when the job ends (native API); callback_base is the public base URL
    # seen at submit, for the links in the payload. State: pending -> delivered | failed.
    callback_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    callback_base: Mapped[str | None] = mapped_column(String(300), nullable=True)
    callback_state: Mapped[str | None] = mapped_column(String(12), nullable=True)
    callback_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    callback_next_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    callback_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # X-Request-Id of the submitting request: worker log lines for this job carry it (ops.context).
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Start-time fair queueing across keys (``jobs.fairness``): set at submit, the claim takes the queued job
    # with the smallest (fair_tag, created_at). A float so that weighted keys can step by 1/weight.
    fair_tag: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")

    __table_args__ = (
        Index("ix_jobs_status_updated", "status", "updated_at"),
        Index("ix_jobs_owner_created", "owner_key_id", "created_at"),
        Index("ix_jobs_expires_at", "expires_at"),
        Index("ix_jobs_callback_due", "callback_state", "callback_next_at"),
        Index("ix_jobs_fair_claim", "status", "fair_tag", "created_at"),  # the claim's order
        Index("ix_jobs_owner_status_tag", "owner_key_id", "status", "fair_tag"),  # a key's last tag, its backlog
    )


class Page(Base):
    __tablename__ = "pages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    page_no: Mapped[int] = mapped_column(Integer)  # 1-based number in the submitted document
    width: Mapped[float] = mapped_column(Float)
    height: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(10))  # "pixel" (images) or "inch" (PDF)
    angle: Mapped[float] = mapped_column(Float)  # degrees clockwise the text is turned, (-180, 180]
    language: Mapped[str | None] = mapped_column(String(40), nullable=True)
    preprocessing: Mapped[list] = mapped_column(JSON)  # steps applied, each {"step": ..., ...}
    engine_ms: Mapped[float] = mapped_column(Float, default=0.0)  # Recognize + result walk, all passes
    # paragraphs, tables and selection marks (jobs.schemas.LayoutResult as JSON), for jobs that asked for layout
    layout: Mapped[dict | None] = mapped_column(JSON, nullable=True)

    __table_args__ = (UniqueConstraint("job_id", "page_no", name="uq_pages_job_page"),)


class Line(Base):
    __tablename__ = "lines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id", ondelete="CASCADE"), index=True)
    idx: Mapped[int] = mapped_column(Integer)  # position in reading order
    text: Mapped[str] = mapped_column(Text)
    bbox: Mapped[list] = mapped_column(JSON)
    confidence: Mapped[float] = mapped_column(Float)
    style: Mapped[str | None] = mapped_column(String(16), nullable=True)  # handwriting | other
    style_confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    language: Mapped[str | None] = mapped_column(String(16), nullable=True)  # only where it differs from the page


class Word(Base):
    __tablename__ = "words"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id", ondelete="CASCADE"), index=True)
    idx: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    bbox: Mapped[list] = mapped_column(JSON)
    confidence: Mapped[float] = mapped_column(Float)
