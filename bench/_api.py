"""What accuracy.py scores, and its ``--api`` design. Every design hands ocr_eval a ``Reading``: the page text
and a Tesseract TSV (``result_tsv``: ocrgw's result shape as level-4 lines and level-5 words). The in-process
design builds it from ``runner._page_result``; ``ApiReader`` from what a running server answers over HTTP, so
what is measured is what a user gets: intake's limits (the 50 px minimum side refuses single-line crops), the
dialect's defaults (the native API reads in ``natural`` order, Read in ``basic``), queueing, storage and
rendering. Both are scored by the same code.

``ApiReader`` submits one image at a time (Azure Read v3.2: ``POST /vision/v3.2/read/analyze`` with the bytes,
poll ``Operation-Location``; native: ``POST /v1/jobs`` multipart ``file``, poll ``Location``, then GET
``links.result``); its time is the wall time from submit to the result in hand. A refused submit or a failed
job is an empty reading (CER 100 %) with the error kept as the image's note. The answer also carries each
line's style label and each page's language, which ``print_checks`` compares with the manifest's optional
``lines[].style`` and ``language``. ``local_server`` starts ``ocrgw serve`` on a loopback port for the run
(``--server``): SQLite in a temporary folder, local workers, auth off, intake limits as configured."""

from __future__ import annotations

import contextlib
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from _common import BenchError, OcrgwServer, process_tree_cpu

TSV_HEADER = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n"
DIALECTS = ("azure-read", "native")
STYLES = ("handwriting", "other")


@dataclass(slots=True)
class Reading:
    """One design's output for one manifest image: what gets scored and timed."""

    text: str
    tsv: str
    wall: float  # seconds of OCR work (see accuracy.py's docstring for what each design includes)
    cpu: float  # process CPU seconds over the same span (the API: the local server's processes, else NaN)
    pages: int
    steps: list[list[dict]] = field(default_factory=list)  # ocrgw: preprocessing steps per page
    api: dict = field(default_factory=dict)  # the API design: error, lines' boxes and styles, languages


def result_tsv(results: list[tuple[Any, float]]) -> str:
    """Tesseract's TSV for ocrgw's stored result, so ocr_eval scores it exactly as it scores Tesseract.

    One level-4 row per result line (its own block, so ocr_eval keys words to it), one level-5 row per
    word, in ocrgw's reading order. Boxes are the axis-aligned hull of each quad, in pixels of the image as
    submitted (quads of a deskewed or turned page are mapped back by the worker already); confidence 0-100."""
    rows = [TSV_HEADER.rstrip("\n")]

    def box(quad: list[float], per_px: float) -> str:
        x0, y0, x1, y1 = (round(v) for v in hull(quad, per_px))
        return f"{x0}\t{y0}\t{x1 - x0}\t{y1 - y0}"

    for page_i, (result, per_px) in enumerate(results, start=1):
        rows.append(
            f"1\t{page_i}\t0\t0\t0\t0\t0\t0\t{round(result.width / per_px)}\t{round(result.height / per_px)}\t-1\t"
        )
        for line_i, line in enumerate(result.lines, start=1):
            rows.append(f"4\t{page_i}\t{line_i}\t1\t1\t0\t{box(line.bbox, per_px)}\t-1\t")
            for word_i, word in enumerate(line.words, start=1):
                text = " ".join(word.text.split())  # a tab or newline would break the row
                rows.append(
                    f"5\t{page_i}\t{line_i}\t1\t1\t{word_i}\t{box(word.bbox, per_px)}\t"
                    f"{100 * word.confidence:.2f}\t{text}"
                )
    return "\n".join(rows) + "\n"


def hull(quad: list[float], per_px: float = 1.0) -> tuple[float, float, float, float]:
    """x0, y0, x1, y1 in pixels of an 8-number quad in the page's unit."""
    xs, ys = [v / per_px for v in quad[0::2]], [v / per_px for v in quad[1::2]]
    return min(xs), min(ys), max(xs), max(ys)


# ------------------------------------------------------------------------------- the API's answers
@dataclass(slots=True)
class Word:
    text: str
    bbox: list[float]
    confidence: float


@dataclass(slots=True)
class Line:
    text: str
    bbox: list[float]
    words: list[Word]
    style: str  # handwriting | other (missing in the answer: other)


