"""OCR engines behind one small interface; a worker process keeps one warm instance per engine and
language set. ``choose`` is the one place that turns a job's ``engine``/``mode`` into an engine, so the
workers and the accuracy bench pick the same way."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from ocrgw.jobs.schemas import JobSpec
from ocrgw.pipeline.engines.tesseract import RawLine, TesseractEngine


class Engine(Protocol):
    name: str
    languages: str
    busy_ms: float

    def recognize(self, gray: np.ndarray, dpi: int | None = None, psm: int | None = None) -> list[RawLine]: ...

    def close(self) -> None: ...


class UnsupportedLanguages(ValueError):
    """engine=rapidocr asked for languages its alphabet does not cover."""


def choose(spec: JobSpec, server_mode: str = "default") -> tuple[str, dict | None]:
    """(engine name, a step to record or None). ``engine`` wins when given; ``mode`` (else the server's)
    ``accurate`` means the second engine where it reads every language of the job, else Tesseract
    (recorded, so the result says why the accurate mode read it with Tesseract)."""
    from ocrgw.pipeline.engines.rapid import READS_LANGUAGES

    mode = spec.mode or server_mode
    if spec.engine == "rapidocr":
        if not set(spec.languages) <= READS_LANGUAGES:
            raise UnsupportedLanguages(f"engine rapidocr reads {', '.join(sorted(READS_LANGUAGES))} only, "
                                       f"not {'+'.join(spec.languages)}")
        return "rapidocr", {"step": "engine", "name": "rapidocr", "mode": mode}
    if spec.engine == "tesseract" or mode == "default":
        return "tesseract", None if mode == "default" else {"step": "engine", "name": "tesseract", "mode": mode}
    if set(spec.languages) <= READS_LANGUAGES:
        return "rapidocr", {"step": "engine", "name": "rapidocr", "mode": mode}
    return "tesseract", {"step": "engine", "name": "tesseract", "mode": mode,
                         "reason": f"rapidocr does not read {'+'.join(sorted(set(spec.languages) - READS_LANGUAGES))}"}


class Engines:
    """The warm engines of one worker process, made on first use: most workers only ever need Tesseract
    for the default language, and the second engine's models cost ~100 MB of memory once loaded."""

    def __init__(self, tessdata: Path, server_mode: str = "default", second_opinion_below: float = 0.0) -> None:
        self.tessdata = tessdata
        self.server_mode = server_mode
        self.second_opinion_below = second_opinion_below  # 0: no second opinions
        self._warm: dict[tuple[str, str], Engine] = {}

    def get(self, name: str, languages: tuple[str, ...]) -> Engine:
        key = (name, "+".join(languages))
        eng = self._warm.get(key)
        if eng is None:
            if name == "rapidocr":
                from ocrgw.pipeline.engines.rapid import RapidEngine

                eng = RapidEngine(key[1])
            else:
                eng = TesseractEngine(self.tessdata, key[1])
            self._warm[key] = eng
        return eng

    def for_spec(self, spec: JobSpec) -> tuple[Engine, dict | None, Callable[[], Engine] | None]:
        """(engine, step to record, second opinion). The second opinion is the second engine, loaded only
        when a page asks for it, for default-mode jobs it can read (see ``reader.read``); a job that names
        its engine gets that engine alone."""
        name, step = choose(spec, self.server_mode)
        second = None
        if name == "tesseract" and spec.engine is None and (spec.mode or self.server_mode) == "default" \
                and self.second_opinion_below > 0:
            from ocrgw.pipeline.engines.rapid import READS_LANGUAGES

            if set(spec.languages) <= READS_LANGUAGES:
                languages = spec.languages
                second = lambda: self.get("rapidocr", languages)  # noqa: E731 - a deferred load
        return self.get(name, spec.languages), step, second

    def close(self) -> None:
        for eng in self._warm.values():
            eng.close()
        self._warm.clear()
