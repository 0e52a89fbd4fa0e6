"""Throughput benchmark: documents per second through ocrgw's HTTP submit-and-poll path, in its default
and its accurate mode, side by side with the bare engines they are measured against, on the same cores and
the same document list, in one run (issue 16):

* ``ocrgw`` - the default mode: a real ``ocrgw serve`` (auth off, temporary data dir, ``--workers N``)
  started as a subprocess on 127.0.0.1; an httpx client keeps C jobs in flight (default 2*N+2), POSTs each
  image to the native API (``/v1/jobs``, which takes text lines from 10 px high), polls its Location
  (0.05 s, growing x1.5 up to 0.25 s) until ``succeeded`` and fetches the result.
* ``ocrgw-accurate`` - the same server, each job submitted with ``mode=accurate`` (PP-OCR via RapidOCR).
* ``bare`` - "the limit" of the default mode: N processes (at the workers' niceness, OCRGW_WORKER_NICE),
  each with one warm ``tesserocr.PyTessBaseAPI``
  (eng, PSM.AUTO, OEM.LSTM_ONLY) doing SetImageFile + Recognize + walking the words with boxes and
  confidences (the engine work ocrgw does, minus decode/preprocess/second engine/SQL/HTTP).
* ``bare-rapid`` - the same for the accurate mode: N processes, each with one warm ``rapidocr.RapidOCR``
  (the PP-OCR models ocrgw ships, one ONNX Runtime thread, no line classifier) reading the file, its
  lines, boxes and scores walked; for reference.
* ``cli`` (optional) - process-per-request: ``tesseract IMG stdout --psm 3 --oem 1 tsv`` run once per
  image, N at a time, OMP_THREAD_LIMIT=1.
* ``bare-gray`` (optional) - as ``bare``, but the image is decoded with Pillow to 8-bit grey and handed
  over with SetImageBytes, as ocrgw's worker does; the stricter limit.

Throughput = documents / wall time from the first submit to the last result. Each design is warmed up,
then timed R times (rounds interleaved and rotated so machine noise hits all designs alike); the median
docs/s over the rounds is reported, with the ratios the issue sets goals for (default/bare >= 0.95,
accurate/bare >= 0.67). CPU seconds per document of each design's own processes are reported too: on a
shared, busy machine they are far steadier than wall-clock rates. After the runs the server's SQLite
database is read for each ocrgw design: queue wait, worker time, and the time per stage of every page
from the steps stored with it (decode, border, contrast, denoise, deskew, binarize, upscale, recognize,
orientation, second opinion, rereads, style, language, layout; the rest of the worker's time is claiming,
building and writing results).

Run (from the repository root; on a 2-core box about 3-5 minutes for the default set):

    .venv/bin/python bench/throughput.py
    .venv/bin/python bench/throughput.py --set quick --repeat 1 --designs ocrgw,bare
    .venv/bin/python bench/throughput.py --designs ocrgw,bare,bare-gray,cli --repeat 5 --json /tmp/tp.json

The dev images come from ``<shared>/data/ocr-dev`` (``<shared>`` = ``$OCRGW_SHARED_DIR``, else the
``shared`` folder next to this repository). See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from _bare import BareEngine, TesseractCli, _bare_gray_one, _rapid_init, _rapid_one
from _common import (
    BenchError,
    Img,
    OcrgwClient,
    OcrgwServer,
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
    sqlite_job_rows,
    warm_images,
)

TESSDATA = "/usr/share/tesseract-ocr/5/tessdata/"
DESIGNS = ("ocrgw", "ocrgw-accurate", "bare", "bare-rapid", "cli", "bare-gray")
DEFAULT_DESIGNS = ("ocrgw", "ocrgw-accurate", "bare", "bare-rapid")
OCRGW_DESIGNS = {"ocrgw": {}, "ocrgw-accurate": {"mode": "accurate"}}  # design -> submit query parameters
# Issue 16's goals, documents/s against the bare Tesseract engine on the same cores.
GOALS = {"ocrgw/bare": 0.95, "ocrgw-accurate/bare": 0.67}


# ------------------------------------------------------------------------------------- CPU accounting
def cpu_delta(before: dict[int, float] | None, after: dict[int, float] | None) -> float | None:
    if before is None or after is None:
        return None
    return sum(v - before.get(pid, 0.0) for pid, v in after.items())


@dataclass
class Round(TimedRound):
    extra: dict = field(default_factory=dict)


# --------------------------------------------------------------------------------- server-side split
# The steps of a reading (preprocess, recognise, turn): after an applied second opinion they are the second
# reading's, whose whole time the second_opinion step holds already.
READING_STEPS = frozenset(
    {
        "border",
        "contrast",
        "denoise",
        "deskew",
        "binarize",
        "upscale",
        "segmentation",
        "margin",
        "recognize",
        "orientation",
    }
)
STAGE_NAMES = {
    "replaced_reading": "first reading, replaced by the second opinion",
    "reread_lines": "reread (second engine, doubtful runs)",
    "missed_text": "missed text (second engine, uncovered ink)",
    "second_opinion": "second opinion (whole page, second engine)",
}


def page_stages(steps: list[dict]) -> dict[str, float]:
    """A page's ms by stage, from the steps stored with it (each stage's ``ms``; see READING_STEPS)."""
    out: dict[str, float] = {}
    second = False
    for step in steps:
        name = step.get("step", "?")
        if name == "second_opinion" and step.get("applied", True):
            second = True
            out["replaced_reading"] = out.get("replaced_reading", 0.0) + float(step.get("replaced_ms") or 0.0)
        elif second and name in READING_STEPS:
            continue
        if step.get("ms") is not None:
            key = f"recognize ({step.get('engine')})" if name == "recognize" else name
            out[key] = out.get(key, 0.0) + float(step["ms"])
    return out


def stage_breakdown(db_path: Path, job_ids: list[str], worker_ms: dict[str, float]) -> dict:
    """Per stage over the jobs' pages: pages it ran on, mean ms per page, share of the worker time; and
    the worker time outside every stage (claim, building and writing results, finish)."""
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
    try:
        marks = ",".join("?" * len(job_ids))
        rows = con.execute(f"SELECT job_id, preprocessing FROM pages WHERE job_id IN ({marks})", job_ids).fetchall()
    finally:
        con.close()
    total: dict[str, float] = {}
    ran: dict[str, int] = {}
    for _, raw in rows:
        for key, ms in page_stages(json.loads(raw) if isinstance(raw, str) else raw or []).items():
            total[key] = total.get(key, 0.0) + ms
            ran[key] = ran.get(key, 0) + 1
    pages = max(1, len(rows))
    worker = sum(worker_ms.get(j, 0.0) for j in set(j for j, _ in rows))
    stages = {
        k: {"pages": ran[k], "ms_per_page": v / pages, "share": v / worker if worker else None}
        for k, v in sorted(total.items(), key=lambda kv: -kv[1])
    }
    rest = worker - sum(total.values())
    return {
        "pages": len(rows),
        "stages": stages,
        "outside_ms_per_page": rest / pages,
        "outside_share": rest / worker if worker else None,
    }


def server_breakdown(db_path: Path, job_ids: list[str]) -> dict | None:
    """Per-job times from ocrgw's own database: created -> started (queue), started -> finished (worker),
    and the engine's share of that (pages.engine_ms); the time per stage of the pages. Medians and sums in
    ms; None if unreadable."""
    if not db_path.exists() or not job_ids:
        return None
    try:
        rows = sqlite_job_rows(db_path, job_ids)
    except sqlite3.Error as exc:
        return {"error": str(exc)}
    per_job, queue, worker, engine = job_durations(rows)
    if not worker:
        return None
    rest = [w - e for w, e in zip(worker, engine, strict=True)]

    def stats(xs: list[float]) -> dict:
        return {"median": statistics.median(xs), "sum": sum(xs)}

    try:
        stages = stage_breakdown(db_path, job_ids, per_job)
    except (sqlite3.Error, ValueError) as exc:
        stages = {"error": str(exc)}
    return {
        "jobs": len(worker),
        "queue_ms": stats(queue),
        "worker_ms": stats(worker),
        "engine_ms": stats(engine),
        "worker_minus_engine_ms": stats(rest),
        "per_job_worker_ms": per_job,
        "stages": stages,
    }


# ------------------------------------------------------------------------------------------- driver
def parse_designs(arg: str) -> list[str]:
    designs = [d.strip() for d in arg.split(",") if d.strip()]
    unknown = sorted(set(designs) - set(DESIGNS))
    if unknown or not designs:
        raise BenchError(f"unknown design(s) {unknown}; choose from {', '.join(DESIGNS)}")
    return designs


def run_bench(args: argparse.Namespace) -> dict:
    designs = parse_designs(args.designs)
    images = select_images(args.set)
    ocrgw_designs = [d for d in designs if d in OCRGW_DESIGNS]
    concurrency = args.concurrency or 2 * args.workers + 2
    os.environ["OMP_THREAD_LIMIT"] = "1"  # inherited by the bare pool's processes

    print(
        f"ocrgw throughput bench: {describe_set(args.set, images)}, workers={args.workers}, repeat={args.repeat}, "
        f"cores={os.cpu_count()}, ocrgw in-flight={concurrency}, poll {args.poll_min:g}..{args.poll_max:g}s",
        flush=True,
    )
    meta: dict = {
        "set": args.set,
        "designs": designs,
        "workers": args.workers,
        "repeat": args.repeat,
        "concurrency": concurrency,
        "poll_min_s": args.poll_min,
        "poll_max_s": args.poll_max,
        **run_meta(images),
    }
    runners: dict = {}
    tmp = tempfile.TemporaryDirectory(prefix="ocrgw-bench-")
    server: OcrgwServer | None = None
    try:
        if ocrgw_designs:
            server = OcrgwServer(args.workers, Path(tmp.name) / "data")
        _start_designs(designs, args, server, runners, meta)
        _warm_up(designs, runners, warm_images(images), args.workers)
        rounds, job_ids = _timed_rounds(designs, runners, images, args.repeat, server)
        breakdown = {d: _breakdown(server, job_ids[d], rounds, args.workers, d) for d in ocrgw_designs}
    finally:
        for name in ("bare-gray", "bare", "bare-rapid"):  # the sharer first, the pool's owner last
            if name in runners:
                runners[name].close()
        if server:
            server.stop()
        tmp.cleanup()

    summary = _summary(designs, rounds, images)
    return {
        "meta": meta,
        "summary": summary,
        "ratios": _ratios(summary),
        "server_breakdown": breakdown,
        "rounds": [asdict(x) for x in rounds],
    }


def _start_designs(
    designs: list[str], args: argparse.Namespace, server: OcrgwServer | None, runners: dict, meta: dict
) -> None:
    """Each design's runner into ``runners`` as it comes up (so a failure part-way still closes the
    ones started); engine versions into ``meta``."""
    if server is not None:
        server.data_dir.mkdir(parents=True)
        t0 = time.perf_counter()
        server.start()
        print(f"  ocrgw serve up on {server.url} in {time.perf_counter() - t0:.1f}s", flush=True)
        for name, params in OCRGW_DESIGNS.items():
            if name in designs:
                runners[name] = OcrgwClient(server, meta["concurrency"], args.poll_min, args.poll_max, params)
    if "bare-rapid" in designs:
        runners["bare-rapid"] = BareEngine(args.workers, args.tessdata, _rapid_one, init=_rapid_init)
    if "bare" in designs:
        runners["bare"] = BareEngine(args.workers, args.tessdata)
    if "bare-gray" in designs:
        runners["bare-gray"] = BareEngine(args.workers, args.tessdata, _bare_gray_one, runners.get("bare"))
    if "cli" in designs:
        runners["cli"] = TesseractCli(args.workers, args.tessdata)
        meta["cli_version"] = runners["cli"].version()
    with contextlib.suppress(ImportError):
        import tesserocr

        meta["tesserocr_version"] = f"{tesserocr.__version__} ({tesserocr.tesseract_version().split()[1]})"


def _warm_up(designs: list[str], runners: dict, images: list[Img], workers: int) -> None:
    """One pass over a couple of images per design and process, not timed."""
    for name in designs:
        t0 = time.perf_counter()
        if name.startswith("bare"):
            runners[name].warm(images)
        else:  # enough jobs that every worker reads one (the accurate mode's models load on first use)
            runners[name].run(images * workers)
        print(f"  warmed up {name} ({time.perf_counter() - t0:.1f}s)", flush=True)


def _timed_rounds(
    designs: list[str], runners: dict, images: list[Img], repeat: int, server: OcrgwServer | None
) -> tuple[list[Round], dict[str, list[str]]]:
    """``repeat`` rounds of every design over all images, the order rotated each round; and the ids of
    each ocrgw design's jobs, for the server-side split."""
    rounds: list[Round] = []
    job_ids: dict[str, list[str]] = {d: [] for d in designs if d in OCRGW_DESIGNS}
    for r in range(repeat):
        for name in rotated(designs, r):
            rnd = _one_round(name, r, repeat, runners[name], images, server)
            rounds.append(rnd)
            if name in OCRGW_DESIGNS:
                job_ids[name] += rnd.extra["jobs"]
    return rounds, job_ids


