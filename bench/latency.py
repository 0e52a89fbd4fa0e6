"""Synchronous latency benchmark (issue 16 item 5): how long one small image takes through a synchronous
API, next to the engine's own time for the same image, so the overhead (dispatch, the waiting request
learning that the job ended, the result read and rendered) is a figure of its own.

Routes: OCR.space ``POST /parse/image`` (multipart, the file part) and Azure Image Analysis 4.0
``POST /computervision/imageanalysis:analyze?features=read`` (raw bytes). Image: one text line of the
shared dev set (default ``line/uw3_0768_010009.png``, 1051 x 53 px, 50 px being Image Analysis's minimum
side), or ``--image`` (a path relative to the dev set, or any file).

Deployments (``--deploy``): ``embedded`` (``ocrgw serve --workers W``: SQLite, the in-process dispatcher
and local worker processes) and ``scaleout`` (a fresh PostgreSQL database at 127.0.0.1:5432, ``ocrgw api``
and ``ocrgw worker --concurrency W`` over a private Redis), started as bench/scaleout.py starts them
(_stacks.py). With ``--compare SRC`` every deployment is started twice, once from this checkout and once
from the ``src`` folder SRC (e.g. ``/work/main/src``) by PYTHONPATH, so a change is measured against its
base side by side in one run; ``--variant K=V[,K=V]`` starts each deployment once more from this
checkout with those settings (e.g. ``OCRGW_WORKER_SYNCHRONOUS_COMMIT=true``).

Requests are sequential (one at a time, the latency a lone caller sees); ``--concurrency 1,2`` adds
rounds of 2 requests at once. Rounds interleave the designs and routes (the order rotated each round).
Each design is warmed first (untimed). Per design and route the report gives the client's median and
p90 latency, and the same requests' own figures from SQL: the pages' ``engine_ms`` (recognition and
result walk inside the worker), the worker's time (claim -> finished), the queue time (created ->
claimed). ``overhead`` is latency - engine_ms per request (median), the figure the issue bounds at
30 ms; ``outside worker`` is latency - worker time, the part the API, the queue and the wake-up cost
(the pipeline's own steps around the engine are issue 16 item 3's). A bare warm ``tesserocr`` call in
this process on the same image (grey, PSM AUTO, LSTM, as throughput.py's ``bare-gray``) is timed between
rounds as a second engine figure. CPU seconds per request of the API and worker processes and the load
average are reported too: wall time on a shared machine is noisy.

    .venv/bin/python bench/latency.py
    .venv/bin/python bench/latency.py --deploy embedded --rounds 4 --per-round 5
    .venv/bin/python bench/latency.py --compare /work/main/src --json /tmp/latency.json
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from _common import DEV_DATA, BenchError, drive, load_average, median, parse_ts, rotated
from _stacks import PG_URL, EmbeddedStack, Redis, ScaleoutStack

os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # before tesserocr loads: one thread, as the workers run

DEFAULT_IMAGE = "line/uw3_0768_010009.png"
TESSDATA = "/usr/share/tesseract-ocr/5/tessdata/"
ROUTES = {
    "ocrspace": "ocrspace",
    "imageanalysis": "azure-imageanalysis-4.0",
}
IA_PATH = "/computervision/imageanalysis:analyze?api-version=2024-02-01&features=read"


# ------------------------------------------------------------------------------------------ requests
def _ocrspace(client: httpx.Client, body: bytes, name: str) -> str:
    r = client.post("/parse/image", files={"file": (name, body, "image/png")}, data={"language": "eng"})
    if r.status_code != 200:
        raise BenchError(f"OCR.space answered {r.status_code}: {r.text[:300]}")
    js = r.json()
    if js.get("IsErroredOnProcessing"):
        raise BenchError(f"OCR.space error: {js.get('ErrorMessage')}")
    return " ".join(p["ParsedText"] for p in js["ParsedResults"]).strip()


def _imageanalysis(client: httpx.Client, body: bytes, name: str) -> str:
    r = client.post(IA_PATH, content=body, headers={"Content-Type": "application/octet-stream"})
    if r.status_code != 200:
        raise BenchError(f"Image Analysis answered {r.status_code}: {r.text[:300]}")
    blocks = r.json()["readResult"]["blocks"]
    return " ".join(ln["text"] for b in blocks for ln in b["lines"])


CALLS = {"ocrspace": _ocrspace, "imageanalysis": _imageanalysis}


# --------------------------------------------------------------------------------------- bare engine
class Bare:
    """One warm tesserocr API in this process, fed as the worker feeds it (Pillow -> 8-bit grey)."""

    def __init__(self, path: Path) -> None:
        import numpy as np
        from PIL import Image
        from tesserocr import OEM, PSM, PyTessBaseAPI

        self.api = PyTessBaseAPI(path=TESSDATA, lang="eng", psm=PSM.AUTO, oem=OEM.LSTM_ONLY)
        with Image.open(path) as im:
            self.gray = np.ascontiguousarray(np.asarray(im.convert("L")))
        self.one()  # warm

    def one(self) -> float:
        from tesserocr import RIL, iterate_level

        t0 = time.perf_counter()
        h, w = self.gray.shape
        self.api.SetImageBytes(self.gray.tobytes(), w, h, 1, w)
        self.api.Recognize()
        ri = self.api.GetIterator()
        if ri is not None:
            for it in iterate_level(ri, RIL.WORD):
                if not it.Empty(RIL.WORD):
                    it.GetUTF8Text(RIL.WORD)
                    it.BoundingBox(RIL.WORD)
                    it.Confidence(RIL.WORD)
        return (time.perf_counter() - t0) * 1000


# ------------------------------------------------------------------------------------------ designs
@dataclass
class Design:
    name: str
    stack: Any
    client: httpx.Client | None = None
    lat: dict[tuple[str, int], list[float]] = field(default_factory=dict)  # (route, concurrency) -> ms
    spans: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # route -> sequential (sent, answered)
    cpu: dict[str, float] = field(default_factory=dict)  # process group -> CPU seconds in timed rounds
    n: int = 0  # timed requests

    def cpu_now(self) -> dict[str, float]:
        return {k: v for k, v in self.stack.cpu().items() if not k.startswith("_")}


def _make_stacks(args: argparse.Namespace, tmp: Path, redis: Redis | None) -> list[Design]:
    common = dict(kv.split("=", 1) for kv in args.env)
    sources: list[tuple[str, str | None, dict[str, str]]] = [("", None, common)]
    if args.compare:
        sources.append(("base", args.compare, common))
    for i, kv in enumerate(args.variant):  # this checkout again, with some settings changed
        sources.append((f"v{i + 1}", None, {**common, **dict(x.split("=", 1) for x in kv.split(","))}))
    out = []
    broker_db = 0
    for kind in args.deploy.split(","):
        for tag, src, env in sources:
            name = kind + (f"-{tag}" if tag else "")
            sub = tmp / name
            sub.mkdir()
            pypath = str(Path(src).resolve()) if src else str(Path(__file__).resolve().parents[1] / "src")
            extra = {"PYTHONPATH": pypath + os.pathsep + os.environ.get("PYTHONPATH", ""), **env}
            if kind == "embedded":
                stack = EmbeddedStack(args.workers, sub)
                stack.server.extra_env.update(extra)
            elif kind == "scaleout":
                assert redis is not None
                stack = ScaleoutStack(args.workers, sub, redis, broker_db=broker_db)
                broker_db += 1
                stack.env.update(extra)
            else:
                raise BenchError(f"unknown deployment {kind!r}")
            out.append(Design(name, stack))
    return out


def _job_rows(d: Design) -> list[tuple]:
    """(dialect, created, started, finished, engine_ms) of every job, oldest first."""
    sql = (
        "SELECT j.dialect, j.created_at, j.started_at, j.finished_at, "
        "(SELECT SUM(p.engine_ms) FROM pages p WHERE p.job_id = j.id) FROM jobs j ORDER BY j.created_at"
    )
    if isinstance(d.stack, ScaleoutStack):
        import psycopg

        with psycopg.connect(PG_URL.format(db=d.stack.db), connect_timeout=5) as con:
            return list(con.execute(sql).fetchall())
    import sqlite3

    con = sqlite3.connect(f"file:{d.stack.server.data_dir / 'ocrgw.db'}?mode=ro", uri=True, timeout=10)
    try:
        return list(con.execute(sql).fetchall())
    finally:
        con.close()


# --------------------------------------------------------------------------------------------- run
def _one(d: Design, route: str, body: bytes, name: str) -> tuple[float, str]:
    assert d.client is not None
    sent = time.time()
    t0 = time.perf_counter()
    try:
        text = CALLS[route](d.client, body, name)
    except BenchError as exc:
        raise BenchError(f"{d.name} {route}: {exc}\n{d.stack.logtail()}") from None
    ms = (time.perf_counter() - t0) * 1000
    d.spans.setdefault(route, []).append((sent, sent + ms / 1000))
    return ms, text


def _burst(d: Design, route: str, body: bytes, name: str, conc: int, pool: ThreadPoolExecutor) -> list[float]:
    if conc == 1:
        return [_one(d, route, body, name)[0]]
    return [ms for ms, _ in pool.map(lambda _: _one(d, route, body, name), range(conc))]


def run(args: argparse.Namespace) -> dict:
    path = Path(args.image) if Path(args.image).is_file() else DEV_DATA / args.image
    if not path.is_file():
        raise BenchError(f"image not found: {path}")
    body = path.read_bytes()
    routes = args.routes.split(",")
    concs = [int(c) for c in args.concurrency.split(",")]
    print(
        f"latency: {path.name} ({len(body)} bytes), routes {routes}, deploy {args.deploy}, {args.workers} "
        f"worker(s), {args.rounds} rounds x {args.per_round} per route, concurrency {concs}, "
        f"load {load_average()}",
        flush=True,
    )
    tmp = tempfile.TemporaryDirectory(prefix="ocrgw-latency-")
    redis: Redis | None = None
    designs: list[Design] = []
    bare_ms: list[float] = []
    texts: dict[str, str] = {}
    try:
        if "scaleout" in args.deploy:
            redis = Redis(Path(tmp.name))
            redis.start()
        designs = _make_stacks(args, Path(tmp.name), redis)
        for d in designs:
            t0 = time.perf_counter()
            d.stack.start()
            d.client = httpx.Client(base_url=d.stack.url, timeout=180)
            for route in routes:
                for _ in range(args.warm):
                    _, texts[f"{d.name}/{route}"] = _one(d, route, body, path.name)
            print(f"  {d.name} up and warm in {time.perf_counter() - t0:.1f}s on {d.stack.url}", flush=True)
        bare = Bare(path)
        load_start = load_average()
        with ThreadPoolExecutor(max(concs)) as pool:
            for r in range(args.rounds):
                for d in rotated(designs, r):
                    c0 = d.cpu_now()
                    for route in rotated(routes, r):
                        for conc in concs:
                            for _ in range(args.per_round):
                                ms = _burst(d, route, body, path.name, conc, pool)
                                d.lat.setdefault((route, conc), []).extend(ms)
                                d.n += len(ms)
                    c1 = d.cpu_now()
                    for k in c1:
                        d.cpu[k] = d.cpu.get(k, 0.0) + c1[k] - c0.get(k, 0.0)
                    bare_ms.extend(bare.one() for _ in range(args.per_round))
                print(f"  round {r + 1}/{args.rounds} done, load {load_average()}", flush=True)
        load_end = load_average()
        rows = {d.name: _job_rows(d) for d in designs}
    finally:
        old = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            for d in designs:
                if d.client:
                    d.client.close()
                try:
                    d.stack.stop()
                finally:
                    if isinstance(d.stack, ScaleoutStack):
                        d.stack.drop_db()
            if redis:
                redis.stop()
            tmp.cleanup()
        finally:
            signal.signal(signal.SIGINT, old)
    return _summarize(args, designs, routes, concs, rows, bare_ms, texts, load_start, load_end)


def _pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def _summarize(
    args: argparse.Namespace,
    designs: list[Design],
    routes: list[str],
    concs: list[int],
    rows: dict[str, list[tuple]],
    bare_ms: list[float],
    texts: dict[str, str],
    load_start: list[float] | None,
    load_end: list[float] | None,
) -> dict:
    out: dict = {
        "meta": {
            "image": args.image,
            "workers": args.workers,
            "rounds": args.rounds,
            "per_round": args.per_round,
            "warm": args.warm,
            "compare": args.compare,
            "variants": args.variant,
            "load_start": load_start,
            "load_end": load_end,
            "cores": os.cpu_count(),
        },
        "bare_ms": {"p50": median(bare_ms), "p90": _pct(bare_ms, 0.9), "n": len(bare_ms)},
        "texts": texts,
        "designs": {},
    }
    for d in designs:
        per_route: dict[str, dict] = {}
        for route in routes:
            # The timed jobs of this route in creation order: the warm-up's come first.
            jobs = [r for r in rows[d.name] if r[0] == ROUTES[route]][args.warm :]
            eng, work, queue, before, after = [], [], [], [], []
            # With only sequential requests, each request's (sent, answered) pairs with its job's own
            # clock: the time before the row exists (parse, store) and after its end (wake, read, render).
            spans = d.spans.get(route, [])[args.warm :] if concs == [1] else []
            for k, (_, c, s, f, e) in enumerate(jobs):
                c, s, f = parse_ts(c), parse_ts(s), parse_ts(f)
                eng.append(float(e or 0.0))
                work.append((f - s).total_seconds() * 1000 if s and f else float("nan"))
                queue.append((s - c).total_seconds() * 1000 if s and c else float("nan"))
                if k < len(spans) and c and f:
                    before.append((c.timestamp() - spans[k][0]) * 1000)
                    after.append((spans[k][1] - f.timestamp()) * 1000)
            # Requests and jobs pair up in order only where requests ran one at a time, and the rounds of
            # each concurrency are interleaved; so the sequential requests are matched by their position.
            seq_lat = d.lat.get((route, 1), [])
            seq_jobs = _sequential_positions(args, concs, len(jobs))
            for conc in concs:
                lat = d.lat.get((route, conc), [])
                fig: dict[str, Any] = {"n": len(lat), "p50": median(lat), "p90": _pct(lat, 0.9)}
                if conc == 1 and len(seq_jobs) == len(seq_lat):
                    e = [eng[i] for i in seq_jobs]
                    w = [work[i] for i in seq_jobs]
                    q = [queue[i] for i in seq_jobs]
                    fig.update(
                        engine_p50=median(e),
                        worker_p50=median(w),
                        queue_p50=median(q),
                        overhead_p50=median([a - b for a, b in zip(seq_lat, e, strict=True)]),
                        overhead_p90=_pct([a - b for a, b in zip(seq_lat, e, strict=True)], 0.9),
                        outside_worker_p50=median([a - b for a, b in zip(seq_lat, w, strict=True)]),
                        bare_overhead_p50=median(lat) - median(bare_ms),
                        before_row_p50=median(before),
                        after_end_p50=median(after),
                    )
                per_route[f"{route}@{conc}"] = fig
        cpu = {k: round(v / max(d.n, 1) * 1000, 1) for k, v in d.cpu.items()}
        out["designs"][d.name] = {"routes": per_route, "cpu_ms_per_request": cpu}
    return out


def _sequential_positions(args: argparse.Namespace, concs: list[int], n_jobs: int) -> list[int]:
    """Which of a route's timed jobs (in creation order) the sequential requests made: in every round a
    route runs per_round requests at each concurrency in ``concs`` order."""
    if 1 not in concs:
        return []
    pos, i = [], 0
    for _ in range(args.rounds):
        for c in concs:
            if c == 1:
                pos.extend(range(i, i + args.per_round))
            i += c * args.per_round
    return [p for p in pos if p < n_jobs]


def report(res: dict) -> None:
    m = res["meta"]
    b = res["bare_ms"]
    print(
        f"\nimage {m['image']}, {m['workers']} worker(s), load {m['load_start']} -> {m['load_end']}"
        f"\nbare warm tesserocr in-process: p50 {b['p50']:.1f} ms, p90 {b['p90']:.1f} ms (n={b['n']})\n"
    )
    head = (
        f"{'design':<16} {'route@conc':<17} {'n':>3} {'p50':>7} {'p90':>7} {'engine':>7} {'worker':>7} "
        f"{'queue':>6} {'overhd':>7} {'ovh p90':>7} {'out-wkr':>7} {'-bare':>7} {'pre':>6} {'post':>6}"
    )
    print(head)
    print("-" * len(head))

    def f(x: Any) -> str:
        return f"{x:7.1f}" if isinstance(x, float) and x == x else "      -"

    for name, d in res["designs"].items():
        for rc, fig in d["routes"].items():
            print(
                f"{name:<16} {rc:<17} {fig['n']:>3} {f(fig['p50'])} {f(fig['p90'])} {f(fig.get('engine_p50'))} "
                f"{f(fig.get('worker_p50'))} {f(fig.get('queue_p50'))[1:]} {f(fig.get('overhead_p50'))} "
                f"{f(fig.get('overhead_p90'))} {f(fig.get('outside_worker_p50'))} {f(fig.get('bare_overhead_p50'))}"
                f"{f(fig.get('before_row_p50'))[1:]}{f(fig.get('after_end_p50'))[1:]}"
            )
        print(f"{'':<16} CPU ms/request: {d['cpu_ms_per_request']}")
    print(
        "\nms; engine = the pages' engine_ms in SQL, worker = claim -> finished, queue = created -> claimed;"
        "\noverhd = latency - engine (per request, median), out-wkr = latency - worker, -bare = p50 - bare p50;"
        "\npre = request sent -> job row created, post = job finished -> answer received (sequential runs only)"
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--deploy", default="embedded,scaleout", help="embedded,scaleout (both)")
    p.add_argument("--routes", default="ocrspace,imageanalysis", help="ocrspace,imageanalysis (both)")
    p.add_argument("--image", default=DEFAULT_IMAGE, help=f"dev-set path or a file ({DEFAULT_IMAGE})")
    p.add_argument("--workers", type=int, default=2, help="worker processes per deployment (2)")
    p.add_argument("--rounds", type=int, default=4, help="interleaved rounds (4)")
    p.add_argument("--per-round", type=int, default=5, help="requests per route, concurrency and round (5)")
    p.add_argument("--concurrency", default="1", help="comma-separated: 1 (sequential), or e.g. 1,2")
    p.add_argument("--warm", type=int, default=3, help="untimed requests per route and design (3)")
    p.add_argument("--compare", metavar="SRC", help="also start each deployment from this src folder")
    p.add_argument("--env", action="append", default=[], metavar="K=V", help="extra environment for the servers")
    p.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="K=V[,K=V]",
        help="also start each deployment from this checkout with these settings (designs -v1, -v2, ...)",
    )
    p.add_argument("--json", help="write the results here")
    args = p.parse_args()
    return drive(lambda: run(args), report, args.json, failed="latency bench failed")


if __name__ == "__main__":
    sys.exit(main())
