"""Migration 0015 (tenancy tables, api_keys.subscription_required) on both databases: up, down to 0014 and
up again, and the migrated schema matching the models (Alembic's autogenerate comparison finds nothing
to add), so a model change without its migration fails here rather than on an operator's database."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import ocrgw.tenancy.models  # noqa: F401 - registers the tenancy tables
from ocrgw.db import Base
from ocrgw.migrate import alembic_config, upgrade
from ocrgw.settings import Settings
from tests.conftest import _pg_admin

TABLES = {"key_limits", "subscriptions", "limit_state", "admissions"}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_tenancy_migration_up_down_up_and_matches_the_models(tmp_path: Path, backend: str) -> None:
    env: dict[str, object] = {"data_dir": tmp_path}
    name = f"ocrgw_mig_{secrets.token_hex(4)}"
    if backend == "postgresql":
        _pg_admin(f"CREATE DATABASE {name}")
        env["database_url"] = f"postgresql://postgres@127.0.0.1:5432/{name}"
    settings = Settings(**env)  # type: ignore[arg-type]
    url = str(env.get("database_url") or f"sqlite:///{tmp_path / 'ocrgw.db'}")
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        upgrade(settings)
        assert set(sa.inspect(engine).get_table_names()) >= TABLES
        command.downgrade(alembic_config(settings), "0014")
        inspector = sa.inspect(engine)
        assert not TABLES & set(inspector.get_table_names())
        assert "subscription_required" not in {c["name"] for c in inspector.get_columns("api_keys")}
        upgrade(settings)
        with engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
        assert diffs == []
    finally:
        engine.dispose()
        if backend == "postgresql":
            _pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