def _one_round(name: str, r: int, repeat: int, runner: Any, images: list[Img], server: OcrgwServer | None) -> Round:
    load = load_average()
    cpu0, own0 = runner.cpu(), time.process_time()
    wall, lat, info = runner.run(images)
    cpu1 = runner.cpu()
    cpu = cpu_delta(cpu0, cpu1)
    client_cpu = time.process_time() - own0
    extra: dict = {}
    if name in OCRGW_DESIGNS:
        extra = {
            "polls_median": median([x["polls"] for x in info]),
            "polls_total": sum(x["polls"] for x in info),
            "submit_ms_median": median([x["submit_ms"] for x in info]),
            "words": sum(x["words"] for x in info),
            "jobs": [x["job"] for x in info],
            "client_cpu_s": client_cpu,
        }
        if cpu0 and cpu1 and server and server.proc:  # the API process alone (HTTP, JSON, SQL)
            extra["api_cpu_s"] = cpu1.get(server.proc.pid, 0.0) - cpu0.get(server.proc.pid, 0.0)
    else:
        extra = {"words": sum(info)}
    extra["cpu_s"] = cpu
    extra["load_before"] = load
    rnd = Round(name, r + 1, len(images), wall, len(images) / wall, lat, extra)
    cpu_txt = f", {cpu / len(images):.3f} CPU s/doc" if cpu is not None else ""
    print(
        f"  round {r + 1}/{repeat} {name:14}: {rnd.img_per_s:6.2f} docs/s "
        f"({wall:5.2f}s, {extra['words']} words{cpu_txt}; load avg before {load and load[0]})",
        flush=True,
    )
    return rnd


