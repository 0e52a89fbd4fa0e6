"""Shared by the benchmarks: where the repository and the shared dev data are; a real `ocrgw serve` started
as a subprocess on a loopback port, and the stopping and health-waiting every bench process needs; process
CPU and memory figures read from /proc; the dev images the HTTP benches send and the Read-API client that
keeps jobs in flight (throughput.py, scaleout.py); the jobs' own timestamps, read back from either
database; and the drivers' common command-line, metadata and exit handling."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ["OCRGW_SHARED_DIR"]) if os.environ.get("OCRGW_SHARED_DIR") else REPO.parent / "shared"
DEV_DATA = SHARED / "data" / "ocr-dev"


class BenchError(RuntimeError):
    """A benchmark cannot go on (server did not start, a job failed, ...)."""


# ------------------------------------------------------------------------------------------- /proc
# Wall-clock img/s moves with whatever else the machine runs; CPU seconds per image barely do, so the
# benches record them too (Linux /proc; None elsewhere) as a second, noise-robust view.
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def peak_rss_mb(pid: int) -> float:
    """VmHWM: the process's high-water resident set, in MiB (not inherited through fork/exec)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise BenchError(f"no VmHWM for {pid}")


def proc_stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, user+system CPU seconds) of a live process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK


def process_tree_cpu(root: int) -> dict[int, float] | None:
    """CPU seconds of ``root`` and all its descendants, by pid."""
    if not Path("/proc/self/stat").exists():
        return None
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (st := proc_stat(int(entry.name))):
            stats[int(entry.name)] = st
    tree, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in stats and pid not in tree:
            tree[pid] = stats[pid][1]
            todo += [p for p, (ppid, _) in stats.items() if ppid == pid]
    return tree


def cpu_of(pids: list[int] | set[int]) -> dict[int, float]:
    """CPU seconds of each of these processes that still runs, by pid."""
    return {pid: st[1] for pid in pids if (st := proc_stat(pid))}


def child_pids(pid: int) -> list[int]:
    """The direct children of a process."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (st := proc_stat(int(entry.name))) and st[0] == pid:
            out.append(int(entry.name))
    return out


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


# ----------------------------------------------------------------------------------------- processes
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path: Path, n: int = 3000) -> str:
    """The last n characters of a log file ("" if there is none yet)."""
    return path.read_text(errors="replace")[-n:] if path.exists() else ""


def spawn(cmd: list[str], log_path: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """A bench process in its own session (so stop_process can end its whole group), run from the
    repository root, output appended to ``log_path``."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            cmd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=REPO,
        )


def stop_process(proc: subprocess.Popen | None, grace: float = 30) -> None:
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


def wait_http(url: str, proc: subprocess.Popen, log: Path, what: str, timeout: float = 120) -> None:
    """Until ``url`` answers 200; a BenchError with the log's tail if the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"{what} exited early (code {proc.returncode}):\n{tail(log)}")
        try:
            r = httpx.get(url, timeout=3)
            if r.status_code == 200:
                return
            last = f"{r.status_code} {r.text[:200]}"
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.2)
    raise BenchError(f"{what}: {url} not 200 within {timeout:.0f}s (last: {last}):\n{tail(log)}")


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
            **self.extra_env,
        }
        args = ["serve", "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers)]
        self.proc = spawn([sys.executable, "-m", "ocrgw.cli", *args, "--log-level", "warning"], self.log_path, env)
        wait_http(self.url + "/health", self.proc, self.log_path, "ocrgw", timeout)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        stop_process(proc)


# -------------------------------------------------------------------------------------- dev images
# How many images of each group a set takes: evenly spaced over the manifest rows of that group, sorted
# by path, so the selection is fixed for a given dev set. A group is one or more manifest kinds ("page"
# covers the kinds page and multicol). ``documents`` is issue 16's mix: receipts, forms, a page, a
# multi-column page and text-line crops.
SETS = {
    "mixed": {"page": 3, "receipt": 6, "line": 8},
    "quick": {"page": 1, "receipt": 2, "line": 3},
    "documents": {"plain page": 1, "multicol": 1, "form": 5, "receipt": 5, "line": 6},
}
GROUPS = {
    "page": ("page", "multicol"),
    "plain page": ("page",),
    "multicol": ("multicol",),
    "form": ("form",),
    "receipt": ("receipt",),
    "line": ("line",),
}


@dataclass(frozen=True)
class Img:
    rel: str  # path relative to the dev-data folder
    kind: str
    path: Path
    size: int


def select_images(set_name: str) -> list[Img]:
    manifest = DEV_DATA / "manifest.jsonl"
    if not manifest.exists():
        raise BenchError(f"dev data not found: {manifest} (set OCRGW_SHARED_DIR)")
    rows = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
    chosen: list[Img] = []
    # Long images first (pages, forms, receipts, lines): every design then ends on short jobs, so the wall time
    # measures throughput rather than how one long page happens to straggle at the end.
    for group, count in SETS[set_name].items():
        pool = sorted((r for r in rows if r["kind"] in GROUPS[group]), key=lambda r: r["image"])
        if len(pool) < count:
            raise BenchError(f"dev data has {len(pool)} {group} images, the set wants {count}")
        for i in range(count):
            row = pool[(i * len(pool)) // count]
            path = DEV_DATA / row["image"]
            chosen.append(Img(row["image"], row["kind"], path, path.stat().st_size))
    return chosen


def warm_images(images: list[Img]) -> list[Img]:
    """The untimed warm-up's images: the last (a short line) and the first receipt."""
    return [images[-1], next(i for i in images if i.kind == "receipt")]


