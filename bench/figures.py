"""Figures (Document Intelligence ``prebuilt-layout`` ``figures``): which of the CDLA layout model's ``figure``
regions the workers keep (``pipeline/structure/figures.py``), false figures and missed ones on real pages,
and what the layout step costs now that the model runs on every layout page. Figures and decisions:
docs/layout.md ("Figures").

* **dev**: the ocr-dev pages of every kind but single lines (48), read as a worker reads them (Tesseract, OSD,
  ``basic`` order: ``bench/layout.py``'s Reader), then ``compose.analyse`` as the workers run it. Per kind:
  pages, the model's figure regions, figures kept, and which pages' kept figures are true (two are:
  ``bench/data/figures.json``). The layout step's time per page is measured here too, on the page's first
  run (the model's result is cached per image).
* **docling**: the PDFs of docling-project/docling's test data (``--docling-git``: a bare git mirror, read at
  the commit in figures.json), rendered at 300 dpi as the workers render PDFs: papers, an IBM Redbook with
  screenshots and diagrams, a handbook with photos, Korean and Arabic reports. Reference figures: the
  ``pictures`` of docling's own ground truth (a model's output, taken as it is) and boxes drawn by hand where it
  has none. A found figure matches a reference when they overlap by IoU >= 0.3; precision and recall.
* **timing**: the layout step on each dev page with the figure finder and without it (the model then runs
  only where the table finder's gate opens, as before figures), alternately, wall and CPU seconds.
* **standalone** (held out: run once, after the rules were set on the two sets above): figure images from
  docling's LaTeX sources (charts, diagrams, a photo), each submitted alone as a page, as a user may send a
  chart: how many come back as figures.

    .venv/bin/python bench/figures.py                                   # dev only
    .venv/bin/python bench/figures.py --docling-git /work/.mirror/docling-project+docling/repo --json /tmp/fig.json
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from _common import DEV_DATA, REPO
from layout import Reader

LABELS = REPO / "bench" / "data" / "figures.json"
Box = tuple[float, float, float, float]


def iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - ix * iy
    return ix * iy / union if union > 0 else 0.0


class Pages:
    """Pages read as a worker reads them: the engine image and its lines in reading order."""

    def __init__(self) -> None:
        from ocrgw.pipeline.engines.tesseract import OrientationDetector, TesseractEngine
        from ocrgw.settings import Settings

        self.settings = Settings()
        tessdata = self.settings.resolved_tessdata_dir
        self.engine = TesseractEngine(tessdata, "eng")
        self.osd = OrientationDetector(tessdata) if (tessdata / "osd.traineddata").exists() else None
        self.images = Reader()

    def image(self, path: Path) -> tuple[np.ndarray, list]:
        img, lines, _ = self.images(path)
        return img, lines

    def pdf(self, data: bytes) -> list[tuple[np.ndarray, list]]:
        import pypdfium2 as pdfium

        from ocrgw.pipeline.layout import order_lines
        from ocrgw.pipeline.orient import read_page
        from ocrgw.pipeline.rasterize import pdf_render_dpi

        doc = pdfium.PdfDocument(data)
        out = []
        for page in doc:
            w, h = page.get_size()
            dpi = pdf_render_dpi(w, h, self.settings)
            gray = np.array(page.render(scale=dpi / 72, grayscale=True).to_numpy(), dtype=np.uint8)
            gray = gray[..., 0] if gray.ndim == 3 else gray
            reading = read_page(gray, round(dpi), self.engine, self.osd, exact_dpi=True)
            out.append((reading.image, order_lines(reading.lines, "basic")))
        doc.close()
        return out


def analyse(img: np.ndarray, lines: list) -> tuple[list[Box], int, float]:
    """(figures kept as shares of the page, the model's figure regions, seconds of the whole layout step)."""
    from ocrgw.pipeline.structure import compose
    from ocrgw.pipeline.structure.tables import layout_model

    t0 = time.perf_counter()
    layout = compose.analyse(img, lines)
    took = time.perf_counter() - t0
    h, w = img.shape[:2]
    regions = sum(1 for _, name, _ in layout_model().regions(img) if name == "figure")  # cached: no second run
    return [(f.box[0] / w, f.box[1] / h, f.box[2] / w, f.box[3] / h) for f in layout.figures], regions, took


def score(found: list[Box], labels: list[dict]) -> tuple[int, int, int]:
    """(true, false, missed) figures of one page."""
    boxes = [tuple(label["box"]) for label in labels]
    matched: set[int] = set()
    true = false = 0
    for box in found:
        best = max(range(len(boxes)), key=lambda i: iou(box, boxes[i]), default=None)
        if best is not None and iou(box, boxes[best]) >= 0.3:
            matched.add(best)
            true += 0 if labels[best].get("optional") else 1
        else:
            false += 1
    missed = sum(1 for i, label in enumerate(labels) if i not in matched and not label.get("optional"))
    return true, false, missed


def warm() -> None:
    from ocrgw.pipeline.structure import compose

    compose.analyse(np.full((800, 600), 255, np.uint8), [])  # load the models before any page is timed


def run_dev(pages: Pages, labels: dict) -> dict:
    rows = [json.loads(line) for line in (DEV_DATA / "manifest.jsonl").read_text().splitlines()]
    per_kind: dict[str, Counter] = {}
    times: dict[str, list[float]] = {}
    kept = []
    for row in rows:
        if row["kind"] == "line":
            continue
        img, lines = pages.image(DEV_DATA / row["image"])
        found, regions, took = analyse(img, lines)
        true, false, missed = score(found, labels["pages"].get(row["image"], []))
        c = per_kind.setdefault(row["kind"], Counter())
        c.update(pages=1, regions=regions, figures=len(found), true=true, false=false, missed=missed)
        times.setdefault(row["kind"], []).append(took)
        kept += [{"page": row["image"], "box": [round(v, 3) for v in b]} for b in found]
    return {"kinds": {k: dict(v) for k, v in per_kind.items()}, "seconds": times, "kept": kept}


def run_timing(pages: Pages) -> dict:
    """The layout step on each dev page with figures and without (the figure finder off and the layout model
    left to the table finder's gate, as before figures), alternately, on a fresh copy of the page each time
    (the model's result is cached per image): wall and CPU seconds."""
    from ocrgw.pipeline.structure import compose

    class NoRegions:
        def regions(self, image: np.ndarray) -> list:
            return []

    def step(img: np.ndarray, lines: list, figures: bool) -> tuple[float, float]:
        saved = compose.find_figures, compose.layout_model
        if not figures:
            compose.find_figures, compose.layout_model = (lambda *a: []), NoRegions  # type: ignore[assignment]
        try:
            w0, c0 = time.perf_counter(), time.process_time()
            compose.analyse(img.copy(), lines)
            return time.perf_counter() - w0, time.process_time() - c0
        finally:
            compose.find_figures, compose.layout_model = saved

    rows = [json.loads(line) for line in (DEV_DATA / "manifest.jsonl").read_text().splitlines()]
    out: dict[str, list] = {"with": [], "without": []}
    for row in rows:
        if row["kind"] == "line":
            continue
        img, lines = pages.image(DEV_DATA / row["image"])
        for figures in (False, True, False, True):  # twice each, interleaved: the lower of each pair
            wall, cpu = step(img, lines, figures)
            key = "with" if figures else "without"
            if len(out[key]) and out[key][-1][0] == row["image"]:
                prev = out[key][-1]
                out[key][-1] = (row["image"], min(prev[1], wall), min(prev[2], cpu))
            else:
                out[key].append((row["image"], wall, cpu))
    return out


def report_timing(timing: dict) -> None:
    print("\nlayout step per dev page (the lower of two runs each), seconds: median / p90 / max")
    for key in ("without", "with"):
        for col, name in ((1, "wall"), (2, "CPU")):
            v = sorted(t[col] for t in timing[key])
            p90 = v[int(0.9 * (len(v) - 1))]
            print(f"  {key:7s} figures {name:4s}: {statistics.median(v):.2f} / {p90:.2f} / {v[-1]:.2f}")
    extra = sorted(w[2] - wo[2] for w, wo in zip(timing["with"], timing["without"], strict=True))
    print(f"  figures add (CPU): median {statistics.median(extra):.2f}, max {extra[-1]:.2f}")


def git_show(git_dir: Path, commit: str, path: str) -> bytes:
    return subprocess.run(
        ["git", "--git-dir", str(git_dir), "show", f"{commit}:{path}"], capture_output=True, check=True
    ).stdout


def run_docling(pages: Pages, labels: dict, git_dir: Path) -> dict:
    total = Counter()
    per_pdf = {}
    for name in labels["pdfs"]:
        data = git_show(git_dir, labels["docling_commit"], f"tests/data/pdf/sources/{name}.pdf")
        c = Counter()
        for n, (img, lines) in enumerate(pages.pdf(data), start=1):
            found, regions, _ = analyse(img, lines)
            true, false, missed = score(found, labels["pages"].get(f"{name}.pdf#{n}", []))
            c.update(pages=1, regions=regions, figures=len(found), true=true, false=false, missed=missed)
        per_pdf[name] = dict(c)
        total.update(c)
    return {"pdfs": per_pdf, "total": dict(total)}


def run_standalone(pages: Pages, labels: dict, git_dir: Path) -> dict:
    from PIL import Image

    out = {}
    for path in labels["standalone"]:
        data = git_show(git_dir, labels["docling_commit"], path)
        if path.endswith(".pdf"):
            read = pages.pdf(data)[:1]
        else:
            tmp = Path("/tmp") / f"ocrgw-figure-{Path(path).stem}.png"
            with Image.open(io.BytesIO(data)) as im:
                im.convert("RGB").save(tmp)
            read = [pages.image(tmp)]
            tmp.unlink()
        img, lines = read[0]
        found, regions, _ = analyse(img, lines)
        words = sum(len(ln.words) for ln in lines)
        out[Path(path).name] = {"regions": regions, "figures": len(found), "words": words}
    return out


def report(res: dict) -> None:
    if "dev" in res:
        report_dev(res["dev"])
    if "timing" in res:
        report_timing(res["timing"])
    if "docling" in res:
        t = res["docling"]["total"]
        prec = t.get("true", 0) / max(1, t.get("true", 0) + t.get("false", 0))
        rec = t.get("true", 0) / max(1, t.get("true", 0) + t.get("missed", 0))
        print(
            f"\ndocling PDFs: {t['pages']} pages, model regions {t.get('regions', 0)}, kept {t.get('figures', 0)}: "
            f"true {t.get('true', 0)}, false {t.get('false', 0)}, missed {t.get('missed', 0)} "
            f"(precision {prec:.2f}, recall {rec:.2f})"
        )
        for name, c in res["docling"]["pdfs"].items():
            print(f"  {name:28s} " + " ".join(f"{k}={v}" for k, v in c.items()))
    if "standalone" in res:
        found = sum(1 for v in res["standalone"].values() if v["figures"])
        print(f"\nstandalone figure images (held out): {found} of {len(res['standalone'])} come back as a figure")
        for name, v in res["standalone"].items():
            print(f"  {name:34s} model regions {v['regions']}, kept {v['figures']}, words {v['words']}")


def report_dev(dev: dict) -> None:
    print("dev (ocr-dev, every kind but lines)")
    print(
        f"{'kind':10s} {'pages':>5s} {'model':>6s} {'kept':>5s} {'true':>5s} {'false':>6s} {'missed':>7s}"
        "   layout s median / max"
    )
    for kind, c in sorted(dev["kinds"].items()):
        t = dev["seconds"][kind]
        print(
            f"{kind:10s} {c['pages']:5d} {c.get('regions', 0):6d} {c.get('figures', 0):5d} {c.get('true', 0):5d} "
            f"{c.get('false', 0):6d} {c.get('missed', 0):7d}   {statistics.median(t):.2f} / {max(t):.2f}"
        )
    every = sorted(t for ts in dev["seconds"].values() for t in ts)
    print(
        f"layout step over {len(every)} pages: median {statistics.median(every):.2f} s, "
        f"p90 {every[int(0.9 * (len(every) - 1))]:.2f} s, max {every[-1]:.2f} s"
    )
    for k in dev["kept"]:
        print(f"  kept: {k['page']} {k['box']}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docling-git", type=Path, help="a git mirror of docling-project/docling (docling and standalone)")
    ap.add_argument("--only", choices=("dev", "timing", "docling", "standalone"), action="append")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(REPO / "src"))
    labels = json.loads(LABELS.read_text())
    only = args.only or ["dev", "timing", "docling", "standalone"]
    pages = Pages()
    warm()
    res: dict = {}
    if "dev" in only:
        res["dev"] = run_dev(pages, labels)
    if "timing" in only:
        res["timing"] = run_timing(pages)
    if args.docling_git and "docling" in only:
        res["docling"] = run_docling(pages, labels, args.docling_git)
    if args.docling_git and "standalone" in only:
        res["standalone"] = run_standalone(pages, labels, args.docling_git)
    report(res)
    if args.json:
        args.json.write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