def _breakdown(
    server: OcrgwServer | None, job_ids: list[str], rounds: list[Round], workers: int, design: str
) -> dict | None:
    """server_breakdown of one ocrgw design's jobs, with each of its rounds' share of worker time busy."""
    breakdown = server_breakdown(server.data_dir / "ocrgw.db", job_ids) if server else None
    if breakdown and "per_job_worker_ms" in breakdown:
        per_job = breakdown.pop("per_job_worker_ms")
        breakdown["busy_share"] = [
            sum(per_job.get(j, 0.0) for j in x.extra["jobs"]) / 1000 / (workers * x.wall_s)
            for x in rounds
            if x.design == design
        ]
    return breakdown


def _summary(designs: list[str], rounds: list[Round], images: list[Img]) -> dict:
    """Per design: median img/s over the rounds with its range, CPU s/img, latencies."""
    summary: dict = {}
    for name in designs:
        rs = [x for x in rounds if x.design == name]
        all_lat = [ms for x in rs for ms in x.latency_ms]
        cpus = [x.extra["cpu_s"] / x.images for x in rs if x.extra.get("cpu_s") is not None]
        summary[name] = {
            "cpu_s_per_img": median(cpus) if cpus else None,
            "img_per_s": median([x.img_per_s for x in rs]),
            "img_per_s_min": min(x.img_per_s for x in rs),
            "img_per_s_max": max(x.img_per_s for x in rs),
            "latency_ms_median": median(all_lat),
            "per_image_latency_ms_median": {
                img.rel: median([x.latency_ms[k] for x in rs]) for k, img in enumerate(images)
            },
        }
        if name in OCRGW_DESIGNS:
            summary[name]["client_cpu_s_per_img"] = median([x.extra["client_cpu_s"] / x.images for x in rs])
            api = [x.extra["api_cpu_s"] / x.images for x in rs if "api_cpu_s" in x.extra]
            summary[name]["api_cpu_s_per_img"] = median(api) if api else None
    return summary


