"""Submit benchmark (issue 16): requests per second and latency of ocrgw's submit path next to a naive
FastAPI app (bench/_naive_submit.py: stream the body to a file, insert a row, answer 202), side by side in
one run, with ocrgw's worker processes paused and then working.

Load: ``wrk`` (/usr/bin/wrk; Debian package ``wrk``) posting one image as the raw body (default: the
59 KB receipt ``receipt/sroie_019.jpg`` of the shared dev set, ``Content-Type: image/jpeg``) with
``--connections`` (32) over ``--threads`` (2) for ``--duration`` seconds (10) per measurement; a Lua
script dumps wrk's exact latency histogram, so the percentiles of a deployment with two API processes
(one wrk per process, the connections split between them) are those of all its requests together.
wrk is C, so on 2 shared cores it takes far less CPU from the servers than a Python load generator would.

Deployments (``--db``):

* ``sqlite`` (default): ``ocrgw serve --workers W`` (SQLite WAL, local blobs, the in-process dispatcher),
  auth on with a key made by ``ocrgw keys create``; the naive app on SQLite WAL, one process each.
* ``postgres``: scale-out on a fresh PostgreSQL database (127.0.0.1:5432, trust auth for ``postgres``,
  dropped at the end): ``ocrgw migrate``, two ``ocrgw api`` processes (two ports, one wrk each),
  ``ocrgw worker --concurrency W`` over a private Redis, ``OCRGW_BLOB_STORE=database`` as in
  docker-compose.yml; the naive app as two processes inserting into a database of its own.
* ``both``: one after the other.

Each deployment is started, warmed up (2 s of load each, untimed), then measured ``--repeat`` times
(3) with the workers paused (SIGSTOP to every worker process) and ``--repeat`` times working (SIGCONT;
the backlog the paused runs left keeps them busy), the naive app and ocrgw alternating (the order
rotated each round) so both see the same machine. In the working rounds the naive app runs while
ocrgw's workers read documents, i.e. on the same busy cores. Reported: medians over the rounds of
req/s, p50 and p99, the API processes' and workers' CPU (share of one core), and the median of the
per-round ratios ocrgw / naive. ocrgw's backlog bound is raised (``OCRGW_MAX_BACKLOG``, default
1,000,000) so that no run is refused; any non-2xx answer is counted and reported.

``--paths native,azure`` also measures Azure Read v3.2's submit (``POST /vision/v3.2/read/analyze``), a
second dialect over the same ``jobs.service.accept``: a check that a change helps every submit, not only
the native route it was tuned on.

``--compare DIR`` also starts the ocrgw of another source tree (``git worktree add /tmp/base <commit>``) as
a second deployment of the same kind, measured in the same rounds as ``base-<path>``: a change's effect, side
by side on the same machine, next to the naive app.

Everything listens on 127.0.0.1; servers, Redis, databases and the temporary folder are removed on exit,
on errors and on Ctrl-C. Run from the repository root (about 2.5 min per deployment with the defaults):

    .venv/bin/python bench/submit.py
    .venv/bin/python bench/submit.py --db both --json /tmp/submit.json
    .venv/bin/python bench/submit.py --repeat 1 --duration 5 --paths native,azure
    .venv/bin/python bench/submit.py --paths native,azure --compare /tmp/base --no-working
    .venv/bin/python bench/submit.py --db postgres --env OCRGW_BLOB_STORE=local --no-working
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from _common import (
    DEV_DATA,
    REPO,
    BenchError,
    child_pids,
    drive,
    free_port,
    load_average,
    median,
    proc_stat,
    rotated,
    spawn,
    stop_process,
    tail,
    wait_http,
)
from _stacks import PG_URL, Redis, _kill_leftover_group, _pg_admin
from _wrk import run_wrk

DEFAULT_IMAGE = DEV_DATA / "receipt" / "sroie_019.jpg"
PATHS = {
    "native": ("/v1/jobs", "X-API-Key"),
    "azure": ("/vision/v3.2/read/analyze", "Ocp-Apim-Subscription-Key"),
}
NAIVE_PATH = "/v1/jobs"
WARMUP_S = 2.0


# ------------------------------------------------------------------------------------- processes
def _cpu(pids: list[int]) -> float:
    return sum(st[1] for pid in pids if (st := proc_stat(pid)))


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        kids = child_pids(todo.pop())
        out += kids
        todo += kids
    return out


def _signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


@dataclass
class Deployment:
    """One side of a comparison: its base URLs (one per API process), the pids whose CPU is the API's,
    and the worker pids to pause."""

    name: str
    urls: list[str]
    api_pids: list[int]
    worker_pids: list[int] = field(default_factory=list)
    key: str | None = None


class Naive:
    """The naive app, one process per port."""

    def __init__(self, tmp: Path, processes: int, db: str) -> None:
        self.tmp = tmp
        self.db = db
        self.ports = [free_port() for _ in range(processes)]
        self.procs: list[subprocess.Popen] = []

    def start(self) -> Deployment:
        for i, port in enumerate(self.ports):
            log = self.tmp / f"naive-{i}.log"
            cmd = [sys.executable, str(REPO / "bench" / "_naive_submit.py"), "--port", str(port)]
            cmd += ["--spool", str(self.tmp / "naive-spool"), "--db", self.db]
            self.procs.append(spawn(cmd, log))
        for i, (port, proc) in enumerate(zip(self.ports, self.procs, strict=True)):
            wait_http(f"http://127.0.0.1:{port}/health", proc, self.tmp / f"naive-{i}.log", "naive app", 60)
        return Deployment("naive", [f"http://127.0.0.1:{p}" for p in self.ports], [p.pid for p in self.procs])

    def stop(self) -> None:
        for p in self.procs:
            stop_process(p, grace=10)


def _ocrgw(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return spawn([sys.executable, "-m", "ocrgw.cli", *args], log, env)


def _make_key(env: dict[str, str]) -> str:
    """A key made the way an operator makes one (`ocrgw keys create`, which also migrates)."""
    res = subprocess.run(
        [sys.executable, "-m", "ocrgw.cli", "keys", "create", "--name", "bench", "--quiet"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if res.returncode != 0:
        raise BenchError(f"ocrgw keys create failed:\n{(res.stdout + res.stderr)[-2000:]}")
    return res.stdout.strip().split()[-1]


def _base_env(data_dir: Path, backlog: int, src: Path = REPO / "src") -> dict[str, str]:
    """The servers' environment: this checkout's ocrgw (or ``--compare``'s), auth on without a bootstrap key
    (the bench makes one), the backlog bound raised, logs as a production host writes them (JSON, the access
    log on)."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("OCRGW_") or k == "OCRGW_SHARED_DIR"},
        "PYTHONPATH": os.pathsep.join(filter(None, [str(src), os.environ.get("PYTHONPATH")])),
        "OCRGW_DATA_DIR": str(data_dir),
        "OCRGW_AUTH": "key",
        "OCRGW_BOOTSTRAP_KEY": "false",
        "OCRGW_MAX_BACKLOG": str(backlog),
        "OCRGW_LOG_LEVEL": "warning",
        "OCRGW_LOG_FORMAT": "json",
    }


