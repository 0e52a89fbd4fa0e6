"""Worker side, after a page is read: which language is it in? For a job that named none where the vendor
identifies it (``JobSpec.languages_detect``), the page is read with the default model first, the text
read is identified (py3langid, whose model ships inside its wheel), and a page in another installed
language is read again with that language's model. English pages pay only the identifier (~1 ms).

A page read so badly that it may be in another script falls back on the script Tesseract's OSD found
when the orientation check looked at it (``orient.read_page`` runs OSD on exactly those pages); a page
with too little text to identify is shown to OSD here. A language or script whose model is not installed
is reported, and the page is read with the models it has (the step says ``installed: false``)."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from py3langid.langid import MODEL_FILE, LanguageIdentifier

from ocrgw import languages
from ocrgw.jobs.schemas import JobSpec
from ocrgw.pipeline.engines import Choice, Engines, UnsupportedLanguages
from ocrgw.pipeline.engines.tesseract import OrientationDetector, RawLine, confidence_summary
from ocrgw.pipeline.rasterize import RasterPage
from ocrgw.pipeline.reader import PageRead

# Measured on OCR text (pages in seven languages read with the English model, and the 64 English dev
# pages of receipts, forms, lines and reports): a page of text in another language scores 0.99-1.0 (a
# German line alone 0.88-1.0), while no English page scored over 0.31 for any other language. Under 20
# letters (a total line, a date) the identifier guesses: "7 October 2019" is Nigerian Pidgin at 0.89.
CONFIDENT = 0.8
MIN_LETTERS = 20
MAX_CHARS = 4000  # identification time grows with the text (~0.3 µs a byte); a page's start is enough
KEEP_MARGIN = 0.02  # the re-read is kept unless its mean word confidence falls by more than this
MIN_SCRIPT_CONFIDENCE = 1.0  # OSD's own scale; a page of Cyrillic scores ~8, Latin ~18
NOT_A_LANGUAGE = frozenset({"zxx", "und"})  # the identifier's "no linguistic content" (codes, numbers)
# A line is labelled with a language of its own (Read v3.2 ``lines[].language``, only where it differs
# from the page's) from this many letters and this probability: over the 875 English ground-truth lines
# of the dev set with 15+ letters, no other language scored 0.8 (receipt lines in capitals scored "la",
# "pcm" at 0.1), while a German or French clause of 30-45 letters scores 0.99.
LINE_MIN_LETTERS = 15
LINE_CONFIDENT = 0.95

# OSD's script names -> the Tesseract models that read the script, most used first.
SCRIPT_MODELS: dict[str, tuple[str, ...]] = {
    "Cyrillic": ("rus", "ukr", "bul", "srp", "mkd", "bel", "kaz"),
    "Greek": ("ell",),
    "Arabic": ("ara", "fas", "urd"),
    "Hebrew": ("heb", "yid"),
    "Han": ("chi_sim", "chi_tra", "jpn"),
    "Japanese": ("jpn",),
    "Hiragana": ("jpn",),
    "Katakana": ("jpn",),
    "Hangul": ("kor",),
    "Korean": ("kor",),
    "Devanagari": ("hin", "mar", "nep"),
    "Bengali": ("ben",),
    "Thai": ("tha",),
    "Tamil": ("tam",),
    "Telugu": ("tel",),
    "Kannada": ("kan",),
    "Malayalam": ("mal",),
    "Gujarati": ("guj",),
    "Gurmukhi": ("pan",),
    "Georgian": ("kat",),
    "Armenian": ("hye",),
    "Khmer": ("khm",),
    "Lao": ("lao",),
    "Myanmar": ("mya",),
}
# Tesseract model -> the language code a page read with it is reported in (the first BCP-47 code naming it).
_MODEL_LANGUAGE: dict[str, str] = {}
for _code, _model in languages.BCP47_TO_TESSERACT.items():
    _MODEL_LANGUAGE.setdefault(_model, _code)

_lock = threading.Lock()
_identifier: Any = None


def identifier() -> Any:
    """py3langid's identifier with probabilities, loaded once per process from the model file inside its
    package (``py3langid/data/model.npz.xz``: ~0.5 s and ~80 MB, paid on the first page that needs it)."""
    global _identifier
    with _lock:
        if _identifier is None:
            _identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        return _identifier


class Guess(NamedTuple):
    code: str  # the identifier's code: ISO 639-1 where there is one (de), else ISO 639-3 (pcm)
    confidence: float  # probability, 0..1


def identify(text: str) -> Guess | None:
    """The language of a text as read, or None when it has too few letters to tell."""
    text = text[:MAX_CHARS]
    if sum(ch.isalpha() for ch in text) < MIN_LETTERS:
        return None
    code, prob = identifier().classify(text)
    return Guess(str(code), float(prob))


def model_for(code: str) -> str | None:
    """The Tesseract model that reads a language, by its identifier code (None: Tesseract has none)."""
    return languages.BCP47_TO_TESSERACT.get(code)


def page_text(lines: list[RawLine]) -> str:
    return "\n".join(" ".join(w.text for w in ln.words) for ln in lines)


def _script(steps: list[dict]) -> tuple[str, float] | None:
    """The script OSD saw when the orientation check looked at the page (pages that read badly)."""
    for step in steps:
        if step.get("step") == "orientation" and step.get("script"):
            return step["script"], float(step.get("script_confidence") or 0.0)
    return None


Read = Callable[[Choice], PageRead]  # one reading of the page with the engines chosen


class Detector:
    """One job's language detection, page by page. A page is first read with the models the previous
    page settled on (the job's default on the first), so a German document pays the second reading once,
    not on every page."""

    def __init__(self, spec: JobSpec, engines: Engines, osd: OrientationDetector | None, tessdata: Path) -> None:
        self.spec, self.engines, self.osd, self.tessdata = spec, engines, osd, tessdata
        self.base = spec.languages  # the server's default models, resolved at submit
        self.models = spec.languages
        self._identify_ms = 0.0

    @property
    def installed(self) -> frozenset[str]:
        return languages.installed(self.tessdata)  # re-listed at most every 30 s

    def choice(self, models: tuple[str, ...] | None = None) -> Choice:
        """The engine(s) for a reading with these models, chosen as for any job (``Engines.for_spec``)."""
        return self.engines.for_spec(self.spec.model_copy(update={"languages": models or self.models}))

    def read(self, page: RasterPage, read: Read) -> tuple[PageRead, str | None]:
        """Read a page (``read`` does it with the engines given), identify its language, read it again
        if another installed model fits it; returns the reading kept and the language to report, with
        each line whose own language differs from it labelled (``label_lines``)."""
        got, code = self._read(page, read)
        started = time.perf_counter()
        label_lines(got.lines, code)
        if got.steps and got.steps[-1]["step"] == "language":  # identifying the page and its lines
            got.steps[-1]["ms"] = round(self._identify_ms + 1000 * (time.perf_counter() - started), 1)
        return got, code

    def _read(self, page: RasterPage, read: Read) -> tuple[PageRead, str | None]:
        got = read(self.choice())
        started = time.perf_counter()
        best = identify(page_text(got.lines))
        self._identify_ms = 1000 * (time.perf_counter() - started)
        guess = _confident(best)
        if guess is not None:
            step = {"step": "language", "detected": guess.code, "confidence": round(guess.confidence, 3)}
            model = model_for(guess.code)
            # Read with its language's model already (an English page; a German page after the first
            # German one, read with deu+eng, or with an operator's eng+deu default): nothing more to pay.
            # English read with deu+eng came out as with eng alone on the test pages (CER within 0.001).
            if model in self.models:
                return _with_step(got, {**step, "models": "+".join(self.models)}), guess.code
            return self._switch(read, got, step, model)
        started = time.perf_counter()
        found = _script(got.steps) or (self._osd_script(page) if best is None else None)
        self._identify_ms += 1000 * (time.perf_counter() - started)  # OSD's script for a page of little text
        if found is not None and found[0] in SCRIPT_MODELS and found[1] >= MIN_SCRIPT_CONFIDENCE:
            step = {"step": "language", "detected": None, "script": found[0]}
            step["script_confidence"] = round(found[1], 2)
            models = SCRIPT_MODELS[found[0]]
            return self._switch(read, got, step, next((m for m in models if m in self.installed), models[0]))
        # Nothing to act on: the page keeps its reading. Its language is the identifier's best guess where
        # that is the language it was read in (short English text), else unknown (a till receipt).
        step = {"step": "language", "detected": None}
        if best is not None:
            step.update(best_guess=best.code, confidence=round(best.confidence, 3))
        step["models"] = "+".join(self.models)
        language = best.code if best is not None and model_for(best.code) in self.models else None
        return _with_step(got, step), language

    def _osd_script(self, page: RasterPage) -> tuple[str, float] | None:
        """OSD's script for a page with too little text read to identify (a page in a script the model
        does not know reads as little or nothing); only such pages pay for it."""
        found = self.osd.detect(page.gray) if self.osd is not None else None
        return (found.script, found.script_confidence) if found and found.script else None

    def _switch(self, read: Read, got: PageRead, step: dict, model: str | None) -> tuple[PageRead, str | None]:
        """Read the page again with ``model`` first (then the default ones, for words in those), if it
        is installed and the job's engine reads it; keep that reading unless it is clearly less sure."""
        code = step["detected"]
        current = "+".join(self.models)
        if model is None or model not in self.installed:
            step.update(models=current, installed=False, **({"wanted": model} if model else {}))
            return _with_step(got, step), code
        target = (model, *(m for m in self.base if m != model))
        try:
            choice = self.choice(target)
        except UnsupportedLanguages as exc:  # engine=rapidocr, named by the caller, reads only its alphabet
            step.update(models=current, installed=True, applied=False, reason=str(exc))
            return _with_step(got, step), code
        again = read(choice)
        before, after = confidence_summary(got.lines)[0], confidence_summary(again.lines)[0]
        step.update(installed=True, confidence_before=round(before, 3), confidence_after=round(after, 3))
        if after + KEEP_MARGIN < before:
            step.update(models=current, applied=False)
            return _with_step(got, step, again.engine_ms), code
        self.models = target
        step.update(models="+".join(target), applied=True)
        if code is None:  # read by its script: now the text can tell the language
            guess = _confident(identify(page_text(again.lines)))
            code = guess.code if guess is not None else _MODEL_LANGUAGE.get(model)
            step.update(detected=code, **({"confidence": round(guess.confidence, 3)} if guess else {}))
        return _with_step(again, step, got.engine_ms), code


def label_lines(lines: list[RawLine], page_code: str | None) -> None:
    """Give each line its own language where it is surely not the page's: a quotation, an address block
    or a bilingual form's other half. Short lines (a name, a total) have too few letters to tell and stay
    unlabelled, as do lines in the page's language (Read v3.2 names a line's language only where it
    differs)."""
    for line in lines:
        text = " ".join(w.text for w in line.words)
        if sum(ch.isalpha() for ch in text) < LINE_MIN_LETTERS:
            continue
        code, prob = identifier().classify(text[:MAX_CHARS])
        if prob >= LINE_CONFIDENT and code not in NOT_A_LANGUAGE and code != page_code:
            line.language = str(code)


def _confident(guess: Guess | None) -> Guess | None:
    """The guess if it is a language and sure enough to act on."""
    if guess is None or guess.confidence < CONFIDENT or guess.code in NOT_A_LANGUAGE:
        return None
    return guess


def _with_step(reading: PageRead, step: dict, extra_ms: float = 0.0) -> PageRead:
    """The reading with the language step last, and the time of a reading not kept added."""
    return dataclasses.replace(reading, steps=[*reading.steps, step], engine_ms=reading.engine_ms + extra_ms)
