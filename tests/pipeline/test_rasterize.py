"""Decoding a page (pipeline.rasterize): the fast paths give the engine the grey levels the general path
gives, so they change a page's time and nothing else."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image
from tests.conftest import doc

from ocrgw.jobs.pages import PageSelection
from ocrgw.pipeline import rasterize
from ocrgw.settings import Settings


def _decode(path: Path, media_type: str) -> np.ndarray:
    (page,) = rasterize.iter_pages(path, media_type, PageSelection.parse(None), set(), Settings())
    return page.gray


def test_jpeg_is_decoded_straight_to_grey(tmp_path: Path) -> None:
    """libjpeg's own luma plane: the grey levels of decoding to RGB and converting, but where a colour
    clipped (by a few levels)."""
    path = doc("receipt/till_clean.jpg")
    with Image.open(path) as im:
        assert im.mode == "RGB"
        via_rgb = np.asarray(im.convert("L")).astype(int)
    gray = _decode(path, "image/jpeg")
    assert gray.shape == via_rgb.shape and gray.dtype == np.uint8
    diff = np.abs(gray.astype(int) - via_rgb)
    assert diff.max() <= 12 and (diff > 2).mean() < 0.01


def test_opaque_rgba_skips_compositing_and_transparent_is_still_composited(tmp_path: Path) -> None:
    with Image.open(doc("line/uw3_0225_010074.png")) as im:
        rgb = im.convert("RGB")
    opaque = rgb.convert("RGBA")
    see_through = opaque.copy()
    see_through.putalpha(Image.new("L", opaque.size, 0))  # fully transparent: white paper
    for name, image, want in (
        ("opaque.png", opaque, np.asarray(rgb.convert("L"))),
        ("clear.png", see_through, np.full(opaque.size[::-1], 255, np.uint8)),
    ):
        buf = io.BytesIO()
        image.save(buf, "PNG")
        (tmp_path / name).write_bytes(buf.getvalue())
        assert np.array_equal(_decode(tmp_path / name, "image/png"), want), name


# ------------------------------------------------------------------------------------ the page budget
def _save(tmp_path: Path, name: str, image: Image.Image, fmt: str, **kw) -> Path:
    path = tmp_path / name
    image.save(path, fmt, **kw)
    return path


def _pages(path: Path, media_type: str, **settings) -> list[rasterize.RasterPage]:
    return list(rasterize.iter_pages(path, media_type, PageSelection.parse(None), set(), Settings(**settings)))


def test_16_bit_and_transparent_frames_converted_in_strips_match_the_whole_frame_conversion(tmp_path: Path) -> None:
    """Strips of STRIP_ROWS keep a big frame from existing twice in colour; the grey levels are those of
    converting the frame whole (16-bit: scaled to 8 bits and stretched page-wide as ImageOps.autocontrast
    does; alpha: over white)."""
    from PIL import ImageOps

    rows = 2 * rasterize.STRIP_ROWS + 77
    ramp = (np.arange(rows * 300).reshape(rows, 300) * 7 % 40000 + 9000).astype(np.uint16)
    wide = Image.fromarray(ramp)
    whole = np.asarray(ImageOps.autocontrast(wide.convert("I").point(lambda v: v / 256).convert("L")))
    (page,) = _pages(_save(tmp_path, "wide.png", wide, "PNG"), "image/png")
    assert np.array_equal(page.gray, whole)

    rgba = Image.fromarray(np.dstack([(ramp >> 8).astype(np.uint8)] * 3 + [(ramp % 256).astype(np.uint8)]), "RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    whole = np.asarray(Image.alpha_composite(white, rgba).convert("L"))
    (page,) = _pages(_save(tmp_path, "alpha.png", rgba, "PNG"), "image/png")
    assert np.array_equal(page.gray, whole)
    assert page.steps == [] and page.size is None and page.scales() == (1.0, 1.0)


def test_an_image_over_the_budget_is_read_reduced_in_its_own_pixels(tmp_path: Path) -> None:
    """Over OCRGW_MAX_READ_MEGAPIXELS the page is reduced (a JPEG already by libjpeg), says so in a step, and
    keeps the image's size, so boxes scale back to the pixels the client has."""
    image = Image.open(doc("receipt/till_clean.jpg")).convert("RGB")
    w, h = image.size
    budget = w * h / 5 / 1e6  # a fifth of the pixels: libjpeg decodes at 1/2, the rest is an area resize
    for name, fmt, media in (("big.jpg", "JPEG", "image/jpeg"), ("big.png", "PNG", "image/png")):
        (page,) = _pages(_save(tmp_path, name, image, fmt, dpi=(300, 300)), media, max_read_megapixels=budget)
        ph, pw = page.gray.shape
        assert pw * ph <= budget * 1e6 and abs(pw / w - 0.4472) < 0.002 and abs(ph / h - 0.4472) < 0.002
        (step,) = page.steps
        assert step["step"] == "reduce" and step["from"] == [w, h] and step["to"] == [pw, ph]
        assert page.size == (w, h) and page.result_size() == (w, h)
        assert page.scales() == (w / pw, h / ph)
        assert page.dpi == round(300 * pw / w)  # what the file said, of the page as the engine gets it
    (page,) = _pages(tmp_path / "big.png", "image/png")  # the default budget leaves it whole
    assert page.gray.shape == (h, w) and page.steps == []


def test_a_pdf_page_over_the_budget_renders_at_a_lower_dpi_in_its_own_inches(tmp_path: Path) -> None:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument.new()
    pdf.new_page(33.1 * 72, 46.8 * 72)  # A0: 139 MP at 300 DPI
    pdf.new_page(8.5 * 72, 11 * 72)
    pdf.save(tmp_path / "a0.pdf")
    big, letter = _pages(tmp_path / "a0.pdf", "application/pdf")
    (step,) = big.steps
    assert step["step"] == "reduce" and step["requested_dpi"] == 300 and 179 < step["dpi"] < 180
    assert "33.1 x 46.8 in" in step["reason"] and big.gray.size <= 50_000_000
    assert big.result_size() == (33.1, 46.8) and big.unit == "inch"
    assert letter.steps == [] and letter.size is None and letter.dpi == 300  # as before: not reduced
