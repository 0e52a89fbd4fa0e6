"""The API key table: keys stored as SHA-256 hashes (``ocrgw.auth``), created and revoked by the CLI and by
the seed API's admin route. Jobs refer to their owner's row."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from ocrgw.db import Base


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the secret
    prefix: Mapped[str] = mapped_column(String(12))  # first characters, to tell keys apart in listings
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # May issue keys through an API (the Flask-style dialect's /generate_api_key); `ocrgw keys` always can.
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # Huawei-style AK of this key's AK/SK pair, if one was issued. The SK is never stored: it is derived
    # from the AK and the server secret (see ``ocrgw.auth.derive_sk``), so a database dump reveals no SK.
    access_key: Mapped[str | None] = mapped_column(String(40), unique=True, nullable=True)
    # May call only the services it is subscribed to (``tenancy.models.Subscription``), as Huawei's keys.
    subscription_required: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
