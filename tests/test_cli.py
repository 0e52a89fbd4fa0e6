"""The `ocrgw` command as an operator uses it: migrate, and keys create/list/revoke against a real
SQLite database, with secrets never stored or listed; the first key a server makes, with a hint that runs;
and colour codes only on a terminal."""

from __future__ import annotations

import os
import pty
import select
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from ocrgw.auth import hash_key
from tests.conftest import free_port, ocrgw_cli


def test_migrate_creates_schema(tmp_path: Path) -> None:
    out = ocrgw_cli(tmp_path, "migrate")
    assert "up to date" in out
    with sqlite3.connect(tmp_path / "ocrgw.db") as conn:
        tables = {r[0] for r in conn.execute("select name from sqlite_master where type='table'")}
        assert {"jobs", "pages", "lines", "words", "api_keys", "alembic_version"} <= tables
        assert conn.execute("pragma journal_mode").fetchone()[0] == "wal"
    assert "up to date" in ocrgw_cli(tmp_path, "migrate")  # idempotent


def test_keys_lifecycle(tmp_path: Path) -> None:
    secret = ocrgw_cli(tmp_path, "keys", "create", "--name", "alice", "-q").strip()
    assert len(secret) == 32 and int(secret, 16) >= 0
    with sqlite3.connect(tmp_path / "ocrgw.db") as conn:
        stored = conn.execute("select key_hash, prefix from api_keys where name='alice'").fetchone()
    assert stored == (hash_key(secret), secret[:8])
    listing = ocrgw_cli(tmp_path, "keys", "list")
    assert "alice" in listing and secret not in listing
    assert "revoked 1" in ocrgw_cli(tmp_path, "keys", "revoke", "alice")
    with sqlite3.connect(tmp_path / "ocrgw.db") as conn:
        assert conn.execute("select revoked_at is not null from api_keys").fetchone() == (1,)
    again = subprocess.run(
        [sys.executable, "-m", "ocrgw.cli", "--data-dir", str(tmp_path), "keys", "revoke", "alice"],
        capture_output=True,
        text=True,
    )
    assert again.returncode == 1 and "no active key" in again.stderr


def test_serve_bootstraps_a_first_key(make_server) -> None:
    import httpx

    srv = make_server(workers=1)
    srv.data_dir.mkdir(parents=True)
    srv.key = "placeholder"  # skip the fixture's own key: the server must make the first one
    srv.start()
    log = srv.log()
    assert "Ocp-Apim-Subscription-Key:" in log, log
    assert "\x1b" not in log  # a log file gets no colour codes
    printed = log.split("Ocp-Apim-Subscription-Key:")[1].split()[0]
    # The hint names a command that runs from here (`.venv/bin/ocrgw` when ./dev.sh started it).
    hint = log.split("More: `")[1].split("`")[0]
    made = subprocess.run(
        hint.replace("NAME", "second") + " -q",
        shell=True,
        env={**os.environ, "OCRGW_DATA_DIR": str(srv.data_dir)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0 and len(made.stdout.strip()) == 32, (hint, made.stderr)
    r = httpx.get(
        f"{srv.url}/vision/v3.2/read/analyzeResults/00000000-0000-0000-0000-000000000000",
        headers={"Ocp-Apim-Subscription-Key": printed},
    )
    assert r.status_code == 404  # authenticated: the operation simply does not exist
    r = httpx.get(
        f"{srv.url}/vision/v3.2/read/analyzeResults/00000000-0000-0000-0000-000000000000",
        headers={"Ocp-Apim-Subscription-Key": "placeholder"},
    )
    assert r.status_code == 401


def _worker_banner(tmp_path: Path, *, stdout_tty: bool, stderr_tty: bool, no_color: bool) -> str:
    """What `ocrgw worker` prints to stdout at start (Celery's banner), its streams terminals or pipes. The
    broker is a closed port: the banner comes before the first connection attempt."""
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env |= {
        "OCRGW_DATA_DIR": str(tmp_path),
        "OCRGW_BROKER_URL": f"redis://127.0.0.1:{free_port()}/0",
        "OCRGW_CELERY_QUEUE": f"ocrgw-banner-{os.getpid()}",
        **({"NO_COLOR": "1"} if no_color else {}),
    }
    out_main, out_sub = pty.openpty() if stdout_tty else os.pipe()
    err_main, err_sub = pty.openpty() if stderr_tty else (None, subprocess.DEVNULL)
    proc = subprocess.Popen(
        [sys.executable, "-m", "ocrgw.cli", "worker", "--concurrency", "1"],
        env=env,
        stdout=out_sub,
        stderr=err_sub,
        start_new_session=True,
    )
    os.close(out_sub)
    if err_main is not None:
        os.close(err_sub)
    seen = b""
    try:
        deadline = time.monotonic() + 60
        while b"[queues]" not in seen and time.monotonic() < deadline and proc.poll() is None:
            readable = [fd for fd in (out_main, err_main) if fd is not None]
            for fd in select.select(readable, [], [], 0.5)[0]:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:  # a terminal whose other end has closed
                    chunk = b""
                if fd == out_main:
                    seen += chunk
        return seen.decode(errors="replace")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        os.close(out_main)
        if err_main is not None:
            os.close(err_main)


def test_worker_colours_only_a_terminal(tmp_path: Path) -> None:
    # stderr on a terminal, stdout into a file or pipe: Celery alone would colour what goes to the file.
    banner = _worker_banner(tmp_path, stdout_tty=False, stderr_tty=True, no_color=False)
    assert "[queues]" in banner and "\x1b[" not in banner, banner
    assert "\x1b[" in _worker_banner(tmp_path, stdout_tty=True, stderr_tty=True, no_color=False)
    banner = _worker_banner(tmp_path, stdout_tty=True, stderr_tty=True, no_color=True)
    assert "[queues]" in banner and "\x1b[" not in banner, banner
