"""The code base stays ruff-clean and ruff-formatted, and its imports flow one way (the import-linter contracts
in pyproject.toml): the suite fails on any of them, so CI catches it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


TARGETS = [d for d in ("src", "tests", "bench", "alembic") if (REPO / d).is_dir()]


def _ruff(*args: str) -> subprocess.CompletedProcess[str]:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert ruff, "ruff is part of the test extra"
    return subprocess.run([ruff, *args, *TARGETS], cwd=REPO, capture_output=True, text=True)


def test_ruff_clean() -> None:
    out = _ruff("check")
    assert out.returncode == 0, out.stdout + out.stderr


def test_ruff_formatted() -> None:
    out = _ruff("format", "--check")
    assert out.returncode == 0, "run `ruff format`:\n" + out.stdout + out.stderr


def test_imports_flow_one_way() -> None:
    """dialects -> job service -> repository and storage; the worker side never imports request-side code;
    storage never imports jobs; leaf modules import nothing of ours (contracts in pyproject.toml)."""
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint, "import-linter is part of the test extra"
    out = subprocess.run([lint], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
