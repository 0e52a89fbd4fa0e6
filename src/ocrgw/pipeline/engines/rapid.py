"""Worker side, the second engine: RapidOCR running PP-OCR's text detector and recogniser (ONNX, on the
CPU) for jobs that ask for ``engine=rapidocr`` or ``mode=accurate``, and for the default mode's second
opinion on pages Tesseract reads with low confidence (``reader.read``). It hands the pipeline the same
``RawLine``/``RawWord`` structures as ``TesseractEngine``, so preprocessing, the orientation check, reading
order and every dialect's rendering stay engine-neutral.

Why this engine: on ocr-dev it reads what Tesseract struggles with (receipts, 100-dpi forms, tables;
all images' line-aligned CER 13.0 % raw -> 2.3 %, docs/accuracy.md) at ~3x Tesseract's time per page,
which is why it is opt-in for whole jobs. Its models ship inside the pinned ``rapidocr`` wheel and are
loaded by explicit path, so the library's download branch (taken only when a path is missing) is never
reached."""

from __future__ import annotations

import logging
import threading
import time
import unicodedata
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ocrgw.pipeline.engines.tesseract import RawLine, RawWord

log = logging.getLogger(__name__)
_CJK = frozenset({"chi_sim", "chi_tra", "jpn", "kor"})

# Detection resizes the page so its longer side is at most this (limit_type "max"): 1280 kept the
# accuracy of the library's default (shorter side to 736 at least) on ocr-dev at about 60 % of its time,
# and large pages no longer blow up (a 3300 px page is not enlarged further).
_DET_LIMIT_SIDE = 1280
# A gap between words wider than this many line heights splits a detected line (see _split_at_gaps);
# word spaces, even in justified text, stay under about two thirds of the line's height.
SPLIT_GAP = 0.9
# Lines the recogniser scores below this are dropped (the library's own default threshold).
MIN_LINE_SCORE = 0.5
# The recogniser pads every line image to at least this width at its 48 px height. The library pads to 320
# (PaddleOCR's training shape), so a word, a price or a date on a receipt cost as much as a line of 6.7
# heights; the model's width is dynamic and it reads a crop as narrow as it is.
REC_MIN_WIDTH = 48
# An image this short (px), wider than _ONE_LINE_ASPECT heights, whose ink lies in one band of rows is one
# line of text (a crop from a form or a book): the recogniser alone reads it, without the detector (which
# cost more than the recognition: on ocr-dev's line crops PP-OCR took 13x Tesseract's time).
_ONE_LINE_HEIGHT = 96
_ONE_LINE_ASPECT = 3.0


def models_dir() -> Path:
    import rapidocr

    return Path(rapidocr.__file__).parent / "models"


def model_files(languages: str, cache: Path | None, int8: bool = False) -> tuple[Path, Path]:
    """(detector, recogniser) files to read ``languages`` with: the packaged ones, or with a ``cache``
    folder the ones ``rapid_models`` derives from them (made there on first use): the int8 detector, and
    the recogniser cut to the Latin alphabet unless a language needs the CJK one. On ocr-dev both read
    as the packaged files do (bench/README ``ppocr.py``) at ~40 % less CPU a page. ``int8``
    (``Settings.ppocr_int8``): that Latin recogniser with its pointwise layers in int8, where the CPU
    multiplies int8 natively; faster, and reads a little worse."""
    det, rec = models_dir() / "PP-OCRv6_det_small.onnx", models_dir() / "PP-OCRv6_rec_small.onnx"
    if cache is None:
        return det, rec
    from ocrgw.pipeline.engines import rapid_models

    det = rapid_models.derived(det, "int8_detector", cache) or det
    if not (_CJK & set(languages.split("+"))):
        rec = rapid_models.derived(rec, "latin_recognizer", cache) or rec
        if int8 and rec.parent == cache:
            if rapid_models.native_int8():
                rec = rapid_models.derived(rec, "int8_recognizer", cache) or rec
            else:
                log.warning("OCRGW_PPOCR_INT8 asks for the int8 recogniser, but this CPU has no VNNI or AMX: float")
    return det, rec


