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


MAX_FILE_LINES = 610  # "no file over ~600 lines": a few lines of slack, not a second budget
MAX_FUNCTION_LINES = 80


def test_readable_sizes() -> None:
    """No module over ~600 lines and no function over 80 in src/ and bench/: past that a reader loses the
    thread, and a long function is usually several steps that want names."""
    import ast

    too_big = []
    for root in ("src", "bench"):
        for path in sorted((REPO / root).rglob("*.py")):
            text = path.read_text()
            where = path.relative_to(REPO)
            if text.count("\n") > MAX_FILE_LINES:
                too_big.append(f"{where}: {text.count(chr(10))} lines")
            for node in ast.walk(ast.parse(text)):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    length = (node.end_lineno or node.lineno) - node.lineno + 1
                    if length > MAX_FUNCTION_LINES:
                        too_big.append(f"{where}:{node.lineno} {node.name}(): {length} lines")
    assert not too_big, "\n".join(too_big)


def test_types_check() -> None:
    """mypy over src/ (configuration in pyproject.toml): the dialects, the core and the worker side type-check."""
    mypy = shutil.which("mypy", path=str(Path(sys.executable).parent))
    assert mypy, "mypy is part of the test extra"
    out = subprocess.run([mypy], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
