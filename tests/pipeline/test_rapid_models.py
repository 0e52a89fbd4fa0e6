"""PP-OCR's derived models (pipeline/engines/rapid_models.py): made from the files inside the rapidocr wheel,
read as those do on a receipt and a line of tests/data, kept to the Latin alphabet only where no CJK
language is asked for, and a model that cannot be derived leaves the packaged one in use."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import onnxruntime
import pytest
from rapidfuzz.distance import Levenshtein
from tests.conftest import doc, manifest_row

from ocrgw.pipeline.engines import Engines
from ocrgw.pipeline.engines import rapid_models as rm
from ocrgw.pipeline.engines.rapid import RapidEngine, model_files, models_dir
from ocrgw.settings import Settings

PACKAGED_DET = models_dir() / "PP-OCRv6_det_small.onnx"
PACKAGED_REC = models_dir() / "PP-OCRv6_rec_small.onnx"


@pytest.fixture(scope="module")
def cache() -> Path:
    """The workers' own folder (the Settings default), so the suite makes the int8 detector once per
    machine as a worker would, not once per test run."""
    folder = Settings(ppocr_derived_models=True).resolved_model_cache_dir
    assert folder is not None
    return folder


def text_of(engine: RapidEngine, image: str) -> str:
    gray = cv2.imread(str(doc(image)), cv2.IMREAD_GRAYSCALE)
    return "\n".join(" ".join(w.text for w in ln.words) for ln in engine.recognize(gray))


def cer(hyp: str, ref: str) -> float:
    h, r = " ".join(hyp.split()).casefold(), " ".join(ref.split()).casefold()
    return Levenshtein.distance(h, r) / max(1, len(r))


def test_derived_models_read_as_the_packaged_ones(cache: Path) -> None:
    """The int8 detector and the Latin recogniser against the wheel's files: the faded receipt and a book
    line read to the same text within a character or two, and as close to the truth."""
    det, rec = model_files("eng", cache)
    assert det.parent == cache and rec.parent == cache and det.stat().st_size < PACKAGED_DET.stat().st_size
    derived, packaged = RapidEngine("eng", cache=cache), RapidEngine("eng")
    for image, bound in (("receipt/till_faded.jpg", 0.04), ("line/uw3_0225_010074.png", 0.03)):
        ours, theirs = text_of(derived, image), text_of(packaged, image)
        truth = manifest_row(image)["text"]
        assert cer(ours, truth) <= bound, ours
        assert cer(ours, theirs) <= 0.02, (ours, theirs)


def test_the_latin_recogniser_keeps_the_latin_alphabet_only(cache: Path) -> None:
    """Its output layer holds blank, the Latin-script characters, punctuation and symbols, and the space;
    no CJK character. A job with chi_sim keeps the whole model, and so does every job without a cache."""
    _, rec = model_files("eng", cache)
    session = onnxruntime.InferenceSession(str(rec), providers=["CPUExecutionProvider"])
    chars = session.get_modelmeta().custom_metadata_map["character"].splitlines()
    assert {"A", "z", "0", "é", "ß", "€", "£", "•", "–", "“", "(", "（"} <= set(chars)
    assert "中" not in chars and "的" not in chars and len(chars) < 2000
    out = session.run(None, {"x": np.zeros((1, 3, 48, 96), np.float32)})[0]
    assert out.shape[-1] == len(chars) + 2  # blank first, space last, as the library's decoder adds them
    assert model_files("chi_sim", cache)[1] == PACKAGED_REC
    assert model_files("eng+chi_sim", cache)[1] == PACKAGED_REC
    assert model_files("eng", None) == (PACKAGED_DET, PACKAGED_REC)


def test_a_model_that_cannot_be_derived_leaves_the_packaged_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An unknown recipe (the child process fails) and a cache path that is a file (no folder can be made):
    None and a warning, and the engine reads with the wheel's files."""
    with caplog.at_level(logging.WARNING, logger=rm.__name__):
        assert rm.derived(PACKAGED_REC, "no_such_recipe", tmp_path) is None
    assert "could not derive no_such_recipe" in caplog.text
    assert not list(tmp_path.glob("*.onnx")) and not list(tmp_path.glob("*.tmp"))
    blocked = tmp_path / "file"
    blocked.write_text("")
    assert model_files("eng", blocked) == (PACKAGED_DET, PACKAGED_REC)


def test_engines_hand_the_cache_to_the_second_engine(cache: Path) -> None:
    """A worker's pool makes PP-OCR with the settings' cache, so accurate jobs and rereads both read with
    the derived files."""
    engines = Engines(Settings().resolved_tessdata_dir, "accurate", model_cache=cache)
    engine = engines.get("rapidocr", ("eng",))
    assert isinstance(engine, RapidEngine)
    assert engine.model_files == model_files("eng", cache)
    engines.close()


def test_calibration_pages_are_the_same_every_time() -> None:
    """The int8 detector is a function of the packaged file alone: its calibration pages are seeded."""
    first = [p.copy() for p in rm.calibration_pages()]
    again = list(rm.calibration_pages())
    assert len(first) == 5 and all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert all(p.dtype == np.uint8 and p.ndim == 2 and p.min() < 100 < p.max() for p in first)


def test_a_derived_file_is_named_by_its_sources_content(cache: Path, tmp_path: Path) -> None:
    """Another install of the same wheel (another path, another mtime: each fresh virtualenv) finds the
    files the first one made instead of deriving and keeping its own. Made here from scratch, in a folder
    of its own, from a copy of the packaged recogniser: the same name and the same bytes as the cache's."""
    copy = tmp_path / "wheel" / PACKAGED_REC.name
    copy.parent.mkdir()
    shutil.copyfile(PACKAGED_REC, copy)
    os.utime(copy, ns=(1_000_000_000, 1_000_000_000))
    made = rm.derived(copy, "latin_recognizer", tmp_path / "cache")
    kept = rm.derived(PACKAGED_REC, "latin_recognizer", cache)
    assert made is not None and kept is not None
    assert made.name == kept.name and made.read_bytes() == kept.read_bytes()
