"""Language detection (issue 14): what it gains on a German page and what it costs an English one, through
the worker's own code (``reader.read`` for a job that names its language or detection off, the
``pipeline.langdetect.Detector`` the runner uses for a job that names none), in this process, one thread.

* CER of tests/data/page/letter_de.png read without a language, detection off (the English default) and on,
  and with German named (the best case), against its ground truth (whitespace-normalised Levenshtein).
* Time per English page, detection on vs off: each page read ``--repeat`` times each way, interleaved, and
  the medians compared; identifying the text alone is timed too. Pages: the suite's clean page and
  two-column report, or with ``--dev`` every ocr-dev image (which also counts the English pages that were
  identified as another language or read again: the false alarms).
* The identifier's one-time load (per worker process) and its resident memory.

    PYTHONPATH=src:. .venv/bin/python bench/langdetect.py [--repeat 7] [--dev]

Numbers in docs and commit messages come from this script; see bench/README.md."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from rapidfuzz.distance import Levenshtein

from _common import DEV_DATA, REPO
from ocrgw.jobs.pages import PageSelection
from ocrgw.jobs.schemas import JobSpec
from ocrgw.pipeline import langdetect, rasterize, reader
from ocrgw.pipeline.engines import Choice, Engines
from ocrgw.pipeline.engines.tesseract import OrientationDetector
from ocrgw.settings import Settings

TEST_DATA = REPO / "tests" / "data"
GERMAN = "page/letter_de.png"
ENGLISH = ["page/tess_phototest.tif", "multicol/report_two_column.jpg"]
MEDIA = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "tif": "image/tiff", "tiff": "image/tiff"}


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cer(hyp: str, ref: str) -> float:
    h, r = " ".join(hyp.split()), " ".join(ref.split())
    return Levenshtein.distance(h, r) / max(1, len(r))


class Worker:
    """The engines, OSD and settings one worker process keeps, and the runner's two ways to read a page."""

    def __init__(self) -> None:
        self.settings = Settings(second_opinion_below=0.0)  # the second engine would blur the comparison
        self.tessdata = self.settings.resolved_tessdata_dir
        self.engines = Engines(self.tessdata)
        self.osd = OrientationDetector(self.tessdata)

    def page(self, path: Path) -> rasterize.RasterPage:
        media = MEDIA[path.suffix.lower().lstrip(".")]
        return next(rasterize.iter_pages(path, media, PageSelection(None), set(), self.settings))

    def _read(self, page: rasterize.RasterPage, choice: Choice) -> reader.PageRead:
        engine, step, second = choice
        return reader.read(page, engine, self.osd, "basic", second=second, engine_step=step)

    def off(self, page: rasterize.RasterPage, languages: tuple[str, ...] = ("eng",)) -> reader.PageRead:
        return self._read(page, self.engines.for_spec(JobSpec(languages=languages)))

    def on(self, page: rasterize.RasterPage) -> tuple[reader.PageRead, str | None]:
        detector = langdetect.Detector(JobSpec(languages_detect=True), self.engines, self.osd, self.tessdata)
        return detector.read(page, lambda choice: self._read(page, choice))


def text_of(got: reader.PageRead) -> str:
    return langdetect.page_text(got.lines)


def german(w: Worker) -> dict:
    row = next(json.loads(x) for x in (TEST_DATA / "manifest.jsonl").read_text().splitlines() if GERMAN in x)
    page = w.page(TEST_DATA / GERMAN)
    off, (on, language), named = w.off(page), w.on(page), w.off(page, ("deu",))
    res = {
        "cer_off": cer(text_of(off), row["text"]),
        "cer_on": cer(text_of(on), row["text"]),
        "cer_named_de": cer(text_of(named), row["text"]),
        "language": language,
        "step": on.steps[-1],
    }
    print(
        f"German letter without a language: CER {res['cer_off']:.4f} detection off (eng) -> {res['cer_on']:.4f} "
        f"on (reported {language!r}); language=de named: {res['cer_named_de']:.4f}"
    )
    print(f"  step: {res['step']}")
    return res


def timing(w: Worker, paths: list[Path], repeat: int) -> dict:
    rows, alarms = [], []
    for path in paths:
        page = w.page(path)
        w.off(page), w.on(page)  # warm: engines, the identifier, caches
        off_ms, on_ms, id_ms = [], [], []
        for _ in range(repeat):
            t0 = time.perf_counter()
            got = w.off(page)
            off_ms.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            detected, language = w.on(page)
            on_ms.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            langdetect.identify(text_of(got))
            id_ms.append((time.perf_counter() - t0) * 1000)
        step = detected.steps[-1]
        if step.get("applied") or (language not in (None, "en")):
            alarms.append((path.name, step))
        off, on, ident = statistics.median(off_ms), statistics.median(on_ms), statistics.median(id_ms)
        rows.append({"page": path.name, "off_ms": off, "on_ms": on, "identify_ms": ident, "language": language})
        print(
            f"  {path.name[:34]:34} off {off:7.1f} ms  on {on:7.1f} ms  ({on / off:5.3f}x)  "
            f"identify {ident:6.2f} ms  -> {language}",
            flush=True,
        )
    total_off, total_on = sum(r["off_ms"] for r in rows), sum(r["on_ms"] for r in rows)
    print(f"English pages: detection on / off = {total_on / total_off:.3f} (sum of medians over {len(rows)} page(s))")
    print(f"English pages identified as another language or read again: {len(alarms)} {alarms or ''}")
    return {"pages": rows, "ratio": total_on / total_off, "alarms": alarms}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=7, help="timed readings per page and way (median)")
    ap.add_argument("--dev", action="store_true", help="time every ocr-dev image instead of the suite's two")
    ap.add_argument("--json", type=Path, help="write the numbers here")
    args = ap.parse_args()
    before = rss_mb()
    t0 = time.perf_counter()
    langdetect.identifier()
    load_s, grown = time.perf_counter() - t0, rss_mb() - before
    print(f"identifier: loaded in {load_s:.2f} s, resident +{grown:.0f} MB (once per worker process)")
    w = Worker()
    res: dict = {"identifier_load_s": load_s, "identifier_mb": grown, "german": german(w)}
    if args.dev:
        manifest = DEV_DATA / "manifest.jsonl"
        if not manifest.exists():
            sys.exit(f"dev data not found: {manifest} (set OCRGW_SHARED_DIR)")
        paths = [DEV_DATA / json.loads(x)["image"] for x in manifest.read_text().splitlines() if x.strip()]
    else:
        paths = [TEST_DATA / p for p in ENGLISH]
    print(f"English pages, median of {args.repeat} readings each way:")
    res["english"] = timing(w, paths, args.repeat)
    if args.json:
        args.json.write_text(json.dumps(res, indent=1, default=str))


if __name__ == "__main__":
    main()
