"""Scale-out benchmark: images per second through ocrgw's HTTP submit-and-poll path on the scale-out
deployment (PostgreSQL + Celery over Redis) next to the embedded default (SQLite + local worker
processes), each with 1 and 2 worker processes, on the same cores and the same image list, in one run:

* ``embedded-N`` - a real ``ocrgw serve --workers N`` (bench/_common.py's ``OcrgwServer``: SQLite in a
  temporary data dir, auth off).
* ``scaleout-N`` - a fresh PostgreSQL database (``CREATE DATABASE`` on 127.0.0.1:5432 as ``postgres``,
  dropped at the end), ``ocrgw migrate``, ``ocrgw api`` and ``ocrgw worker --concurrency N`` (a Celery
  prefork worker), with ``OCRGW_QUEUE=celery``, ``OCRGW_BLOB_STORE=database`` and the broker on a Redis
  server this bench starts on a free loopback port (``--save '' --appendonly no``; scaleout-1 uses its
  db 0, scaleout-2 db 1, so the two stacks never see each other's messages). A stack counts as ready
  when ``GET /ready`` is 200 and the Celery worker answers a broadcast ``ping``.

All four stacks run side by side for the whole run. Each is warmed up (the same images twice, untimed)
and then left until its processes are idle; the idle CPU of all stacks together is measured once, so
background polling would show. Then ``--repeat`` rounds: in each, every design gets the whole image
list (rounds interleaved, the order rotated each round). The client (bench/_common.py's
``OcrgwClient``) keeps C jobs in flight (default 6), POSTs each image to the native ``/v1/jobs`` (which
takes single text lines under Azure's 50 px minimum), polls its ``Location`` (0.05 s growing x1.5 up
to 0.25 s) until ``succeeded`` and fetches the result; a ``failed`` job aborts the run. Throughput =
images / wall time from the first submit to the last result; the median over the rounds is reported with
ratios scale-out/embedded at equal workers and 2 workers / 1 worker within each deployment.

CPU s/img: user+system CPU of the design's own processes (API + workers, read from /proc) per image; for
scale-out also the PostgreSQL backends serving its database (found in pg_stat_activity) and the Redis
server, since the embedded design does its SQL in-process. After the rounds the jobs' own timestamps
give a server-side split (queued, in the worker, engine) and how busy the workers were. The stacks
themselves are in bench/_stacks.py.

Images: bench/_common.py's ``select_images`` (``mixed`` = 3 pages + 6 receipts + 8 lines, ``quick`` =
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
import os
import signal
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from _common import (
    BenchError,
    Img,
    OcrgwClient,
    TimedRound,
    add_client_args,
    describe_set,
    drive,
    job_durations,
    load_average,
    median,
    rotated,
    run_meta,
    select_images,
    warm_images,
)
from _stacks import EmbeddedStack, Redis, ScaleoutStack

WORKER_COUNTS = (1, 2)
PG_STATS_FLUSH_S = 11.0  # PostgreSQL >= 15 flushes an idle backend's statistics within 10 s
DESIGNS = tuple(f"{kind}-{n}" for kind in ("embedded", "scaleout") for n in WORKER_COUNTS)
LABELS = {
    "embedded-1": "embedded (SQLite, local workers), 1 worker",
    "embedded-2": "embedded (SQLite, local workers), 2 workers",
    "scaleout-1": "scale-out (PostgreSQL+Celery), 1 worker",
    "scaleout-2": "scale-out (PostgreSQL+Celery), 2 workers",
}


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
class Round(TimedRound):
    cpu_s: dict = field(default_factory=dict)
    client_cpu_s: float = 0.0
    jobs: list[str] = field(default_factory=list)
    polls: int = 0
    load_before: list[float] | None = None


# ------------------------------------------------------------------------------------------- driver
def run_bench(args: argparse.Namespace) -> dict:
    images: list[Img] = select_images(args.set)
    designs = list(DESIGNS)
    print(
        f"ocrgw scale-out bench: {describe_set(args.set, images)}, designs {', '.join(designs)}, "
        f"repeat={args.repeat}, cores={os.cpu_count()}, in-flight={args.concurrency}, "
        f"poll {args.poll_min:g}..{args.poll_max:g}s, load {load_average()}",
        flush=True,
    )
    meta: dict = {
        "set": args.set,
        "repeat": args.repeat,
        "concurrency": args.concurrency,
        "poll_min_s": args.poll_min,
        "poll_max_s": args.poll_max,
        **run_meta(images),
    }
    stacks: dict = {}
    redis: Redis | None = None
    tmp = tempfile.TemporaryDirectory(prefix="ocrgw-scaleout-")
    failure: BaseException | None = None
    try:
        redis = Redis(Path(tmp.name))
        redis.start()
        print(f"  redis-server on 127.0.0.1:{redis.port}", flush=True)
        _start_stacks(designs, Path(tmp.name), redis, stacks)
        clients = {n: OcrgwClient(s, args.concurrency, args.poll_min, args.poll_max) for n, s in stacks.items()}
        db0 = _warm_and_idle(designs, stacks, clients, warm_images(images) * 2, args.idle_seconds, meta)
        rounds = _timed_rounds(designs, stacks, clients, images, args.repeat)
        breakdown = _after_rounds(designs, stacks, rounds, db0, args.repeat * len(images), meta)
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

    summary = _summary(designs, rounds, meta)
    return {
        "meta": meta,
        "summary": summary,
        "ratios": _ratios(summary),
        "server_split": breakdown,
        "rounds": [asdict(x) for x in rounds],
    }


def _start_stacks(designs: list[str], tmp: Path, redis: Redis, stacks: dict) -> None:
    """Each design's stack into ``stacks`` as it is created (so a failure part-way still cleans it up)."""
    for name in designs:
        kind, n = name.split("-")
        t0 = time.perf_counter()
        if kind == "embedded":
            stacks[name] = EmbeddedStack(int(n), tmp)
        else:
            stacks[name] = ScaleoutStack(int(n), tmp, redis, broker_db=int(n) - 1)
        stacks[name].start()
        extra = f", database {stacks[name].db}" if kind == "scaleout" else ""
        print(f"  {name} up on {stacks[name].url} in {time.perf_counter() - t0:.1f}s{extra}", flush=True)


