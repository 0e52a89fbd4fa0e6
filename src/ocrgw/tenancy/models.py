"""Tenancy tables (``tenancy``): per-key limits (``key_limits``), subscriptions, and the state their
enforcement shares across API processes: a rate bucket per key and scope (``limit_state``) and the jobs
admitted under a concurrency limit or a page quota and not yet ended (``admissions``). Keys without limits
touch none of them at submit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ocrgw.db import Base

EVERY_SERVICE = "*"  # a limit row for every service of the key together (one bucket, one quota)


class KeyLimit(Base):
    """An operator's limits for one key and one service (or every service: ``EVERY_SERVICE``). A service's
    own row replaces the key's ``*`` row whole for that service; a NULL field is no limit."""

    __tablename__ = "key_limits"

    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True)
    service: Mapped[str] = mapped_column(String(40), primary_key=True)
    tier: Mapped[str | None] = mapped_column(String(40), nullable=True)  # the profile it was copied from
    rate: Mapped[int | None] = mapped_column(Integer, nullable=True)  # calls allowed per rate_seconds
    rate_seconds: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    burst: Mapped[int | None] = mapped_column(Integer, nullable=True)  # calls at once (NULL: rate)
    concurrent_jobs: Mapped[int | None] = mapped_column(Integer, nullable=True)  # not yet ended
    pages_quota: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # pages per quota_period
    quota_period: Mapped[str] = mapped_column(String(8), default="month", server_default="month")
    max_document_pages: Mapped[int | None] = mapped_column(Integer, nullable=True)  # read the first N
    max_file_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    backlog_share: Mapped[float | None] = mapped_column(Float, nullable=True)  # of max_backlog waiting


class Subscription(Base):
    """A key's subscription to a service. A key with ``subscription_required`` may call only the
    services it is subscribed to (Huawei's ModelArts.4204 otherwise). ``package_calls``: a purchased
    package of calls, used first; calls past it are pay-per-use (``tenancy.admin.subscription_usage``)."""

    __tablename__ = "subscriptions"

    key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True)
    service: Mapped[str] = mapped_column(String(40), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    package_calls: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class LimitState(Base):
    """A key's rate bucket for one scope (a service, or ``*``), as GCRA keeps it: the theoretical
    arrival time of the next call, in seconds since the epoch. Its row is also what admissions lock, so
    that two API processes admit a key's calls one after the other."""

    __tablename__ = "limit_state"

    key_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    scope: Mapped[str] = mapped_column(String(40), primary_key=True)
    tat: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")


class Admission(Base):
    """A job admitted under a concurrency limit or a page quota (``pages``: what it may read, reserved
    against the quota). It counts while its job is queued or running, or, before its row exists, for
    ``gate.GRACE`` after ``at``; rows that no longer count are deleted by the key's next admission."""

    __tablename__ = "admissions"

    job_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    scope: Mapped[str] = mapped_column(String(40), primary_key=True)  # a limit's, or gate.BACKLOG
    key_id: Mapped[str] = mapped_column(String(36))
    pages: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_admissions_key_scope", "key_id", "scope"),)
