"""The submit-time order check: once the installed models are known it reads nothing from disk and runs on
the event loop (a submit naming a language used to list the tessdata folders every time), and a model
installed later is seen once the cache has run out, without a restart."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from ocrgw import languages
from ocrgw.errors import OcrgwError
from ocrgw.jobs import service
from ocrgw.jobs.schemas import JobSpec
from ocrgw.settings import Settings


def test_languages_resolve_from_cache_then_see_a_new_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(languages, "_CACHE_SECONDS", 1.0)  # the test's patience (30 s in service)
    tessdata = tmp_path / "tessdata"
    tessdata.mkdir()
    (tessdata / "eng.traineddata").write_bytes(b"")
    settings = Settings(data_dir=tmp_path, tessdata_dir=tessdata)

    def check(code: str) -> tuple[str, ...]:
        order = service.Order(JobSpec(), languages.BCP47.ask(code))
        return asyncio.run(service.check_order(order, settings)).spec.languages

    assert not languages.cached(settings)
    assert check("en") == ("eng",)  # the first one finds the folder and lists it (in a thread)
    assert languages.cached(settings)  # the next ones run on the event loop
    (tessdata / "deu.traineddata").write_bytes(b"")
    with pytest.raises(OcrgwError):  # the cached listing: nothing was read again
        check("de")
    time.sleep(1.05)
    assert not languages.cached(settings)
    assert check("de") == ("deu",)  # listed again, and found without a restart
