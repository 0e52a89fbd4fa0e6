"""The second engine (RapidOCR, PP-OCR models from its wheel) and the choice of engine per job: real ONNX
inference on the receipts and lines of tests/data, the worker's own ``reader.read`` path, and a guard that
the library's model download is never reached."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from rapidfuzz.distance import Levenshtein
from tests.conftest import doc, manifest_row

from ocrgw.jobs.schemas import JobSpec
from ocrgw.pipeline import reader
from ocrgw.pipeline.engines import Engines, UnsupportedLanguages, choose
from ocrgw.pipeline.engines.rapid import RapidEngine, _split_at_gaps, one_line
from ocrgw.pipeline.engines.tesseract import RawWord
from ocrgw.pipeline.orient import read_page
from ocrgw.pipeline.rasterize import RasterPage
from ocrgw.settings import Settings


def cer(hyp: str, ref: str) -> float:
    h, r = " ".join(hyp.split()).casefold(), " ".join(ref.split()).casefold()
    return Levenshtein.distance(h, r) / max(1, len(r))


@pytest.fixture(scope="module")
def rapid(request: pytest.FixtureRequest) -> RapidEngine:
    """One warm engine for the module, built with the library's downloader made to fail: the models must
    come from the wheel by explicit path, never from the network."""
    from rapidocr.utils import download_file

    calls: list[str] = []
    original = download_file.DownloadFile.run

    def refuse(cls: type, inp: object) -> None:
        calls.append(str(getattr(inp, "file_url", inp)))
        raise AssertionError(f"rapidocr tried to download {calls[-1]}")

    download_file.DownloadFile.run = classmethod(refuse)
    request.addfinalizer(lambda: setattr(download_file.DownloadFile, "run", original))
    engine = RapidEngine("eng")
    request.addfinalizer(lambda: assert_no_download(calls))
    return engine


def assert_no_download(calls: list[str]) -> None:
    assert calls == []


def gray(image: str) -> np.ndarray:
    img = cv2.imread(str(doc(image)), cv2.IMREAD_GRAYSCALE)
    assert img is not None
    return img


# ------------------------------------------------------------------------------------ choice of engine
def test_choose_by_mode_engine_and_languages() -> None:
    assert choose(JobSpec()) == ("tesseract", None)
    assert choose(JobSpec(), "accurate")[0] == "rapidocr"  # the server's OCRGW_MODE applies when unasked
    assert choose(JobSpec(mode="default"), "accurate") == ("tesseract", None)
    name, step = choose(JobSpec(mode="accurate"))
    assert name == "rapidocr" and step == {"step": "engine", "name": "rapidocr", "mode": "accurate"}
    # Accurate for a language the second engine cannot read: Tesseract, and the result says why.
    name, step = choose(JobSpec(mode="accurate", languages=("deu",)))
    assert name == "tesseract" and step is not None and "deu" in step["reason"]
    assert choose(JobSpec(engine="tesseract", mode="accurate"))[0] == "tesseract"
    assert choose(JobSpec(engine="rapidocr"))[0] == "rapidocr"
    with pytest.raises(UnsupportedLanguages, match="fra"):
        choose(JobSpec(engine="rapidocr", languages=("eng", "fra")))


def test_engines_keeps_one_warm_instance_per_engine_and_languages(rapid: RapidEngine) -> None:
    """(``rapid`` is asked for so the download guard is in place while the pool builds its own engine.)"""
    pool = Engines(Settings().resolved_tessdata_dir, "default", second_opinion_below=0.7)
    try:
        tess, step, second = pool.for_spec(JobSpec())
        assert tess.name == "tesseract" and step is None and pool.for_spec(JobSpec())[0] is tess
        assert second is not None and second() is pool.get("rapidocr", ("eng",))  # loaded when asked for
        accurate, step, none = pool.for_spec(JobSpec(mode="accurate"))
        assert accurate.name == "rapidocr" and step and accurate is second() and none is None
        # No second opinion for a job that names its engine, nor for a language PP-OCR cannot read.
        assert pool.for_spec(JobSpec(engine="tesseract"))[2] is None
        assert pool.for_spec(JobSpec(languages=("deu",)))[2] is None
    finally:
        pool.close()
    assert Engines(Settings().resolved_tessdata_dir, "default", 0.0).for_spec(JobSpec())[2] is None


def test_a_page_tesseract_reads_badly_gets_the_second_opinion(rapid: RapidEngine) -> None:
    """The worker's ``reader.read`` in the default mode: a faint receipt, which Tesseract reads with a mean
    confidence of ~0.2 (most words lost), is read again by PP-OCR and that reading kept, recorded as the
    page's first step; phototest (confidence ~0.96) is not re-read."""
    tessdata = Settings().resolved_tessdata_dir
    pool = Engines(tessdata, "default", second_opinion_below=0.7)
    tess, _, second = pool.for_spec(JobSpec())
    try:
        image = "receipt/till_faint.jpg"
        got = reader.read(RasterPage(1, gray(image), None), tess, None, "basic", second=second, second_below=0.7)
        step = got.steps[0]
        assert step["step"] == "second_opinion" and step["applied"] is True and step["engine"] == "rapidocr"
        assert step["confidence_before"] < 0.5 < step["confidence_after"]
        text = "\n".join(" ".join(w.text for w in ln.words) for ln in got.lines)
        assert cer(text, manifest_row(image)["text"]) <= 0.08, text
        clean = reader.read(
            RasterPage(1, gray("page/tess_phototest.tif"), None), tess, None, "basic", second=second, second_below=0.7
        )
        assert not any(s["step"] == "second_opinion" for s in clean.steps)
    finally:
        pool.close()


