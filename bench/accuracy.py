"""Accuracy benchmark (issue 7): how well ocrgw reads, next to raw Tesseract, per kind of document, in one
run on one manifest, plus pages per second for both. It sits beside throughput.py: that one measures the
HTTP path under load, this one the recognition quality of the worker pipeline and what that quality costs.

* ``ocrgw`` - the code the workers run, with their defaults, in this process: ``Settings()``, a warm
  ``TesseractEngine`` for the default ``JobSpec`` languages (eng, PSM.AUTO, OEM.LSTM_ONLY), Tesseract's OSD
  model when installed (as ``WorkerContext.osd``), ``rasterize.iter_pages`` -> ``pipeline.reader.read`` (the
  function ``runner._read_pages`` calls)
  (``orient.read_page``: preprocess, recognise, orientation check; ``layout.order_lines`` with the default
  reading order ``basic``, which the Azure Read dialect and every other dialect use unless asked) ->
  ``runner._page_result`` (boxes mapped back to the submitted pixels). The page text is the lines joined
  by newlines, as the API renders it. Intake is bypassed, so its 50 px minimum side (which would refuse
  most single-line images) does not apply; nothing after intake depends on it.
* ``raw`` - the issue's baseline: one warm ``tesserocr.PyTessBaseAPI`` (eng, PSM 3 = AUTO, default OEM)
  doing ``SetImageFile`` + ``GetUTF8Text`` + ``GetTSVText``, exactly as ``ocr_eval.py --mode tesserocr``.
* ``ocrgw`` over HTTP (``--api URL`` or ``--server``; bench/_api.py) - what users get: each image submitted
  as a file to a running server, one at a time (``--dialect azure-read``: ``POST /vision/v3.2/read/analyze``,
  poll ``Operation-Location``; ``native``: ``POST /v1/jobs``, poll ``Location``, GET the result; key from
  ``--key`` or ``$OCRGW_API_KEY``), the answer turned into the same text + TSV. Intake applies: a refused
  image (e.g. 400 for a side under 50 px) or a failed job is an empty reading (CER 100 %) with the error as
  its note. Its time is submit -> result in hand (median and total per page are printed against raw's on
  the images it read); ``--server`` starts ``ocrgw serve`` on a free loopback port for the run (SQLite in a
  temp folder, ``--server-workers`` local workers, default 1, auth off, ``OCRGW_MODE`` = ``--mode``) and
  its processes' CPU is the design's. Manifest lines may carry ``"style": "handwriting"|"other"`` (matched to
  the returned lines by box; the share labelled alike is printed per style) and rows a BCP-47 ``"language"``
  (compared with each returned page's language).

Scores come from ``<shared>/tools/ocr_eval.py``, imported at run time (never copied): ``score()`` gets each
design's text and a Tesseract-style TSV (for ocrgw built from its result: level-4 lines and level-5 words
with boxes, confidences and text, in ocrgw's reading order), so both designs are scored by the same code.
CER is case-insensitive over the page text (reading order counts), lnCER is line-aligned (order-free within
the GT line boxes), BoW-F1 is an order-free bag of words; all micro-averaged (ocr-dev README explains why).

Speed: pages / summed OCR wall time per design (ocrgw: decode + preprocess + recognise + layout + result;
raw: SetImageFile + recognition + text and TSV), one process, one thread (OMP_THREAD_LIMIT=1), images
interleaved with the design order alternating so machine load hits both alike. Process CPU time is
reported too (steadier on a shared machine). The issue's budget: ocrgw time per page <= 1.5x raw's.

    .venv/bin/python bench/accuracy.py                      # ocr-dev, both designs (~1-2 min on 2 cores)
    .venv/bin/python bench/accuracy.py --limit 4            # smoke run
    .venv/bin/python bench/accuracy.py --manifest /path/to/heldout/manifest.jsonl --json /tmp/acc.json
    .venv/bin/python bench/accuracy.py --kinds table,multicol --reading-order natural -q
    .venv/bin/python bench/accuracy.py --preprocess seed -q   # the seed tutorial's fixed chain, for comparison
    .venv/bin/python bench/accuracy.py --server --limit 6     # over HTTP (Read v3.2) to a server of its own
    .venv/bin/python bench/accuracy.py --api http://127.0.0.1:8000 --key KEY --dialect native

The default manifest is ``<shared>/data/ocr-dev/manifest.jsonl`` (``<shared>`` = ``$OCRGW_SHARED_DIR``,
else the ``shared`` folder next to this repository). See bench/README.md and docs/accuracy.md.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # before tesserocr loads: one thread, as the workers run

import argparse
import contextlib
import json
import platform
import subprocess
import sys
import time
from collections import OrderedDict
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from _api import TSV_HEADER, Reading, add_api_args, api_design, print_api_report, result_tsv
from _common import DEV_DATA, REPO, SHARED, BenchError

DEFAULT_MANIFEST = DEV_DATA / "manifest.jsonl"
EVAL_TOOL = SHARED / "tools" / "ocr_eval.py"
DESIGNS = ("raw", "ocrgw")
KIND_ORDER = ("receipt", "form", "line", "multicol", "table", "page", "chart")
METRICS = (("CERci", "CER"), ("lnCER", "lnCER"), ("BoW-F1", "BoW-F1"))  # ocr_eval key, column title
# issue 7: ocrgw's default mode may take at most 1.5x raw Tesseract's time per page, the accurate mode 4x
SPEED_BUDGET = {"default": 1.5, "accurate": 4.0}
# Issue 7's baseline row "all": Tesseract 5.3 CLI, eng, PSM 3, on ocr-dev (the tesserocr wheel's 5.5.4
# reads slightly differently; ocr-dev's README gives 27.7 / 13.0 / 80.3 % for it).
ISSUE_BASELINE = {"CERci": 0.267, "lnCER": 0.134, "BoW-F1": 0.801}


def load_ocr_eval(path: Path) -> ModuleType:
    """The shared scoring tool, imported from where it lives so the numbers stay the ones ocr_eval.py
    prints for raw Tesseract; a copy in the project would drift."""
    if not path.is_file():
        sys.exit(f"scoring tool not found: {path} (set OCRGW_SHARED_DIR)")
    sys.path.insert(0, str(path.parent))
    import ocr_eval  # type: ignore[import-not-found]

    return ocr_eval


# ------------------------------------------------------------------------------------------- designs
class Design(Protocol):
    name: str

    def __call__(self, path: Path) -> Reading: ...

    def close(self) -> None: ...


class RawTesseract:
    """ocr_eval.py's tesserocr mode: colour pixels straight from the file, Tesseract's defaults."""

    name = "raw"

    def __init__(self, tessdata: Path, lang: str = "eng", psm: int = 3) -> None:
        from tesserocr import PyTessBaseAPI

        self._api = PyTessBaseAPI(path=str(tessdata), lang=lang, psm=psm)

    def __call__(self, path: Path) -> Reading:
        c0, t0 = time.process_time(), time.perf_counter()
        self._api.SetImageFile(str(path))
        text = self._api.GetUTF8Text()
        tsv = self._api.GetTSVText(0)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        return Reading(text, TSV_HEADER + tsv, wall, cpu, 1)

    def close(self) -> None:
        self._api.End()


class OcrgwPipeline:
    """The worker's page loop without the database: same settings, engines and functions, in-process."""

    name = "ocrgw"

    def __init__(
        self,
        reading_order: str | None = None,
        chain: str = "adaptive",
        mode: str = "default",
        engine: str | None = None,
    ) -> None:
        from ocrgw.jobs.pages import PageSelection
        from ocrgw.jobs.schemas import JobSpec
        from ocrgw.pipeline.engines import Engines
        from ocrgw.pipeline.engines.tesseract import OrientationDetector
        from ocrgw.settings import Settings

        self.settings = Settings()
        options: dict[str, Any] = {"mode": mode, "engine": engine}
        if reading_order is not None:
            options["reading_order"] = reading_order
        self.spec = JobSpec(**options)
        tessdata = self.settings.resolved_tessdata_dir
        # as WorkerContext.engines: the same choice of engine (and second opinion) per spec and settings
        self.engines = Engines(
            tessdata, self.settings.mode, self.settings.second_opinion_below, self.settings.resolved_model_cache_dir
        )
        self.engine, self.engine_step, self.second = self.engines.for_spec(self.spec)
        # as WorkerContext.osd: the orientation check runs only where the model is installed
        self.osd = OrientationDetector(tessdata) if (tessdata / "osd.traineddata").exists() else None
        self.selection = PageSelection(self.spec.pages)
        self.chain = chain  # preprocessing chain: the workers' "adaptive", or "seed" (measured for issue 7)

    def __call__(self, path: Path) -> Reading:
        from ocrgw.intake.sniff import check_type
        from ocrgw.pipeline import rasterize, reader
        from ocrgw.pipeline.runner import _page_result

        with open(path, "rb") as f:
            media_type = check_type(f.read(64))  # intake's job, done before the worker runs: not timed
        c0, t0 = time.process_time(), time.perf_counter()
        results = []
        for page in rasterize.iter_pages(path, media_type, self.selection, skip=set(), settings=self.settings):
            got = reader.read(
                page,
                self.engine,
                self.osd,
                self.spec.reading_order,
                chain=self.chain,
                second=self.second,
                second_below=self.settings.second_opinion_below,
                reread_below=self.settings.reread_below,
                reread_share=self.settings.reread_share,
                reread_budget=self.settings.reread_budget,
                missed_text=self.settings.missed_text,
                engine_step=self.engine_step,
            )
            result = _page_result(page, got.lines, got.matrix, got.angle, got.steps, self.spec.language_hint)
            results.append((result, page.unit_per_px))
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        text = "\n".join(line.text for result, _ in results for line in result.lines)
        return Reading(text, result_tsv(results), wall, cpu, len(results), [r.preprocessing for r, _ in results])

    def warm(self, path: Path) -> None:
        """Load the second-opinion engine and run it once, untimed, as a worker that has been serving for
        a while has: its model load (~1 s, once per process) is not a per-page cost."""
        if self.second is not None:
            import cv2

            engine = self.second()
            gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)  # None for a PDF: the load alone then
            if gray is not None:
                engine.recognize(gray)

    def close(self) -> None:
        self.engines.close()
        if self.osd is not None:
            self.osd.close()


