"""Scale-out benchmark: images per second through ocrgw's HTTP submit-and-poll path on the scale-out
deployment (PostgreSQL + Celery over Redis) next to the embedded default (SQLite + local worker
processes), each with 1 and 2 worker processes, on the same cores and the same image list, in one run:

* ``embedded-N`` - a real ``ocrgw serve --workers N`` (bench/_common.py's ``OcrgwServer``: SQLite in a
  temporary data dir, auth off, ``OCRGW_MIN_DIMENSION=10`` so single text lines are accepted).
* ``scaleout-N`` - a fresh PostgreSQL database (``CREATE DATABASE`` on 127.0.0.1:5432 as ``postgres``,
  dropped at the end), ``ocrgw migrate``, ``ocrgw api`` and ``ocrgw worker --concurrency N`` (a Celery
  prefork worker), with ``OCRGW_QUEUE=celery``, ``OCRGW_BLOB_STORE=database`` and the broker on a Redis
  server this bench starts on a free loopback port (``--save '' --appendonly no``; scaleout-1 uses its
  db 0, scaleout-2 db 1, so the two stacks never see each other's messages). A stack counts as ready
  when ``GET /ready`` is 200 and the Celery worker answers a broadcast ``ping``.

All four stacks run side by side for the whole run. Each is warmed up (the same images twice, untimed)
and then left until its processes are idle; the idle CPU of all stacks together is measured once, so
background polling would show. Then ``--repeat`` rounds: in each, every design gets the whole image
list (rounds interleaved, the order rotated each round). The client (bench/throughput.py's
``OcrgwClient``) keeps C jobs in flight (default 6), POSTs each image to ``/vision/v3.2/read/analyze``
and polls its ``Operation-Location`` (0.05 s growing x1.5 up to 0.25 s) until ``succeeded``; a
``failed`` job aborts the run. Throughput = images / wall time from the first submit to the last
result; the median over the rounds is reported with ratios scale-out/embedded at equal workers and
2 workers / 1 worker within each deployment.

CPU s/img: user+system CPU of the design's own processes (API + workers, read from /proc) per image; for
scale-out also the PostgreSQL backends serving its database (found in pg_stat_activity) and the Redis
server, since the embedded design does its SQL in-process. After the rounds the jobs' own timestamps
give a server-side split (queued, in the worker, engine) and how busy the workers were.

Images: bench/throughput.py's ``select_images`` (``mixed`` = 3 pages + 6 receipts + 8 lines, ``quick`` =
1 + 2 + 3, from ``<shared>/data/ocr-dev``). Needs PostgreSQL on 127.0.0.1:5432 (trust auth for
``postgres``) and ``redis-server`` on PATH. Everything listens on 127.0.0.1 only; servers, workers,
Redis, the databases and the temporary folder are removed on exit, on errors and on Ctrl-C.

Run (from the repository root; about 70-80 s on 2 cores with the defaults, ~2 min with --repeat 4):

    .venv/bin/python bench/scaleout.py
    .venv/bin/python bench/scaleout.py --set quick --repeat 1
    .venv/bin/python bench/scaleout.py --repeat 3 --json /tmp/scaleout.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from _common import BenchError, OcrgwServer, free_port
from throughput import SETS, Img, OcrgwClient, _proc_stat, load_average, process_tree_cpu, select_images

REPO = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_URL = "postgresql://postgres@127.0.0.1:5432/{db}"
WORKER_COUNTS = (1, 2)
PG_STATS_FLUSH_S = 11.0  # PostgreSQL >= 15 flushes an idle backend's statistics within 10 s
DESIGNS = tuple(f"{kind}-{n}" for kind in ("embedded", "scaleout") for n in WORKER_COUNTS)
LABELS = {
    "embedded-1": "embedded (SQLite, local workers), 1 worker",
    "embedded-2": "embedded (SQLite, local workers), 2 workers",
    "scaleout-1": "scale-out (PostgreSQL+Celery), 1 worker",
    "scaleout-2": "scale-out (PostgreSQL+Celery), 2 workers",
}


# ------------------------------------------------------------------------------------------ helpers
def _stop_process(proc: subprocess.Popen | None, grace: float = 30) -> None:
    """SIGTERM, wait, then SIGKILL the process group (every process here runs in its own session)."""
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def _kill_leftover_group(pgid: int) -> None:
    """Celery's pool children can outlive a killed main process; they share its process group."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _tail(path: Path, n: int = 3000) -> str:
    return path.read_text(errors="replace")[-n:] if path.exists() else ""


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (st := _proc_stat(int(entry.name))) and st[0] == pid:
            out.append(int(entry.name))
    return out


