"""Page preprocessing on real rendered pages (PIL text, real rotations, real Tesseract), no mocks."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from tests.conftest import doc

from ocrgw.pipeline.preprocess import Preprocessed, preprocess, to_source

tesserocr = pytest.importorskip("tesserocr")

TESSDATA = "/usr/share/tesseract-ocr/5/tessdata"
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
LINES = [
    "The quick brown fox jumps over",
    "the lazy dog while seven wizards",
    "quietly hex the jovial boxing",
    "judges near the old harbour gate",
    "Pack my box with five dozen jugs",
]


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.truetype(str(DEJAVU), size) if DEJAVU.exists() else ImageFont.load_default(size=size)


def _page(lines: list[str] = LINES, size: int = 28, ink: int = 0, paper: int = 255) -> Image.Image:
    """An upright grey page with several lines of text, the way a clean scan looks."""
    font = _font(size)
    pitch = int(size * 2.2)
    page = Image.new("L", (size * 32, pitch * len(lines) + 2 * size), paper)
    draw = ImageDraw.Draw(page)
    for i, text in enumerate(lines):
        draw.text((size + 10, size + i * pitch), text, fill=ink, font=font)
    return page


def _words(text: str) -> str:
    return " ".join(text.split())


def _cer(got: str, want: str) -> float:
    """Character error rate (plain dynamic-programming Levenshtein; the strings are short)."""
    a, b = _words(got), _words(want)
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1] / max(len(b), 1)


@pytest.fixture(scope="module")
def ocr() -> Iterator[object]:
    with tesserocr.PyTessBaseAPI(path=TESSDATA, lang="eng") as api:
        yield api


def _read(api: object, image: np.ndarray) -> str:
    api.SetImage(Image.fromarray(image))
    return api.GetUTF8Text()


def _step(result: Preprocessed, name: str) -> dict:
    found = [s for s in result.steps if s["step"] == name]
    assert len(found) == 1, result.steps
    return found[0]


def _applied(result: Preprocessed, name: str) -> bool:
    return any(s["step"] == name and s.get("applied", True) for s in result.steps)


# ------------------------------------------------------------------------------------------ deskew
@pytest.mark.parametrize("pil_angle", [-7.0, -3.0, 2.5, 6.0])
def test_skewed_page_is_measured_and_straightened(ocr: object, pil_angle: float) -> None:
    # PIL turns counter-clockwise, so its -7 leaves the lines running down to the right: skew +7.
    skewed = _page().rotate(pil_angle, resample=Image.BICUBIC, expand=True, fillcolor=255)
    result = preprocess(np.asarray(skewed))

    assert result.angle == pytest.approx(-pil_angle, abs=0.5)
    assert _step(result, "deskew")["angle"] == result.angle
    assert result.matrix is not None and result.matrix.shape == (2, 3)
    assert result.image.ndim == 2 and result.image.dtype == np.uint8
    # canvas grew so nothing is cut: the straightened page is at least as big as the upright one
    assert result.image.shape[0] >= _page().height and result.image.shape[1] >= _page().width
    assert _cer(_read(ocr, result.image), "\n".join(LINES)) < 0.03


def test_small_skew_is_measured_but_not_applied() -> None:
    skewed = _page().rotate(-0.8, resample=Image.BICUBIC, expand=True, fillcolor=255)
    result = preprocess(np.asarray(skewed))

    step = _step(result, "deskew")
    assert step["applied"] is False
    assert step["angle"] == pytest.approx(0.8, abs=0.3)
    assert result.angle == step["angle"]  # still reported, like Azure's `angle`
    assert result.matrix is None


def test_to_source_maps_straightened_points_back_to_the_input() -> None:
    """A black square drawn on the upright page is followed through a known PIL rotation (forward, by
    formula) and found again in the straightened image; to_source must bring it back onto the input."""
    upright = _page()
    marker = (500, 40, 540, 80)
    ImageDraw.Draw(upright).rectangle(marker, fill=0)
    mx, my = (marker[0] + marker[2] + 1) / 2, (marker[1] + marker[3] + 1) / 2  # pixel-area centre

    pil_angle = -5.0
    skewed = upright.rotate(pil_angle, resample=Image.BICUBIC, expand=True, fillcolor=255)
    # PIL: counter-clockwise by pil_angle about the centre, centre kept at the centre of the grown canvas
    a = math.radians(pil_angle)
    dx, dy = mx - upright.width / 2, my - upright.height / 2
    expected = (
        dx * math.cos(a) + dy * math.sin(a) + skewed.width / 2,
        -dx * math.sin(a) + dy * math.cos(a) + skewed.height / 2,
    )

    result = preprocess(np.asarray(skewed))
    assert result.matrix is not None
    # the marker is the biggest blob of ink in the straightened image
    ink = (result.image < 128).astype(np.uint8)
    _, _, stats, centroids = cv2.connectedComponentsWithStats(ink)
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    cx, cy = centroids[biggest] + 0.5  # centroid of pixel centres -> continuous coordinates
    back = to_source([cx, cy], result.matrix)

    assert back[0] == pytest.approx(expected[0], abs=2.0)
    assert back[1] == pytest.approx(expected[1], abs=2.0)


def test_to_source_without_matrix_is_identity_rounded() -> None:
    assert to_source([1.234, 5.678, 10, 20], None) == [1.2, 5.7, 10.0, 20.0]
    shift = np.array([[1.0, 0.0, 3.0], [0.0, 1.0, -2.0]])
    assert to_source([1.0, 1.0, 4.04, 5.0], shift) == [4.0, -1.0, 7.0, 3.0]
    assert to_source([], None) == []


def test_single_line_skips_deskew() -> None:
    line = _page(lines=["A single line of text, nothing more"], size=20)
    assert line.height < 120
    result = preprocess(np.asarray(line))

    step = _step(result, "deskew")
    assert step["applied"] is False and "height" in step["reason"]
    assert result.angle == 0.0
    # not turned; its 11 px glyphs may be enlarged (a pure scale)
    assert result.matrix is None or (result.matrix[0, 1] == 0 and result.matrix[1, 0] == 0)


def test_clean_page_is_left_alone() -> None:
    page = np.asarray(_page())
    result = preprocess(page)

    assert not _applied(result, "contrast")
    assert not _applied(result, "deskew") and abs(result.angle) < 0.3
    assert not _applied(result, "binarize")
    assert result.matrix is None
    assert np.array_equal(result.image, page)


def test_each_step_carries_its_time_and_skipped_ones_say_so() -> None:
    """The throughput bench splits a page's time by the steps' ``ms``: every stage run on a page records
    one, a stage the page does not need included (measured, then skipped), and the grayscale conversion
    of colour input stays the plain first step."""
    result = preprocess(np.asarray(_page().convert("RGB")))

    assert result.steps[0] == {"step": "grayscale"}
    timed = {s["step"]: s for s in result.steps if "ms" in s}
    assert {"border", "contrast", "denoise", "deskew", "binarize", "upscale", "segmentation"} <= set(timed)
    assert all(s["ms"] >= 0 for s in timed.values())
    assert timed["border"]["applied"] is False and timed["contrast"]["applied"] is False
    assert "span" in timed["contrast"]  # what the decision was made on


# ---------------------------------------------------------------------------- contrast, binarise
def test_low_contrast_page_gets_stretched(ocr: object) -> None:
    faded = np.asarray(_page(ink=150, paper=205))
    result = preprocess(faded)

    step = _step(result, "contrast")
    assert 145 <= step["low"] < step["high"] <= 210
    assert int(result.image.min()) == 0 and int(result.image.max()) == 255
    assert _cer(_read(ocr, result.image), "\n".join(LINES)) < 0.03


def _shaded(page: Image.Image, darkest: float) -> np.ndarray:
    """The page lit from the left: brightness falls linearly to `darkest` at the right edge."""
    a = np.asarray(page).astype(np.float32)
    gradient = np.linspace(1.0, darkest, a.shape[1], dtype=np.float32)[None, :]
    return np.clip(a * gradient, 0, 255).astype(np.uint8)


def test_unevenly_lit_page_is_binarized(ocr: object) -> None:
    result = preprocess(_shaded(_page(ink=40), darkest=0.25))

    step = _step(result, "binarize")
    assert step.get("applied", True) and step["reason"] == "uneven illumination"
    assert set(np.unique(result.image)) <= {0, 255}
    assert _cer(_read(ocr, result.image), "\n".join(LINES)) < 0.03


def test_evenly_lit_page_is_not_binarized() -> None:
    result = preprocess(_shaded(_page(ink=40), darkest=0.95))

    step = _step(result, "binarize")
    assert step["applied"] is False and step["reason"] == "even illumination"
    assert len(np.unique(result.image)) > 2


def test_dark_scanner_border_is_not_mistaken_for_shading() -> None:
    page = np.asarray(_page()).copy()
    page[:, :90] = 0  # a black band where the scanner lid did not cover
    page[:60, :] = 0
    result = preprocess(page)

    assert not _applied(result, "binarize")


# ------------------------------------------------------------------------------------ input forms
def test_rgba_with_transparent_background_is_composited_on_white(ocr: object) -> None:
    page = np.asarray(_page())
    rgba = np.zeros((*page.shape, 4), dtype=np.uint8)  # transparent black everywhere ...
    rgba[..., 3] = 255 - page  # ... the text opaque black
    result = preprocess(rgba)

    assert result.steps[0] == {"step": "grayscale"}
    assert result.image.shape == page.shape and result.image.dtype == np.uint8
    assert np.abs(result.image.astype(int) - page.astype(int)).max() <= 1
    assert _cer(_read(ocr, result.image), "\n".join(LINES)) < 0.03


def test_rgb_input_is_converted() -> None:
    rgb = np.asarray(_page().convert("RGB"))
    result = preprocess(rgb)

    assert result.steps[0] == {"step": "grayscale"}
    assert result.image.shape == rgb.shape[:2]


# -------------------------------------------------------------------------------------- real data
def test_real_page_is_not_reported_as_skewed() -> None:
    """A real 300-dpi scan (the UNLV magazine page of tesseract-ocr/test) is straight."""
    image = "multicol/tess_8071_093.3B.tif"
    with Image.open(doc(image)) as im:
        pixels = np.asarray(im.convert("L"))

    started = time.perf_counter()
    result = preprocess(pixels)
    elapsed = time.perf_counter() - started

    print(f"\n{image} {pixels.shape}: preprocess {elapsed * 1000:.1f} ms, steps {result.steps}")
    assert abs(result.angle) < 2
    assert result.image.ndim == 2 and result.image.shape[:2] == pixels.shape[:2]


# ------------------------------------------------------------------- text size, resolution, layout
def test_small_text_is_upscaled_and_read_better(ocr: object) -> None:
    """A page of 8 px text (a ~100-dpi scan) is enlarged toward the text height Tesseract reads best,
    with the map back to the submitted pixels, and reads better than the page as it came."""
    small = np.asarray(_page(size=9))
    result = preprocess(small)

    step = _step(result, "upscale")
    assert step.get("applied", True) and step["factor"] > 1.5 and step["text_height"] < 10
    assert result.image.shape[0] == pytest.approx(small.shape[0] * step["factor"], abs=2)
    corner = to_source([result.image.shape[1], result.image.shape[0]], result.matrix)
    assert corner == pytest.approx([small.shape[1], small.shape[0]], abs=1.0)
    want = "\n".join(LINES)
    ocr.SetSourceResolution(result.dpi)
    after = _cer(_read(ocr, result.image), want)
    before = _cer(_read(ocr, small), want)
    assert after < 0.05 and after <= before


def test_resolution_is_estimated_from_text_height_not_metadata() -> None:
    """28 px type (15 px median glyph) reads as a few hundred dpi whatever the file claims (scribe's
    300-dpi scans say 96)."""
    result = preprocess(np.asarray(_page(size=28)), 96)

    assert not _applied(result, "upscale")
    step = _step(result, "resolution")
    assert step["source"] == "text height" and step["metadata"] == 96
    assert 150 <= result.dpi <= 450 and step["dpi"] == result.dpi


def test_pdf_render_resolution_is_kept() -> None:
    result = preprocess(np.asarray(_page(size=28)), 200, exact_dpi=True)
    assert result.dpi == 200 and _step(result, "resolution")["source"] == "render"
    small = preprocess(np.asarray(_page(size=9)), 72, exact_dpi=True)
    assert small.dpi == round(72 * _step(small, "upscale")["factor"])


def test_blank_page_keeps_metadata_resolution() -> None:
    result = preprocess(np.full((600, 400), 255, np.uint8), 150)
    assert result.dpi == 150 and not _applied(result, "upscale")


def test_narrow_strip_is_read_as_one_column() -> None:
    """A till-receipt shape (much taller than any paper format) gets PSM 4; a page keeps PSM 3."""
    strip = _page(lines=[f"ITEM {i} 1 x 2.50" for i in range(30)], size=16)
    assert strip.height / strip.width > 1.7
    assert preprocess(np.asarray(strip)).psm == 4
    assert _step(preprocess(np.asarray(strip)), "segmentation")["psm"] == 4
    assert preprocess(np.asarray(_page())).psm == 3


def test_one_line_crops_are_read_as_a_single_line(ocr: object) -> None:
    """A line crop (under 2.5 glyph heights tall) and a tiny crop of a word or two (too few glyphs to
    measure) get PSM 7; two lines of the same text keep PSM 3."""
    page = np.asarray(_page(lines=["A single line of text, nothing more"], size=28))
    rows = np.flatnonzero((page < 128).any(axis=1))
    one = page[rows[0] - 4 : rows[-1] + 5]  # cropped to the line, as a form field or a book line comes
    result = preprocess(one)
    assert result.psm == 7 and "one line" in _step(result, "segmentation")["reason"]
    word = np.asarray(_page(lines=["Ok"], size=24))
    assert word.shape[0] < 120 and preprocess(word).psm == 7
    assert preprocess(np.asarray(_page(lines=LINES[:2], size=20))).psm == 3
    # Tesseract, told PSM 7 the way the engine tells it, reads the line.
    ocr.SetPageSegMode(result.psm)
    try:
        assert _cer(_read(ocr, result.image), "A single line of text, nothing more") < 0.05
    finally:
        ocr.SetPageSegMode(3)


def _cut_to_ink(text: str, height: int) -> np.ndarray:
    """One line of text in the largest DejaVu size whose ink is ``height`` px high, cut at the ink on
    every side, as a line detector crops a line out of a page."""
    size = height * 2
    while (box := _font(size).getbbox(text))[3] - box[1] > height:
        size -= 1
    x0, y0, x1, _ = box
    img = Image.new("L", (x1 - x0, height), 255)
    ImageDraw.Draw(img).text((-x0, -y0), text, fill=0, font=_font(size))
    return np.asarray(img)


@pytest.mark.parametrize("height", [12, 44])
def test_line_cut_at_its_ink_gets_a_margin_of_paper(ocr: object, height: int) -> None:
    """Glyphs touching the edge misread ("T" as "l", "482" as "462", "77" as "///"): a one-line crop is
    handed over with a margin of paper, and the boxes still map back to the crop's own pixels."""
    text = "Total due EUR 1,482.50 by 31 March; ref AX-77/3"
    line = _cut_to_ink(text, height)
    result = preprocess(line)
    margin = _step(result, "margin")
    assert result.psm == 7 and margin["px"] >= 4 and margin["fill"] == 255
    assert (result.image[: margin["px"]] == 255).all() and (result.image[:, -margin["px"] :] == 255).all()
    inner = margin["px"]
    assert to_source([inner, inner], result.matrix) == pytest.approx([0.0, 0.0], abs=0.5)
    ocr.SetPageSegMode(result.psm)
    ocr.SetSourceResolution(result.dpi)
    try:
        assert _cer(_read(ocr, result.image), text) < 0.03
    finally:
        ocr.SetPageSegMode(3)


