"""The `ocrgw` command as an operator uses it: migrate, and keys create/list/revoke against a real
SQLite database, with secrets never stored or listed."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from ocrgw.auth import hash_key
from tests.conftest import ocrgw_cli


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
    printed = log.split("Ocp-Apim-Subscription-Key:")[1].split()[0]
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
