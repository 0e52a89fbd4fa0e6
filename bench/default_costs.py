"""What each of the default mode's extra steps buys and costs (issue 16 item 3): the worker's page code
(``pipeline.reader.read``, as accuracy.py calls it) run in this process under several settings side by
side, on one manifest, scored by ``<shared>/tools/ocr_eval.py``. It sits beside accuracy.py (one setting
against raw Tesseract) and throughput.py (the HTTP path under load): this one answers "which setting pays
on a page", so a choice is measured on the dev set and the held-out set (heldout.py) alike.

A setting is ``NAME:key=value,...`` with keys ``budget`` (OCRGW_REREAD_BUDGET), ``below``
(OCRGW_REREAD_BELOW), ``missed`` (1/0: the missed-text step), ``second`` (OCRGW_SECOND_OPINION_BELOW) and
``upscale`` (the preprocessing's largest enlargement, ``preprocess._MAX_UPSCALE``, for measuring only).
Every image is read once per setting, the settings' order rotated per image so machine load hits them
alike; CPU is the process's CPU time over each reading (decode + preprocess + engines + ordering +
result). Per setting: CER / lnCER / BoW-F1 per kind and over all, CPU ms per page, and the mean time of
the steps that vary (Tesseract, rereads, missed text, second opinion) per page.

    .venv/bin/python bench/default_costs.py                               # ocr-dev, the settings below
    .venv/bin/python bench/default_costs.py --manifest /tmp/heldout/manifest.jsonl
    .venv/bin/python bench/default_costs.py --setting now:budget=0.4 --setting b2:budget=0.2 --kinds receipt
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # before tesserocr loads: one thread, as the workers run

import argparse
import json
import sys
import time
from collections import OrderedDict, defaultdict
from pathlib import Path
from typing import Any

from _api import result_tsv
from accuracy import DEFAULT_MANIFEST, EVAL_TOOL, kinds_in_order, load_manifest, load_ocr_eval

DEFAULT_SETTINGS = (
    "before:budget=0.4,find=0,below=0.93",  # the default mode before issue 16 item 3
    "now:",  # the server's defaults (and OCRGW_* variables)
    "share0.1:share=0.1",
    "share0.2:share=0.2",
    "nomissed:missed=0",
    "none:below=0",  # Tesseract (and the second opinion) alone
)
KEYS = {"budget": float, "below": float, "missed": int, "second": float, "upscale": float, "share": float}
KEYS["find"] = float  # reread.FIND_LINE_HEIGHT (0: missed text looked for on the full-size image)
STAGES = ("recognize", "reread_lines", "missed_text", "second_opinion")


def parse_setting(text: str) -> tuple[str, dict[str, float]]:
    name, _, body = text.partition(":")
    values: dict[str, float] = {}
    for part in filter(None, body.split(",")):
        key, _, value = part.partition("=")
        if key not in KEYS:
            raise SystemExit(f"unknown key {key!r} in {text!r} (known: {', '.join(KEYS)})")
        values[key] = KEYS[key](value)
    return name, values


class Pipeline:
    """The worker's page loop without the database, reading with one setting per call."""

    def __init__(self) -> None:
        from ocrgw.jobs.pages import PageSelection
        from ocrgw.jobs.schemas import JobSpec
        from ocrgw.pipeline.engines import Engines
        from ocrgw.pipeline.engines.tesseract import OrientationDetector
        from ocrgw.settings import Settings

        self.settings = Settings()
        self.spec = JobSpec()
        tessdata = self.settings.resolved_tessdata_dir
        self.engines = Engines(tessdata, self.settings.mode, self.settings.second_opinion_below)
        self.engine, self.engine_step, self.second = self.engines.for_spec(self.spec)
        self.osd = OrientationDetector(tessdata) if (tessdata / "osd.traineddata").exists() else None
        self.selection = PageSelection(self.spec.pages)

    def __call__(self, path: Path, values: dict[str, float]) -> dict[str, Any]:
        from ocrgw.intake.sniff import check_type
        from ocrgw.pipeline import preprocess, rasterize, reader
        from ocrgw.pipeline.runner import _page_result

        with open(path, "rb") as f:
            media_type = check_type(f.read(64))
        s = self.settings
        from ocrgw.pipeline import reread

        cap, find = preprocess._MAX_UPSCALE, reread.FIND_LINE_HEIGHT
        preprocess._MAX_UPSCALE = values.get("upscale", cap)
        reread.FIND_LINE_HEIGHT = values.get("find", find)
        try:
            c0, t0 = time.process_time(), time.perf_counter()
            results, steps = [], []
            for page in rasterize.iter_pages(path, media_type, self.selection, skip=set(), settings=s):
                got = reader.read(
                    page,
                    self.engine,
                    self.osd,
                    self.spec.reading_order,
                    second=self.second,
                    second_below=values.get("second", s.second_opinion_below),
                    reread_below=values.get("below", s.reread_below),
                    reread_share=values.get("share", None if "budget" in values else s.reread_share),
                    reread_budget=values.get("budget", s.reread_budget),
                    missed_text=bool(values.get("missed", s.missed_text)),
                    engine_step=self.engine_step,
                )
                result = _page_result(page, got.lines, got.matrix, got.angle, got.steps, None)
                results.append((result, page.unit_per_px))
                steps.append(got.steps)
            cpu, wall = time.process_time() - c0, time.perf_counter() - t0
        finally:
            preprocess._MAX_UPSCALE, reread.FIND_LINE_HEIGHT = cap, find
        text = "\n".join(line.text for result, _ in results for line in result.lines)
        out = {"text": text, "tsv": result_tsv(results), "pages": len(results), "steps": steps}
        return {**out, "cpu": cpu, "wall": wall}

    def warm(self, path: Path) -> None:
        if self.second is not None:
            import numpy as np

            self.second().read_line(np.full((32, 96), 255, np.uint8))  # type: ignore[attr-defined]
        self(path, {})


