"""Usage metering against the server's own access log (issue 18 item 4's goal: 1,000 mixed calls, exact).

Starts `ocrgw serve` (auth on, JSON access log at info) with two ordinary keys and an admin key, sends a
seeded mix of calls from a few threads: Azure Read and native submits (202), OCR.space and Huawei sync
calls, bad requests (400), sync jobs that fail (Huawei: an error status; OCR.space: 200 with its error),
polls of earlier operations and forbidden usage reads. Once every job has ended it compares the usage
records (`ocrgw usage --format json`) with (1) the access log's 2xx answers on the submit routes, per
service, and (2) what the client saw, per key and service: 2xx submits, and the pages of every job that
succeeded (each accepted operation read once more at the end, outside the mix). Prints both and exits 1
on any difference.

With ``--deploy scaleout`` the same runs against PostgreSQL, a Celery worker and two ``ocrgw api``
processes (calls alternate between them), so usage rows are upserted by two processes and the workers at
once.

    .venv/bin/python bench/usage.py --calls 1000     # ~1 min on 2 busy cores
    .venv/bin/python bench/usage.py --calls 1000 --deploy scaleout
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from _common import REPO, free_port, spawn, stop_process, wait_http
from _stacks import PG_URL, Redis, ScaleoutStack, _pg_admin

LINE = (REPO / "tests/data/line/uw3_0768_010009.png").read_bytes()
_FIG = (REPO / "tests/data/page/figures_report.png").read_bytes()
BROKEN = _FIG[: len(_FIG) // 3]  # whole headers, pixels cut short: stored, then failed by the worker
# Billable submit routes (as the access log names them) -> the service they bill.
SUBMITS = {
    ("POST", "/vision/v3.2/read/analyze"): "azure-read",
    ("POST", "/v1/jobs"): "native",
    ("POST", "/parse/image"): "ocrspace",
    ("POST", "/v2/{project_id}/ocr/general-text"): "huawei-general-text",
}
MIX = {  # kind -> weight
    "azure": 20,
    "azure_bad": 6,
    "native": 15,
    "native_bad": 5,
    "ocrspace": 8,
    "ocrspace_fail": 2,
    "huawei": 8,
    "huawei_fail": 4,
    "poll": 27,
    "forbidden": 5,
}


class Run:
    def __init__(self, urls: list[str], keys: dict[str, str], admin: str) -> None:
        self.urls, self.keys, self.admin = urls, keys, admin
        self.sent = 0
        self.client = httpx.Client(timeout=120)
        self.operations: list[tuple[str, str, str, str]] = []  # (key name, service, poll URL, header name)
        self.calls: Counter = Counter()  # (key name, service) -> 2xx submits
        self.statuses: Counter = Counter()

    def one(self, kind: str, who: str) -> None:
        key = self.keys[who]
        r, service = self._send(kind, key)
        self.statuses[(kind, r.status_code)] += 1
        if service and 200 <= r.status_code < 300:
            self.calls[(who, service)] += 1
            if kind == "azure":
                self.operations.append((who, service, r.headers["Operation-Location"], "Ocp-Apim-Subscription-Key"))
            elif kind == "native":
                self.operations.append((who, service, r.json()["links"]["self"], "X-API-Key"))

    def _send(self, kind: str, key: str) -> tuple[httpx.Response, str | None]:
        self.sent += 1
        c, url = self.client, self.urls[self.sent % len(self.urls)]
        if kind in ("azure", "azure_bad"):
            body = LINE if kind == "azure" else b"not an image" * 20
            h = {"Ocp-Apim-Subscription-Key": key, "Content-Type": "application/octet-stream"}
            return c.post(f"{url}/vision/v3.2/read/analyze", content=body, headers=h), "azure-read"
        if kind in ("native", "native_bad"):
            data = {"languages": "xx-nope"} if kind == "native_bad" else {}
            r = c.post(f"{url}/v1/jobs", headers={"X-API-Key": key}, files={"file": ("a.png", LINE)}, data=data)
            return r, "native"
        if kind.startswith("ocrspace"):
            body = LINE if kind == "ocrspace" else BROKEN
            return c.post(f"{url}/parse/image", files={"file": ("a.png", body)}, headers={"apikey": key}), "ocrspace"
        if kind.startswith("huawei"):
            body = {"image": base64.b64encode(LINE if kind == "huawei" else BROKEN).decode()}
            r = c.post(f"{url}/v2/p1/ocr/general-text", json=body, headers={"X-Auth-Token": key})
            return r, "huawei-general-text"
        if kind == "poll" and self.operations:
            _, _, loc, header = random.choice(self.operations)
            return c.get(loc, headers={header: key}), None  # another key's poll is a 404: free either way
        if kind == "poll":
            return c.get(f"{url}/v1/jobs/{uuid.uuid4()}", headers={"X-API-Key": key}), None
        return c.get(f"{url}/v1/usage", headers={"X-API-Key": key}), None  # 403

    def pages(self) -> Counter:
        """Pages of the accepted operations that succeeded, read once more now that all have ended; sync
        calls that succeeded read their one page each."""
        pages: Counter = Counter()
        for who, service, loc, header in self.operations:
            body = self.client.get(loc, headers={header: self.keys[who]}).json()
            if body["status"] == "succeeded":
                pages[(who, service)] += len(body["analyzeResult"]["readResults"]) if "analyzeResult" in body else 1
        for (kind, status), n in self.statuses.items():
            if kind in ("ocrspace", "huawei") and status == 200:
                pages[("?", "ocrspace" if kind == "ocrspace" else "huawei-general-text")] += n
        return pages


def _cli(env: dict[str, str], *args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "ocrgw.cli", *args], env=env, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"ocrgw {' '.join(args)} failed:\n{out.stderr[-3000:]}")
    return out.stdout


def _log_calls(log: Path) -> Counter:
    """2xx answers on billable submit routes in the server's JSON access log, per service."""
    out: Counter = Counter()
    for line in log.read_text(errors="replace").splitlines():
        if not line.startswith("{"):
            continue
        rec = json.loads(line)
        if rec.get("logger") == "ocrgw.access" and 200 <= rec["status"] < 300:
            service = SUBMITS.get((rec["method"], rec["route"]))
            if service:
                out[service] += 1
    return out


