"""Layout bench, tables (issue 15): table structure on public table images with ground-truth structure,
each design side by side in one run, with the time each takes per table or page. docs/layout.md has the
figures and the decisions taken on them.

The set is rebuilt outside the repository, byte for byte, from bare git mirrors of two public
repositories at pinned commits (the images are never committed: see Licences):

* ``ptn``: the 40 PubTabNet tables (upscaled 2x, see ``upscaled``) with their HTML published in
  ibm-aur-nlp/PubTabNet @ 8ffde902 (the 20 ``examples/`` with ``PubTabNet_Examples.jsonl``, and the 20
  ``val_mini.zip`` tables with ``src/sample_gt.json``). Table crops rendered from PMC articles, scored
  with TEDS. The 20 examples are from PubTabNet's training split, which SLANet-plus was trained on: the
  model's figures on ``ptn`` are an upper bound, the other two sets are not its training data.
* ``ptn-scan``: the same 40 crops degraded like a scan (upscaled 2x, turned by up to 1 degree, blurred,
  grainy, JPEG at quality 60; seeded), the same ground truth. Not a real scan: the bench found no public
  repository small enough to fetch with real scanned or photographed tables and structure ground truth.
* ``ctdar``: full pages of cndplab-founder/ICDAR2019_cTDaR_dataset_supplement @ e838cb17 (``TrackB2``
  test set: modern documents, annual reports and papers, many in Chinese; ground truth = each cell's
  content box and its left/right/top/bottom neighbours), scored with cell-adjacency F1. Pages are found
  and read whole, so these also measure table detection and the time per page. Only pages where the
  pipeline's English reading is confident (mean word confidence >= 0.7, decided by ``build`` from
  ocrgw's own reading, never from the ground truth) are kept: adjacency is matched through OCR words.

Licences: PubTabNet's annotations are CDLA-Permissive-1.0, its images are PMC Open Access articles under
their own terms; the cTDaR supplement is BSD-2-Clause, its images come from ICDAR 2019 cTDaR, whose
terms are not stated. Neither is committed.

    git clone --mirror <PubTabNet> ptn.git; git clone --mirror <cTDaR supplement> ctdar.git
    PYTHONPATH=src .venv/bin/python bench/tables.py build --ptn-git ptn.git --ctdar-git ctdar.git --out /tmp/tables
    PYTHONPATH=src .venv/bin/python bench/tables.py run --set /tmp/tables [--designs rules,model,hybrid]

``plain``: the page and multicol images of the shared ocr-dev set (running text, no table), for the
cost on a page without a table and the tables found where there are none.

``run`` reads every image once with ocrgw's own pipeline (``reader.read`` in-process, as bench/accuracy.py
does; cached under ``<set>/ocr/``), then times each design's ``TableFinder`` on the same lines: on the
crops ``read_region`` over the whole image, on the pages ``find``. Single-threaded ONNX, as the workers.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import statistics
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from _common import DEV_DATA
from _tablescore import adjacency_counts, f1, predicted_pairs, table_html, teds

PTN_REPO, PTN_COMMIT = "ibm-aur-nlp/PubTabNet", "8ffde9024bd331f5a61c3c549fdf30dd3c3e43a5"
CTDAR_REPO, CTDAR_COMMIT = (
    "cndplab-founder/ICDAR2019_cTDaR_dataset_supplement",
    "e838cb177e5e44b964f6268e5c41557f6f1a3544",
)
CTDAR_DIR = "TestSet/TrackB2"
MIN_PAGE_CONFIDENCE = 0.7
SCAN_SEED = 20261205

DESIGNS = {  # name -> (regions, structure, aligned, gate), see tables.TableFinder
    "rules": (
        "rules",
        "rules",
        True,
        True,
    ),  # no model at all: ruled and aligned regions, grids from rules and word gaps
    "layout+rules": ("both", "rules", True, False),  # the layout model's regions too, structure by rules
    "model": ("both", "model", True, False),  # every region's structure from SLANet-plus, layout model on every page
    "model-gated": ("both", "model", True, True),  # as model, the layout model only where the rules see a table
    "hybrid": ("both", "hybrid", True, False),  # full ruled grids by rules, the rest by SLANet-plus
}


def git(git_dir: Path, *args: str) -> bytes:
    return subprocess.run(["git", "--git-dir", str(git_dir), *args], capture_output=True, check=True).stdout


# ------------------------------------------------------------------------------------------- build
def ptn_ground_truth(git_dir: Path) -> dict[str, str]:
    """File name -> HTML with cell text (markup inside cells such as <b> dropped, as TEDS compares text)."""
    out: dict[str, str] = {}
    for line in git(git_dir, "show", f"{PTN_COMMIT}:examples/PubTabNet_Examples.jsonl").decode().splitlines():
        rec = json.loads(line)
        cells, parts, k = rec["html"]["cells"], [], 0
        for tok in rec["html"]["structure"]["tokens"]:
            if tok == "</td>":
                parts.append("".join(t for t in cells[k]["tokens"] if not re.fullmatch(r"<[^>]+>", t)))
                k += 1
            parts.append(tok)
        out[rec["filename"]] = "<table>" + "".join(parts) + "</table>"
    sample = json.loads(git(git_dir, "show", f"{PTN_COMMIT}:src/sample_gt.json"))
    for name, rec in sample.items():
        out[name] = re.sub(r"</?(b|i|sup|sub|underline|strike|overline)>", "", rec["html"])
    return out


def ptn_images(git_dir: Path, names: set[str]) -> dict[str, tuple[bytes, str]]:
    out = {}
    for name in sorted(names):
        path = f"examples/{name}"
        try:
            out[name] = (git(git_dir, "show", f"{PTN_COMMIT}:{path}"), path)
        except subprocess.CalledProcessError:
            continue
    with zipfile.ZipFile(io.BytesIO(git(git_dir, "show", f"{PTN_COMMIT}:ICDAR_SLR_competition/val_mini.zip"))) as z:
        for info in z.infolist():
            name = Path(info.filename).name
            if name in names and name not in out:
                out[name] = (z.read(info), f"ICDAR_SLR_competition/val_mini.zip:{info.filename}")
    return out


def upscaled(png: bytes) -> bytes:
    """A crop at twice its size: PubTabNet renders text about 8 px high, which no OCR reads well,
    while a page at 200-300 dpi (what the workers see) has it 2-3 times as high."""
    import cv2

    gray = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    ok, enc = cv2.imencode(".png", cv2.resize(gray, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC))
    assert ok
    return enc.tobytes()


def scan_like(png: bytes, rng: np.random.Generator) -> bytes:
    """A crop degraded like a 2x scan: upscaled, turned slightly, blurred, grainy, JPEG-compressed."""
    import cv2

    gray = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    gray = cv2.resize(gray, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    gray = cv2.copyMakeBorder(gray, 20, 20, 20, 20, cv2.BORDER_CONSTANT, value=255)
    h, w = gray.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), float(rng.uniform(-1, 1)), 1.0)
    gray = cv2.warpAffine(gray, m, (w, h), borderValue=255, flags=cv2.INTER_LINEAR)
    gray = cv2.GaussianBlur(gray, (3, 3), 0.8)
    noisy = gray.astype(np.float64) * 0.92 + 10 + rng.normal(0, 9, gray.shape)
    ok, enc = cv2.imencode(".jpg", np.clip(noisy, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 60])
    assert ok
    return enc.tobytes()


def ctdar_ground_truth(xml: str) -> dict[str, Any]:
    """Cells (content boxes) and neighbour pairs, right and below only, ids made page-unique."""
    cells: list[list[int]] = []
    pairs: set[tuple[int, int, str]] = set()
    for t, table in enumerate(re.findall(r"<table>(.*?)</table>", xml, re.S)):
        ids: dict[str, int] = {}
        for m in re.finditer(r'<cell id="(\d+)" neighbors="([^"]*)">\s*<Coords points="([^"]+)"', table):
            pts = [tuple(map(int, p.split(","))) for p in m.group(3).split()]
            ids[m.group(1)] = len(cells)
            cells.append(
                [min(p[0] for p in pts), min(p[1] for p in pts), max(p[0] for p in pts), max(p[1] for p in pts), t]
            )
        for m in re.finditer(r'<cell id="(\d+)" neighbors="([^"]*)"', table):
            for rel in m.group(2).split():
                other, d = rel.split(":")
                if other not in ids:
                    continue
                a, b = ids[m.group(1)], ids[other]
                if d in ("R", "B"):
                    pairs.add((a, b, d))
                elif d in ("L", "T"):
                    pairs.add((b, a, "R" if d == "L" else "B"))
    return {"cells": cells, "pairs": sorted(pairs)}


def build(a: argparse.Namespace) -> None:
    out = Path(a.out)
    (out / "img").mkdir(parents=True, exist_ok=True)
    rows = []
    gt = ptn_ground_truth(Path(a.ptn_git))
    rng = np.random.default_rng(SCAN_SEED)
    for name, (data, path) in sorted(ptn_images(Path(a.ptn_git), set(gt)).items()):
        src = f"{PTN_REPO}@{PTN_COMMIT}:{path}"
        lic = "annotations CDLA-Permissive-1.0; image: PMC Open Access subset terms"
        (out / "img" / name).write_bytes(upscaled(data))
        rows.append(
            {"id": f"ptn/{name}", "set": "ptn", "image": f"img/{name}", "html": gt[name], "source": src, "licence": lic}
        )
        scan = name.replace(".png", "_scan.jpg")
        (out / "img" / scan).write_bytes(scan_like(data, rng))
        rows.append(
            {
                "id": f"ptn-scan/{name}",
                "set": "ptn-scan",
                "image": f"img/{scan}",
                "html": gt[name],
                "source": src + " (degraded)",
                "licence": lic,
            }
        )
    git_dir = Path(a.ctdar_git)
    names = git(git_dir, "ls-tree", "--name-only", CTDAR_COMMIT, f"Images/{CTDAR_DIR}/").decode().split()
    reader = Ocr()
    for path in sorted(names):
        name = Path(path).name
        xml = git(git_dir, "show", f"{CTDAR_COMMIT}:Annotations/{CTDAR_DIR}/{Path(name).stem}.xml").decode()
        (out / "img" / name).write_bytes(git(git_dir, "show", f"{CTDAR_COMMIT}:{path}"))
        conf = reader.confidence(out / "img" / name, out)
        if conf < MIN_PAGE_CONFIDENCE:
            (out / "img" / name).unlink()
            continue
        rows.append(
            {
                "id": f"ctdar/{name}",
                "set": "ctdar",
                "image": f"img/{name}",
                **ctdar_ground_truth(xml),
                "source": f"{CTDAR_REPO}@{CTDAR_COMMIT}:{path}",
                "licence": "BSD-2-Clause (supplement); image: ICDAR 2019 cTDaR, terms not stated",
                "confidence": round(conf, 3),
            }
        )
    with open(out / "manifest.jsonl", "w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    print(f"{len(rows)} items in {out / 'manifest.jsonl'}")


# --------------------------------------------------------------------------------------------- OCR
class Ocr:
    """ocrgw's page reading, in-process (as bench/accuracy.py's OcrgwPipeline), cached as JSON."""

    def __init__(self) -> None:
        from ocrgw.jobs.schemas import JobSpec
        from ocrgw.pipeline.engines import Engines
        from ocrgw.pipeline.engines.tesseract import OrientationDetector
        from ocrgw.settings import Settings

        self.settings = Settings()
        self.spec = JobSpec()
        tessdata = self.settings.resolved_tessdata_dir
        self.engines = Engines(
            tessdata, self.settings.mode, self.settings.second_opinion_below, self.settings.resolved_model_cache_dir
        )
        self.engine, self.step, self.second = self.engines.for_spec(self.spec)
        self.osd = OrientationDetector(tessdata) if (tessdata / "osd.traineddata").exists() else None

    def lines(self, image: Path, set_dir: Path) -> list[Any]:
        from ocrgw.pipeline.engines.tesseract import RawLine, RawWord

        cache = set_dir / "ocr" / (image.name + ".json")
        if not cache.exists():
            cache.parent.mkdir(exist_ok=True)
            cache.write_text(json.dumps(self._read(image)))
        return [
            RawLine(
                tuple(ln["box"]), ln["conf"], 0, [RawWord(w["text"], tuple(w["box"]), w["conf"]) for w in ln["words"]]
            )
            for ln in json.loads(cache.read_text())
        ]

    def confidence(self, image: Path, set_dir: Path) -> float:
        from ocrgw.pipeline.engines.tesseract import confidence_summary

        return confidence_summary(self.lines(image, set_dir))[0]

    def _read(self, image: Path) -> list[dict[str, Any]]:
        import cv2

        from ocrgw.pipeline import reader
        from ocrgw.pipeline.preprocess import to_source
        from ocrgw.pipeline.rasterize import RasterPage

        gray = cv2.imread(str(image), cv2.IMREAD_GRAYSCALE)
        got = reader.read(
            RasterPage(1, gray, None),
            self.engine,
            self.osd,
            self.spec.reading_order,
            second=self.second,
            second_below=self.settings.second_opinion_below,
            reread_below=self.settings.reread_below,
            reread_share=self.settings.reread_share,
            reread_budget=self.settings.reread_budget,
            missed_text=self.settings.missed_text,
            engine_step=self.step,
        )

        def box(b: tuple[int, int, int, int]) -> list[int]:
            p = to_source([b[0], b[1], b[2], b[1], b[2], b[3], b[0], b[3]], got.matrix)
            xs, ys = p[0::2], p[1::2]
            return [int(min(xs)), int(min(ys)), round(max(xs)), round(max(ys))]

        return [
            {
                "box": box(ln.box),
                "conf": ln.confidence,
                "words": [{"text": w.text, "box": box(w.box), "conf": w.confidence} for w in ln.words],
            }
            for ln in got.lines
        ]


# --------------------------------------------------------------------------------------------- run
def score_crop(finder: Any, gray: np.ndarray, lines: list[Any], true_html: str) -> dict[str, float]:
    from ocrgw.pipeline.structure import rules, tables

    words = rules.words_of(lines)
    box = (0, 0, gray.shape[1], gray.shape[0])
    t0 = time.perf_counter()
    ruled = rules.find_rules(gray)
    kind = "grid" if tables._has_grid(ruled, box) else "open"
    table = finder.read_region(gray, box, words, ruled, kind)
    ms = (time.perf_counter() - t0) * 1000
    html = table_html(table, tables.assign_words(table, lines)) if table else "<table></table>"
    return {"teds": teds(html, true_html), "teds_struct": teds(html, true_html, True), "ms": ms}


def score_page(finder: Any, gray: np.ndarray, lines: list[Any], row: dict[str, Any]) -> dict[str, float]:
    from ocrgw.pipeline.structure import rules, tables

    t0 = time.perf_counter()
    found = finder.find(gray, lines)
    ms = (time.perf_counter() - t0) * 1000
    words = rules.words_of(lines)
    gt_cells = row["cells"]
    gt_of = [next((i for i, b in enumerate(gt_cells) if rules._centre_in(w.box, tuple(b[:4]))), None) for w in words]
    pred_of: dict[int, tuple[int, tuple[int, int]]] = {}
    pairs = set()
    for t, table in enumerate(found):
        assigned = tables.assign_words(table, lines)
        for key, ws in assigned.items():
            for w in ws:
                pred_of[id(w)] = (t, key)
        filled = {k for k, ws in assigned.items() if ws}
        pairs |= {((t, a), (t, b), d) for a, b, d in predicted_pairs(table, filled)}
    counts = adjacency_counts({tuple(p) for p in row["pairs"]}, gt_of, [pred_of.get(id(w)) for w in words], pairs)
    return {
        "found": counts[0],
        "right": counts[1],
        "predicted": counts[2],
        "true": counts[3],
        "ms": ms,
        "tables": len(found),
    }


def run(a: argparse.Namespace) -> None:
    import cv2

    from ocrgw.pipeline.structure.tables import TableFinder

    set_dir = Path(a.set)
    rows = [json.loads(x) for x in (set_dir / "manifest.jsonl").read_text().splitlines()]
    if "plain" in a.sets.split(","):
        dev = [json.loads(x) for x in (DEV_DATA / "manifest.jsonl").read_text().splitlines()]
        rows += [
            {"id": f"plain/{r['image']}", "set": "plain", "image": str(DEV_DATA / r["image"])}
            for r in dev
            if r.get("kind") in ("page", "multicol")
        ]
    rows = [r for r in rows if r["set"] in a.sets.split(",")][: a.limit or None]
    ocr = Ocr()
    names = a.designs.split(",")
    finders = {n: TableFinder(*DESIGNS[n]) for n in names}
    for finder in finders.values():
        finder.warm()
    results: dict[str, dict[str, list[dict[str, float]]]] = {n: {} for n in names}
    for row in rows:
        path = set_dir / row["image"]
        gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        lines = ocr.lines(path, set_dir)
        for n in names:
            if row["set"] == "plain":
                t0 = time.perf_counter()
                found = finders[n].find(gray, lines)
                got = {"ms": (time.perf_counter() - t0) * 1000, "tables": len(found)}
            elif row["set"] == "ctdar":
                got = score_page(finders[n], gray, lines, row)
            else:
                got = score_crop(finders[n], gray, lines, row["html"])
            results[n].setdefault(row["set"], []).append({"id": row["id"], **got})
        if not a.quiet:
            print(row["id"], {n: _brief(results[n][row["set"]][-1]) for n in names}, flush=True)
    report(results, a)


def _brief(r: dict[str, float]) -> str:
    if "found" not in r and "teds" not in r:
        return f"{r['tables']} tables {r['ms']:.0f}ms"
    if "teds" in r:
        return f"{r['teds_struct']:.2f}/{r['teds']:.2f} {r['ms']:.0f}ms"
    return f"{r['found']}+{r['right']}/{r['predicted']}/{r['true']} {r['ms']:.0f}ms"


def report(results: dict[str, dict[str, list[dict[str, float]]]], a: argparse.Namespace) -> None:
    head = f"{'TEDS-struct':>11} {'TEDS':>6} {'adj P':>6} {'adj R':>6} {'adj F1':>6} {'ms mean':>8} {'ms p90':>7}"
    print(f"\n{'design':14} {'set':9} {'n':>3} {head}")
    summary: dict[str, Any] = {}
    for n, by_set in results.items():
        for s, items in by_set.items():
            ms = [r["ms"] for r in items]
            line = {"n": len(items), "ms_mean": statistics.mean(ms), "ms_p90": float(np.percentile(ms, 90))}
            if s == "plain":
                line["false_tables"] = sum(r["tables"] for r in items)
                cols = f"{'':>11} {'':>6} {'':>6} {'':>6} {'':>6}  false tables: {line['false_tables']}"
            elif s == "ctdar":
                tot = [sum(r[k] for r in items) for k in ("found", "right", "predicted", "true")]
                line |= dict(zip(("adj_p", "adj_r", "adj_f1"), f1(*tot), strict=True))  # type: ignore[arg-type]
                cols = f"{'':>11} {'':>6} {line['adj_p']:6.3f} {line['adj_r']:6.3f} {line['adj_f1']:6.3f}"
            else:
                line |= {
                    "teds": statistics.mean(r["teds"] for r in items),
                    "teds_struct": statistics.mean(r["teds_struct"] for r in items),
                }
                cols = f"{line['teds_struct']:11.3f} {line['teds']:6.3f} {'':>6} {'':>6} {'':>6}"
            print(f"{n:14} {s:9} {len(items):3d} {cols} {line['ms_mean']:8.0f} {line['ms_p90']:7.0f}")
            summary.setdefault(n, {})[s] = line
    if a.json:
        Path(a.json).write_text(json.dumps({"summary": summary, "items": results}, indent=1))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("--ptn-git", required=True)
    b.add_argument("--ctdar-git", required=True)
    b.add_argument("--out", required=True)
    r = sub.add_parser("run")
    r.add_argument("--set", required=True)
    r.add_argument("--designs", default=",".join(DESIGNS))
    r.add_argument("--sets", default="ptn,ptn-scan,ctdar,plain")
    r.add_argument("--limit", type=int, default=0)
    r.add_argument("--json")
    r.add_argument("--quiet", action="store_true")
    a = p.parse_args()
    build(a) if a.cmd == "build" else run(a)


if __name__ == "__main__":
    sys.exit(main())