@dataclass(slots=True)
class Page:
    """One page of an API result, in the shape ``result_tsv`` reads (boxes in the page's unit)."""

    width: float
    height: float
    unit: str
    language: str | None
    lines: list[Line]
    steps: list[dict]


def read_pages(body: dict) -> list[Page]:
    """Read v3.2's ``analyzeResult.readResults``; a line's style is ``appearance.style.name``."""
    pages = []
    for p in body["analyzeResult"]["readResults"]:
        lines = [
            Line(
                ln["text"],
                ln["boundingBox"],
                [Word(w["text"], w["boundingBox"], w.get("confidence", 0.0)) for w in ln.get("words", [])],
                ((ln.get("appearance") or {}).get("style") or {}).get("name") or "other",
            )
            for ln in p.get("lines", [])
        ]
        pages.append(Page(p["width"], p["height"], p.get("unit", "pixel"), p.get("language"), lines, []))
    return pages


def native_pages(body: dict) -> list[Page]:
    """The native result's ``pages``; a line's style is its ``style`` field (where the server sends one)."""
    pages = []
    for p in body["pages"]:
        lines = [
            Line(
                ln["text"],
                ln["bbox"],
                [Word(w["text"], w["bbox"], w.get("confidence", 0.0)) for w in ln.get("words", [])],
                ln.get("style") or "other",
            )
            for ln in p.get("lines", [])
        ]
        pages.append(
            Page(
                p["width"], p["height"], p.get("unit", "pixel"), p.get("language"), lines, p.get("preprocessing") or []
            )
        )
    return pages


def error_text(r: httpx.Response) -> str:
    """'400 InvalidRequest/InvalidImageDimension: message' from either dialect's error envelope."""
    try:
        err = r.json().get("error") or {}
    except ValueError:
        return f"{r.status_code} {r.text[:200]}"
    inner = (err.get("innererror") or {}).get("code")
    return f"{r.status_code} {err.get('code', '?')}{'/' + inner if inner else ''}: {err.get('message', '')}"[:300]


# -------------------------------------------------------------------------------------- the design
class ApiReader:
    """The ``--api`` design: each image submitted as a user would, one at a time, polled to the end."""

    name = "ocrgw"

    def __init__(
        self,
        url: str,
        dialect: str,
        key: str | None,
        options: dict[str, str],
        poll: tuple[float, float],
        server: OcrgwServer | None = None,
    ) -> None:
        self.url, self.dialect, self.options, self.poll = url.rstrip("/"), dialect, options, poll
        self.server = server  # started by this bench: its processes' CPU is measured per image
        header = "Ocp-Apim-Subscription-Key" if dialect == "azure-read" else "X-API-Key"
        self.client = httpx.Client(base_url=self.url, timeout=300, headers={header: key} if key else {})

    def describe(self) -> str:
        opts = " ".join(f"{k}={v}" for k, v in self.options.items()) or "the dialect's defaults"
        where = f"local server ({self.server.workers} worker(s))" if self.server else "running server"
        return f" api: {self.dialect} at {self.url}, {where}, options: {opts}"

    def __call__(self, path: Path) -> Reading:
        body = path.read_bytes()  # before the clock starts, as the in-process design's file cache
        cpu0 = self._server_cpu()
        t0 = time.perf_counter()
        try:
            result, polls = self._submit_and_wait(path.name, body)
            error = ""
        except _Refused as exc:
            result, polls, error = None, 0, str(exc)
        wall = time.perf_counter() - t0
        cpu = self._server_cpu() - cpu0
        if result is None:
            return Reading("", TSV_HEADER, wall, cpu, 1, api={"error": error})
        pages = read_pages(result) if self.dialect == "azure-read" else native_pages(result)
        scaled = [(p, _unit_per_px(p, path)) for p in pages]
        api = {
            "polls": polls,
            "languages": [p.language for p in pages],
            "lines": [[*hull(ln.bbox, per_px), ln.style] for p, per_px in scaled for ln in p.lines],
        }
        text = "\n".join(ln.text for p in pages for ln in p.lines)
        steps = [p.steps for p in pages] if self.dialect == "native" else []  # Read does not say
        return Reading(text, result_tsv(scaled), wall, cpu, len(pages), steps, api)

    def _server_cpu(self) -> float:
        tree = process_tree_cpu(self.server.proc.pid) if self.server and self.server.proc else None
        return sum(tree.values()) if tree else float("nan")

    def _submit_and_wait(self, name: str, body: bytes) -> tuple[dict, int]:
        """The finished result and how many polls it took; _Refused for a refused submit or a failed job."""
        for _ in range(10):
            if self.dialect == "azure-read":
                r = self.client.post(
                    "/vision/v3.2/read/analyze",
                    params=self.options,
                    content=body,
                    headers={"Content-Type": "application/octet-stream"},
                )
            else:
                r = self.client.post(
                    "/v1/jobs", data=self.options, files={"file": (name, body, "application/octet-stream")}
                )
            if r.status_code != 429:  # busy: try again after the server's Retry-After, as a client would
                break
            time.sleep(float(r.headers.get("Retry-After", 1)))
        if r.status_code in (401, 403):  # every image would be refused alike: not a reading, a set-up error
            raise BenchError(f"{self.url} refused the key: {error_text(r)} (give --key or set OCRGW_API_KEY)")
        if r.status_code != 202:
            raise _Refused(error_text(r))
        location = r.headers["Operation-Location" if self.dialect == "azure-read" else "Location"]
        delay, polls = self.poll[0], 0
        while True:
            time.sleep(delay)
            g = self.client.get(location)
            polls += 1
            if g.status_code != 200:
                raise BenchError(f"{name}: poll answered {error_text(g)}")
            state = g.json()
            if state["status"] == "succeeded":
                break
            if state["status"] == "failed":
                err = state.get("error") or {}
                raise _Refused(f"job failed: {err.get('code', '?')}: {err.get('message', '')}"[:300])
            delay = min(delay * 1.5, self.poll[1])
        if self.dialect == "native":  # the status carries no result: fetch it, as a client does
            g = self.client.get(state["links"]["result"])
            if g.status_code != 200:
                raise BenchError(f"{name}: result answered {error_text(g)}")
            state = g.json()
        return state, polls

    def close(self) -> None:
        self.client.close()


