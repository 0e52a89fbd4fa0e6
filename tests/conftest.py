"""Test fixtures: real servers (`ocrgw serve` under uvicorn on 127.0.0.1, real worker processes, real
SQLite and Tesseract), real keys made with the real CLI, and the shared dev documents."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("OCRGW_SHARED_DIR", REPO.parent / "shared"))
DEV_DATA = SHARED / "data" / "ocr-dev"
IN_CI = os.environ.get("CI", "").lower() == "true"


def require_shared() -> Path:
    """The shared dev set; tests may skip without it, except in CI, where it is always there."""
    if not (DEV_DATA / "manifest.jsonl").exists():
        if IN_CI:
            pytest.fail(f"shared dev data missing at {DEV_DATA} (CI must have it)")
        pytest.skip(f"shared dev data not found at {DEV_DATA}")
    return DEV_DATA


def manifest_row(image: str) -> dict:
    for line in (require_shared() / "manifest.jsonl").read_text().splitlines():
        row = json.loads(line)
        if row["image"] == image:
            return row
    raise KeyError(image)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ocrgw_cli(data_dir: Path, *args: str, env: dict | None = None) -> str:
    full_env = {**os.environ, "OCRGW_DATA_DIR": str(data_dir), **(env or {})}
    out = subprocess.run([sys.executable, "-m", "ocrgw.cli", *args], env=full_env, check=True,
                         capture_output=True, text=True, timeout=120)
    return out.stdout


@dataclass
class Server:
    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    workers: int = 2
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    key: str = ""
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90) -> Server:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.key and self.env.get("OCRGW_AUTH") != "off":
            self.key = ocrgw_cli(self.data_dir, "keys", "create", "--name", "tests", "-q", env=self.env).strip()
        env = {**os.environ, "OCRGW_DATA_DIR": str(self.data_dir), "OCRGW_WORKERS": str(self.workers),
               **self.env}
        self.log_path = self.data_dir / f"server-{self.port}.log"
        log = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the process's life
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ocrgw.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port),
             "--log-level", "warning"],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server did not start:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""

    def worker_pids(self) -> list[int]:
        import psutil

        if not self.proc:
            return []
        return [c.pid for c in psutil.Process(self.proc.pid).children(recursive=True)
                if "spawn_main" in " ".join(c.cmdline())]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig) if sig == signal.SIGKILL else self.proc.send_signal(sig)
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.proc = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Ocp-Apim-Subscription-Key": self.key} if self.key else {}


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One shared server for contract tests; loopback URL sources allowed only where a test says so."""
    srv = Server(tmp_path_factory.mktemp("srv"), env={"OCRGW_MAX_UPLOAD_BYTES": str(8 * 1024 * 1024)}).start()
    yield srv
    srv.stop()


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator:
    started: list[Server] = []

    def factory(**kw) -> Server:
        kw.setdefault("data_dir", tmp_path / f"data{len(started)}")
        srv = Server(**kw)
        started.append(srv)
        return srv

    yield factory
    for srv in started:
        srv.stop(signal.SIGKILL)


def submit_and_wait(srv: Server, body: bytes, *, query: str = "", timeout: float = 60,
                    content_type: str = "application/octet-stream") -> dict:
    r = httpx.post(f"{srv.url}/vision/v3.2/read/analyze{query}", content=body,
                   headers={**srv.headers, "Content-Type": content_type}, timeout=60)
    assert r.status_code == 202, r.text
    return poll(srv, r.headers["Operation-Location"], timeout=timeout)


def poll(srv: Server, location: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = httpx.get(location, headers=srv.headers, timeout=30).json()
        if body["status"] in ("succeeded", "failed") or time.monotonic() > deadline:
            return body
        time.sleep(0.1)
