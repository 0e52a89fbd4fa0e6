"""Per-key limits across API processes (issue 18's goal: a rate limit across 2 API processes held within
5 %), and what a limit costs a submit.

Starts PostgreSQL-backed scale-out APIs (``ocrgw api``, two by default, no Celery worker: jobs stay
queued, so the concurrency and quota figures are not muddied by jobs ending) or the embedded server
(``--deploy embedded``: one process on SQLite, its worker paused with SIGSTOP as bench/submit.py does),
makes keys and sets their limits with the CLI (``ocrgw keys create``, ``ocrgw keys limit``), then, through
the HTTP API:

1. rate: ``--threads`` clients send native submits of a one-line image for ``--seconds``, alternating
   between the APIs, as fast as answers come, with a key limited to ``--rate`` a second and a burst of
   ``--burst``. The limit allows ``burst + rate x elapsed`` calls (elapsed from the first call sent to
   the last answer); the run prints accepted / allowed (goal: within 5 %) and the 429s' Retry-After;
2. concurrency: ``--burst-submits`` submits at once (split over the APIs) with ``concurrent_jobs`` 5:
   exactly 5 accepted;
3. quota: the same with a page quota of 7 one-page documents: exactly 7;
4. cost: median submit latency, one client at a time, of a key with no limits against keys with a rate
   limit that never refuses and with a concurrency limit that never refuses, side by side in rounds.

    .venv/bin/python bench/limits.py                     # scale-out, 2 APIs (~1 min)
    .venv/bin/python bench/limits.py --deploy embedded
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from _common import REPO, child_pids, free_port, spawn, stop_process, wait_http
from _stacks import Redis, ScaleoutStack, _pg_admin

LINE = (REPO / "tests/data/line/uw3_0768_010009.png").read_bytes()


def _cli(env: dict[str, str], *args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "ocrgw.cli", *args], env=env, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"ocrgw {' '.join(args)} failed:\n{out.stderr[-3000:]}")
    return out.stdout


class Deploy:
    """The APIs under test and a way to write the database they share."""

    def __init__(self, kind: str, apis: int, data: Path) -> None:
        self.kind, self.data = kind, data
        self.procs: list[subprocess.Popen] = []
        self.urls: list[str] = []
        if kind == "scaleout":
            self.redis: Redis | None = Redis(data)
            self.stack: ScaleoutStack | None = ScaleoutStack(1, data, self.redis, 0)
            self.env = {**self.stack.env, "OCRGW_AUTH": "key"}
            self.apis = apis
        else:
            self.redis, self.stack = None, None
            self.env = {**os.environ, "OCRGW_DATA_DIR": str(data), "OCRGW_AUTH": "key"}
            self.apis = 1

    def start(self) -> None:
        if self.stack is not None and self.redis is not None:
            self.redis.start()
            with _pg_admin() as con:
                con.execute(f'CREATE DATABASE "{self.stack.db}"')
            self.stack.db_created = True
        _cli(self.env, "migrate")
        for i in range(self.apis):
            port = free_port()
            host = ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
            cmd = ["api", *host] if self.stack else ["serve", *host, "--workers", "1"]
            self.procs.append(spawn([sys.executable, "-m", "ocrgw.cli", *cmd], self.data / f"api-{i}.log", self.env))
            self.urls.append(f"http://127.0.0.1:{port}")
        for i, (url, proc) in enumerate(zip(self.urls, self.procs, strict=True)):
            wait_http(url + ("/ready" if self.stack else "/health"), proc, self.data / f"api-{i}.log", "ocrgw")

    def key(self, name: str, *limit_args: str) -> str:
        """A new key, limited with ``ocrgw keys limit NAME ARGS`` as an operator would."""
        secret = _cli(self.env, "keys", "create", "--name", name, "-q").strip()
        if limit_args:
            _cli(self.env, "keys", "limit", name, *limit_args)
        return secret

    def pause(self) -> None:
        """Embedded: stop the local worker process, so that jobs stay queued as in scale-out (no worker)."""
        if self.stack is None:
            for pid in child_pids(self.procs[0].pid):
                os.kill(pid, signal.SIGSTOP)

    def stop(self) -> None:
        if self.stack is None and self.procs:
            for pid in child_pids(self.procs[0].pid):
                os.kill(pid, signal.SIGCONT)
        for proc in self.procs:
            stop_process(proc)
        if self.stack is not None and self.redis is not None:
            self.stack.stop()
            self.stack.drop_db()
            self.redis.stop()


def submit(client: httpx.Client, url: str, key: str) -> httpx.Response:
    return client.post(f"{url}/v1/jobs", headers={"X-API-Key": key}, files={"file": ("a.png", LINE)})


def rate_run(d: Deploy, key: str, rate: int, burst: int, seconds: float, threads: int) -> dict:
    statuses: Counter = Counter()
    retry_after: Counter = Counter()
    lock = threading.Lock()
    sent = [0]
    first: list[float] = []
    last = [0.0]
    stop_at = time.monotonic() + seconds

    def client_loop() -> None:
        with httpx.Client(timeout=60) as c:
            while time.monotonic() < stop_at:
                with lock:
                    sent[0] += 1
                    url = d.urls[sent[0] % len(d.urls)]
                    if not first:
                        first.append(time.monotonic())
                r = submit(c, url, key)
                with lock:
                    statuses[(url, r.status_code)] += 1
                    if r.status_code == 429:
                        retry_after[r.headers.get("retry-after")] += 1
                    last[0] = max(last[0], time.monotonic())

    with ThreadPoolExecutor(threads) as pool:
        for f in [pool.submit(client_loop) for _ in range(threads)]:
            f.result()
    elapsed = last[0] - first[0]
    accepted = sum(n for (_, s), n in statuses.items() if s == 202)
    allowed = burst + rate * elapsed
    per_api = {url: statuses[(url, 202)] for url in d.urls}
    return {
        "accepted": accepted,
        "allowed": allowed,
        "ratio": accepted / allowed,
        "elapsed": elapsed,
        "sent": sent[0],
        "refused": sum(n for (_, s), n in statuses.items() if s == 429),
        "other": {s: n for (_, s), n in statuses.items() if s not in (202, 429)},
        "per_api": per_api,
        "retry_after": dict(retry_after),
    }


def at_once(d: Deploy, key: str, n: int) -> Counter:
    """``n`` submits released together, split over the APIs."""
    barrier = threading.Barrier(n)
    out: Counter = Counter()
    lock = threading.Lock()

    def one(i: int) -> None:
        with httpx.Client(timeout=60) as c:
            barrier.wait()
            r = submit(c, d.urls[i % len(d.urls)], key)
        with lock:
            out[r.status_code] += 1

    with ThreadPoolExecutor(n) as pool:
        for f in [pool.submit(one, i) for i in range(n)]:
            f.result()
    return out


def cost(d: Deploy, keys: dict[str, str], rounds: int, per_round: int) -> dict[str, float]:
    """Median submit latency per key, one request at a time, keys interleaved round by round."""
    times: dict[str, list[float]] = {name: [] for name in keys}
    with httpx.Client(timeout=60) as c:
        for _ in range(rounds):
            for name, key in keys.items():
                for i in range(per_round):
                    t = time.perf_counter()
                    r = submit(c, d.urls[i % len(d.urls)], key)
                    times[name].append(time.perf_counter() - t)
                    if r.status_code != 202:
                        raise SystemExit(f"{name}: {r.status_code} {r.text[:200]}")
    return {name: statistics.median(ts) * 1000 for name, ts in times.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--deploy", choices=("scaleout", "embedded"), default="scaleout")
    ap.add_argument("--apis", type=int, default=2)
    ap.add_argument("--rate", type=int, default=20)
    ap.add_argument("--burst", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--threads", type=int, default=12)
    ap.add_argument("--burst-submits", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    d = Deploy(a.deploy, a.apis, Path(tempfile.mkdtemp(prefix="ocrgw-limits-")))
    try:
        d.start()
        d.pause()
        rated = d.key("rated", "--rate", f"{a.rate}/1", "--burst", str(a.burst))
        r = rate_run(d, rated, a.rate, a.burst, a.seconds, a.threads)
        print(f"deploy {a.deploy}, {len(d.urls)} API process(es)")
        print(
            f"rate {a.rate}/s burst {a.burst}: accepted {r['accepted']} of {r['sent']} sent in {r['elapsed']:.2f} s; "
            f"allowed {r['allowed']:.1f}; ratio {r['ratio']:.3f} ({(r['ratio'] - 1) * 100:+.1f} %); "
            f"per API {list(r['per_api'].values())}; 429s {r['refused']} Retry-After {r['retry_after']}; "
            f"other {r['other']}"
        )
        conc = d.key("conc", "--concurrent", "5")
        print(f"concurrent_jobs 5, {a.burst_submits} submits at once: {dict(at_once(d, conc, a.burst_submits))}")
        quota = d.key("quota", "--pages", "7/month")
        print(f"pages_quota 7, {a.burst_submits} one-page submits at once: {dict(at_once(d, quota, a.burst_submits))}")
        keys = {
            "no limits": d.key("plain"),
            "rate (never refused)": d.key("fast", "--rate", "100000/1", "--burst", "100000"),
            "concurrency (never refused)": d.key("wide", "--concurrent", "100000"),
        }
        ms = cost(d, keys, a.rounds, 20)
        base = ms["no limits"]
        print("submit median, one client: " + "; ".join(f"{k} {v:.1f} ms ({v / base:.2f}x)" for k, v in ms.items()))
    finally:
        d.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