def _cpu_of(pids: list[int]) -> dict[int, float]:
    return {pid: st[1] for pid in pids if (st := _proc_stat(pid))}


def _wait_http(url: str, proc: subprocess.Popen, log: Path, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"{what} exited early (code {proc.returncode}):\n{_tail(log)}")
        try:
            r = httpx.get(url, timeout=3)
            if r.status_code == 200:
                return
            last = f"{r.status_code} {r.text[:200]}"
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.2)
    raise BenchError(f"{what}: {url} not 200 within {timeout:.0f}s (last: {last}):\n{_tail(log)}")


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
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
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
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"redis-server exited (code {self.proc.returncode}):\n{_tail(self.log_path)}")
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
        _stop_process(proc, grace=10)


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
        return _children(self.server.proc.pid) if self.server.proc else []

    def cpu(self) -> dict[str, float]:
        if not self.server.proc:
            return {"api": 0.0, "workers": 0.0}
        tree = process_tree_cpu(self.server.proc.pid) or {}
        api = tree.get(self.server.proc.pid, 0.0)
        return {"api": api, "workers": sum(tree.values()) - api}

    def job_times(self, job_ids: list[str]) -> list[tuple]:
        db = self.server.data_dir / "ocrgw.db"
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
        try:
            return _job_rows(con, "?", job_ids)
        finally:
            con.close()

    def log_tail(self) -> str:
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
            "OCRGW_MIN_DIMENSION": "10",
        }

    @property
    def proc(self) -> subprocess.Popen | None:
        return self.api

    def _spawn(self, args: list[str], log_name: str) -> subprocess.Popen:
        with open(self.data_dir / log_name, "ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "ocrgw.cli", *args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=REPO,
            )

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
        _wait_http(self.url + "/ready", self.api, self.data_dir / "api.log", f"ocrgw api ({self.db})", timeout)
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
                    raise BenchError(f"ocrgw worker exited (code {self.worker.returncode}):\n{self.log_tail()}")
                with contextlib.suppress(Exception):
                    if app.control.ping(destination=[name], timeout=1.0):
                        break
                time.sleep(0.2)
            else:
                raise BenchError(f"ocrgw worker {name} did not answer a ping within {timeout:.0f}s:\n{self.log_tail()}")
            while len(self.worker_pids()) < self.workers and time.monotonic() < deadline:
                time.sleep(0.2)
            if len(self.worker_pids()) < self.workers:
                raise BenchError(f"ocrgw worker has {len(self.worker_pids())} pool children, wanted {self.workers}")
        finally:
            app.close()

    def roots(self) -> dict[str, int]:
        return {k: p.pid for k, p in (("api", self.api), ("worker", self.worker)) if p}

    def worker_pids(self) -> list[int]:
        return _children(self.worker.pid) if self.worker else []

    def pg_backends(self) -> list[int]:
        with _pg_admin() as con:
            return [r[0] for r in con.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.db,))]

    def cpu(self) -> dict[str, float]:
        out = {"api": 0.0, "celery-main": 0.0, "workers": 0.0}
        if self.api and (st := _proc_stat(self.api.pid)):
            out["api"] = st[1]
        if self.worker:
            tree = process_tree_cpu(self.worker.pid) or {}
            out["celery-main"] = tree.get(self.worker.pid, 0.0)
            out["workers"] = sum(tree.values()) - out["celery-main"]
        out["_pg"] = _cpu_of(self.pg_backends())  # per pid: backends come and go
        out["_redis"] = _cpu_of(self.redis.pids())
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
            return _job_rows(con, "%s", job_ids)

    def log_tail(self) -> str:
        return (
            "api.log:\n"
            + _tail(self.data_dir / "api.log", 1500)
            + "\nworker.log:\n"
            + _tail(self.data_dir / "worker.log", 1500)
        )

    def logs(self) -> dict[str, str]:
        return {name: _tail(self.data_dir / f"{name}.log", 10**7) for name in ("api", "worker")}

    def stop(self) -> None:
        worker, self.worker = self.worker, None
        api, self.api = self.api, None
        for p in (worker, api):  # the worker first: a warm shutdown needs no API
            with contextlib.suppress(Exception):
                _stop_process(p)
            if p is not None:
                _kill_leftover_group(p.pid)

    def drop_db(self) -> None:
        if not self.db_created:
            return
        with _pg_admin() as con:
            con.execute(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')
        self.db_created = False


def _job_rows(con, mark: str, job_ids: list[str]) -> list[tuple]:
    """(id, created, started, finished, engine_ms) per job, from either database."""
    if not job_ids:
        return []
    marks = ",".join([mark] * len(job_ids))
    jobs = con.execute(
        f"SELECT id, created_at, started_at, finished_at FROM jobs WHERE id IN ({marks})", job_ids
    ).fetchall()
    eng = dict(
        con.execute(
            f"SELECT job_id, SUM(engine_ms) FROM pages WHERE job_id IN ({marks}) GROUP BY job_id", job_ids
        ).fetchall()
    )
    return [(j, c, s, f, float(eng.get(j) or 0.0)) for j, c, s, f in jobs]


def _ts(value) -> datetime | None:
    if value is None or value == "":
        return None
    d = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return d if d.tzinfo else d.replace(tzinfo=UTC)


# --------------------------------------------------------------------------------------- measuring
def _cpu_delta(before: dict, after: dict) -> dict[str, float]:
    out = {k: after[k] - before.get(k, 0.0) for k in after if not k.startswith("_")}
    for k in ("_pg", "_redis"):
        if k in after:
            out[k[1:]] = sum(v - before.get(k, {}).get(pid, 0.0) for pid, v in after[k].items())
    return out


def _wait_idle(stacks: list, timeout: float = 60, step: float = 0.5, quiet_cpu: float = 0.05) -> float:
    """Wait until all stacks' processes together use < quiet_cpu CPU seconds per step (engines built,
    warm-up done); returns the seconds waited."""
    t0 = time.monotonic()

    def total() -> float:
        return sum(v for s in stacks for k, v in s.cpu().items() if not k.startswith("_"))

    prev = total()
    while time.monotonic() - t0 < timeout:
        time.sleep(step)
        cur = total()
        if cur - prev < quiet_cpu:
            return time.monotonic() - t0
        prev = cur
    return time.monotonic() - t0


@dataclass
class Round:
    design: str
    round: int
    images: int
    wall_s: float
    img_per_s: float
    latency_ms: list[float] = field(default_factory=list)
    cpu_s: dict = field(default_factory=dict)
    client_cpu_s: float = 0.0
    jobs: list[str] = field(default_factory=list)
    polls: int = 0
    load_before: list[float] | None = None


def _median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def run_bench(args: argparse.Namespace) -> dict:
    images: list[Img] = select_images(args.set)
    warm = [images[-1], next(i for i in images if i.kind == "receipt")] * 2
    designs = list(DESIGNS)
    print(
        f"ocrgw scale-out bench: set={args.set} ({len(images)} images: "
        + ", ".join(f"{n} {g}" for g, n in SETS[args.set].items())
        + f"), designs {', '.join(designs)}, repeat={args.repeat}, cores={os.cpu_count()}, "
        f"in-flight={args.concurrency}, poll {args.poll_min:g}..{args.poll_max:g}s, load {load_average()}",
        flush=True,
    )
    meta: dict = {
        "set": args.set,
        "repeat": args.repeat,
        "concurrency": args.concurrency,
        "poll_min_s": args.poll_min,
        "poll_max_s": args.poll_max,
        "cores": os.cpu_count(),
        "load_at_start": load_average(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "images": [{"image": i.rel, "kind": i.kind, "bytes": i.size} for i in images],
    }
    rounds: list[Round] = []
    stacks: dict = {}
    redis: Redis | None = None
    tmp = tempfile.TemporaryDirectory(prefix="ocrgw-scaleout-")
    failure: BaseException | None = None
    try:
        redis = Redis(Path(tmp.name))
        redis.start()
        print(f"  redis-server on 127.0.0.1:{redis.port}", flush=True)
        for name in designs:
            kind, n = name.split("-")
            t0 = time.perf_counter()
            if kind == "embedded":
                stacks[name] = EmbeddedStack(int(n), Path(tmp.name))
            else:
                stacks[name] = ScaleoutStack(int(n), Path(tmp.name), redis, broker_db=int(n) - 1)
            stacks[name].start()
            extra = f", database {stacks[name].db}" if kind == "scaleout" else ""
            print(f"  {name} up on {stacks[name].url} in {time.perf_counter() - t0:.1f}s{extra}", flush=True)
        clients = {n: OcrgwClient(s, args.concurrency, args.poll_min, args.poll_max) for n, s in stacks.items()}
        for name in designs:
            t0 = time.perf_counter()
            clients[name].run(warm)
            print(f"  warmed up {name} ({time.perf_counter() - t0:.1f}s, {len(warm)} jobs)", flush=True)
        warmed_at = time.monotonic()
        waited = _wait_idle(list(stacks.values()))
        idle0, t_idle = {n: s.cpu() for n, s in stacks.items()}, time.perf_counter()
        time.sleep(args.idle_seconds)
        idle_wall = time.perf_counter() - t_idle
        idle = {n: _cpu_delta(idle0[n], s.cpu()) for n, s in stacks.items()}
        meta["idle"] = {"seconds": idle_wall, "waited_s": waited, "cpu_s": idle}
        idle_total = sum(sum(d.values()) for d in idle.values())
        # PostgreSQL's counters (pg_stat_database) reach the view only when a backend flushes them, up to
        # ~10 s after it went idle: they are read once around all rounds, with that much quiet on each side.
        time.sleep(max(0.0, PG_STATS_FLUSH_S - (time.monotonic() - warmed_at)))
        db0 = {n: s.db_stats() for n, s in stacks.items()}
        print(
            f"  all stacks idle: {idle_total / idle_wall * 100:.1f}% of one core over {idle_wall:.1f}s ("
            + ", ".join(f"{n} {sum(d.values()) / idle_wall * 100:.1f}%" for n, d in idle.items())
            + ")",
            flush=True,
        )

        for r in range(args.repeat):
            order = designs[r % len(designs) :] + designs[: r % len(designs)]
            for name in order:
                load = load_average()
                c0, own0 = stacks[name].cpu(), time.process_time()
                wall, lat, info = clients[name].run(images)
                cpu = _cpu_delta(c0, stacks[name].cpu())
                rnd = Round(
                    name,
                    r + 1,
                    len(images),
                    wall,
                    len(images) / wall,
                    lat,
                    cpu,
                    time.process_time() - own0,
                    [x["job"] for x in info],
                    sum(x["polls"] for x in info),
                    load,
                )
                rounds.append(rnd)
                words = sum(x["words"] for x in info)
                print(
                    f"  round {r + 1}/{args.repeat} {name:10}: {rnd.img_per_s:5.2f} img/s ({wall:5.2f}s, "
                    f"{words} words, {sum(cpu.values()) / len(images):.3f} CPU s/img; "
                    f"load avg before {load and load[0]})",
                    flush=True,
                )
        if any(db0.values()):
            time.sleep(PG_STATS_FLUSH_S)
        n_timed = args.repeat * len(images)
        meta["db_per_img"] = {
            n: {k: (v - db0[n].get(k, 0)) / n_timed for k, v in s.db_stats().items()} for n, s in stacks.items()
        }
        breakdown = {}
        for name in designs:
            rs = [x for x in rounds if x.design == name]
            try:
                rows = stacks[name].job_times([j for x in rs for j in x.jobs])
            except Exception as exc:  # a split is a bonus: report, do not fail the run
                breakdown[name] = {"error": repr(exc)}
                continue
            breakdown[name] = _split(rows, rs, stacks[name].workers)
        meta["log_problems"] = {name: _log_problems(s.logs()) for name, s in stacks.items()}
    except BaseException as exc:
        failure = exc
        for name, s in stacks.items():  # the logs of a broken stack are the first thing one wants
            if isinstance(exc, BenchError) and s.log_tail().strip():
                print(f"--- {name} log tail ---\n{s.log_tail()}", file=sys.stderr)
        raise
    finally:
        old = signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not stop the clean-up
        try:
            _cleanup(stacks, redis, tmp, quiet=failure is not None)
        finally:
            signal.signal(signal.SIGINT, old)

    summary: dict = {}
    for name in designs:
        rs = [x for x in rounds if x.design == name]
        n_img = rs[0].images
        parts = sorted({k for x in rs for k in x.cpu_s})
        summary[name] = {
            "workers": int(name.split("-")[1]),
            "img_per_s": _median([x.img_per_s for x in rs]),
            "img_per_s_min": min(x.img_per_s for x in rs),
            "img_per_s_max": max(x.img_per_s for x in rs),
            "latency_ms_median": _median([ms for x in rs for ms in x.latency_ms]),
            "cpu_s_per_img": _median([sum(x.cpu_s.values()) / n_img for x in rs]),
            "cpu_s_per_img_parts": {k: _median([x.cpu_s.get(k, 0.0) / n_img for x in rs]) for k in parts},
            "client_cpu_s_per_img": _median([x.client_cpu_s / n_img for x in rs]),
            "polls_per_img": _median([x.polls / n_img for x in rs]),
            "db_per_img": meta["db_per_img"].get(name, {}),
        }
    ratios = {}
    for n in WORKER_COUNTS:
        e, s = summary[f"embedded-{n}"], summary[f"scaleout-{n}"]
        ratios[f"scaleout/embedded @{n}w"] = s["img_per_s"] / e["img_per_s"]
        ratios[f"scaleout/embedded @{n}w best"] = s["img_per_s_max"] / e["img_per_s_max"]
        ratios[f"cpu scaleout/embedded @{n}w"] = s["cpu_s_per_img"] / e["cpu_s_per_img"]
    for kind in ("embedded", "scaleout"):
        one, two = summary[f"{kind}-1"], summary[f"{kind}-2"]
        ratios[f"{kind} 2w/1w"] = two["img_per_s"] / one["img_per_s"]
        ratios[f"{kind} 2w/1w best"] = two["img_per_s_max"] / one["img_per_s_max"]
    return {
        "meta": meta,
        "summary": summary,
        "ratios": ratios,
        "server_split": breakdown,
        "rounds": [asdict(x) for x in rounds],
    }


# Celery's banner and its warning about running as root are not problems of ocrgw.
_LOG_NOISE = (
    "SecurityWarning",
    "absolutely not recommended",
    "Please specify a different user",
    "uid=0 euid=0",
    "_warn_or_raise_security_error",
)


def _log_problems(logs: dict[str, str], limit: int = 20) -> list[str]:
    """Lines of the servers' and workers' logs that look like warnings or errors (they run at warning)."""
    out = []
    for name, text in logs.items():
        for line in text.splitlines():
            if any(n in line for n in _LOG_NOISE):
                continue
            if any(w in line for w in ("WARNING", "ERROR", "CRITICAL", "Traceback", "Error", "Warning")):
                out.append(f"{name}: {line.strip()[:300]}")
    return out[:limit] + ([f"... and {len(out) - limit} more"] if len(out) > limit else [])


def _split(rows: list[tuple], rs: list[Round], workers: int) -> dict:
    """Queue wait, worker time and engine time per job from the jobs' own timestamps, and the share of
    the round's wall time the workers were busy."""
    per_job, queue, worker, engine = {}, [], [], []
    for jid, c, s, f, eng in rows:
        c, s, f = _ts(c), _ts(s), _ts(f)
        if not (c and s and f):
            continue
        queue.append((s - c).total_seconds() * 1000)
        worker.append((f - s).total_seconds() * 1000)
        engine.append(eng)
        per_job[jid] = worker[-1]
    if not worker:
        return {"jobs": 0}
    return {
        "jobs": len(worker),
        "queue_ms_median": _median(queue),
        "worker_ms_median": _median(worker),
        "worker_ms_sum": sum(worker),
        "engine_ms_sum": sum(engine),
        "outside_engine_ms_median": _median([w - e for w, e in zip(worker, engine, strict=True)]),
        "busy_share": [sum(per_job.get(j, 0.0) for j in x.jobs) / 1000 / (workers * x.wall_s) for x in rs],
    }


def _cleanup(stacks: dict, redis: Redis | None, tmp: tempfile.TemporaryDirectory, quiet: bool) -> None:
    problems = []
    for name in sorted(stacks, key=lambda n: n.startswith("embedded")):  # scale-out workers first
        try:
            stacks[name].stop()
        except Exception as exc:
            problems.append(f"stopping {name}: {exc!r}")
    for s in stacks.values():
        if isinstance(s, ScaleoutStack):
            try:
                s.drop_db()
            except Exception as exc:
                problems.append(f"dropping database {s.db}: {exc!r}")
    if redis:
        try:
            redis.stop()
        except Exception as exc:
            problems.append(f"stopping redis: {exc!r}")
    tmp.cleanup()
    for p in problems:
        print(f"clean-up problem: {p}", file=sys.stderr)
    if not quiet and not problems:
        print("  cleaned up: servers, workers, redis-server, databases, temporary folder", flush=True)


# ---------------------------------------------------------------------------------------- reporting
def print_report(res: dict) -> None:
    meta, summary, ratios = res["meta"], res["summary"], res["ratios"]
    print()
    print(f"{'design':46} {'img/s (median)':>14} {'min..max':>12} {'CPU s/img':>10} {'median latency':>15}")
    print("-" * 101)
    for name, s in summary.items():
        span = f"{s['img_per_s_min']:.2f}..{s['img_per_s_max']:.2f}"
        print(
            f"{LABELS[name]:46} {s['img_per_s']:14.2f} {span:>12} {s['cpu_s_per_img']:10.3f} "
            f"{s['latency_ms_median']:12.0f} ms"
        )
    print(
        f"({len(meta['images'])} images per round, {meta['repeat']} round(s) each, {meta['concurrency']} jobs in "
        f"flight, {meta['cores']} cores; latency = submit -> succeeded seen, incl. queue wait)"
    )
    print("CPU s/img by part (median over rounds):")
    for name, s in summary.items():
        parts = ", ".join(f"{k} {v:.3f}" for k, v in s["cpu_s_per_img_parts"].items())
        print(f"  {name:10} {parts}; bench client {s['client_cpu_s_per_img']:.3f}; {s['polls_per_img']:.1f} polls/img")
    for name, s in summary.items():
        if s.get("db_per_img"):
            counters = ", ".join(f"{v:.1f} {k}" for k, v in s["db_per_img"].items())
            print(f"  {name:10} PostgreSQL counters per image, all rounds: {counters}")
    print()
    for n in WORKER_COUNTS:
        print(
            f"scale-out / embedded, {n} worker(s): {ratios[f'scaleout/embedded @{n}w']:.2f} img/s "
            f"(best round vs best round {ratios[f'scaleout/embedded @{n}w best']:.2f}; "
            f"CPU s/img {ratios[f'cpu scaleout/embedded @{n}w']:.2f}x)"
        )
    for kind in ("embedded", "scaleout"):
        print(
            f"{kind:9} 2 workers / 1 worker: {ratios[f'{kind} 2w/1w']:.2f}  (best rounds "
            f"{ratios[f'{kind} 2w/1w best']:.2f}; ideal on {meta['cores']} cores: "
            f"{min(2, meta['cores'] or 1):.2f})"
        )
    spread = max(s["img_per_s_max"] / s["img_per_s_min"] for s in summary.values())
    if spread > 1.2:
        print(
            f"note: img/s varied up to {100 * (spread - 1):.0f}% between rounds of one design (load at start "
            f"{meta['load_at_start']}): the machine is busy; compare CPU s/img or re-run with more --repeat"
        )
    problems = {n: p for n, p in (meta.get("log_problems") or {}).items() if p}
    print()
    if problems:
        print("warnings/errors in the servers' and workers' logs:")
        for name, lines in problems.items():
            for line in lines:
                print(f"  {name}: {line}")
    else:
        print("no warnings or errors in any server's or worker's log")
    split = res.get("server_split") or {}
    if split:
        print()
        print("server side, from each deployment's own database (medians per job):")
        print(
            f"  {'design':10} {'jobs':>5} {'queued ms':>10} {'worker ms':>10} {'outside engine ms':>18}"
            "  workers busy per round"
        )
        for name, b in split.items():
            if "error" in b or not b.get("jobs"):
                print(f"  {name:10} {b.get('error', 'no finished jobs')}")
                continue
            busy = ", ".join(f"{x:.0%}" for x in b["busy_share"])
            print(
                f"  {name:10} {b['jobs']:5} {b['queue_ms_median']:10.0f} {b['worker_ms_median']:10.0f} "
                f"{b['outside_engine_ms_median']:18.1f}  {busy}"
            )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--repeat", type=int, default=2, help="timed rounds per design, interleaved (2)")
    p.add_argument("--set", choices=sorted(SETS), default="mixed", help="image set (mixed)")
    p.add_argument("--concurrency", type=int, default=6, help="jobs in flight per design (6)")
    p.add_argument("--poll-min", type=float, default=0.05, help="first poll delay, seconds (0.05)")
    p.add_argument("--poll-max", type=float, default=0.25, help="poll delay cap, seconds (0.25)")
    p.add_argument("--idle-seconds", type=float, default=5.0, help="idle CPU measurement before the rounds (5)")
    p.add_argument("--json", metavar="OUT", help="also write the results as JSON to OUT")
    args = p.parse_args(argv)
    if args.repeat < 1 or args.concurrency < 1:
        p.error("--repeat and --concurrency must be >= 1")

    def _terminate(signum, _frame):  # SIGTERM/SIGHUP clean up like Ctrl-C
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    try:
        res = run_bench(args)
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; cleaned up", file=sys.stderr)
        return 130
    print_report(res)
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2, default=str))
        print(f"\nresults written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
