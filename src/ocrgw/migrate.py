"""Schema migrations: runs the Alembic scripts (alembic/ in a checkout, packaged inside the wheel) against
the configured database. Called by `ocrgw migrate` and at `ocrgw serve` start-up."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from ocrgw.settings import Settings


def _script_location() -> Path:
    packaged = Path(__file__).parent / "_alembic"
    if (packaged / "env.py").exists():
        return packaged
    return Path(__file__).resolve().parents[2] / "alembic"


def alembic_config(settings: Settings) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_script_location()))
    cfg.attributes["settings"] = settings
    return cfg


def upgrade(settings: Settings, revision: str = "head") -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(settings), revision)