class Embedded:
    """`ocrgw serve` (SQLite, local workers), auth on, JSON access log at info."""

    def __init__(self, data: Path, workers: int) -> None:
        self.data, self.workers = data, workers
        self.env = {**os.environ, "OCRGW_DATA_DIR": str(data), "OCRGW_LOG_FORMAT": "json"}
        self.logs = [data / "server.log"]
        self.proc: subprocess.Popen | None = None
        self.urls: list[str] = []

    def prepare(self) -> None:
        """Nothing: the CLI creates the SQLite database as it makes the keys."""

    def start(self) -> None:
        port = free_port()
        args = ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(self.workers)]
        self.proc = spawn([sys.executable, "-m", "ocrgw.cli", *args, "--log-level", "info"], self.logs[0], self.env)
        self.urls = [f"http://127.0.0.1:{port}"]
        wait_http(self.urls[0] + "/health", self.proc, self.logs[0], "ocrgw")

    def active_jobs(self) -> int:
        with sqlite3.connect(self.data / "ocrgw.db") as con:
            return con.execute("select count(*) from jobs where status in ('queued', 'running')").fetchone()[0]

    def stop(self) -> None:
        stop_process(self.proc)


class Scaleout:
    """A fresh PostgreSQL database, a private Redis, a Celery worker and two `ocrgw api` processes."""

    def __init__(self, data: Path, workers: int) -> None:
        self.redis = Redis(data)
        self.stack = ScaleoutStack(workers, data, self.redis, 0)
        self.stack.env.update({"OCRGW_AUTH": "key", "OCRGW_LOG_FORMAT": "json"})
        self.env = self.stack.env
        self.apis: list[subprocess.Popen] = []
        self.logs: list[Path] = []
        self.urls: list[str] = []

    def prepare(self) -> None:
        """Redis and an empty database, which the CLI migrates as it makes the keys."""
        self.redis.start()
        with _pg_admin() as con:
            con.execute(f'CREATE DATABASE "{self.stack.db}"')
        self.stack.db_created = True

    def start(self) -> None:
        for i in range(2):
            port = free_port()
            self.urls.append(f"http://127.0.0.1:{port}")
            self.logs.append(self.stack.data_dir / f"api-{i}.log")
            args = ["api", "--host", "127.0.0.1", "--port", str(port), "--log-level", "info"]
            self.apis.append(self.stack._spawn(args, f"api-{i}.log"))
        self.stack.worker = self.stack._spawn(["worker", "--concurrency", str(self.stack.workers)], "worker.log")
        for url, proc, log in zip(self.urls, self.apis, self.logs, strict=True):
            wait_http(url + "/ready", proc, log, "ocrgw api")
        self.stack._wait_worker(120)

    def active_jobs(self) -> int:
        import psycopg

        with psycopg.connect(PG_URL.format(db=self.stack.db)) as con:
            row = con.execute("select count(*) from jobs where status in ('queued', 'running')").fetchone()
            return row[0] if row else 0

    def stop(self) -> None:
        for proc in self.apis:
            stop_process(proc)
        self.stack.stop()
        self.stack.drop_db()
        self.redis.stop()