# ------------------------------------------------------------------------------------------- running
def load_manifest(path: Path, kinds: str, limit: int) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        recs = [json.loads(line) for line in f if line.strip()]
    if kinds:
        keep = {k.strip() for k in kinds.split(",") if k.strip()}
        recs = [r for r in recs if r.get("kind") in keep]
    return recs[:limit] if limit else recs


def kinds_in_order(rows: list[dict]) -> list[str]:
    present = {r["kind"] for r in rows}
    return [k for k in KIND_ORDER if k in present] + sorted(present - set(KIND_ORDER))


def steps_summary(steps: list[list[dict]]) -> str:
    """The preprocessing and orientation steps that changed the page, in a few words per page."""
    out = []
    for page in steps:
        done = []
        for s in page:
            if s.get("applied") is False or s["step"] == "grayscale":
                continue
            if s["step"] == "deskew":
                done.append(f"deskew {s['angle']:+.1f}°")
            elif s["step"] == "orientation":
                done.append(f"turned {s['turned_by']}°")
            elif s["step"] == "upscale":
                done.append(f"upscale ×{s['factor']:.2f}")
            elif s["step"] == "resolution":
                done.append(f"{s['dpi']} dpi")
            else:
                done.append(s["step"])
        out.append(", ".join(done) or "none")
    return "; ".join(out)