class _Refused(Exception):
    """The API would not read this image (an error answer to the submit, or a failed job)."""


def _unit_per_px(page: Page, path: Path) -> float:
    """Page units per pixel of the submitted image: 1 for pixel pages; a PDF page in inches is scaled to
    the image's own pixels (ocr_eval's boxes are the image's)."""
    if page.unit == "pixel":
        return 1.0
    from PIL import Image

    with Image.open(path) as im:
        return page.width / im.width


# ------------------------------------------------------------------------------ style and language
def _match(gt: list[float], got: list[list]) -> list | None:
    """The returned line that best covers a ground-truth line box (x0, y0, x1, y1): the highest IoU among
    those with IoU >= 0.5 or either box's centre inside the other (a returned line often joins several
    ground-truth segments of a receipt row)."""

    def inside(a: list, b: list) -> bool:
        cx, cy = (a[0] + a[2]) / 2, (a[1] + a[3]) / 2
        return b[0] <= cx <= b[2] and b[1] <= cy <= b[3]

    def iou(a: list, b: list) -> float:
        ix, iy = max(0, min(a[2], b[2]) - max(a[0], b[0])), max(0, min(a[3], b[3]) - max(a[1], b[1]))
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - ix * iy
        return ix * iy / union if union > 0 else 0.0

    scored = [(iou(gt, o), o) for o in got if iou(gt, o) >= 0.5 or inside(gt, o) or inside(o, gt)]
    return max(scored, key=lambda s: s[0])[1] if scored else None


def _assumed_style(rec: dict) -> str | None:
    """A line with no ``style`` in the manifest: ``other`` when the row is print only, which ocr-dev's rows
    say by not mentioning handwriting in their notes (FUNSD's forms do: "some fields are handwritten")."""
    if os.environ.get("OCRGW_BENCH_ASSUME_PRINT") != "1" or "handwrit" in (rec.get("notes") or "").lower():
        return None
    return "other"