def _ratios(summary: dict) -> dict:
    """docs/s of each ocrgw design against each baseline (and the baselines against each other), the same by
    CPU s/doc (baseline CPU / ocrgw CPU: above 1 means ocrgw spends less per document), best rounds too."""
    ratios: dict = {}
    pairs = [
        ("ocrgw", "bare"),
        ("ocrgw-accurate", "bare"),
        ("ocrgw-accurate", "bare-rapid"),
        ("bare-rapid", "bare"),
        ("ocrgw", "bare-gray"),
        ("ocrgw", "cli"),
        ("cli", "bare"),
    ]
    for a, b in pairs:
        if a not in summary or b not in summary:
            continue
        ratios[f"{a}/{b}"] = summary[a]["img_per_s"] / summary[b]["img_per_s"]
        ratios[f"best {a}/{b}"] = summary[a]["img_per_s_max"] / summary[b]["img_per_s_max"]
        if summary[a]["cpu_s_per_img"] and summary[b]["cpu_s_per_img"]:
            ratios[f"cpu {a}/{b}"] = summary[b]["cpu_s_per_img"] / summary[a]["cpu_s_per_img"]
            api = summary[a].get("api_cpu_s_per_img")
            if api is not None and summary[a]["cpu_s_per_img"] > api:  # the pipeline alone, without HTTP and polls
                ratios[f"workers {a}/{b}"] = summary[b]["cpu_s_per_img"] / (summary[a]["cpu_s_per_img"] - api)
    return ratios


