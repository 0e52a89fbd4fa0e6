"""Alembic environment: migrates whatever database the OCRGW_* settings name (SQLite or PostgreSQL)."""

from __future__ import annotations

from alembic import context

import ocrgw.jobs.models
import ocrgw.jobs.usage  # registers the usage table
import ocrgw.storage.models  # registers the blob chunk table
import ocrgw.tenancy.models  # noqa: F401 - registers the limit, subscription and admission tables
from ocrgw.db import Base, make_sync_engine
from ocrgw.settings import Settings

target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    settings = context.config.attributes.get("settings") or Settings()
    engine = make_sync_engine(settings)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `ocrgw migrate`")
run_migrations_online()
