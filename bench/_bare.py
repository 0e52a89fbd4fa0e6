"""The baselines throughput.py measures ocrgw against, each a pool of N processes on the same cores: warm
tesserocr (``bare``, and ``bare-gray`` fed as ocrgw's worker feeds it), warm RapidOCR (``bare-rapid``), and
one tesseract CLI process per image (``cli``). All run at the niceness of ocrgw's workers."""

from __future__ import annotations

import multiprocessing as mp
import os
import resource
import shutil
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _common import BenchError, Img, cpu_of


def children_cpu() -> dict[int, float]:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {0: ru.ru_utime + ru.ru_stime}


# ------------------------------------------------------------------------------------- bare engine
_API = None


def worker_nice() -> int:
    """The niceness ocrgw's workers read at (OCRGW_WORKER_NICE, default 10): the bare designs run at the
    same, or on a machine busy with other work the baseline would get more of the cores than the workers."""
    from ocrgw.settings import Settings

    return Settings().worker_nice


def _lower_priority() -> None:
    if (n := worker_nice()) > os.nice(0):
        os.nice(n - os.nice(0))


def _bare_init(tessdata: str) -> None:
    os.environ["OMP_THREAD_LIMIT"] = "1"
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when the pool stops
    _lower_priority()
    global _API
    from tesserocr import OEM, PSM, PyTessBaseAPI

    _API = PyTessBaseAPI(path=tessdata, lang="eng", psm=PSM.AUTO, oem=OEM.LSTM_ONLY)


def _bare_one(path: str) -> tuple[float, int]:
    """One image on this process's warm API: (ms, words). Leptonica decodes the file (colour stays
    colour); then Recognize and a walk over lines and words with boxes and confidences, as ocrgw's
    engine adapter does, so the result extraction costs the same."""
    t0 = time.perf_counter()
    _API.SetImageFile(path)
    return _recognize_and_walk(t0)


def _bare_gray_one(path: str) -> tuple[float, int]:
    """As ``_bare_one``, but decoded the way ocrgw's worker feeds the engine: Pillow -> 8-bit grey (alpha
    over white) -> SetImageBytes, with the file's dpi only when it is >= 100. Tesseract then thresholds
    one grey channel instead of a colour image, which is cheaper; this is the stricter limit."""
    import numpy as np
    from PIL import Image

    t0 = time.perf_counter()
    with Image.open(path) as im:
        im.load()
        dpi = im.info.get("dpi")
        if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
            rgba = im.convert("RGBA")
            im = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
        gray = np.ascontiguousarray(np.asarray(im.convert("L")))
    h, w = gray.shape
    _API.SetImageBytes(gray.tobytes(), w, h, 1, w)
    try:
        res = round(float(dpi[0])) if dpi else 0
    except (TypeError, ValueError, IndexError):
        res = 0
    if res >= 100:
        _API.SetSourceResolution(res)
    return _recognize_and_walk(t0)


def _recognize_and_walk(t0: float) -> tuple[float, int]:
    from tesserocr import RIL, iterate_level

    api = _API
    api.Recognize()
    words = 0
    ri = api.GetIterator()
    if ri is not None:
        for it in iterate_level(ri, RIL.WORD):
            if it.Empty(RIL.WORD):
                continue
            if it.IsAtBeginningOf(RIL.TEXTLINE):
                it.BoundingBox(RIL.TEXTLINE)
                it.Confidence(RIL.TEXTLINE)
            text = it.GetUTF8Text(RIL.WORD)
            box = it.BoundingBox(RIL.WORD)
            it.Confidence(RIL.WORD)
            if text and text.strip() and box:
                words += 1
    return (time.perf_counter() - t0) * 1000, words


_RAPID = None


def _rapid_init() -> None:
    """One warm RapidOCR per process, as a bare app would make it: the PP-OCR models ocrgw ships (from the
    rapidocr wheel), one ONNX Runtime thread per process (the cores belong to the N processes), no per-line
    180-degree classifier, detection on the page scaled to at most 1280 px a side (the library's default
    scales the *shorter* side up to 736 px, which turns a 40 px text line into a 736 px tall image and costs
    10x); everything else the library's defaults."""
    os.environ["OMP_THREAD_LIMIT"] = "1"
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _lower_priority()
    global _RAPID
    import rapidocr
    from rapidocr import RapidOCR

    models = Path(rapidocr.__file__).parent / "models"
    _RAPID = RapidOCR(
        params={
            "Global.log_level": "error",
            "Global.use_cls": False,
            "Det.model_path": str(models / "PP-OCRv6_det_small.onnx"),
            "Cls.model_path": str(models / "ch_ppocr_mobile_v2.0_cls_mobile.onnx"),
            "Rec.model_path": str(models / "PP-OCRv6_rec_small.onnx"),
            "Det.limit_side_len": 1280,
            "Det.limit_type": "max",
            "EngineConfig.onnxruntime.intra_op_num_threads": 1,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }
    )