class RapidEngine:
    """One warm RapidOCR pipeline (detector and recogniser; its direction classifier is off), single-threaded
    like the Tesseract engines: a worker process reads one page at a time and the machine's cores belong to
    the worker processes, not to one page."""

    name = "rapidocr"

    def __init__(
        self, languages: str = "eng", detector: bool = True, cache: Path | None = None, int8: bool = False
    ) -> None:
        import onnxruntime
        from rapidocr import RapidOCR

        onnxruntime.disable_telemetry_events()  # onnxruntime would queue usage events in ~/.cache
        models = models_dir()
        self.languages = languages
        self._normalize = not (_CJK & set(languages.split("+")))
        det_model, rec_model = self.model_files = model_files(languages, cache, int8)
        self._ocr: Any = RapidOCR(  # its call returns a union of output types: read by attribute
            params={
                "Global.log_level": "error",
                "Global.text_score": 0.0,  # filtered here: the library's own filter misaligns word results
                "Global.return_word_box": True,
                # No per-line 180-degree classifier: it turned upright single lines over (a ocr-dev text line
                # read " t t t eo") and costs time; whole pages turned over are the orientation step's job.
                "Global.use_cls": False,
                "Det.model_path": str(det_model),
                "Cls.model_path": str(models / "ch_ppocr_mobile_v2.0_cls_mobile.onnx"),
                "Rec.model_path": str(rec_model),
                "Det.limit_side_len": _DET_LIMIT_SIDE,
                "Det.limit_type": "max",
                "EngineConfig.onnxruntime.intra_op_num_threads": 1,
                "EngineConfig.onnxruntime.inter_op_num_threads": 1,
                # The memory arena and one line per recogniser call: ~25 % less time per page than the
                # library's defaults (no arena, batches of 6 padded to the widest line) on ocr-dev pages.
                "EngineConfig.onnxruntime.enable_cpu_mem_arena": True,
                "Rec.rec_batch_num": 1,
                "Rec.rec_img_shape": [3, 48, REC_MIN_WIDTH],
            }
        )
        self._lock = threading.Lock()
        self.busy_ms = 0.0
        self.warm(detector)

    def warm(self, detector: bool = True) -> None:
        """Make both ONNX sessions and run each once, here rather than on the first page: the library
        creates a session on its first use (0.3-0.5 s each, more on a busy machine), so without this the
        first accurate job of a worker, or its first second opinion, paid for the detector inside its
        time. Two lines of drawn text take the whole path (detection, crops, recognition, word boxes);
        one line alone would go to the recogniser only (``one_line``). ``detector=False`` (the default
        mode's second engine, whose detector reads only the few pages a second opinion takes) makes the
        recogniser's alone: the detector's session would cost every worker ~26 MB it seldom uses."""
        if not detector:
            self.read_line(np.full((32, 96), 255, np.uint8))
            self.busy_ms = 0.0
            return
        page = np.full((128, 320), 255, np.uint8)
        for y in (44, 104):
            cv2.putText(page, "Warm 0123", (12, y), cv2.FONT_HERSHEY_SIMPLEX, 1.2, 0, 2, cv2.LINE_AA)
        self.recognize(page)
        self.busy_ms = 0.0  # not a page's time

    def close(self) -> None:
        self._ocr = None

    def recognize(self, gray: np.ndarray, dpi: int | None = None, psm: int | None = None) -> list[RawLine]:
        """Lines top to bottom as the detector found them, each with its words. ``dpi`` and ``psm`` are
        Tesseract's knobs: the detector measures the page itself, so both are ignored."""
        band = one_line(gray)
        if band is not None:
            line = self._read_one_line(gray, band)
            if line is not None:
                return line
        img = np.ascontiguousarray(gray, dtype=np.uint8)
        if img.ndim == 2:
            img = np.repeat(img[:, :, None], 3, axis=2)
        with self._lock:
            t0 = time.perf_counter()
            try:  # every flag on each call: the library keeps a call's flags for the next one
                out = self._ocr(img, use_det=True, use_cls=False, use_rec=True, return_word_box=True)
            finally:
                self.busy_ms += (time.perf_counter() - t0) * 1000
        if out is None or getattr(out, "txts", None) is None or getattr(out, "boxes", None) is None:
            return []
        word_results = out.word_results if len(out.word_results) == len(out.txts) else None
        lines: list[RawLine] = []
        for i, (quad, text, score) in enumerate(zip(out.boxes, out.txts, out.scores, strict=True)):
            if score < MIN_LINE_SCORE:
                continue
            if self._normalize:
                text = unicodedata.normalize("NFKC", text)  # full-width "（" and "，" of the CJK alphabet
            tokens = text.split()
            if not tokens:
                continue
            pts = np.asarray(quad, dtype=float)
            box = (
                int(pts[:, 0].min()),
                int(pts[:, 1].min()),
                int(np.ceil(pts[:, 0].max())),
                int(np.ceil(pts[:, 1].max())),
            )
            parts = word_results[i] if word_results is not None else ()
            boxes, scores = _token_boxes(tokens, box, parts, float(score))
            words = [RawWord(tok, wbox, conf) for tok, wbox, conf in zip(tokens, boxes, scores, strict=True)]
            lines += _split_at_gaps(words, box, float(score))
        return lines

    def _read_one_line(self, gray: np.ndarray, band: tuple[int, int, int, int]) -> list[RawLine] | None:
        """A one-line image read by the recogniser alone (see ``one_line``), its words boxed from the
        columns they were read at within the ink's band; None when the recogniser doubts it (score under
        ``MIN_LINE_SCORE``), so the detector then looks at the image as at any page."""
        _, score, tokens = self.read_line(gray)
        if score < MIN_LINE_SCORE or not tokens:
            return None
        x0, y0, x1, y1 = band
        words = [
            RawWord(tok, (max(x0, int(a)), y0, max(min(x1, int(np.ceil(b))), max(x0, int(a)) + 1), y1), conf)
            for tok, a, b, conf in tokens
        ]
        return [RawLine((words[0].box[0], y0, max(w.box[2] for w in words), y1), score, 0, words)]

    def read_line(self, crop: np.ndarray) -> tuple[str, float, list[tuple[str, float, float, float]]]:
        """The recogniser alone on one text-line image (no detection): (text, score, tokens), each token
        ``(text, x0, x1, confidence)`` with x in the crop's pixels, from the columns its characters were
        read at. How ``pipeline.reread`` gives Tesseract's lines PP-OCR's reading."""
        img = np.ascontiguousarray(crop, dtype=np.uint8)
        if img.ndim == 2:
            img = np.repeat(img[:, :, None], 3, axis=2)
        with self._lock:
            t0 = time.perf_counter()
            try:
                out = self._ocr(img, use_det=False, use_cls=False, use_rec=True, return_word_box=True)
            finally:
                self.busy_ms += (time.perf_counter() - t0) * 1000
        txts = getattr(out, "txts", None)
        if not txts:
            return "", 0.0, []
        text = txts[0] or ""
        if self._normalize:
            text = unicodedata.normalize("NFKC", text)
        score = float(out.scores[0])
        info = out.word_results[0] if getattr(out, "word_results", None) else None
        return text, score, _line_tokens(text, info, img.shape[1], score)


