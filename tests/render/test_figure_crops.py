"""Figure crops (render/figure_crops.py), pure: each figure of a page cut from the image as submitted, as
large as its polygon says in whole pixels, colour kept (alpha over white), grey kept grey (16-bit scaled to
8), one PNG per figure id, a TIFF's pages from their own frames, and ids already made skipped."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from ocrgw.jobs.schemas import FigureResult, LayoutResult, PageResult
from ocrgw.render.figure_crops import crops
from ocrgw.settings import Settings


def quad(x0: float, y0: float, x1: float, y1: float) -> list[float]:
    return [x0, y0, x1, y0, x1, y1, x0, y1]


def page(no: int, *boxes: list[float]) -> PageResult:
    layout = LayoutResult(figures=[FigureResult(b) for b in boxes])
    return PageResult(no, 400, 300, "pixel", 0.0, None, [], [], layout)


def test_crops_of_an_rgba_png_keep_colour_over_white(tmp_path: Path) -> None:
    rgba = np.zeros((300, 400, 4), np.uint8)
    rgba[50:150, 100:300] = (200, 30, 30, 255)  # a red box
    path = tmp_path / "page.png"
    Image.fromarray(rgba, "RGBA").save(path)
    got = dict(crops(path, "image/png", [page(1, quad(99.6, 49.5, 300.2, 150.4), quad(0, 200, 50, 260))], Settings()))
    red = Image.open(io.BytesIO(got["1.1"]))
    assert red.mode == "RGB" and red.size == (200, 100)  # 100..300 x 50..150: the polygon in whole pixels
    assert np.asarray(red)[5:-5, 5:-5].tolist() == [[[200, 30, 30]] * 190] * 90
    blank = Image.open(io.BytesIO(got["1.2"]))
    assert blank.size == (50, 60) and np.asarray(blank).min() == 255  # transparent: white
    assert list(dict(crops(path, "image/png", [page(1, quad(0, 0, 10, 10))], Settings(), skip={"1.1"}))) == []


def test_crops_of_a_multipage_16_bit_tiff_come_from_each_page(tmp_path: Path) -> None:
    frames = [Image.new("I;16", (400, 300), v) for v in (1000, 60000)]
    path = tmp_path / "pages.tif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    got = dict(crops(path, "image/tiff", [page(2, quad(10, 10, 30, 40)), page(1, quad(0, 0, 5, 5))], Settings()))
    assert list(got) == ["1.1", "2.1"]
    dark, light = (Image.open(io.BytesIO(got[k])) for k in ("1.1", "2.1"))
    assert dark.mode == light.mode == "L" and light.size == (20, 30)
    assert np.asarray(dark).max() < np.asarray(light).min()
