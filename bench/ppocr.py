"""PP-OCR against Tesseract, engine against engine (issue 16 item 4): the second engine as configured on
``main``, as configured in this checkout, and warm Tesseract as ocrgw runs it, side by side in one run, on
the same cores, with the worker's parallelism. It isolates the engine from the rest of the pipeline, which
throughput.py and accuracy.py measure whole.

* ``main`` - ``RapidEngine`` from ``git show <--baseline>:src/ocrgw/pipeline/engines/rapid.py`` (default
  ``main``), loaded as a module of its own, so the baseline is the committed code, not a copy here.
* ``this`` - ``ocrgw.pipeline.engines.rapid.RapidEngine`` of this checkout, made as a worker makes it: with
  ``Settings().resolved_model_cache_dir`` (the derived models of ``rapid_models``, unless
  ``OCRGW_PPOCR_DERIVED_MODELS=false``; their int8 recogniser with ``OCRGW_PPOCR_INT8=true``).
* ``tesseract`` - ``ocrgw.pipeline.engines.tesseract.TesseractEngine`` (eng, PSM auto, LSTM) on the same grey
  pixels: SetImageBytes + Recognize + the walk over lines and words, as ocrgw's worker calls it.

Every design reads the image decoded to 8-bit grey (Pillow-free ``cv2.imread``, untimed) with
``recognize(gray)``; the time and CPU are that call's. ``--workers`` spawned processes (default 2, as the
local workers on 2 cores, ``OMP_THREAD_LIMIT=1``) each hold all three engines, warm (one untimed page each).
A round gives one design the whole image list, longest first, pulled from one queue by both processes; rounds
are interleaved and their order rotated, and the median documents/s over ``--repeat`` rounds is reported,
with CPU seconds per document (steadier on a shared machine) and per-kind medians of a page's CPU time.

Accuracy, for ``main`` and ``this``: each reading (lines in ``layout.order_lines``' ``basic`` order, as the
Read API answers; words with their boxes as a Tesseract TSV) is scored by ``<shared>/tools/ocr_eval.py``'s
``score`` (imported, never copied): CER (casefolded page text), line-aligned lnCER, BoW-F1, micro averages.
Engines are deterministic, so the first round's readings are scored.

    .venv/bin/python bench/ppocr.py                    # mixed: 4 receipts, 3 forms, page, multicol, 4 lines
    .venv/bin/python bench/ppocr.py --set all --repeat 1   # every receipt, form, page, multicol and line
    .venv/bin/python bench/ppocr.py --set quick --repeat 1 --json /tmp/ppocr.json
    OCRGW_PPOCR_INT8=true .venv/bin/python bench/ppocr.py --baseline HEAD   # the int8 recogniser's cost and gain
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # inherited by the spawned processes, as the workers set it

import argparse
import importlib.util
import json
import multiprocessing
import statistics
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from _api import TSV_HEADER
from _common import DEV_DATA, REPO, SHARED

DESIGNS = ("main", "this", "tesseract")
KINDS = ("receipt", "form", "page", "multicol", "line")
SETS = {
    "quick": {"receipt": 1, "form": 1, "page": 1, "multicol": 0, "line": 2},
    "mixed": {"receipt": 4, "form": 3, "page": 1, "multicol": 1, "line": 4},
    "all": {k: 0 for k in KINDS},  # 0 in "all": every row of the kind
}


def select(set_name: str) -> list[dict]:
    """Manifest rows, evenly spaced per kind over the rows sorted by path (a fixed choice for a dev set),
    longest work first (pages, multicol, forms, receipts, lines) so a round does not end on a straggler."""
    rows = [json.loads(s) for s in (DEV_DATA / "manifest.jsonl").read_text().splitlines() if s.strip()]
    order = ("page", "multicol", "form", "receipt", "line")
    chosen = []
    for kind in order:
        pool = sorted((r for r in rows if r["kind"] == kind), key=lambda r: r["image"])
        count = SETS[set_name][kind] or (len(pool) if set_name == "all" else 0)
        chosen += [pool[(i * len(pool)) // count] for i in range(min(count, len(pool)))]
    return chosen


def load_baseline(ref: str) -> ModuleType:
    """The rapid engine module as committed at ``ref``."""
    src = subprocess.run(
        ["git", "-C", str(REPO), "show", f"{ref}:src/ocrgw/pipeline/engines/rapid.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    spec = importlib.util.spec_from_loader(f"rapid_at_{ref}", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    exec(compile(src, f"{ref}:rapid.py", "exec"), module.__dict__)  # our own committed source
    return module


def lines_tsv(lines: list[Any]) -> tuple[str, str]:
    """(page text, Tesseract TSV) of an engine's lines in the ``basic`` reading order."""
    from ocrgw.pipeline.layout import order_lines

    ordered = order_lines(lines, "basic")
    rows = [TSV_HEADER.rstrip("\n")]
    for i, line in enumerate(ordered, start=1):
        x0, y0, x1, y1 = line.box
        rows.append(f"4\t1\t{i}\t1\t1\t0\t{x0}\t{y0}\t{x1 - x0}\t{y1 - y0}\t-1\t")
        for j, w in enumerate(line.words, start=1):
            a, b, c, d = w.box
            rows.append(f"5\t1\t{i}\t1\t1\t{j}\t{a}\t{b}\t{c - a}\t{d - b}\t{100 * w.confidence:.0f}\t{w.text}")
    text = "\n".join(" ".join(w.text for w in line.words) for line in ordered)
    return text, "\n".join(rows) + "\n"