def run(designs: list[Design], recs: list[dict], base: Path, ev: ModuleType, quiet: bool) -> dict[str, list[dict]]:
    """Every image through every design, the designs' order alternating per image; scores per design."""
    rows: dict[str, list[dict]] = {d.name: [] for d in designs}
    first = base / recs[0]["image"]
    for d in designs:  # untimed warm-up: first-call allocations are nobody's per-page cost
        d(first)
        warm = getattr(d, "warm", None)
        if warm is not None:
            warm(first)
    for i, rec in enumerate(recs):
        path = base / rec["image"]
        order = designs if i % 2 == 0 else designs[::-1]
        got = {d.name: d(path) for d in order}
        for name, r in got.items():
            m = ev.score(rec, r.text, r.tsv)
            rows[name].append(
                {
                    "image": rec["image"],
                    "kind": rec.get("kind", "?"),
                    "t": r.wall,
                    "cpu": r.cpu,
                    "pages": r.pages,
                    "m": m,
                    "steps": r.steps,
                    "ocr_text": r.text,
                    "api": r.api,
                }
            )
        if not quiet:
            cells = []
            for name, r in got.items():
                m = rows[name][-1]["m"]
                ln = f" ln {m['ln_e'] / max(1, m['ln_c']):.3f}" if "ln_n" in m else ""
                err = f" ({r.api['error']})" if r.api.get("error") else ""
                cells.append(f"{name} {r.wall:5.2f}s CER {m['ceci'] / max(1, m['cnci']):.3f}{ln}{err}")
            print(f"{rec['image']:<42} " + "  |  ".join(cells), flush=True)
    return rows