# ------------------------------------------------------------------------------------------ report
LABELS = {
    "ocrgw": "ocrgw default mode",
    "ocrgw-accurate": "ocrgw mode=accurate",
    "bare": "bare warm tesserocr",
    "bare-rapid": "bare warm RapidOCR",
    "bare-gray": "bare, Pillow grey input",
    "cli": "tesseract CLI per image",
}
NOTES = {
    "ocrgw": "submit -> result fetched, incl. queue wait",
    "ocrgw-accurate": "submit -> result fetched, incl. queue wait",
    "bare": "engine call only",
    "bare-rapid": "engine call only",
    "bare-gray": "decode + engine call",
    "cli": "process start to exit",
}


def print_report(res: dict) -> None:
    _print_table(res["meta"], res["summary"])
    print()
    _print_ratios(res["ratios"])
    spread = max((s["img_per_s_max"] / s["img_per_s_min"] for s in res["summary"].values()), default=1.0)
    if spread > 1.2:
        print(
            f"note: docs/s varied up to {100 * (spread - 1):.0f}% between rounds of one design (load average "
            f"at start {res['meta'].get('load_at_start')}): the machine is busy; compare CPU s/doc, the best "
            "rounds, or re-run with more --repeat"
        )
    for design, bd in (res.get("server_breakdown") or {}).items():
        if bd and "error" not in bd:
            print()
            _print_breakdown(design, bd, res["summary"], res["meta"])
        elif bd:
            print(f"(could not read ocrgw's database: {bd['error']})")


def _print_table(meta: dict, summary: dict) -> None:
    print()
    head = f"{'design':26} {'docs/s (median)':>15} {'min..max':>13} {'CPU s/doc':>10} {'median latency':>15}"
    print(head + "  latency is")
    print("-" * 118)
    for name, s in summary.items():
        span = f"{s['img_per_s_min']:.2f}..{s['img_per_s_max']:.2f}"
        cpu = f"{s['cpu_s_per_img']:.3f}" if s.get("cpu_s_per_img") is not None else "n/a"
        print(
            f"{LABELS[name]:26} {s['img_per_s']:15.2f} {span:>13} {cpu:>10} "
            f"{s['latency_ms_median']:12.0f} ms  {NOTES[name]}"
        )
    print(
        f"({len(meta['images'])} documents, {meta['workers']} worker(s)/process(es), "
        f"{meta['repeat']} round(s) each, {meta['cores']} cores; CPU s/doc = CPU of the design's own "
        "processes (ocrgw: server + workers, not the bench client))"
    )
    for name in OCRGW_DESIGNS:
        if name in summary and summary[name].get("client_cpu_s_per_img") is not None:
            api = summary[name].get("api_cpu_s_per_img")
            api_txt = f"; of its CPU s/doc the API process took {api:.3f}, the workers the rest" if api else ""
            print(
                f"({name}: the bench's HTTP client used {summary[name]['client_cpu_s_per_img']:.3f} CPU s/doc{api_txt})"
            )


