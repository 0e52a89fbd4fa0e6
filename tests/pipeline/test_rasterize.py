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