def summarize(rows: dict[str, list[dict]], ev: ModuleType) -> dict[str, OrderedDict[str, dict]]:
    """ocr_eval.aggregate per kind and over all, plus pages/s and CPU s/page from this bench's timings."""
    out: dict[str, OrderedDict[str, dict]] = {}
    for name, rs in rows.items():
        groups: OrderedDict[str, dict] = OrderedDict()
        for kind in [*kinds_in_order(rs), "all"]:
            sel = rs if kind == "all" else [r for r in rs if r["kind"] == kind]
            agg = ev.aggregate(sel)
            pages = sum(r["pages"] for r in sel)
            wall, cpu = sum(r["t"] for r in sel), sum(r["cpu"] for r in sel)
            agg.update(
                pages=pages,
                wall=wall,
                cpu=cpu,
                pages_per_s=pages / wall if wall else float("nan"),
                cpu_per_page=cpu / pages if pages else float("nan"),
            )
            groups[kind] = agg
        out[name] = groups
    return out


# ------------------------------------------------------------------------------------------- output
def pct(v: float) -> str:
    return "-" if v != v else f"{100 * v:.1f}%"


def delta(v: float) -> str:
    return "-" if v != v else f"{100 * v:+.1f}"


def side_by_side(summary: dict[str, OrderedDict[str, dict]]) -> str:
    """kind, n, then per metric one column per design and, with both designs, ocrgw - raw in points."""
    names = [n for n in DESIGNS if n in summary]
    both = len(names) == 2
    head = f"{'kind':<9}{'n':>4}"
    for _, title in METRICS:
        head += "".join(f"{f'{title} {n}':>14}" for n in names) + (f"{'Δ':>7}" if both else "") + "  "
    head += "".join(f"{f'pages/s {n}':>15}" for n in names)
    lines = [head, "-" * len(head)]
    for kind, first in summary[names[0]].items():
        cells = f"{kind:<9}{first['n']:>4}"
        for key, _ in METRICS:
            vals = [summary[n][kind][key] for n in names]
            cells += "".join(f"{pct(v):>14}" for v in vals)
            cells += (f"{delta(vals[1] - vals[0]):>7}" if both else "") + "  "
        cells += "".join(f"{summary[n][kind]['pages_per_s']:>15.2f}" for n in names)
        lines.append(cells)
    return "\n".join(lines)