def one_line(gray: np.ndarray) -> tuple[int, int, int, int] | None:
    """The ink's box when a short, wide image holds one band of text rows, else None. Otsu separates ink
    from paper; rows holding ink form bands, and a gap of paper rows between two bands means two lines.
    Two lines set so close that no paper row parts them make a band over 3 glyph heights (the median
    height of the ink's connected components; one line with ascenders and descenders is ~2 x-heights)."""
    if gray.ndim != 2:
        return None
    h, w = gray.shape
    if h > _ONE_LINE_HEIGHT or w < _ONE_LINE_ASPECT * h or h < 8:
        return None
    _, ink = cv2.threshold(np.ascontiguousarray(gray), 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    if ink.mean() > 0.5:  # light text on a dark ground: the ink is the minority
        ink = 1 - ink
    rows = np.flatnonzero(ink.sum(axis=1) > max(1, w // 400))
    cols = np.flatnonzero(ink.sum(axis=0))
    if rows.size == 0 or cols.size == 0 or np.any(np.diff(rows) > 1):
        return None
    _, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    heights = stats[1:, cv2.CC_STAT_HEIGHT][stats[1:, cv2.CC_STAT_AREA] >= 4]
    if heights.size == 0 or rows.size > 3 * float(np.median(heights)):
        return None
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def _line_tokens(text: str, info: Any, width: int, score: float) -> list[tuple[str, float, float, float]]:
    """Whitespace tokens of a recognised line with x-ranges: from the CTC columns the recogniser placed
    each character at when it says (``line_txt_len`` columns span the crop's width), else shared out by
    character count."""
    tokens = text.split()
    if not tokens:
        return []
    cols: list[float] = []
    confs: list[float] = []
    if info is not None and getattr(info, "word_cols", None) and getattr(info, "line_txt_len", 0):
        scale = width / float(info.line_txt_len)
        cols = [c * scale for word in info.word_cols for c in word]
        confs = list(info.confs or [])
    total = sum(len(t) for t in tokens)
    if len(cols) != total:
        step = width / max(1, total)
        cols = [step * (k + 0.5) for k in range(total)]
        confs = [score] * total
    if len(confs) != total:
        confs = [score] * total
    half = max(1.0, (cols[-1] - cols[0]) / max(1, total - 1) / 2) if total > 1 else width / 2
    out, k = [], 0
    for tok in tokens:
        xs, cs = cols[k : k + len(tok)], confs[k : k + len(tok)]
        k += len(tok)
        out.append((tok, max(0.0, xs[0] - half), min(float(width), xs[-1] + half), float(min(cs))))
    return out


def _split_at_gaps(words: list[RawWord], box: tuple[int, int, int, int], score: float) -> list[RawLine]:
    """The line as detected, or in pieces where its words are further apart than ``SPLIT_GAP`` line
    heights: the detector sometimes joins the rows of two columns across a narrow gutter, while it
    already boxes table cells and form fields one by one, so a gap that wide inside a box is a gutter.
    Each piece's box is narrowed to its words: the detector's box is the text's kernel grown by a margin
    (unclip), which alone can close a narrow gutter; the recogniser's pieces end where the glyphs do."""
    limit = SPLIT_GAP * max(1, box[3] - box[1])
    groups: list[list[RawWord]] = [[words[0]]]
    for word in words[1:]:
        if word.box[0] - groups[-1][-1].box[2] > limit:
            groups.append([])
        groups[-1].append(word)
    return [RawLine((min(w.box[0] for w in g), box[1], max(w.box[2] for w in g), box[3]), score, 0, g) for g in groups]


def _token_boxes(
    tokens: list[str], line_box: tuple[int, int, int, int], parts: tuple | list, line_score: float
) -> tuple[list[tuple[int, int, int, int]], list[float]]:
    """A box and a confidence per whitespace token of the line. The recogniser's own word pieces split
    differently from whitespace (``DENGKIL,`` ``SELANGOR`` vs one token, or one piece per CJK character),
    so each token takes the union of the pieces its characters fall in and the lowest of their scores;
    without usable pieces the line box is shared out by character count (a monospaced estimate) and every
    token gets the line's score."""
    x0, y0, x1, y1 = line_box
    spans: list[tuple[int, int, float]] = []  # per character of the tokens (spaces removed): x-range, score
    for piece in parts or ():
        if len(piece) < 3 or piece[2] is None:
            spans = []
            break
        ptext = unicodedata.normalize("NFKC", str(piece[0])).replace(" ", "")
        pts = np.asarray(piece[2], dtype=float)
        px0, px1 = int(pts[:, 0].min()), int(np.ceil(pts[:, 0].max()))
        n = max(1, len(ptext))
        spans += [
            (px0 + (px1 - px0) * k // n, px0 + (px1 - px0) * (k + 1) // n, float(piece[1])) for k in range(len(ptext))
        ]
    total = sum(len(t) for t in tokens)
    if len(spans) != total:
        width = max(1, x1 - x0)
        spans = [(x0 + width * k // total, x0 + width * (k + 1) // total, line_score) for k in range(total)]
    boxes, scores, k = [], [], 0
    for tok in tokens:
        chunk = spans[k : k + len(tok)]
        k += len(tok)
        left, right = max(x0, min(c[0] for c in chunk)), min(x1, max(c[1] for c in chunk))
        boxes.append((left, y0, max(right, left + 1), y1))
        scores.append(min(c[2] for c in chunk))
    return boxes, scores