def test_a_very_wide_line_is_never_enlarged_past_what_tesseract_takes() -> None:
    """Tesseract refuses an image over 32767 px a side: a 16000 px line of 8 px text, which would be
    enlarged 3x, is enlarged only as far as that (margin included)."""
    line = Image.new("L", (16000, 12), 255)
    ImageDraw.Draw(line).text((2, 1), "small print on a long strip " * 600, fill=0, font=_font(9))
    result = preprocess(np.asarray(line))
    assert _step(result, "upscale")["factor"] < 2.1
    assert max(result.image.shape) <= 32767 and _step(result, "margin")["px"] >= 4


def test_seed_chain_blurs_and_equalizes_every_page() -> None:
    page = np.asarray(_page())
    result = preprocess(page, chain="seed")
    assert [s["step"] for s in result.steps] == ["blur", "equalize"]
    assert result.matrix is None and result.image.shape == page.shape
    assert not np.array_equal(result.image, page)
    with pytest.raises(ValueError):
        preprocess(page, chain="sharpen")


def test_100_dpi_form_is_upscaled() -> None:
    """A form scanned at 100 dpi (tests/data, ~8 px glyphs) is enlarged and read as a few hundred dpi."""
    with Image.open(doc("form/form_100dpi.png")) as im:
        pixels = np.asarray(im.convert("L"))
    result = preprocess(pixels)
    assert _step(result, "upscale")["factor"] > 1.5
    assert 200 <= result.dpi <= 400