def per_image(rows: dict[str, list[dict]]) -> list[dict]:
    """ocrgw against raw on each image (CERci, lnCER, BoW-F1), for the regressions and gains lists."""
    out = []
    for raw, og in zip(rows["raw"], rows["ocrgw"], strict=True):

        def one(r: dict) -> dict:
            m = r["m"]
            f1 = 2 * m["bow"][0] / (m["bow"][1] + m["bow"][2]) if m["bow"][1] + m["bow"][2] else 0.0
            ln = m["ln_e"] / m["ln_c"] if m.get("ln_c") else float("nan")
            return {"CERci": m["ceci"] / max(1, m["cnci"]), "lnCER": ln, "BoW-F1": f1}

        a, b = one(raw), one(og)
        out.append(
            {
                "image": raw["image"],
                "kind": raw["kind"],
                "raw": a,
                "ocrgw": b,
                "dCER": b["CERci"] - a["CERci"],
                "steps": og["api"].get("error") or steps_summary(og["steps"]),
                "t_raw": raw["t"],
                "t_ocrgw": og["t"],
            }
        )
    return out


def image_table(items: list[dict]) -> str:
    lines = [
        f"{'image':<40}{'kind':<9}{'CER raw':>9}{'ocrgw':>8}{'Δ':>7}{'lnCER raw':>11}{'ocrgw':>8}"
        f"{'BoW raw':>9}{'ocrgw':>8}  ocrgw steps / notes"
    ]
    for it in items:
        a, b = it["raw"], it["ocrgw"]
        lines.append(
            f"{it['image']:<40}{it['kind']:<9}{pct(a['CERci']):>9}{pct(b['CERci']):>8}"
            f"{delta(it['dCER']):>7}{pct(a['lnCER']):>11}{pct(b['lnCER']):>8}"
            f"{pct(a['BoW-F1']):>9}{pct(b['BoW-F1']):>8}  {it['steps']}"
        )
    return "\n".join(lines)


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
        return out.stdout.strip() or "?"
    except OSError:
        return "?"


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST, help="JSON Lines manifest (ocr_eval format)")
    ap.add_argument("--designs", default="ocrgw,raw", help="comma-separated: ocrgw, raw")
    ap.add_argument("--kinds", default="", help="comma-separated kinds to keep")
    ap.add_argument("--limit", type=int, default=0, help="first N rows only (after --kinds)")
    ap.add_argument(
        "--reading-order",
        choices=["basic", "natural"],
        default=None,
        help="ocrgw's reading order (default: JobSpec's, what the dialects use unless asked)",
    )
    ap.add_argument(
        "--preprocess",
        choices=["adaptive", "seed"],
        default="adaptive",
        help="ocrgw's preprocessing: the workers' adaptive chain (default) or the seed tutorial's "
        "fixed blur + histogram equalisation on every page",
    )
    ap.add_argument(
        "--mode",
        choices=["default", "accurate"],
        default="default",
        help="ocrgw's mode (JobSpec.mode): default, or accurate (the second engine where it reads the "
        "job's languages; budget 4x raw's time per page)",
    )
    ap.add_argument(
        "--engine",
        choices=["tesseract", "rapidocr"],
        default=None,
        help="ocrgw's engine (JobSpec.engine); default: chosen by --mode",
    )
    ap.add_argument("--worst", type=int, default=5, help="how many per-image regressions and gains to list")
    ap.add_argument("--full", action="store_true", help="also print ocr_eval's full table per design")
    ap.add_argument("--json", type=Path, default=None, help="write config, summary and per-image results here")
    ap.add_argument("-q", "--quiet", action="store_true", help="no per-image lines while running")
    add_api_args(ap)
    return ap


