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


def unread_languages(languages: tuple[str, ...]) -> set[str]:
    """The job's languages the second engine's alphabet does not cover."""
    from ocrgw.pipeline.engines.rapid import READS_LANGUAGES

    return set(languages) - READS_LANGUAGES


def choose(spec: JobSpec, server_mode: str = "default") -> tuple[str, dict | None]:
    """(engine name, a step to record or None). ``engine`` wins when given; ``mode`` (else the server's)
    ``accurate`` means the second engine where it reads every language of the job, else Tesseract
    (recorded, so the result says why the accurate mode read it with Tesseract)."""
    mode = spec.mode or server_mode
    missing = unread_languages(spec.languages)
    if spec.engine == "rapidocr":
        if missing:
            raise UnsupportedLanguages(f"engine rapidocr does not read {'+'.join(sorted(missing))}")
        return "rapidocr", {"step": "engine", "name": "rapidocr", "mode": mode}
    if spec.engine == "tesseract" or mode == "default":
        return "tesseract", None if mode == "default" else {"step": "engine", "name": "tesseract", "mode": mode}
    if not missing:
        return "rapidocr", {"step": "engine", "name": "rapidocr", "mode": mode}
    return "tesseract", {
        "step": "engine",
        "name": "tesseract",
        "mode": mode,
        "reason": f"rapidocr does not read {'+'.join(sorted(missing))}",
    }


class Engines:
    """The warm engines of one worker process, made on first use: most workers only ever need Tesseract
    for the default language, and the second engine holds ~0.4-0.5 GB once it has read a large page."""

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
        default_mode = (spec.mode or self.server_mode) == "default"
        if (
            name == "tesseract"
            and spec.engine is None
            and default_mode
            and self.second_opinion_below > 0
            and not unread_languages(spec.languages)
        ):
            languages = spec.languages
            second = lambda: self.get("rapidocr", languages)  # noqa: E731 - a deferred load
        return self.get(name, spec.languages), step, second

    def close(self) -> None:
        for eng in self._warm.values():
            eng.close()
        self._warm.clear()
