"""The table of the database blob store (scale-out hosts that share no disk)."""

from __future__ import annotations

from sqlalchemy import Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from ocrgw.db import Base


class BlobChunk(Base):
    """A document's bytes in the database blob store (scale-out), 1 MiB a row, in order."""

    __tablename__ = "blob_chunks"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