def _print_ratios(ratios: dict) -> None:
    head = f"{'ratio (docs/s)':32} {'median':>7} {'best round':>11} {'by CPU s/doc':>13} {'workers only':>13}"
    print(head + "  goal")
    for key, value in ratios.items():
        if key.startswith(("best ", "cpu ", "workers ")):
            continue
        goal = GOALS.get(key)
        verdict = f">= {goal}: {'ok' if value >= goal else 'BELOW'}" if goal else ""
        cpu, workers = ratios.get(f"cpu {key}"), ratios.get(f"workers {key}")
        cpu_txt = f"{cpu:13.2f}" if cpu is not None else f"{'n/a':>13}"
        workers_txt = f"{workers:13.2f}" if workers is not None else f"{'':>13}"
        print(f"{key:32} {value:7.2f} {ratios[f'best {key}']:11.2f} {cpu_txt} {workers_txt}  {verdict}")
    print(
        "(by CPU s/doc = the baseline's CPU s/doc / the design's: the ratio docs/s would have on idle cores; "
        "workers only = the same without ocrgw's API process, which answers the submits and polls)"
    )


def _print_breakdown(design: str, bd: dict, summary: dict, meta: dict) -> None:
    n = bd["jobs"]
    print(f"{design} server side, from its database ({n} timed jobs; medians per job, sums over all):")
    for key, label in (
        ("queue_ms", "queued (created -> claimed)"),
        ("worker_ms", "worker (claimed -> finished)"),
        ("engine_ms", "  of which engines (pages.engine_ms)"),
        ("worker_minus_engine_ms", "  of which the rest"),
    ):
        print(f"  {label:46} median {bd[key]['median']:8.1f} ms   sum {bd[key]['sum'] / 1000:7.2f} s")
    base = "bare" if design == "ocrgw" else "bare-rapid"
    if base in summary:
        bare_sum = sum(summary[base]["per_image_latency_ms_median"].values()) * n / len(meta["images"])
        print(f"  {base + ' engine calls (wall), same documents':46} {'':15}   sum {bare_sum / 1000:7.2f} s")
    if bd.get("busy_share"):
        shares = ", ".join(f"{x:.0%}" for x in bd["busy_share"])
        print(f"  workers busy (sum of claimed -> finished / (workers x wall)) per round: {shares}")
    st = bd.get("stages")
    if not st or "error" in st:
        print(f"  (no per-stage times: {st and st.get('error')})")
        return
    print(f"  time per stage, from the steps stored with its {st['pages']} pages:")
    print(f"    {'stage':50} {'pages':>6} {'ms/page':>9} {'of worker':>10}")
    for key, v in st["stages"].items():
        share = f"{v['share']:.1%}" if v["share"] is not None else "n/a"
        print(f"    {STAGE_NAMES.get(key, key):50} {v['pages']:6d} {v['ms_per_page']:9.1f} {share:>10}")
    share = f"{st['outside_share']:.1%}" if st["outside_share"] is not None else "n/a"
    label = "outside the steps (claim, result, SQL writes, finish)"
    print(f"    {label:50} {'':6} {st['outside_ms_per_page']:9.1f} {share:>10}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--workers", type=int, default=2, help="ocrgw workers = bare processes = CLI parallelism (2)")
    p.add_argument("--repeat", type=int, default=3, help="timed rounds per design, interleaved (3)")
    p.add_argument(
        "--designs",
        default=",".join(DEFAULT_DESIGNS),
        help=f"comma list of {','.join(DESIGNS)} (default {','.join(DEFAULT_DESIGNS)})",
    )
    p.add_argument("--concurrency", type=int, default=0, help="ocrgw jobs in flight (default 2*workers+2)")
    add_client_args(p, default_set="documents")
    p.add_argument("--tessdata", default=TESSDATA, help=f"tessdata folder for bare and cli ({TESSDATA})")
    p.add_argument("--json", metavar="OUT", help="also write the results as JSON to OUT")
    args = p.parse_args(argv)
    if args.workers < 1 or args.repeat < 1:
        p.error("--workers and --repeat must be >= 1")
    return drive(lambda: run_bench(args), print_report, args.json)


if __name__ == "__main__":
    sys.exit(main())