# ------------------------------------------------------------------------------------------- workers
def _worker(ref: str, paths: list[str], tasks: Any, results: Any) -> None:
    """One process: three warm engines, then (design, index) tasks until None."""
    import cv2

    from ocrgw.pipeline.engines.rapid import RapidEngine
    from ocrgw.pipeline.engines.tesseract import TesseractEngine
    from ocrgw.settings import Settings

    settings = Settings()
    engines = {
        "main": load_baseline(ref).RapidEngine("eng"),
        # as a worker makes it: with the derived models (OCRGW_PPOCR_DERIVED_MODELS, rapid_models.py) and
        # the int8 recogniser when OCRGW_PPOCR_INT8 asks
        "this": RapidEngine("eng", cache=settings.resolved_model_cache_dir, int8=settings.ppocr_int8),
        "tesseract": TesseractEngine(settings.resolved_tessdata_dir, "eng"),
    }
    images = [cv2.imread(p, cv2.IMREAD_GRAYSCALE) for p in paths]
    for eng in engines.values():  # untimed: first-call allocations are no page's cost
        eng.recognize(images[-1])
        eng.recognize(images[0])
    results.put(("ready", os.getpid()))
    while (task := tasks.get()) is not None:
        design, i, keep = task
        c0, t0 = time.process_time(), time.perf_counter()
        lines = engines[design].recognize(images[i])
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        text, tsv = lines_tsv(lines) if keep else ("", "")
        results.put((design, i, wall, cpu, text, tsv))


def run_round(design: str, n: int, tasks: Any, results: Any, keep: bool) -> tuple[float, list[tuple]]:
    t0 = time.perf_counter()
    for i in range(n):
        tasks.put((design, i, keep))
    got = [results.get(timeout=3600) for _ in range(n)]
    return time.perf_counter() - t0, got


# ------------------------------------------------------------------------------------------- report
def load_ocr_eval() -> ModuleType:
    sys.path.insert(0, str(SHARED / "tools"))
    import ocr_eval  # type: ignore[import-not-found]

    return ocr_eval


def _measure(a: argparse.Namespace, recs: list[dict], paths: list[str]) -> tuple[dict, dict]:
    """Every design's timed rounds and its first round's readings, from ``a.workers`` warm processes."""
    ctx = multiprocessing.get_context("spawn")
    tasks, results = ctx.Queue(), ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(a.baseline, paths, tasks, results), daemon=True) for _ in range(a.workers)
    ]
    for p in procs:
        p.start()
    rounds: dict[str, list[dict]] = {d: [] for d in DESIGNS}
    readings: dict[str, dict[int, tuple[str, str]]] = {d: {} for d in DESIGNS}
    try:
        for _ in procs:
            msg = results.get(timeout=600)
            assert msg[0] == "ready", msg
        for r in range(a.repeat):
            order = DESIGNS[r % 3 :] + DESIGNS[: r % 3]
            for design in order:
                wall, got = run_round(design, len(recs), tasks, results, keep=r == 0)
                per = {i: (w, c) for _, i, w, c, _, _ in got}
                rounds[design].append({"wall": wall, "per": per})
                if r == 0:
                    readings[design] = {i: (text, tsv) for _, i, _, _, text, tsv in got}
                cpu = sum(c for _, c in per.values())
                print(f"round {r + 1} {design:<9} {len(recs) / wall:6.2f} docs/s  CPU {cpu / len(recs):6.3f} s/doc")
    finally:
        for _ in procs:
            tasks.put(None)
        for p in procs:
            p.join(30)
            if p.is_alive():
                p.kill()
    return rounds, readings