def style_scores(rows: list[dict], recs: list[dict]) -> dict[str, dict[str, dict[str, int]]]:
    """Per document kind (and ``all``), per ground-truth style: lines with that label, lines a returned line
    matched, and matched lines labelled the same. An unmatched line (or a refused image's) counts as wrong."""
    out: dict[str, dict[str, dict[str, int]]] = {}
    for row, rec in zip(rows, recs, strict=True):
        got = row["api"].get("lines") or []
        for gt in rec.get("lines") or []:
            style = gt.get("style") or _assumed_style(rec)
            if style not in STYLES or not gt.get("bbox"):
                continue
            match = _match(gt["bbox"], got)
            for kind in (row["kind"], "all"):
                cell = out.setdefault(kind, {}).setdefault(style, {"n": 0, "matched": 0, "right": 0})
                cell["n"] += 1
                cell["matched"] += match is not None
                cell["right"] += match is not None and match[4] == style
    return out


def _language_key(code: str | None) -> frozenset[str]:
    """The Tesseract models a BCP-47 code (``de``, ``de-DE``, ``zh-Hans``) or a model name (``deu``,
    ``eng+deu``) stands for, so the manifest's ``de`` and a returned ``deu`` or ``de-DE`` compare equal."""
    from ocrgw.languages import BCP47_TO_TESSERACT

    keys = set()
    for part in (code or "").replace("+", ",").split(","):
        p = part.strip().lower()
        if p:
            keys.add(BCP47_TO_TESSERACT.get(p) or BCP47_TO_TESSERACT.get(p.split("-")[0]) or p)
    return frozenset(keys)


def language_results(rows: list[dict], recs: list[dict]) -> list[dict]:
    """For each image whose manifest row names a ``language``: what the pages returned and whether every
    page matched (a refused image did not)."""
    out = []
    for row, rec in zip(rows, recs, strict=True):
        if rec.get("language"):
            got = row["api"].get("languages") or []
            want = _language_key(rec["language"])
            ok = bool(got) and all(_language_key(g) == want for g in got)
            out.append({"image": rec["image"], "want": rec["language"], "got": got, "ok": ok})
    return out


# --------------------------------------------------------------------------------------- reports
def print_api_report(rows: dict[str, list[dict]], recs: list[dict], dialect: str) -> dict:
    """What only the API shows: refused images, time per page submit -> result against raw's, style
    labels and languages. Returns the same figures for --json."""
    api = rows["ocrgw"]
    errors = [
        {"image": r["image"], "kind": r["kind"], "error": r["api"]["error"]} for r in api if r["api"].get("error")
    ]
    print(
        f"\nAPI errors ({dialect}): {len(errors)} of {len(api)} images refused or failed, each scored as an "
        "empty reading (CER 100 %)" + (":" if errors else "")
    )
    for e in errors:
        print(f"  {e['image']:<42} {e['kind']:<9}{e['error']}")
    speed = _print_api_speed(rows, dialect)
    styles = style_scores(api, recs)
    _print_styles(styles)
    langs = language_results(api, recs)
    if langs:
        print(f"\nlanguage: {sum(x['ok'] for x in langs)} of {len(langs)} images with a manifest language matched")
        for x in langs:
            if not x["ok"]:
                print(f"  {x['image']:<42} want {x['want']}, got {', '.join(map(str, x['got'])) or 'nothing'}")
    else:
        print("\nlanguage: no manifest row names a language")
    return {"errors": errors, "speed": speed, "styles": styles, "languages": langs}


def _print_api_speed(rows: dict[str, list[dict]], dialect: str) -> dict:
    """Median and total time per page over the images the API read, for it and (same images) raw."""
    read = [i for i, r in enumerate(rows["ocrgw"]) if not r["api"].get("error")]
    out: dict[str, dict[str, float]] = {}
    print(f"\ntime per page on the {len(read)} images the API read (submit -> result in hand over HTTP, {dialect}):")
    for name, title in (("ocrgw", "api"), ("raw", "raw")):
        if name not in rows or not read:
            continue
        sel = [rows[name][i] for i in read]
        per_page = [r["t"] / r["pages"] for r in sel]
        total, pages = sum(r["t"] for r in sel), sum(r["pages"] for r in sel)
        out[name] = {"median_ms": 1000 * statistics.median(per_page), "total_s": total, "pages": pages}
        print(f"  {title:<4} median {out[name]['median_ms']:7.0f} ms/page   total {total:7.2f} s for {pages} pages")
    if len(out) == 2:
        a, b = out["ocrgw"], out["raw"]
        out["ratio"] = {"median": a["median_ms"] / b["median_ms"], "total": a["total_s"] / b["total_s"]}
        print(f"  api / raw: median {out['ratio']['median']:.2f}, total {out['ratio']['total']:.2f}")
    return out