def stage_ms(steps: list[list[dict]]) -> dict[str, float]:
    out: dict[str, float] = defaultdict(float)
    for page in steps:
        for st in page:
            if st.get("step") in STAGES and "ms" in st:
                out[st["step"]] += float(st["ms"])
            if st.get("step") == "reread_lines":
                out["tried"] += st.get("tried", 0)
                out["units"] += st.get("units", 0)
                out["candidates"] += st.get("candidates", 0)
    return out


def run(settings: list[tuple[str, dict]], recs: list[dict], base: Path, ev: Any, quiet: bool) -> dict[str, list]:
    pipe = Pipeline()
    pipe.warm(base / recs[0]["image"])
    rows: dict[str, list] = {name: [] for name, _ in settings}
    for i, rec in enumerate(recs):
        k = i % len(settings)
        cells = []
        for name, values in settings[k:] + settings[:k]:
            got = pipe(base / rec["image"], values)
            m = ev.score(rec, got["text"], got["tsv"])
            row = {"image": rec["image"], "kind": rec.get("kind", "?"), "t": got["wall"], "m": m}
            row.update(cpu=got["cpu"], pages=got["pages"], stages=stage_ms(got["steps"]))
            rows[name].append(row)
            cells.append(f"{name} {1000 * got['cpu']:6.0f}ms {m['ceci'] / max(1, m['cnci']):.3f}")
        if not quiet:
            print(f"{rec['image']:<40} " + " | ".join(cells), flush=True)
    return rows


def report(rows: dict[str, list], ev: Any) -> dict[str, Any]:
    kinds = [*kinds_in_order(next(iter(rows.values()))), "all"]
    head = f"{'setting':<14}{'kind':<9}{'n':>4}{'CER':>8}{'lnCER':>8}{'BoW-F1':>8}{'CPU ms/page':>13}"
    head += "".join(f"{s[:9]:>11}" for s in STAGES) + f"{'tried':>7}{'units':>7}"
    print(head)
    print("-" * len(head))
    out: dict[str, Any] = {}
    for name, rs in rows.items():
        out[name] = OrderedDict()
        for kind in kinds:
            sel = rs if kind == "all" else [r for r in rs if r["kind"] == kind]
            agg = ev.aggregate(sel)
            pages = sum(r["pages"] for r in sel)
            agg["cpu_ms_page"] = 1000 * sum(r["cpu"] for r in sel) / max(1, pages)
            for st in [*STAGES, "tried", "units"]:
                agg[st] = sum(r["stages"].get(st, 0.0) for r in sel) / max(1, pages)
            out[name][kind] = agg
            cells = f"{name:<14}{kind:<9}{agg['n']:>4}"
            cells += "".join(f"{100 * agg[k]:>7.1f}%" for k in ("CERci", "lnCER", "BoW-F1"))
            cells += f"{agg['cpu_ms_page']:>13.0f}" + "".join(f"{agg[st]:>11.0f}" for st in STAGES)
            print(cells + f"{agg['tried']:>7.1f}{agg['units']:>7.0f}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST)
    ap.add_argument("--setting", action="append", default=[], help="NAME:key=value,... (repeatable)")
    ap.add_argument("--kinds", default="", help="comma-separated kinds to keep")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("-q", "--quiet", action="store_true")
    a = ap.parse_args(argv)
    settings = [parse_setting(t) for t in (a.setting or DEFAULT_SETTINGS)]
    ev = load_ocr_eval(EVAL_TOOL)
    manifest = a.manifest.resolve()
    recs = load_manifest(manifest, a.kinds, a.limit)
    print(f"# {manifest} images={len(recs)} load={os.getloadavg()[0]:.1f} settings={' '.join(a.setting)}")
    t0 = time.perf_counter()
    rows = run(settings, recs, manifest.parent, ev, a.quiet)
    print(f"# {time.perf_counter() - t0:.0f} s, load {os.getloadavg()[0]:.1f}")
    out = report(rows, ev)
    if a.json:
        a.json.write_text(json.dumps({"summary": out, "rows": rows}, default=str, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