def _summarize(rounds: dict[str, list[dict]], recs: list[dict]) -> dict[str, dict]:
    """Per design: median docs/s, CPU s/doc, and each kind's median per-page CPU and wall ms."""
    summary: dict[str, dict] = {}
    for design, rs in rounds.items():
        rate = statistics.median(len(recs) / x["wall"] for x in rs)
        cpu = statistics.median(sum(c for _, c in x["per"].values()) / len(recs) for x in rs)
        kinds = {}
        for kind in KINDS:
            idx = [i for i, rec in enumerate(recs) if rec["kind"] == kind]
            if idx:
                kinds[kind] = {
                    "cpu_ms": 1000 * statistics.median(x["per"][i][1] for x in rs for i in idx),
                    "wall_ms": 1000 * statistics.median(x["per"][i][0] for x in rs for i in idx),
                }
        summary[design] = {"docs_per_s": rate, "cpu_per_doc": cpu, "kinds": kinds}
    return summary


def _print_speed(summary: dict[str, dict]) -> None:
    print(
        f"\n{'design':<10} {'docs/s':>8} {'CPU s/doc':>10}   per-page CPU ms (median): "
        + " ".join(f"{k:>9}" for k in KINDS)
    )
    for design, s in summary.items():
        cells = " ".join(f"{s['kinds'][k]['cpu_ms']:>9.0f}" if k in s["kinds"] else f"{'-':>9}" for k in KINDS)
        print(f"{design:<10} {s['docs_per_s']:>8.2f} {s['cpu_per_doc']:>10.3f}   {'':26}{cells}")

    def ratio(x: str, y: str) -> tuple[float, float]:
        return (
            summary[x]["docs_per_s"] / summary[y]["docs_per_s"],
            summary[y]["cpu_per_doc"] / summary[x]["cpu_per_doc"],
        )

    print("\nratios (docs/s; by CPU s/doc)")
    for x, y, note in (
        ("this", "main", "the speed-up"),
        ("main", "tesseract", "PP-OCR on main against Tesseract"),
        ("this", "tesseract", "goal >= 0.67 (issue 16, as accurate mode against the bare engine)"),
    ):
        w, c = ratio(x, y)
        print(f"  {x:>4} / {y:<9} = {w:5.2f}   by CPU {c:5.2f}   ({note})")


def _accuracy(ev: Any, readings: dict[str, dict], recs: list[dict]) -> dict[str, dict]:
    """Each design's first-round readings scored by ocr_eval, per kind and over all; printed and returned."""
    scores: dict[str, dict] = {}
    print(f"\naccuracy (ocr_eval.py micro averages)   {'CERci':>7} {'lnCER':>7} {'BoW-F1':>7}")
    for design in ("main", "this", "tesseract"):
        per_kind = {}
        for kind in [*KINDS, "all"]:
            rows = [
                {"m": ev.score(rec, *readings[design][i]), "t": 0.0}
                for i, rec in enumerate(recs)
                if kind == "all" or rec["kind"] == kind
            ]
            if rows:
                per_kind[kind] = ev.aggregate(rows)
        scores[design] = per_kind
        for kind, agg in per_kind.items():
            cer, ln, bow = agg["CERci"], agg["lnCER"], agg["BoW-F1"]
            print(
                f"  {design:<9} {kind:<9} n={agg['n']:<3}{'':14} {100 * cer:6.1f}% {100 * ln:6.1f}% {100 * bow:6.1f}%"
            )
    return scores


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", choices=sorted(SETS), default="mixed")
    ap.add_argument("--repeat", type=int, default=3, help="timed rounds per design (median reported)")
    ap.add_argument("--workers", type=int, default=2, help="processes reading in parallel (as worker processes)")
    ap.add_argument("--baseline", default="main", help="git ref whose rapid.py is the 'main' design")
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args(argv)
    ev = load_ocr_eval()
    recs = select(a.set)
    paths = [str(DEV_DATA / r["image"]) for r in recs]
    load0 = os.getloadavg()
    counts = {k: sum(1 for r in recs if r["kind"] == k) for k in KINDS}
    print(f"# ppocr bench: set={a.set} {len(recs)} images {counts}, {a.workers} processes, {a.repeat} rounds")
    print(f"# baseline=rapid.py at {a.baseline}, cpus={os.cpu_count()}, load at start {load0[0]:.1f}")
    rounds, readings = _measure(a, recs, paths)
    load1 = os.getloadavg()
    summary = _summarize(rounds, recs)
    _print_speed(summary)
    scores = _accuracy(ev, readings, recs)
    print(f"\n(load average {load0[0]:.1f} at start, {load1[0]:.1f} at end; times are engine calls on grey pixels)")
    if a.json:
        out = {"set": a.set, "images": [r["image"] for r in recs], "rounds": rounds, "summary": summary}
        out.update(scores=scores, load=[load0, load1], baseline=a.baseline)
        a.json.write_text(json.dumps(out, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