def _wait_jobs(deploy: Embedded | Scaleout, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while deploy.active_jobs():
        if time.monotonic() > deadline:
            raise SystemExit("jobs did not end in time")
        time.sleep(0.2)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=6)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=18)
    ap.add_argument("--deploy", choices=("embedded", "scaleout"), default="embedded")
    a = ap.parse_args()
    random.seed(a.seed)
    data = Path(tempfile.mkdtemp(prefix="ocrgw-usage-"))
    deploy = Embedded(data, a.workers) if a.deploy == "embedded" else Scaleout(data, a.workers)
    try:
        deploy.prepare()
        keys = {who: _cli(deploy.env, "keys", "create", "--name", who, "-q").strip() for who in ("alice", "bob")}
        admin = _cli(deploy.env, "keys", "create", "--name", "ops", "--admin", "-q").strip()
        deploy.start()
        run = Run(deploy.urls, keys, admin)
        plan = random.choices(list(MIX), weights=list(MIX.values()), k=a.calls)
        who = random.choices(list(keys), k=a.calls)
        started = time.monotonic()
        with ThreadPoolExecutor(a.concurrency) as pool:
            list(pool.map(run.one, plan, who))
        sent = time.monotonic() - started
        _wait_jobs(deploy)
        pages = run.pages()
        logged = sum((_log_calls(log) for log in deploy.logs), Counter())
        return _report(a, deploy.env, run, pages, logged, sent)
    finally:
        deploy.stop()
        shutil.rmtree(data, ignore_errors=True)


def _report(a: argparse.Namespace, env: dict[str, str], run: Run, pages: Counter, logged: Counter, sent: float) -> int:
    rows = json.loads(_cli(env, "usage", "--format", "json"))["items"]
    billed_calls: Counter = Counter()
    billed_pages: Counter = Counter()
    by_service: Counter = Counter()
    for r in rows:
        billed_calls[(r["key_name"], r["service"])] += r["calls"]
        billed_pages[r["service"]] += r["pages"]
        by_service[r["service"]] += r["calls"]
    client_pages: Counter = Counter()
    for (_, service), n in pages.items():
        client_pages[service] += n
    statuses = Counter()
    for (_, status), n in run.statuses.items():
        statuses[status] += n
    print(f"{a.calls} calls in {sent:.1f} s ({a.concurrency} threads, {a.workers} workers); answers: {dict(statuses)}")
    print(f"{'service':22} {'log 2xx':>8} {'billed':>8} {'client pages':>13} {'billed pages':>13}")
    services = sorted(set(logged) | set(by_service) | set(client_pages))
    for s in services:
        print(f"{s:22} {logged[s]:>8} {by_service[s]:>8} {client_pages[s]:>13} {billed_pages[s]:>13}")
    exact = (+logged == +by_service) and (+billed_calls == +run.calls) and (+client_pages == +billed_pages)
    print(f"per key and service, billed calls == client's 2xx submits: {+billed_calls == +run.calls}")
    print(f"usage == server log (calls) and client (pages): {'EXACT' if exact else 'DIFFERENT'}")
    return 0 if exact else 1


if __name__ == "__main__":
    sys.exit(main())
