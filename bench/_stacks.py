"""The deployments bench/scaleout.py compares, each started on loopback and torn down by it: the embedded
default (``EmbeddedStack``: _common.OcrgwServer, SQLite and local worker processes) and the scale-out one
(``ScaleoutStack``: a fresh PostgreSQL database, ``ocrgw api`` and a Celery ``ocrgw worker``) with the
private Redis (``Redis``) its broker runs on. Each stack reports its processes' CPU, its jobs' own
timestamps and its logs in the same shape, so the driver treats all four alike."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from _common import (
    REPO,
    BenchError,
    OcrgwServer,
    child_pids,
    cpu_of,
    free_port,
    job_rows,
    proc_stat,
    process_tree_cpu,
    spawn,
    sqlite_job_rows,
    stop_process,
    tail,
    wait_http,
)

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_URL = "postgresql://postgres@127.0.0.1:5432/{db}"


def _kill_leftover_group(pgid: int) -> None:
    """Celery's pool children can outlive a killed main process; they share its process group."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


class Redis:
    """A private ``redis-server`` on a free loopback port, nothing persisted."""

    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.log_path = tmp / "redis.log"
        self.proc: subprocess.Popen | None = None

    def url(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self, timeout: float = 20) -> None:
        exe = shutil.which("redis-server")
        if not exe:
            raise BenchError("redis-server not found on PATH")
        self.proc = spawn(
            [
                exe,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
            ],
            self.log_path,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"redis-server exited (code {self.proc.returncode}):\n{tail(self.log_path)}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(64).startswith(b"+PONG"):
                    return
            time.sleep(0.1)
        raise BenchError(f"redis-server did not answer PING within {timeout:.0f}s")

    def pids(self) -> list[int]:
        return [self.proc.pid] if self.proc and self.proc.poll() is None else []

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        stop_process(proc, grace=10)


def _pg_admin():
    import psycopg

    return psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)


# ------------------------------------------------------------------------------------------- stacks
class EmbeddedStack:
    kind = "embedded"

    def __init__(self, workers: int, tmp: Path) -> None:
        self.workers = workers
        self.server = OcrgwServer(workers, tmp / f"embedded-{workers}")
        self.server.data_dir.mkdir(parents=True)
        self.url = self.server.url

    @property
    def proc(self) -> subprocess.Popen | None:  # OcrgwClient only reads .url; kept for symmetry
        return self.server.proc

    def start(self) -> None:
        self.server.start()

    def roots(self) -> dict[str, int]:
        return {"api": self.server.proc.pid} if self.server.proc else {}

    def worker_pids(self) -> list[int]:
        return child_pids(self.server.proc.pid) if self.server.proc else []

    def cpu(self) -> dict[str, float]:
        if not self.server.proc:
            return {"api": 0.0, "workers": 0.0}
        tree = process_tree_cpu(self.server.proc.pid) or {}
        api = tree.get(self.server.proc.pid, 0.0)
        return {"api": api, "workers": sum(tree.values()) - api}

    def job_times(self, job_ids: list[str]) -> list[tuple]:
        return sqlite_job_rows(self.server.data_dir / "ocrgw.db", job_ids)

    def logtail(self) -> str:
        return self.server.log()[-3000:]

    def logs(self) -> dict[str, str]:
        return {"serve": self.server.log()}

    def db_stats(self) -> dict[str, int]:
        return {}

    def stop(self) -> None:
        self.server.stop()


