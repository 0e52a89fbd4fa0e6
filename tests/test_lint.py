"""The code base stays ruff-clean: the suite fails on a lint error, so CI catches it too."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_ruff_clean() -> None:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert ruff, "ruff is part of the test extra"
    targets = [d for d in ("src", "tests", "bench", "alembic") if (REPO / d).is_dir()]
    out = subprocess.run([ruff, "check", *targets], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