class EmbeddedOcrgw:
    """`ocrgw serve`: SQLite, local blobs, W local worker processes."""

    def __init__(self, tmp: Path, workers: int, backlog: int, src: Path = REPO / "src", tag: str = "") -> None:
        self.data_dir = tmp / f"ocrgw-embedded{tag}"
        self.data_dir.mkdir()
        self.env = _base_env(self.data_dir, backlog, src)
        self.workers = workers
        self.port = free_port()
        self.log = self.data_dir / "serve.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> Deployment:
        key = _make_key(self.env)
        args = ["serve", "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers)]
        self.proc = _ocrgw(args, self.env, self.log)
        url = f"http://127.0.0.1:{self.port}"
        wait_http(url + "/ready", self.proc, self.log, "ocrgw serve", 180)
        # The worker processes (multiprocessing spawn children), not the resource tracker beside them.
        workers = [p for p in child_pids(self.proc.pid) if "resource_tracker" not in _cmdline(p)]
        if len(workers) != self.workers:
            raise BenchError(f"expected {self.workers} worker processes, found {len(workers)}")
        return Deployment("ocrgw", [url], [self.proc.pid], workers, key)

    def stop(self) -> None:
        if self.proc is not None:
            _signal_all(_descendants(self.proc.pid), signal.SIGCONT)  # a stopped worker cannot exit
        stop_process(self.proc)
        self.proc = None


class ScaleoutOcrgw:
    """Two `ocrgw api` processes and one `ocrgw worker` on a fresh PostgreSQL database and a private Redis."""

    def __init__(
        self, tmp: Path, workers: int, backlog: int, apis: int = 2, src: Path = REPO / "src", tag: str = ""
    ) -> None:
        self.tmp = tmp
        self.data_dir = tmp / f"ocrgw-scaleout{tag}"
        self.data_dir.mkdir()
        self.db = f"ocrgw_bench_submit_{secrets.token_hex(3)}"
        self.redis = Redis(self.data_dir)
        self.env = {
            **_base_env(self.data_dir, backlog, src),
            "OCRGW_DATABASE_URL": PG_URL.format(db=self.db),
            "OCRGW_QUEUE": "celery",
            "OCRGW_BLOB_STORE": "database",
            "OCRGW_SECRET_KEY": secrets.token_hex(16),
        }
        self.workers = workers
        self.ports = [free_port() for _ in range(apis)]
        self.apis: list[subprocess.Popen] = []
        self.worker: subprocess.Popen | None = None
        self.created = False

    def start(self) -> Deployment:
        with _pg_admin() as con:
            con.execute(f'CREATE DATABASE "{self.db}"')
        self.created = True
        self.redis.start()
        self.env["OCRGW_BROKER_URL"] = self.redis.url(0)
        key = _make_key(self.env)
        for i, port in enumerate(self.ports):
            args = ["api", "--host", "127.0.0.1", "--port", str(port)]
            self.apis.append(_ocrgw(args, self.env, self.data_dir / f"api-{i}.log"))
        self.worker = _ocrgw(["worker", "--concurrency", str(self.workers)], self.env, self.data_dir / "worker.log")
        urls = [f"http://127.0.0.1:{p}" for p in self.ports]
        for i, (url, proc) in enumerate(zip(urls, self.apis, strict=True)):
            wait_http(url + "/ready", proc, self.data_dir / f"api-{i}.log", "ocrgw api", 180)
        deadline = time.monotonic() + 180
        while len(child_pids(self.worker.pid)) < self.workers:
            if self.worker.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"ocrgw worker did not start:\n{tail(self.data_dir / 'worker.log')}")
            time.sleep(0.5)
        time.sleep(5)  # the pool children build their engines (worker_process_init)
        workers = [self.worker.pid, *_descendants(self.worker.pid)]
        return Deployment("ocrgw", urls, [p.pid for p in self.apis], workers, key)

    def stop(self) -> None:
        if self.worker is not None:
            _signal_all([self.worker.pid, *_descendants(self.worker.pid)], signal.SIGCONT)
        for p in [self.worker, *self.apis]:
            with contextlib.suppress(Exception):
                stop_process(p, grace=15)
            if p is not None:
                _kill_leftover_group(p.pid)
        self.worker, self.apis = None, []
        self.redis.stop()
        if self.created:
            with _pg_admin() as con:
                con.execute(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')
            self.created = False


class NaivePostgres(Naive):
    """The naive app's own PostgreSQL database, dropped at the end."""

    def __init__(self, tmp: Path, processes: int) -> None:
        self.dbname = f"ocrgw_bench_naive_{secrets.token_hex(3)}"
        super().__init__(tmp, processes, PG_URL.format(db=self.dbname))
        self.created = False

    def start(self) -> Deployment:
        with _pg_admin() as con:
            con.execute(f'CREATE DATABASE "{self.dbname}"')
        self.created = True
        return super().start()

    def stop(self) -> None:
        super().stop()
        if self.created:
            with _pg_admin() as con:
                con.execute(f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)')
            self.created = False


# ------------------------------------------------------------------------------------------ driver
@dataclass
class Run:
    design: str  # naive | ocrgw-native | ocrgw-azure
    workers: str  # paused | working
    round: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    requests: int
    non_2xx: int
    socket_errors: int
    api_cpu: float  # share of one core, all API processes together
    workers_cpu: float
    api_cpu_ms: float  # API CPU per request: steadier than req/s on a machine shared with other work
    load: list[float] | None = None


def measure(
    dep: Deployment, design: str, path: str, key_header: str | None, state: str, r: int, args, tmp: Path, wpids
) -> Run:
    headers = {key_header: dep.key} if key_header and dep.key else {}
    before_api, before_w, t0 = _cpu(dep.api_pids), _cpu(wpids), time.monotonic()
    load_avg = load_average()
    res = run_wrk(
        [u + path for u in dep.urls],
        args.image,
        args.content_type,
        headers,
        args.duration,
        args.connections,
        args.threads,
        tmp,
    )
    wall = time.monotonic() - t0
    api, wk = (_cpu(dep.api_pids) - before_api) / wall, (_cpu(wpids) - before_w) / wall
    errs = res.errors
    return Run(
        design=design,
        workers=state,
        round=r,
        rps=round(res.rps, 1),
        p50_ms=round(res.pct(50), 1),
        p90_ms=round(res.pct(90), 1),
        p99_ms=round(res.pct(99), 1),
        max_ms=round(res.pct(100), 1),
        requests=res.requests,
        non_2xx=errs.get("status", 0),
        socket_errors=sum(v for k, v in errs.items() if k != "status"),
        api_cpu=round(api, 2),
        workers_cpu=round(wk, 2),
        api_cpu_ms=round(api * wall * 1000 / max(res.requests, 1), 3),
        load=load_avg,
    )


def bench_deployment(kind: str, args: argparse.Namespace, tmp: Path) -> dict:
    sub = tmp / kind
    sub.mkdir()
    stack = EmbeddedOcrgw if kind == "sqlite" else ScaleoutOcrgw
    naive = Naive(sub, 1, str(sub / "naive.db")) if kind == "sqlite" else NaivePostgres(sub, 2)
    ocrgws = {"ocrgw": stack(sub, args.workers, args.max_backlog)}
    if args.compare:
        ocrgws["base"] = stack(sub, args.workers, args.max_backlog, src=args.compare / "src", tag="-base")
    for side in ocrgws.values():
        side.env.update(kv.split("=", 1) for kv in args.env)
    runs: list[Run] = []
    try:
        nd = naive.start()
        designs = [("naive", nd, NAIVE_PATH, None)]
        paused: list[int] = []
        for name, side in ocrgws.items():
            od = side.start()
            _signal_all(od.worker_pids, signal.SIGSTOP)
            paused += od.worker_pids
            designs += [(f"{name}-{p}", od, PATHS[p][0], PATHS[p][1]) for p in args.paths]
        for _, dep, path, hdr in designs:  # warm-up, untimed
            headers = {hdr: dep.key} if hdr and dep.key else {}
            run_wrk(
                [u + path for u in dep.urls],
                args.image,
                args.content_type,
                headers,
                WARMUP_S,
                args.connections,
                args.threads,
                sub,
            )
        for state in ("paused", "working"):
            if state == "working":
                if args.no_working:
                    break
                _signal_all(paused, signal.SIGCONT)
                time.sleep(2)  # the workers pick up the backlog the paused runs left
            for r in range(args.repeat):
                for design, dep, path, hdr in rotated(designs, r):
                    run = measure(dep, design, path, hdr, state, r, args, sub, dep.worker_pids or paused)
                    runs.append(run)
                    print(
                        f"  {kind:8} {state:8} round {r + 1}: {design:13} {run.rps:8.1f} req/s"
                        f"  p50 {run.p50_ms:7.1f} ms"
                        f"  p99 {run.p99_ms:7.1f} ms  api CPU {run.api_cpu:4.2f}  workers CPU {run.workers_cpu:4.2f}"
                        + (f"  NON-2XX {run.non_2xx}" if run.non_2xx else ""),
                        flush=True,
                    )
    finally:
        for side in (*ocrgws.values(), naive):
            with contextlib.suppress(Exception):
                side.stop()
    names = [f"{name}-{p}" for name in ocrgws for p in args.paths]
    return {"deployment": kind, "runs": [asdict(r) for r in runs], "summary": summarize(runs, names)}


def summarize(runs: list[Run], designs: list[str]) -> dict:
    out: dict = {}
    for state in ("paused", "working"):
        rows = [r for r in runs if r.workers == state]
        if not rows:
            continue
        per: dict = {}
        for design in ["naive", *designs]:
            mine = [r for r in rows if r.design == design]
            per[design] = {
                k: round(median([getattr(r, k) for r in mine]), 2)
                for k in ("rps", "p50_ms", "p99_ms", "api_cpu", "workers_cpu", "api_cpu_ms")
            } | {"non_2xx": sum(r.non_2xx for r in mine), "socket_errors": sum(r.socket_errors for r in mine)}
            if design != "naive":
                naive_by_round = {r.round: r for r in rows if r.design == "naive"}
                ratios = [r.rps / naive_by_round[r.round].rps for r in mine if naive_by_round[r.round].rps]
                per[design]["rps_ratio"] = round(median(ratios), 3)
                per[design]["rps_ratios"] = [round(x, 3) for x in ratios]
        out[state] = per
    return out


def run_bench(args: argparse.Namespace) -> dict:
    if not args.image.exists():
        raise BenchError(f"image not found: {args.image}")
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    tmp = Path(tempfile.mkdtemp(prefix="ocrgw-bench-submit-"))
    meta = {
        "image": str(args.image),
        "image_bytes": args.image.stat().st_size,
        "connections": args.connections,
        "threads": args.threads,
        "duration_s": args.duration,
        "repeat": args.repeat,
        "workers": args.workers,
        "paths": args.paths,
        "cores": os.cpu_count(),
        "load_at_start": load_average(),
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip(),
    }
    try:
        return {"meta": meta, "deployments": [bench_deployment(k, args, tmp) for k in kinds]}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def report(res: dict) -> None:
    m = res["meta"]
    print(
        f"\n{m['image_bytes'] // 1000} KB image raw, {m['connections']} connections, {m['duration_s']:g} s per run, "
        f"median of {m['repeat']} run(s), {m['workers']} worker process(es), {m['cores']} cores, "
        f"commit {m['commit']}, load at start {m['load_at_start']}"
    )
    for dep in res["deployments"]:
        label = {
            "sqlite": "SQLite: `ocrgw serve` (one API process) vs the naive app on SQLite WAL",
            "postgres": "PostgreSQL scale-out: two `ocrgw api` + Celery vs two naive processes on PostgreSQL",
        }[dep["deployment"]]
        print(f"\n{label}")
        print(
            f"{'workers':9} {'design':14} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'api CPU':>8} {'wkr CPU':>8}"
            f" {'CPU ms/req':>10}  ocrgw/naive req/s"
        )
        for state, per in dep["summary"].items():
            for design, s in per.items():
                ratio = (
                    f"{s['rps_ratio']:.2f}  (rounds: {', '.join(f'{x:.2f}' for x in s['rps_ratios'])})"
                    if "rps_ratio" in s
                    else ""
                )
                bad = f"  non-2xx {s['non_2xx']}" if s["non_2xx"] else ""
                bad += f"  socket errors {s['socket_errors']}" if s["socket_errors"] else ""
                print(
                    f"{state:9} {design:14} {s['rps']:8.1f} {s['p50_ms']:8.1f} {s['p99_ms']:8.1f} {s['api_cpu']:8.2f}"
                    f" {s['workers_cpu']:8.2f} {s['api_cpu_ms']:10.2f}  {ratio}{bad}"
                )
    print(
        "(api CPU: the design's API process(es), wkr CPU: ocrgw's worker processes, both in cores; CPU ms/req: "
        "the API process(es)' CPU per request)"
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", choices=("sqlite", "postgres", "both"), default="sqlite")
    p.add_argument("--paths", default="native", help="ocrgw submit routes, comma-separated: native, azure")
    p.add_argument("--image", type=Path, default=DEFAULT_IMAGE)
    p.add_argument("--content-type", default="image/jpeg")
    p.add_argument("--duration", type=float, default=10.0, help="seconds per run (10)")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--workers", type=int, default=2, help="ocrgw worker processes (2)")
    p.add_argument("--max-backlog", type=int, default=1_000_000, help="OCRGW_MAX_BACKLOG for the run")
    p.add_argument("--no-working", action="store_true", help="only the runs with the workers paused")
    p.add_argument("--json", help="write every run and the summary here")
    p.add_argument(
        "--compare",
        type=Path,
        help="also measure the ocrgw of this source tree (a worktree of the base commit) in the same rounds, "
        "as base-<path>: a change's effect side by side",
    )
    p.add_argument("--env", action="append", default=[], metavar="K=V", help="extra settings for ocrgw's servers")
    args = p.parse_args()
    if bad := [kv for kv in args.env if "=" not in kv]:
        p.error(f"--env wants K=V: {', '.join(bad)}")
    args.paths = [x.strip() for x in args.paths.split(",") if x.strip()]
    if unknown := [x for x in args.paths if x not in PATHS]:
        p.error(f"unknown path(s): {', '.join(unknown)}")
    return drive(lambda: run_bench(args), report, args.json)


if __name__ == "__main__":
    sys.exit(main())