def _warm_and_idle(
    designs: list[str], stacks: dict, clients: dict, warm: list[Img], idle_seconds: float, meta: dict
) -> dict:
    """Warm every stack up, wait until all are idle, measure their idle CPU into ``meta``; returns
    PostgreSQL's counters per stack as they stand before the rounds."""
    for name in designs:
        t0 = time.perf_counter()
        clients[name].run(warm)
        print(f"  warmed up {name} ({time.perf_counter() - t0:.1f}s, {len(warm)} jobs)", flush=True)
    warmed_at = time.monotonic()
    waited = _wait_idle(list(stacks.values()))
    idle0, t_idle = {n: s.cpu() for n, s in stacks.items()}, time.perf_counter()
    time.sleep(idle_seconds)
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
    return db0


def _timed_rounds(designs: list[str], stacks: dict, clients: dict, images: list[Img], repeat: int) -> list[Round]:
    """``repeat`` rounds of every design over all images, the order rotated each round."""
    rounds: list[Round] = []
    for r in range(repeat):
        for name in rotated(designs, r):
            load = load_average()
            c0, own0 = stacks[name].cpu(), time.process_time()
            wall, lat, info = clients[name].run(images)
            cpu = _cpu_delta(c0, stacks[name].cpu())
            client_cpu = time.process_time() - own0
            jobs, polls = [x["job"] for x in info], sum(x["polls"] for x in info)
            rnd = Round(name, r + 1, len(images), wall, len(images) / wall, lat, cpu, client_cpu, jobs, polls, load)
            rounds.append(rnd)
            words = sum(x["words"] for x in info)
            print(
                f"  round {r + 1}/{repeat} {name:10}: {rnd.img_per_s:5.2f} img/s ({wall:5.2f}s, "
                f"{words} words, {sum(cpu.values()) / len(images):.3f} CPU s/img; "
                f"load avg before {load and load[0]})",
                flush=True,
            )
    return rounds


def _after_rounds(designs: list[str], stacks: dict, rounds: list[Round], db0: dict, n_timed: int, meta: dict) -> dict:
    """PostgreSQL's counters per image and the logs' problems into ``meta``; the server-side split per
    design from each deployment's own database."""
    if any(db0.values()):
        time.sleep(PG_STATS_FLUSH_S)
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
    return breakdown


def _summary(designs: list[str], rounds: list[Round], meta: dict) -> dict:
    summary: dict = {}
    for name in designs:
        rs = [x for x in rounds if x.design == name]
        n_img = rs[0].images
        parts = sorted({k for x in rs for k in x.cpu_s})
        summary[name] = {
            "workers": int(name.split("-")[1]),
            "img_per_s": median([x.img_per_s for x in rs]),
            "img_per_s_min": min(x.img_per_s for x in rs),
            "img_per_s_max": max(x.img_per_s for x in rs),
            "latency_ms_median": median([ms for x in rs for ms in x.latency_ms]),
            "cpu_s_per_img": median([sum(x.cpu_s.values()) / n_img for x in rs]),
            "cpu_s_per_img_parts": {k: median([x.cpu_s.get(k, 0.0) / n_img for x in rs]) for k in parts},
            "client_cpu_s_per_img": median([x.client_cpu_s / n_img for x in rs]),
            "polls_per_img": median([x.polls / n_img for x in rs]),
            "db_per_img": meta["db_per_img"].get(name, {}),
        }
    return summary


def _ratios(summary: dict) -> dict:
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
    return ratios


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
    per_job, queue, worker, engine = job_durations(rows)
    if not worker:
        return {"jobs": 0}
    return {
        "jobs": len(worker),
        "queue_ms_median": median(queue),
        "worker_ms_median": median(worker),
        "worker_ms_sum": sum(worker),
        "engine_ms_sum": sum(engine),
        "outside_engine_ms_median": median([w - e for w, e in zip(worker, engine, strict=True)]),
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
        f"flight, {meta['cores']} cores; latency = submit -> result fetched, incl. queue wait)"
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
    add_client_args(p)
    p.add_argument("--concurrency", type=int, default=6, help="jobs in flight per design (6)")
    p.add_argument("--idle-seconds", type=float, default=5.0, help="idle CPU measurement before the rounds (5)")
    p.add_argument("--json", metavar="OUT", help="also write the results as JSON to OUT")
    args = p.parse_args(argv)
    if args.repeat < 1 or args.concurrency < 1:
        p.error("--repeat and --concurrency must be >= 1")

    def _terminate(signum, _frame):  # SIGTERM/SIGHUP clean up like Ctrl-C
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    return drive(lambda: run_bench(args), print_report, args.json, interrupted="interrupted; cleaned up")


if __name__ == "__main__":
    sys.exit(main())
