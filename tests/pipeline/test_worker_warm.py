"""Warm-up at worker start: a real local worker process (``queue.worker_process.main``, spawned as the
dispatcher spawns it) loads the engines of the server's mode before it says it is ready, PP-OCR's detector
and recogniser included when the mode reads with it, so the first accurate job pays no model load."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

from ocrgw.pipeline.engines import Engines
from ocrgw.queue.worker_process import main
from ocrgw.settings import Settings


def _start_worker(settings: Settings) -> None:
    """Spawn a worker, wait for its "ready" and stop it. It logs to the stderr it inherits (capfd reads it)."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=main, args=(child, settings), daemon=True)
    proc.start()
    try:
        assert parent.poll(180), "the worker did not become ready"
        assert parent.recv()[0] == "ready"
        parent.send(None)
        proc.join(30)
        assert proc.exitcode == 0
    finally:
        if proc.is_alive():
            proc.kill()
            proc.join()


def _warm_lines(err: str) -> list[dict]:
    lines = [json.loads(s) for s in err.splitlines() if s.startswith("{")]
    return [r for r in lines if r["message"].startswith("engines warm:")]


@pytest.mark.parametrize(
    ("env", "engines"),
    [
        ({"mode": "accurate"}, ["rapidocr"]),  # PP-OCR reads every job that asks for nothing
        ({}, ["tesseract", "rapidocr"]),  # default: Tesseract, PP-OCR for second opinions and rereads
        ({"second_opinion_below": 0.0}, ["tesseract"]),  # no second engine: its ~0.5 GB stays unspent
    ],
)
def test_a_worker_loads_its_modes_engines_before_it_is_ready(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], env: dict, engines: list[str]
) -> None:
    settings = Settings(data_dir=tmp_path, log_format="json", log_level="info", **env)
    _start_worker(settings)
    warm = _warm_lines(capfd.readouterr().err)
    assert len(warm) == 1, warm
    assert warm[0]["engines"] == engines


def test_a_warm_pp_ocr_engine_has_both_sessions_made_and_no_busy_time() -> None:
    """The library makes each ONNX session on its first use; a warm engine has run both already."""
    pool = Engines(Settings().resolved_tessdata_dir, "accurate")
    try:
        (rapid,) = pool.warm(("eng",))
        assert rapid.name == "rapidocr" and rapid.busy_ms == 0.0
        ocr = rapid._ocr  # type: ignore[attr-defined]
        assert ocr.text_det is not None and ocr.text_rec is not None
    finally:
        pool.close()