class ScaleoutStack:
    kind = "scaleout"

    def __init__(self, workers: int, tmp: Path, redis: Redis, broker_db: int) -> None:
        self.workers = workers
        self.redis = redis
        self.db = f"ocrgw_bench_scaleout_{secrets.token_hex(3)}_{workers}w"
        self.data_dir = tmp / f"scaleout-{workers}"
        self.data_dir.mkdir(parents=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.broker_url = redis.url(broker_db)
        self.api: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None
        self.db_created = False
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("OCRGW_") or k == "OCRGW_SHARED_DIR"},
            "OCRGW_DATABASE_URL": PG_URL.format(db=self.db),
            "OCRGW_QUEUE": "celery",
            "OCRGW_BROKER_URL": self.broker_url,
            "OCRGW_BLOB_STORE": "database",
            "OCRGW_AUTH": "off",
            "OCRGW_DATA_DIR": str(self.data_dir),
        }

    @property
    def proc(self) -> subprocess.Popen | None:
        return self.api

    def _spawn(self, args: list[str], log_name: str) -> subprocess.Popen:
        return spawn([sys.executable, "-m", "ocrgw.cli", *args], self.data_dir / log_name, self.env)

    def start(self, timeout: float = 120) -> None:
        with _pg_admin() as con:
            con.execute(f'CREATE DATABASE "{self.db}"')
        self.db_created = True
        mig = subprocess.run(
            [sys.executable, "-m", "ocrgw.cli", "migrate"],
            env=self.env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if mig.returncode != 0:
            raise BenchError(f"ocrgw migrate failed ({mig.returncode}):\n{(mig.stdout + mig.stderr)[-3000:]}")
        self.api = self._spawn(
            ["api", "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"], "api.log"
        )
        self.worker = self._spawn(
            ["worker", "--concurrency", str(self.workers), "--log-level", "warning"], "worker.log"
        )
        wait_http(self.url + "/ready", self.api, self.data_dir / "api.log", f"ocrgw api ({self.db})", timeout)
        self._wait_worker(timeout)

    def _wait_worker(self, timeout: float) -> None:
        """The worker answers a Celery broadcast ping once its consumer runs; its pool children are then
        forked and build their engines in worker_process_init (the warm-up and idle wait cover the rest)."""
        from celery import Celery

        name = f"ocrgw-{self.worker.pid}@{socket.gethostname()}"
        app = Celery("ocrgw-bench-ping", broker=self.broker_url, set_as_current=False)
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.worker.poll() is not None:
                    raise BenchError(f"ocrgw worker exited (code {self.worker.returncode}):\n{self.logtail()}")
                with contextlib.suppress(Exception):
                    if app.control.ping(destination=[name], timeout=1.0):
                        break
                time.sleep(0.2)
            else:
                raise BenchError(f"ocrgw worker {name} did not answer a ping within {timeout:.0f}s:\n{self.logtail()}")
            while len(self.worker_pids()) < self.workers and time.monotonic() < deadline:
                time.sleep(0.2)
            if len(self.worker_pids()) < self.workers:
                raise BenchError(f"ocrgw worker has {len(self.worker_pids())} pool children, wanted {self.workers}")
        finally:
            app.close()

    def roots(self) -> dict[str, int]:
        return {k: p.pid for k, p in (("api", self.api), ("worker", self.worker)) if p}

    def worker_pids(self) -> list[int]:
        return child_pids(self.worker.pid) if self.worker else []

    def pg_backends(self) -> list[int]:
        with _pg_admin() as con:
            return [r[0] for r in con.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.db,))]

    def cpu(self) -> dict[str, float]:
        out = {"api": 0.0, "celery-main": 0.0, "workers": 0.0}
        if self.api and (st := proc_stat(self.api.pid)):
            out["api"] = st[1]
        if self.worker:
            tree = process_tree_cpu(self.worker.pid) or {}
            out["celery-main"] = tree.get(self.worker.pid, 0.0)
            out["workers"] = sum(tree.values()) - out["celery-main"]
        out["_pg"] = cpu_of(self.pg_backends())  # per pid: backends come and go
        out["_redis"] = cpu_of(self.redis.pids())
        return out

    def db_stats(self) -> dict[str, int]:
        """PostgreSQL's own counters for the stack's database: new sessions, commits, rows written."""
        with _pg_admin() as con:
            row = con.execute(
                "SELECT sessions, xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted"
                " FROM pg_stat_database WHERE datname = %s",
                (self.db,),
            ).fetchone()
        keys = ("sessions", "commits", "rollbacks", "rows_inserted", "rows_updated", "rows_deleted")
        return dict(zip(keys, row, strict=True)) if row else {}

    def job_times(self, job_ids: list[str]) -> list[tuple]:
        import psycopg

        with psycopg.connect(PG_URL.format(db=self.db), connect_timeout=5) as con:
            return job_rows(con, "%s", job_ids)

    def logtail(self) -> str:
        return (
            "api.log:\n"
            + tail(self.data_dir / "api.log", 1500)
            + "\nworker.log:\n"
            + tail(self.data_dir / "worker.log", 1500)
        )

    def logs(self) -> dict[str, str]:
        return {name: tail(self.data_dir / f"{name}.log", 10**7) for name in ("api", "worker")}

    def stop(self) -> None:
        worker, self.worker = self.worker, None
        api, self.api = self.api, None
        for p in (worker, api):  # the worker first: a warm shutdown needs no API
            with contextlib.suppress(Exception):
                stop_process(p)
            if p is not None:
                _kill_leftover_group(p.pid)

    def drop_db(self) -> None:
        if not self.db_created:
            return
        with _pg_admin() as con:
            con.execute(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')
        self.db_created = False