def describe_set(set_name: str, images: list[Img]) -> str:
    """'set=quick (6 images: 1 page, 2 receipt, 3 line)', for a bench's first line."""
    return f"set={set_name} ({len(images)} images: " + ", ".join(f"{n} {g}" for g, n in SETS[set_name].items()) + ")"


# ------------------------------------------------------------------------------------ HTTP clients
READ_ANALYZE = "/vision/v3.2/read/analyze"  # Azure Read v3.2, for the memory bench's big documents
# ocrgw's own API, which the throughput benches submit to: it takes the single-line images (36-53 px tall)
# that Azure's APIs refuse under their documented 50 px minimum.
JOBS = "/v1/jobs"
OCTET_STREAM = {"Content-Type": "application/octet-stream"}


def count_words(result: dict) -> int:
    """Words in a succeeded Read v3.2 result."""
    return sum(len(ln["words"]) for p in result["analyzeResult"]["readResults"] for ln in p["lines"])


def count_job_words(result: dict) -> int:
    """Words in a native API result (`GET /v1/jobs/{id}/result`)."""
    return sum(len(ln["words"]) for p in result["pages"] for ln in p["lines"])


class OcrgwClient:
    """Keeps C jobs in flight against one server: POSTs each image to the native API (`/v1/jobs`, the
    bytes as the body) and polls its Location (poll_min, growing x1.5 up to poll_max) until ``succeeded``,
    then fetches the result; a ``failed`` job or any unexpected status aborts the run. ``server`` needs
    ``.url`` (and ``.proc`` for ``cpu``); ``params`` go on every submit's query string (``mode=accurate``)."""

    def __init__(
        self, server: Any, concurrency: int, poll_min: float, poll_max: float, params: dict[str, str] | None = None
    ) -> None:
        self.server = server
        self.concurrency = concurrency
        self.poll_min = poll_min
        self.poll_max = poll_max
        self.params = params or {}

    def cpu(self) -> dict[int, float] | None:
        """The server process and its workers (not this client: its CPU is counted separately)."""
        return process_tree_cpu(self.server.proc.pid) if self.server.proc else None

    def run(self, images: list[Img]) -> tuple[float, list[float], list[dict]]:
        """(wall seconds, per-image latency in ms, per-image info: job id, polls, submit ms, bytes, words)."""
        data = [i.path.read_bytes() for i in images]  # read before the clock starts, like the file cache
        return asyncio.run(self._run(images, data))

    async def _run(self, images: list[Img], data: list[bytes]) -> tuple[float, list[float], list[dict]]:
        # Idle connections are dropped after 1 s, before the server's own keep-alive timeout (uvicorn: 5 s)
        # can close one just as a request goes out on it ("Server disconnected without sending a response").
        limits = httpx.Limits(
            max_connections=self.concurrency + 4, max_keepalive_connections=self.concurrency + 4, keepalive_expiry=1.0
        )
        async with httpx.AsyncClient(base_url=self.server.url, timeout=120, limits=limits) as client:
            sem = asyncio.Semaphore(self.concurrency)

            async def one(img: Img, body: bytes) -> tuple[float, dict]:
                async with sem:
                    return await self._one(client, img, body)

            t0 = time.perf_counter()
            out = await asyncio.gather(*(one(i, b) for i, b in zip(images, data, strict=True)))
            wall = time.perf_counter() - t0
        return wall, [ms for ms, _ in out], [info for _, info in out]

    async def _one(self, client: httpx.AsyncClient, img: Img, body: bytes) -> tuple[float, dict]:
        t0 = time.perf_counter()
        r = await client.post(JOBS, content=body, headers=OCTET_STREAM, params=self.params)
        if r.status_code != 202:
            raise BenchError(f"{img.rel}: submit answered {r.status_code}: {r.text[:300]}")
        location = r.headers["Location"]
        submit_ms = (time.perf_counter() - t0) * 1000
        delay, polls = self.poll_min, 0
        while True:
            await asyncio.sleep(delay)
            g = await client.get(location)
            polls += 1
            if g.status_code != 200:
                raise BenchError(f"{img.rel}: poll answered {g.status_code}: {g.text[:300]}")
            body_json = g.json()
            status = body_json["status"]
            if status == "succeeded":
                break
            if status == "failed":
                raise BenchError(f"{img.rel}: ocrgw job failed: {body_json.get('error')}")
            delay = min(delay * 1.5, self.poll_max)
        result = await client.get(body_json["links"]["result"])
        if result.status_code != 200:
            raise BenchError(f"{img.rel}: result answered {result.status_code}: {result.text[:300]}")
        ms = (time.perf_counter() - t0) * 1000
        return ms, {
            "job": location.rstrip("/").rsplit("/", 1)[-1],
            "polls": polls,
            "submit_ms": submit_ms,
            "bytes": len(result.content),
            "words": count_job_words(result.json()),
        }