def _with_dark_border(page: Image.Image, band: int = 40) -> np.ndarray:
    """The page scanned with the lid open: black bands along the bottom and right edges."""
    a = np.asarray(page).copy()
    a[-band:, :] = 12
    a[:, -band:] = 12
    return a


def test_dark_scanner_border_is_painted_white_so_faint_print_is_found(ocr: object) -> None:
    """Faint thermal print inside a black border: the border drags every global threshold below the
    print (a SROIE receipt of the accuracy bench's set read as nothing); filled with paper, the contrast
    stretch fires and Tesseract reads the page."""
    scanned = _with_dark_border(_page(ink=185, paper=240))
    result = preprocess(scanned)

    assert _applied(result, "border") and _step(result, "border")["share"] > 0.05
    assert _applied(result, "contrast")
    assert result.image[-5:, :].min() > 200  # the band is gone
    assert _cer(_read(ocr, result.image), "\n".join(LINES)) < 0.05


def test_text_near_the_edge_is_not_a_border() -> None:
    page = np.asarray(_page(size=28))[:, 20:]  # the text starts at the left edge
    assert not _applied(preprocess(page), "border")


# ------------------------------------------------------------------------------------------ denoise
@pytest.mark.parametrize("flipped", [0.03, 0.1])
def test_salt_and_pepper_page_is_denoised_and_read(ocr: object, flipped: float) -> None:
    """A page with a share of its pixels flipped to black or white (a fax, a dirty platen): specks
    outnumber glyphs, a 3x3 median is applied and recorded, and Tesseract reads what it could not."""
    page = np.asarray(_page(size=24)).copy()
    rng = np.random.default_rng(7)
    roll = rng.random(page.shape)
    page[roll < flipped / 2] = 0
    page[(roll >= flipped / 2) & (roll < flipped)] = 255
    want = "\n".join(LINES)
    result = preprocess(page)
    step = _step(result, "denoise")
    assert step.get("applied", True) and step["method"] == "median 3x3" and step["specks_per_glyph"] > 5
    before, after = _cer(_read(ocr, page), want), _cer(_read(ocr, result.image), want)
    assert after <= 0.05 and after < before / 3, (before, after)


def test_clean_page_is_not_denoised() -> None:
    step = _step(preprocess(np.asarray(_page())), "denoise")
    assert step["applied"] is False and step["specks_per_glyph"] < 1
