"""Shared by the benchmarks: a real `ocrgw serve` started as a subprocess on a loopback port, and
process memory figures read from /proc."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]


class BenchError(RuntimeError):
    """A benchmark cannot go on (server did not start, a job failed, ...)."""


def peak_rss_mb(pid: int) -> float:
    """VmHWM: the process's high-water resident set, in MiB (not inherited through fork/exec)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise BenchError(f"no VmHWM for {pid}")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise BenchError(f"no VmRSS for {pid}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OcrgwServer:
    """`ocrgw serve` in its own session on a loopback port, auth off, data in a temporary folder."""

    def __init__(self, workers: int, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.workers = workers
        self.extra_env = env or {}
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir / "server.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 120) -> None:
        env = {
            **os.environ,
            "OCRGW_DATA_DIR": str(self.data_dir),
            "OCRGW_AUTH": "off",
            "OCRGW_WORKERS": str(self.workers),
            # Azure's (and ocrgw's default) 50 px minimum would refuse most single-line images (36-53 px
            # tall); the bench measures throughput, so it lets them in as the other designs do.
            "OCRGW_MIN_DIMENSION": "10",
            **self.extra_env,
        }
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "ocrgw.cli",
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--workers",
                    str(self.workers),
                    "--log-level",
                    "warning",
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=REPO,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"ocrgw exited early (code {self.proc.returncode}):\n{self.log()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            time.sleep(0.2)
        raise BenchError(f"ocrgw did not answer /health within {timeout:.0f}s:\n{self.log()[-3000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