def _print_styles(styles: dict[str, dict[str, dict[str, int]]]) -> None:
    if not styles:
        print("\nstyle labels: no manifest line carries a style")
        return
    print("\nstyle labels (manifest lines matched to returned lines by box; right = labelled the same):")
    print(f"  {'kind':<10}" + "".join(f"{s + ' right/n':>25}" for s in STYLES) + f"{'unmatched':>12}")
    for kind, cells in sorted(styles.items(), key=lambda kv: kv[0] == "all"):
        row = f"  {kind:<10}"
        for s in STYLES:
            c = cells.get(s)
            row += f"{c['right']:>11}/{c['n']:<4} = {100 * c['right'] / c['n']:5.1f}%" if c else f"{'-':>25}"
        row += f"{sum(c['n'] - c['matched'] for c in cells.values()):>12}"
        print(row)


# ---------------------------------------------------------------------------------- set-up
def add_api_args(ap: Any) -> None:
    """The options of the HTTP design (accuracy.py's parser)."""
    g = ap.add_argument_group("over HTTP (the ocrgw design reads through a server's API instead of in-process)")
    where = g.add_mutually_exclusive_group()
    where.add_argument("--api", metavar="URL", help="a running server, e.g. http://127.0.0.1:8000")
    where.add_argument("--server", action="store_true", help="start a local server for the run (loopback, temp SQLite)")
    g.add_argument("--server-workers", type=int, default=1, help="--server's worker processes (1: one job at a time)")
    g.add_argument("--dialect", choices=DIALECTS, default="azure-read", help="Azure Read v3.2 (default) or native /v1")
    g.add_argument("--key", default=os.environ.get("OCRGW_API_KEY"), help="API key (default $OCRGW_API_KEY)")
    g.add_argument("--poll-min", type=float, default=0.02, help="first poll delay, seconds (0.02, x1.5 per poll)")
    g.add_argument("--poll-max", type=float, default=0.05, help="poll delay cap, seconds (0.05)")


def api_options(a: Any, fail: Callable[[str], None]) -> dict[str, str]:
    """The request options that carry accuracy.py's --reading-order, --mode and --engine in the dialect."""
    if a.preprocess != "adaptive":
        fail("--preprocess is the in-process design's; the API reads with the workers' chain")
    if a.dialect == "native":
        opts = {"mode": a.mode, "engine": a.engine, "reading_order": a.reading_order}
        return {k: v for k, v in opts.items() if v}
    if a.engine:
        fail("Read v3.2 has no engine parameter: use --dialect native")
    if a.mode != "default" and not a.server:
        print(f"note: Read v3.2 has no mode parameter; the server's OCRGW_MODE decides, not --mode {a.mode}")
    return {"readingOrder": a.reading_order} if a.reading_order else {}


@contextlib.contextmanager
def local_server(workers: int, mode: str) -> Iterator[OcrgwServer]:
    """``ocrgw serve`` on a free loopback port for one run: SQLite and blobs in a temporary folder, local
    workers, auth off, ``OCRGW_MODE`` from --mode; each API applies its own image limits, as for users."""
    with tempfile.TemporaryDirectory(prefix="ocrgw-accuracy-") as tmp:
        env = {
            "OCRGW_MODE": mode,
            "OCRGW_DATABASE_URL": f"sqlite:///{tmp}/ocrgw.db",
            "OCRGW_QUEUE": "local",
            "OCRGW_BLOB_STORE": "local",
        }
        server = OcrgwServer(workers, Path(tmp), env)
        try:
            server.start()
            yield server
        finally:
            server.stop()


@contextlib.contextmanager
def api_design(a: Any, fail: Callable[[str], None]) -> Iterator[ApiReader]:
    """The HTTP design for accuracy.py's options, with its local server when --server asks for one."""
    opts = api_options(a, fail)
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(local_server(a.server_workers, a.mode)) if a.server else None
        url = server.url if server else a.api
        reader = ApiReader(url, a.dialect, a.key, opts, (a.poll_min, a.poll_max), server)
        stack.callback(reader.close)
        yield reader