def _rapid_one(path: str) -> tuple[float, int]:
    """One image on this process's warm RapidOCR: the library decodes the file, detects and recognises;
    the lines' texts, boxes and scores are walked. (ms, words)."""
    t0 = time.perf_counter()
    out = _RAPID(path, use_cls=False)
    words = 0
    for text, box, score in zip(
        out.txts or (), out.boxes if out.boxes is not None else (), out.scores or (), strict=False
    ):
        if text and box is not None and score is not None:
            words += len(text.split())
    return (time.perf_counter() - t0) * 1000, words


def _bare_pid(_: int) -> int:
    time.sleep(0.2)  # keeps each process busy long enough that every process gets one
    return os.getpid()


class BareEngine:
    """N spawned processes, each with one warm API; a shared task queue hands out one image at a time
    (the same dynamic scheduling as ocrgw's dispatcher). ``bare`` and ``bare-gray`` share the pool."""

    def __init__(self, workers: int, tessdata: str, fn=_bare_one, share: BareEngine | None = None, init=None) -> None:
        self.fn = fn
        self.workers = workers
        self.owner = share is None
        if share is None:
            initializer, initargs = (init, ()) if init else (_bare_init, (tessdata,))
            self.pool = mp.get_context("spawn").Pool(workers, initializer=initializer, initargs=initargs)
        else:
            self.pool = share.pool
        self.pids: set[int] = set()

    def cpu(self) -> dict[int, float] | None:
        if not Path("/proc/self/stat").exists():
            return None
        return cpu_of(self.pids)

    def run(self, images: list[Img]) -> tuple[float, list[float], list[int]]:
        t0 = time.perf_counter()
        out = self.pool.map(self.fn, [str(i.path) for i in images], chunksize=1)
        wall = time.perf_counter() - t0
        return wall, [ms for ms, _ in out], [w for _, w in out]

    def warm(self, images: list[Img]) -> None:
        self.pids = set()
        for _ in range(10):  # on a loaded machine one process can take every task before the other is up
            self.pids |= set(self.pool.map(_bare_pid, range(self.workers * 2), chunksize=1))  # all initialised
            if len(self.pids) >= self.workers:
                break
            time.sleep(0.5)
        if len(self.pids) < self.workers:
            raise BenchError(f"bare pool has {len(self.pids)} of {self.workers} processes running")
        self.pool.map(self.fn, [str(i.path) for i in images] * self.workers, chunksize=1)

    def close(self) -> None:
        if self.owner:
            self.pool.terminate()
            self.pool.join()


# -------------------------------------------------------------------------------------------- CLI
class TesseractCli:
    def __init__(self, workers: int, tessdata: str) -> None:
        exe = shutil.which("tesseract")
        if not exe:
            raise BenchError("the tesseract CLI is not installed")
        self.cmd = [exe, "--tessdata-dir", tessdata]
        self.env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
        self.workers = workers

    def _one(self, path: Path) -> tuple[float, int]:
        t0 = time.perf_counter()
        out = subprocess.run(
            [
                "nice",
                "-n",
                str(worker_nice()),
                *self.cmd,
                str(path),
                "stdout",
                "-l",
                "eng",
                "--psm",
                "3",
                "--oem",
                "1",
                "tsv",
            ],
            env=self.env,
            capture_output=True,
            check=False,
        )
        ms = (time.perf_counter() - t0) * 1000
        if out.returncode != 0:
            raise BenchError(f"tesseract failed on {path}: {out.stderr.decode(errors='replace')[-400:]}")
        words = sum(1 for ln in out.stdout.splitlines()[1:] if ln.startswith(b"5\t") and ln.split(b"\t")[-1].strip())
        return ms, words

    def run(self, images: list[Img]) -> tuple[float, list[float], list[int]]:
        with ThreadPoolExecutor(self.workers) as ex:
            t0 = time.perf_counter()
            out = list(ex.map(self._one, [i.path for i in images]))
            wall = time.perf_counter() - t0
        return wall, [ms for ms, _ in out], [w for _, w in out]

    def cpu(self) -> dict[int, float]:
        return children_cpu()  # the CLI processes are reaped by their threads: all their CPU lands here

    def version(self) -> str:
        out = subprocess.run([self.cmd[0], "--version"], capture_output=True, text=True, check=False)
        return (out.stdout or out.stderr).splitlines()[0].strip()