def test_a_page_of_one_tone_is_not_read_but_faint_text_is(rapid: RapidEngine) -> None:
    """A blank page (white, black, or a flat grey with JPEG's +-2 levels) goes to neither engine: the first
    reading would find nothing and the second opinion would then read it again. Text only 40 grey levels
    darker than its paper is still read."""
    tessdata = Settings().resolved_tessdata_dir
    pool = Engines(tessdata, "default", second_opinion_below=0.7)
    tess, _, second = pool.for_spec(JobSpec())
    try:
        rng = np.random.default_rng(0)
        flat = (200 + rng.integers(-2, 3, (2000, 1500))).astype(np.uint8)
        for page in (np.full((3000, 2000), 255, np.uint8), np.zeros((800, 800), np.uint8), flat):
            busy = tess.busy_ms
            got = reader.read(RasterPage(1, page, None), tess, None, "basic", second=second, second_below=0.7)
            assert got.lines == [] and tess.busy_ms == busy, got.steps
            assert got.steps[-1]["step"] == "blank" and got.steps[-1]["applied"] is True
            laid = reader.read(RasterPage(1, page, None), tess, None, "basic", layout=True)
            assert laid.layout is not None and laid.layout.paragraphs == [] and laid.layout.tables == []
        faint = (215 + gray("page/tess_phototest.tif").astype(np.float32) / 255 * 40).astype(np.uint8)  # ink 215
        got = reader.read(RasterPage(1, faint, None), tess, None, "basic")
        text = " ".join(w.text for ln in got.lines for w in ln.words)
        assert "quick brown dog" in text, text
    finally:
        pool.close()


# ------------------------------------------------------------------------------------ the engine itself
def test_rapid_reads_a_receipt_tesseract_struggles_with(rapid: RapidEngine) -> None:
    """A faded receipt: Tesseract through ocrgw's default path reads it at ~18 % CER; PP-OCR at ~2 %.
    Boxes are in the page's pixels, words inside their line, confidences in 0..1."""
    image = "receipt/till_faded.jpg"
    page = gray(image)
    reading = read_page(page, None, rapid, None)
    text = "\n".join(" ".join(w.text for w in ln.words) for ln in reading.lines)
    assert cer(text, manifest_row(image)["text"]) <= 0.04, text
    h, w = page.shape
    for ln in reading.lines:
        x0, y0, x1, y1 = ln.box
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h and 0.5 <= ln.confidence <= 1
        for word in ln.words:
            assert x0 <= word.box[0] < word.box[2] <= x1 and 0 <= word.confidence <= 1 and word.text.strip()
    # Tesseract-only steps are not applied for this engine; the step list says so.
    assert any(
        s["step"] == "upscale" and s.get("applied") is False and "rapidocr" in s["reason"] for s in reading.steps
    )
    assert not any(s["step"] == "segmentation" for s in reading.steps)


def test_rapid_reads_a_single_text_line_upright(rapid: RapidEngine) -> None:
    """A 39 px high book line: the library's per-line direction classifier turned it over (" t t t eo");
    ocrgw runs without it, and reads the line."""
    image = "line/uw3_0225_010074.png"
    lines = rapid.recognize(gray(image))
    assert cer(" ".join(w.text for ln in lines for w in ln.words), manifest_row(image)["text"]) <= 0.03


def test_a_one_line_image_is_read_without_the_detector(rapid: RapidEngine) -> None:
    """A book line (one band of ink) goes to the recogniser alone and reads as through the detector, boxed
    to its ink; two lines stacked in a short image, or one with paper between, are not taken for one."""
    image = "line/uw3_0768_010009.png"
    img = gray(image)
    band = one_line(img)
    assert band is not None
    (line,) = rapid.recognize(img)
    assert cer(" ".join(w.text for w in line.words), manifest_row(image)["text"]) <= 0.03
    assert line.box[1] == band[1] and line.box[3] == band[3] and line.confidence >= 0.5
    assert all(line.box[0] <= w.box[0] < w.box[2] <= line.box[2] for w in line.words)
    assert [w.box[0] for w in line.words] == sorted(w.box[0] for w in line.words)
    small = cv2.resize(img, None, fx=0.6, fy=0.6, interpolation=cv2.INTER_AREA)  # 32 px: two fit under 96
    assert one_line(small) is not None
    assert one_line(np.vstack([small, small])) is None  # paper rows between: two bands
    tight = small[3:-3]
    assert one_line(tight) is not None and one_line(np.vstack([tight, tight])) is None  # one band, 2 lines high
    assert len(rapid.recognize(np.vstack([small, small]))) == 2  # the detector finds both


def test_a_line_joined_across_a_gutter_is_split_there() -> None:
    """Words further apart than SPLIT_GAP line heights become separate lines, each boxed to its words;
    ordinary word spaces do not split."""
    words = [
        RawWord("end", (100, 10, 160, 40), 0.9),
        RawWord("of", (170, 10, 190, 40), 0.9),
        RawWord("column", (200, 10, 300, 40), 0.9),
        RawWord("next", (340, 10, 400, 40), 0.9),
        RawWord("one", (410, 10, 460, 40), 0.9),
    ]
    parts = _split_at_gaps(words, (90, 10, 470, 40), 0.9)
    assert [[w.text for w in p.words] for p in parts] == [["end", "of", "column"], ["next", "one"]]
    assert [p.box for p in parts] == [(100, 10, 300, 40), (340, 10, 460, 40)]
    assert len(_split_at_gaps(words[:3], (90, 10, 310, 40), 0.9)) == 1