def _make_designs(names: list[str], a: argparse.Namespace, tessdata: Path, api: Design | None) -> list[Design]:
    designs: list[Design] = []
    if "raw" in names:
        designs.append(RawTesseract(tessdata))
    if "ocrgw" in names:
        designs.append(api or OcrgwPipeline(a.reading_order, a.preprocess, a.mode, a.engine))
    return designs


def _print_header(designs: list[Design], manifest: Path, recs: list[dict], tessdata: Path) -> str:
    """The run's first two lines: what is read, by what, on what machine; returns the engine's versions."""
    import tesserocr

    ocrgw_cfg = getattr(designs[-1], "describe", lambda: "")()
    if isinstance(designs[-1], OcrgwPipeline):
        og = designs[-1]
        ocrgw_cfg = (
            f" ocrgw: languages={'+'.join(og.spec.languages)} reading_order={og.spec.reading_order}"
            f" preprocess={og.chain} mode={og.spec.mode} engine={og.engine.name}"
            f" osd={'on' if og.osd else 'off (no osd.traineddata)'}"
        )
    engine = f"tesserocr {tesserocr.__version__} / libtesseract {tesserocr.tesseract_version().split()[1]}"
    print(
        f"# {datetime.now().isoformat(timespec='seconds')} manifest={manifest} images={len(recs)} "
        f"designs={','.join(d.name for d in designs)}",
        flush=True,
    )
    print(
        f"# {engine} tessdata={tessdata} OMP_THREAD_LIMIT={os.environ.get('OMP_THREAD_LIMIT')} "
        f"cpus={os.cpu_count()} load={os.getloadavg()[0]:.1f} commit={git_commit()}{ocrgw_cfg}",
        flush=True,
    )
    return engine


def _print_scores(summary: dict[str, OrderedDict[str, dict]], ev: ModuleType, full: bool) -> None:
    print()
    print(side_by_side(summary))
    print(
        "(CER = case-insensitive page CER, lnCER = line-aligned CER, BoW-F1 = order-free bag of words; "
        "micro-averaged by ocr_eval.py; Δ = ocrgw - raw in points)"
    )
    base_all = " / ".join(f"{pct(ISSUE_BASELINE[k])}" for k, _ in METRICS)
    print(f"(issue 7 baseline 'all', Tesseract 5.3 CLI psm 3: CER / lnCER / BoW-F1 = {base_all})")
    if full:
        for name in summary:
            print(f"\n{name}, ocr_eval.fmt_table (img/s from this bench's wall times):")
            print(ev.fmt_table(summary[name]))


def _print_speed(
    summary: dict[str, OrderedDict[str, dict]], names: list[str], mode: str, wall: float, via_api: bool
) -> tuple[float | None, float | None]:
    """Pages per second per design and, with both, ocrgw's time per page over raw's against the mode's
    budget; returns (wall ratio, CPU ratio), None with one design."""
    print()
    for name in names:
        s = summary[name]["all"]
        print(
            f"{name:<6} {s['pages']:4d} pages in {s['wall']:7.2f} s wall: {s['pages_per_s']:5.2f} pages/s, "
            f"{1000 * s['wall'] / s['pages']:6.0f} ms/page wall, {1000 * s['cpu_per_page']:6.0f} ms/page CPU"
        )
    ratio = cpu_ratio = None
    if len(names) == 2:
        og, raw = summary["ocrgw"]["all"], summary["raw"]["all"]
        ratio = (og["wall"] / og["pages"]) / (raw["wall"] / raw["pages"])
        cpu_ratio = og["cpu_per_page"] / raw["cpu_per_page"]
        budget = SPEED_BUDGET[mode]
        verdict = "ok" if ratio <= budget else "OVER BUDGET"
        print(
            f"ocrgw time per page / raw time per page = {ratio:.2f}  ({mode} mode's budget <= {budget}: "
            f"{verdict}); "
            f"by CPU time {cpu_ratio:.2f}"
        )
    how = "single process"
    if via_api:
        how = "ocrgw over HTTP: submit -> result (a refused image: its refusal), CPU: a --server's processes"
    print(f"({how}, single thread, designs interleaved per image; run wall incl. scoring {wall:.1f} s)")
    return ratio, cpu_ratio


