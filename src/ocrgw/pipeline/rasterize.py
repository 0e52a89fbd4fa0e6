"""Worker side, first step: a stored blob -> pages, one decoded page at a time, only the selected ones.
Multi-page TIFFs are multi-page documents (animations are read as their first frame); decoding happens
here and nowhere in the API."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.intake.sniff import PIL_FORMATS
from ocrgw.jobs.pages import PageSelection


@dataclass(slots=True)
class RasterPage:
    page_no: int
    gray: np.ndarray  # 2-D uint8, the page as submitted (EXIF orientation NOT applied: boxes match the file)
    dpi: int | None


def _to_gray(im: Image.Image) -> np.ndarray:
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, rgba)
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        im = ImageOps.autocontrast(im.convert("I").point(lambda v: v / 256).convert("L"))
    return np.asarray(im.convert("L"))


def _dpi(im: Image.Image) -> int | None:
    dpi = im.info.get("dpi")
    try:
        value = round(float(dpi[0])) if dpi else None
    except (TypeError, ValueError, IndexError):
        return None
    # Many files say 72 or 96 because a tool wrote a default; Tesseract estimates better than those.
    return value if value and value >= 100 else None


def iter_pages(path: Path, media_type: str, selection: PageSelection, skip: set[int]) -> Iterator[RasterPage]:
    """Decode the selected pages that are not already done, one at a time."""
    try:
        with Image.open(path, formats=[PIL_FORMATS[media_type]]) as im:
            total = getattr(im, "n_frames", 1) if media_type == "image/tiff" else 1  # see sniff.inspect_image
            for page_no in selection.numbers(total):
                if page_no in skip:
                    continue
                im.seek(page_no - 1)
                im.load()
                yield RasterPage(page_no, _to_gray(im), _dpi(im))
    except OcrgwError:
        raise
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as exc:
        raise OcrgwError(ErrorCode.INVALID_IMAGE, f"Input data is not a valid image: {exc}.") from exc