# ---------------------------------------------------------------------------- the jobs' own clocks
def parse_ts(value: Any) -> datetime | None:
    """A stored timestamp (SQLite's text or PostgreSQL's datetime) as an aware datetime; naive is UTC."""
    if value is None or value == "":
        return None
    d = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return d if d.tzinfo else d.replace(tzinfo=UTC)


def job_rows(con: Any, mark: str, job_ids: list[str]) -> list[tuple]:
    """(id, created, started, finished, engine_ms) per job, from either database (``mark`` is its
    placeholder: "?" for sqlite3, "%s" for psycopg)."""
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


def sqlite_job_rows(db_path: Path, job_ids: list[str]) -> list[tuple]:
    """job_rows from an embedded server's SQLite database, opened read-only."""
    if not job_ids:
        return []
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
    try:
        return job_rows(con, "?", job_ids)
    finally:
        con.close()


def job_durations(rows: list[tuple]) -> tuple[dict[str, float], list[float], list[float], list[float]]:
    """From job_rows, the finished jobs' worker ms by id, and in row order their queue ms
    (created -> started), worker ms (started -> finished) and engine ms."""
    per_job: dict[str, float] = {}
    queue: list[float] = []
    worker: list[float] = []
    engine: list[float] = []
    for jid, created, started, finished, eng in rows:
        c, s, f = parse_ts(created), parse_ts(started), parse_ts(finished)
        if not (c and s and f):
            continue
        queue.append((s - c).total_seconds() * 1000)
        worker.append((f - s).total_seconds() * 1000)
        engine.append(eng)
        per_job[jid] = worker[-1]
    return per_job, queue, worker, engine


# --------------------------------------------------------------------------------------- drivers
@dataclass
class TimedRound:
    """One design's timed pass over the image list; each driver adds what it measures besides."""

    design: str
    round: int
    images: int
    wall_s: float
    img_per_s: float
    latency_ms: list[float] = field(default_factory=list)  # per image, in list order


def median(xs: list[float]) -> float:
    """The median, NaN for no values (a design without rounds reports NaN, not an error)."""
    return statistics.median(xs) if xs else float("nan")


def rotated(designs: list[str], r: int) -> list[str]:
    """Round r's order: the designs rotated by r, so no design always goes first."""
    return designs[r % len(designs) :] + designs[: r % len(designs)]


def run_meta(images: list[Img]) -> dict:
    """What a result file records about the machine and the images, after the bench's own settings."""
    return {
        "cores": os.cpu_count(),
        "load_at_start": load_average(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "images": [{"image": i.rel, "kind": i.kind, "bytes": i.size} for i in images],
    }


def add_client_args(p: argparse.ArgumentParser, default_set: str = "mixed") -> None:
    """The image set and the client's poll timing, as throughput.py and scaleout.py take them."""
    p.add_argument("--set", choices=sorted(SETS), default=default_set, help=f"image set ({default_set})")
    p.add_argument("--poll-min", type=float, default=0.05, help="first poll delay, seconds (0.05)")
    p.add_argument("--poll-max", type=float, default=0.25, help="poll delay cap, seconds (0.25)")


def drive(
    bench: Callable[[], dict],
    report: Callable[[dict], None],
    json_out: Path | str | None,
    *,
    failed: str = "bench failed",
    interrupted: str = "interrupted",
) -> int:
    """Run a bench, print its report and write its results as JSON; the exit code: 0, 1 on a
    BenchError, 130 on Ctrl-C (the bench has cleaned up by then)."""
    try:
        res = bench()
    except BenchError as exc:
        print(f"{failed}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(interrupted, file=sys.stderr)
        return 130
    report(res)
    if json_out:
        Path(json_out).write_text(json.dumps(res, indent=2, default=str))
        print(f"\nresults written to {json_out}")
    return 0
