"""Which engine reads a job, from its ``engine``/``mode`` and languages: the one choice the submit-time check
(``jobs.service``) and the worker (``pipeline.engines.Engines``) both make, so they cannot disagree. Data
about the engines lives here, not in the engines, so the request side never imports the worker side."""

from __future__ import annotations

from ocrgw.jobs.schemas import JobSpec

# The second engine's alphabet: PP-OCR's Chinese model, which also reads Latin script without accents.
# Languages outside it are refused at submit (engine=rapidocr) or read by Tesseract (mode=accurate).
SECOND_ENGINE_LANGUAGES = frozenset({"eng", "chi_sim"})


class UnsupportedLanguages(ValueError):
    """engine=rapidocr asked for languages its alphabet does not cover."""


def unread_languages(languages: tuple[str, ...]) -> set[str]:
    """The job's languages the second engine's alphabet does not cover."""
    return set(languages) - SECOND_ENGINE_LANGUAGES


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
