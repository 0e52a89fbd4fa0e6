"""OCR engines behind one small interface; a worker process keeps one warm instance per engine and
language set. Which engine reads a job is ``jobs.engine_choice.choose``, shared with the submit-time check,
so submit, the workers and the accuracy bench pick the same way."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from ocrgw.jobs.engine_choice import UnsupportedLanguages, choose, unread_languages
from ocrgw.jobs.schemas import JobSpec
from ocrgw.pipeline.engines.tesseract import RawLine, TesseractEngine


class Engine(Protocol):
    name: str
    languages: str
    busy_ms: float

    def recognize(self, gray: np.ndarray, dpi: int | None = None, psm: int | None = None) -> list[RawLine]: ...

    def close(self) -> None: ...


# (engine, the step saying why it was chosen or None, the second opinion's engine loaded on demand or None)
Choice = tuple[Engine, dict | None, Callable[[], Engine] | None]

__all__ = ["Choice", "Engine", "Engines", "UnsupportedLanguages", "choose", "unread_languages"]


class Engines:
    """The warm engines of one worker process, made on first use: most workers only ever need Tesseract
    for the default language, and the second engine holds ~0.4-0.5 GB once it has read a large page."""

    def __init__(
        self,
        tessdata: Path,
        server_mode: str = "default",
        second_opinion_below: float = 0.0,
        model_cache: Path | None = None,
        int8: bool = False,
    ) -> None:
        self.tessdata = tessdata
        self.model_cache = model_cache  # PP-OCR's derived models (Settings.resolved_model_cache_dir)
        self.int8 = int8  # and its int8 recogniser (Settings.ppocr_int8)
        self.server_mode = server_mode
        self.second_opinion_below = second_opinion_below  # 0: no second opinions
        self._warm: dict[tuple[str, str], Engine] = {}

    def get(self, name: str, languages: tuple[str, ...], detector: bool = True) -> Engine:
        """The warm engine, made on first use; ``detector=False``: PP-OCR made with its recogniser warm only
        (the second opinion's engine, ``RapidEngine.warm``)."""
        key = (name, "+".join(languages))
        eng = self._warm.get(key)
        if eng is None:
            if name == "rapidocr":
                from ocrgw.pipeline.engines.rapid import RapidEngine

                eng = RapidEngine(key[1], detector=detector, cache=self.model_cache, int8=self.int8)
            else:
                eng = TesseractEngine(self.tessdata, key[1])
            self._warm[key] = eng
        return eng

    def for_spec(self, spec: JobSpec) -> Choice:
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
            second = lambda: self.get("rapidocr", languages, detector=False)  # noqa: E731 - a deferred load
        return self.get(name, spec.languages), step, second

    def warm(self, languages: tuple[str, ...], second: bool = True) -> list[Engine]:
        """Load, at worker start, the engine a job that asks for nothing reads with under the server's
        mode (PP-OCR when ``OCRGW_MODE=accurate``) and, when ``second``, the second opinion's engine, so
        neither model load (PP-OCR's two sessions: ~0.5-1 s, seconds on a busy machine) lands inside the
        first job's time. Each engine is warm once made (``RapidEngine.warm``)."""
        engine, _, other = self.for_spec(JobSpec(languages=languages))
        return [engine] if other is None or not second else [engine, other()]

    def close(self) -> None:
        for eng in self._warm.values():
            eng.close()
        self._warm.clear()
