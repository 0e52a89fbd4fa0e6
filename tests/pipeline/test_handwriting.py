"""Handwriting and the two engines in the default mode: the per-line style label (pipeline.style), the
second engine's reading of lines Tesseract is unsure of or never found (pipeline.reread), and what each
API reports of them through a real server (Read v3.2 ``appearance.style``, Document Intelligence
``styles``, the native ``style``, hOCR and ALTO). Real Tesseract and the PP-OCR recogniser throughout.

The handwritten lines here are a cursive font (tests/data/README.md says why); real hands are measured
by bench/handwriting.py, which the suite cannot hold."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from rapidfuzz.distance import Levenshtein
from tests.conftest import Server, doc, manifest_row, native_result, submit_and_wait

from ocrgw.jobs.schemas import JobSpec
from ocrgw.pipeline import reader, reread, style
from ocrgw.pipeline.engines import Engines
from ocrgw.pipeline.engines.tesseract import RawLine, RawWord
from ocrgw.pipeline.rasterize import RasterPage
from ocrgw.settings import Settings

MEMO = "note/memo_handwritten.jpg"


def cer(hyp: str, ref: str) -> float:
    h, r = " ".join(hyp.lower().split()), " ".join(ref.lower().split())
    return Levenshtein.distance(h, r) / max(1, len(r))


def gray(name: str) -> np.ndarray:
    with Image.open(doc(name)) as im:
        return np.asarray(im.convert("L"))


@pytest.fixture(scope="module")
def pool() -> Engines:
    settings = Settings()
    engines = Engines(settings.resolved_tessdata_dir, "default", settings.second_opinion_below)
    yield engines
    engines.close()


def read_default(pool: Engines, name: str) -> reader.PageRead:
    """A page read as a default-mode worker reads it (the second engine's rereads on)."""
    settings = Settings()
    engine, step, second = pool.for_spec(JobSpec())
    page = RasterPage(page_no=1, gray=gray(name), dpi=None, unit="pixel", unit_per_px=1.0)
    return reader.read(
        page,
        engine,
        None,
        "basic",
        second=second,
        second_below=settings.second_opinion_below,
        reread_below=settings.reread_below,
        engine_step=step,
    )


def styled(got: reader.PageRead) -> dict[str, str | None]:
    return {" ".join(w.text for w in ln.words): ln.style for ln in got.lines}


# ------------------------------------------------------------------------------------------ the label
def test_features_tell_a_joined_script_from_print() -> None:
    """The three numbers the label rests on, on the memo's own lines (cut at their ground-truth boxes):
    print is about one component per character, all of a height; the joined script has far fewer, and
    the model puts the two on either side of one half with room to spare."""
    page = gray(MEMO)
    for line in manifest_row(MEMO)["lines"]:
        x0, y0, x1, y1 = line["bbox"]
        feats = style.features(page[y0:y1, x0:x1], line["text"])
        assert feats is not None, line
        p = style.handwriting_probability(feats)
        if line["style"] == "handwriting":
            assert feats[0] < 0.6 and p > 0.8, (line["text"], feats, p)
        else:
            assert 0.8 <= feats[0] <= 1.3 and p < 0.4, (line["text"], feats, p)


def test_a_line_tesseract_reads_confidently_is_print_and_blank_ink_is_other() -> None:
    line = RawLine((0, 0, 10, 10), 0.9, 0, [RawWord("x", (0, 0, 10, 10), 0.9)])
    assert style.label(np.full((20, 20), 255, np.uint8), line, 0.95) == ("other", 0.95)
    assert style.label(np.full((20, 20), 255, np.uint8), line, None) == ("other", 0.5)


# --------------------------------------------------------------------------- the worker, on real pages
def test_the_memo_is_read_whole_with_its_handwritten_lines_labelled(pool: Engines) -> None:
    """Tesseract's layout skips the first cursive line; the missed-text step finds and reads it, and both
    script lines are labelled handwriting, the printed ones other."""
    got = read_default(pool, MEMO)
    steps = {s["step"]: s for s in got.steps}
    assert steps["missed_text"]["lines"] >= 1, got.steps
    gt = manifest_row(MEMO)
    read = styled(got)
    for line in gt["lines"]:
        best = min(read, key=lambda text: cer(text, line["text"]))
        assert cer(best, line["text"]) <= 0.1, (line["text"], best)
        assert read[best] == line["style"], (line["text"], read[best])
    assert cer("\n".join(read), gt["text"]) <= 0.05  # in reading order too


@pytest.mark.parametrize("name", ["form/form_100dpi.png", "multicol/report_two_column.jpg", "receipt/till_clean.jpg"])
def test_printed_pages_have_no_handwriting(pool: Engines, name: str) -> None:
    got = read_default(pool, name)
    labels = [ln.style for ln in got.lines]
    assert labels and all(label in ("handwriting", "other") for label in labels)
    assert labels.count("other") / len(labels) >= 0.95, [
        " ".join(w.text for w in ln.words) for ln in got.lines if ln.style != "other"
    ]


@pytest.mark.parametrize(
    ("name", "step", "gain"),
    [
        ("form/form_100dpi.png", "reread_lines", 0.004),  # small type: runs Tesseract is unsure of
        ("receipt/till_faded.jpg", "missed_text", 0.01),  # faded print under a rule that Tesseract skips
    ],
)
def test_the_second_engine_improves_what_tesseract_read(pool: Engines, name: str, step: str, gain: float) -> None:
    """The same page read by Tesseract alone and by the default mode: the second engine's readings of runs
    Tesseract is unsure of, or of ink it never read, bring the page's CER down."""
    engine, _, _ = pool.for_spec(JobSpec())
    page = RasterPage(page_no=1, gray=gray(name), dpi=None, unit="pixel", unit_per_px=1.0)
    alone = reader.read(page, engine, None, "basic")
    both = read_default(pool, name)
    found = [s for s in both.steps if s["step"] == step]
    assert found and found[0].get("replaced", found[0].get("lines")) >= 1, both.steps
    # the step's wall time holds the recogniser's, and says how many runs were read of those found
    assert found[0]["ms"] >= found[0]["engine_ms"] > 0 and 1 <= found[0]["tried"] <= found[0]["candidates"]
    ref = manifest_row(name)["text"]
    text = lambda got: "\n".join(" ".join(w.text for w in ln.words) for ln in got.lines)  # noqa: E731
    assert cer(text(both), ref) <= cer(text(alone), ref) - gain


def test_the_budget_stops_rereads_and_segments_split_at_wide_gaps() -> None:
    class Slow:
        name = "slow"
        busy_ms = 0.0

        def read_line(self, crop: np.ndarray) -> tuple[str, float, list]:
            self.busy_ms += 10.0
            return "abc", 0.99, [("abc", 0.0, float(crop.shape[1]), 0.99)]

    words = [
        RawWord("a", (0, 0, 20, 20), 0.3),
        RawWord("b", (25, 0, 45, 20), 0.3),
        RawWord("c", (200, 0, 220, 20), 0.5),
    ]
    line = RawLine((0, 0, 220, 20), 0.4, 0, words)
    assert [[w.text for w in run] for run in reread.segments(line)] == [["a", "b"], ["c"]]
    image = np.full((40, 240), 255, np.uint8)
    got = reread.reread(image, [line], Slow(), 0.9, budget_ms=10.0)  # type: ignore[arg-type]
    assert got.step["candidates"] == 2 and got.step["tried"] == 1 and got.step["replaced"] == 1
    assert [w.text for w in got.lines[0].words] == ["abc", "c"]  # the least confident run went first

    class FewMarks(Slow):  # a script outside the recogniser's alphabet: a few sure marks
        def read_line(self, crop: np.ndarray) -> tuple[str, float, list]:
            self.busy_ms += 10.0
            return ".", 0.99, [(".", 0.0, 5.0, 0.99)]

    long_run = [RawWord("Yvazhaemye", (0, 0, 120, 20), 0.3)]
    kept = reread.reread(image, [RawLine((0, 0, 120, 20), 0.3, 0, long_run)], FewMarks(), 0.9)  # type: ignore[arg-type]
    assert kept.step["tried"] == 1 and kept.step["replaced"] == 0 and kept.lines[0].words == long_run


def test_a_text_share_budget_reads_the_same_runs_however_slow_the_reader() -> None:
    """The default budget counts the runs' widths in line heights (the recogniser's cost), not its time:
    a reader ten times slower gets the same runs read."""
    words = [RawWord(t, (i * 60, 0, i * 60 + 40, 20), 0.3 + 0.1 * i) for i, t in enumerate("abcd")]
    line = RawLine((0, 0, 220, 20), 0.4, 0, words)  # four runs of 2 widths + 1 = 3 units each
    assert reread.text_units([line]) == 11.0
    image = np.full((40, 240), 255, np.uint8)

    class Reader:
        name = "reader"
        busy_ms = 0.0

        def __init__(self, cost: float) -> None:
            self.cost = cost

        def read_line(self, crop: np.ndarray) -> tuple[str, float, list]:
            self.busy_ms += self.cost
            return "x", 0.99, [("x", 0.0, float(crop.shape[1]), 0.99)]

    for cost in (1.0, 10.0):
        got = reread.reread(image, [line], Reader(cost), 0.9, budget_units=5.0)  # type: ignore[arg-type]
        assert got.step["tried"] == 2 and got.step["units"] == 6.0  # a run is read while any budget is left
        assert [w.text for w in got.lines[0].words] == ["x", "x", "c", "d"]  # the least confident first


# ------------------------------------------------------------------------------------ through a server
def test_every_api_reports_the_handwritten_lines(server: Server) -> None:
    data = doc(MEMO).read_bytes()
    hand = [ln["text"] for ln in manifest_row(MEMO)["lines"] if ln["style"] == "handwriting"]

    body = submit_and_wait(server, data, timeout=120)
    lines = body["analyzeResult"]["readResults"][0]["lines"]
    by_style = {ln["text"]: ln["appearance"]["style"] for ln in lines}
    for text in hand:
        best = min(by_style, key=lambda t: cer(t, text))
        assert by_style[best]["name"] == "handwriting" and by_style[best]["confidence"] >= 0.5, by_style
    assert sum(s["name"] == "other" for s in by_style.values()) == len(lines) - len(hand)

    path = "/documentintelligence/documentModels/prebuilt-read:analyze"
    result = submit_and_wait(server, data, path=path, query="?api-version=2024-11-30", timeout=120)["analyzeResult"]
    spans = [
        result["content"][span["offset"] : span["offset"] + span["length"]]
        for st in result["styles"]
        for span in st["spans"]
        if st["isHandwritten"]
    ]
    assert len(spans) == len(hand) and all(cer(min(spans, key=lambda s: cer(s, t)), t) <= 0.1 for t in hand)

    res = native_result(server, data, "memo.jpg")
    native = [(ln["text"], ln["style"], ln["style_confidence"]) for ln in res["pages"][0]["lines"]]
    assert sum(s == "handwriting" for _, s, _ in native) == len(hand), native
    assert all(0.5 <= c <= 1 for _, _, c in native)
