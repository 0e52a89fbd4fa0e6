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
import onnx
import onnxruntime
import pytest
from rapidfuzz.distance import Levenshtein
from tests.conftest import doc, manifest_row

from ocrgw.pipeline.engines import Engines
from ocrgw.pipeline.engines import rapid_models as rm
from ocrgw.pipeline.engines.rapid import RapidEngine, model_files, models_dir
from ocrgw.pipeline.runner import WorkerContext
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


def _line_inputs(engine: RapidEngine, image: str) -> list[np.ndarray]:
    """The recogniser's inputs for the lines PP-OCR finds on ``image``: each line's box cut from the grey
    page, scaled to 48 px high and normalised as the library feeds its recogniser (x / 127.5 - 1, 3 channels)."""
    gray = cv2.imread(str(doc(image)), cv2.IMREAD_GRAYSCALE)
    inputs = []
    for line in engine.recognize(gray):
        x0, y0, x1, y1 = line.box
        crop = gray[y0:y1, x0:x1]
        if crop.shape[0] < 8 or crop.shape[1] < 8:
            continue
        width = max(48, int(np.ceil(48 * crop.shape[1] / crop.shape[0])))
        scaled = cv2.resize(crop, (width, 48)).astype(np.float32) / 127.5 - 1.0
        inputs.append(np.ascontiguousarray(np.repeat(scaled[None, None], 3, axis=1)))
    return inputs


def _greedy(probs: np.ndarray) -> list[int]:
    """CTC greedy decoding: the best class per time step, repeats merged, blanks (0) dropped."""
    best = probs.argmax(-1)[0]
    return [int(c) for i, c in enumerate(best) if c != 0 and (i == 0 or c != best[i - 1])]


def test_the_int8_recogniser_reads_as_the_float_one(cache: Path, tmp_path: Path) -> None:
    """Made from the Latin recogniser whatever this CPU can do: every 1x1 convolution became a quantised
    matrix product (the others stay float), the alphabet is kept, and on the lines of a faded receipt
    and a 100-dpi form it reads what the float model reads: at most one line in 20 different, and at most
    1 % of the characters."""
    latin = rm.derived(PACKAGED_REC, "latin_recognizer", cache)
    assert latin is not None
    made = tmp_path / "int8.onnx"
    rm.int8_recognizer(latin, made)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    f32, q8 = (onnxruntime.InferenceSession(str(p), options, providers=["CPUExecutionProvider"]) for p in (latin, made))
    source, quantised = onnx.load(str(latin)).graph, onnx.load(str(made)).graph
    pointwise = [
        n
        for n in source.node
        if n.op_type == "Conv" and any(a.name == "kernel_shape" and list(a.ints) == [1, 1] for a in n.attribute)
    ]
    assert len(pointwise) >= 30
    assert sum(n.op_type == "MatMulInteger" for n in quantised.node) == len(pointwise)
    assert sum(n.op_type == "Conv" for n in quantised.node) == sum(n.op_type == "Conv" for n in source.node) - len(
        pointwise
    )
    assert q8.get_modelmeta().custom_metadata_map["character"] == f32.get_modelmeta().custom_metadata_map["character"]
    lines = differ = chars = edits = 0
    finder = RapidEngine("eng", cache=cache)
    for image in ("receipt/till_faded.jpg", "form/form_100dpi.png"):
        for x in _line_inputs(finder, image):
            a, b = _greedy(f32.run(None, {"x": x})[0]), _greedy(q8.run(None, {"x": x})[0])
            lines, differ = lines + 1, differ + (a != b)
            chars, edits = chars + len(a), edits + Levenshtein.distance(a, b)
    assert lines >= 30, lines
    assert differ <= lines / 20 and edits <= chars / 100, (differ, lines, edits, chars)


def test_the_int8_recogniser_is_read_only_where_the_cpu_multiplies_int8() -> None:
    """VNNI (AVX-512 or AVX) or AMX: the int8 products are native and exact; without them (AVX2 alone)
    ONNX Runtime's can saturate, and the float recogniser is read."""
    assert rm.native_int8(["fpu", "avx2", "avx512f", "avx512_vnni"])
    assert rm.native_int8(["avx2", "avx_vnni"]) and rm.native_int8(["amx_tile", "amx_int8"])
    assert not rm.native_int8(["sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw"])
    assert not rm.native_int8([])


def test_the_int8_recogniser_is_read_only_when_asked_and_where_the_cpu_suits(cache: Path) -> None:
    """Off (the default): the float Latin recogniser. On: the int8 one exactly when this CPU multiplies int8
    natively, else still the float one; a CJK job never (its whole alphabet stays the packaged float
    model). The setting reaches the engines a worker makes."""
    assert "int8_recognizer" not in model_files("eng", cache)[1].name
    _, rec = model_files("eng", cache, int8=True)
    assert ("int8_recognizer" in rec.name) == rm.native_int8()
    assert "latin_recognizer" in rec.name
    assert model_files("chi_sim", cache, int8=True)[1] == PACKAGED_REC
    assert model_files("eng", None, int8=True) == (PACKAGED_DET, PACKAGED_REC)
    assert Settings().ppocr_int8 is False
    engines = WorkerContext(Settings(ppocr_int8=True, mode="accurate")).engines
    try:
        engine = engines.get("rapidocr", ("eng",), detector=False)
        assert isinstance(engine, RapidEngine) and engine.model_files == model_files("eng", cache, int8=True)
    finally:
        engines.close()


def test_without_native_int8_the_float_recogniser_reads_and_the_log_says_why(
    cache: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """On a CPU without VNNI or AMX (this one's flags replaced by an AVX2-only CPU's), asking for the int8
    recogniser reads with the float Latin one, and the operator is told why."""
    real = rm.native_int8
    monkeypatch.setattr(rm, "native_int8", lambda flags=None: real(["sse4_2", "avx", "avx2", "fma"]))
    with caplog.at_level(logging.WARNING, logger="ocrgw.pipeline.engines.rapid"):
        _, rec = model_files("eng", cache, int8=True)
    assert "latin_recognizer" in rec.name and "int8_recognizer" not in rec.name
    assert "no VNNI or AMX" in caplog.text