def _print_per_image(images: list[dict], worst: int) -> None:
    """How many images ocrgw reads better or worse than raw, and the largest regressions and gains."""
    worse = sorted((it for it in images if it["dCER"] > 0), key=lambda it: -it["dCER"])[:worst]
    better = sorted((it for it in images if it["dCER"] < 0), key=lambda it: it["dCER"])[:worst]
    ties = sum(1 for it in images if it["dCER"] == 0)
    print(
        f"\nper image: ocrgw better on {sum(1 for it in images if it['dCER'] < 0)}, worse on "
        f"{sum(1 for it in images if it['dCER'] > 0)}, equal on {ties} (page CER)"
    )
    print(f"\nworst {len(worse)} regressions (ocrgw's page CER above raw's):")
    print(image_table(worse) if worse else "(none)")
    print(f"\nbest {len(better)} gains:")
    print(image_table(better) if better else "(none)")


def main(argv: list[str] | None = None) -> int:
    ap = _parser()
    a = ap.parse_args(argv)
    names = [n.strip() for n in a.designs.split(",") if n.strip()]
    if not names or any(n not in DESIGNS for n in names) or len(set(names)) != len(names):
        ap.error(f"--designs takes a comma-separated subset of {', '.join(DESIGNS)}")
    via_api = bool(a.api or a.server)
    if via_api and "ocrgw" not in names:
        ap.error("--api and --server read with the ocrgw design: keep it in --designs")
    ev = load_ocr_eval(EVAL_TOOL)
    manifest = a.manifest.resolve()
    recs = load_manifest(manifest, a.kinds, a.limit)
    if not recs:
        ap.error("no manifest rows left after --kinds/--limit")

    from ocrgw.settings import Settings

    tessdata = Settings().resolved_tessdata_dir
    with contextlib.ExitStack() as stack:  # the --server's server stops here, before the report
        api = stack.enter_context(api_design(a, ap.error)) if via_api else None
        designs = _make_designs(names, a, tessdata, api)
        engine = _print_header(designs, manifest, recs, tessdata)
        t0 = time.perf_counter()
        try:
            rows = run(designs, recs, manifest.parent, ev, a.quiet)
        except BenchError as exc:
            print(f"bench failed: {exc}", file=sys.stderr)
            return 1
        finally:
            for d in designs:
                d.close()
        wall = time.perf_counter() - t0
    summary = summarize(rows, ev)
    _print_scores(summary, ev, a.full)
    ratio, cpu_ratio = _print_speed(summary, names, a.mode, wall, via_api)
    images = per_image(rows) if len(names) == 2 else []
    if images:
        _print_per_image(images, a.worst)
    api_report = print_api_report(rows, recs, a.dialect) if via_api else None
    if a.json:
        config = {"manifest": str(manifest), "designs": names, "engine": engine, "tessdata": str(tessdata)}
        for key in ("kinds", "limit", "reading_order", "preprocess", "mode", "api", "server", "dialect"):
            config[key] = getattr(a, key)
        config.update(commit=git_commit(), cpus=os.cpu_count(), platform=platform.platform())
        config["date"] = datetime.now().isoformat(timespec="seconds")
        out = {"config": config, "summary": summary, "ratio_time_per_page": ratio, "ratio_cpu_per_page": cpu_ratio}
        out.update(per_image=images, api=api_report, rows=rows)
        a.json.write_text(json.dumps(out, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
        print(f"\nwrote {a.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
