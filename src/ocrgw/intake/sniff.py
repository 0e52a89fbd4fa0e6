"""Type sniffing from magic bytes and dimension checks from image headers, before any pixel is decoded:
this is where corrupt files, wrong types and pixel bombs are turned away."""

from __future__ import annotations

from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image, UnidentifiedImageError

from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.formats import PIL_FORMATS, SUPPORTED, sniff
from ocrgw.settings import Settings

# Pillow's own bomb guard raises before we can report the size; we check sizes ourselves instead, and
# nothing in the API process ever calls load().
Image.MAX_IMAGE_PIXELS = None

_PDF_ERR_PASSWORD = 4  # FPDF_ERR_PASSWORD: encrypted, password needed
_PDF_ERR_SECURITY = 6  # FPDF_ERR_SECURITY: unsupported security handler


def check_type(head: bytes) -> str:
    media_type = sniff(head)
    if media_type is None:
        raise OcrgwError(ErrorCode.INVALID_IMAGE, f"Input data is not a valid image: expected {SUPPORTED}.")
    return media_type


def inspect_document(path: Path, media_type: str, settings: Settings) -> tuple[int, int, int]:
    """(width, height, pages) of an image or PDF from its headers/structure only. Blocking: run it in a
    thread."""
    if media_type == "application/pdf":
        return inspect_pdf(path, settings)
    return inspect_image(path, media_type, settings)


def inspect_pdf(path: Path, settings: Settings) -> tuple[int, int, int]:
    """Page count and first page size in points. PDFium parses the cross-reference table and the page
    tree here; nothing is rendered (that happens page by page in a worker)."""
    try:
        doc = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        if exc.err_code in (_PDF_ERR_PASSWORD, _PDF_ERR_SECURITY):
            raise OcrgwError(
                ErrorCode.ENCRYPTED_DOCUMENT, "The PDF is encrypted (password protected); send an unprotected copy."
            ) from exc
        raise OcrgwError(
            ErrorCode.INVALID_IMAGE, "Input data is not a valid document: the PDF is corrupt or truncated."
        ) from exc
    try:
        pages = len(doc)
        if pages == 0:
            raise OcrgwError(ErrorCode.INVALID_IMAGE, "Input data is not a valid document: the PDF has no pages.")
        if pages > settings.max_pages:
            raise OcrgwError(
                ErrorCode.TOO_MANY_PAGES, f"The document has {pages} pages; at most {settings.max_pages} are accepted."
            )
        width, height = doc[0].get_size()
    finally:
        doc.close()
    return round(width), round(height), pages


def inspect_image(path: Path, media_type: str, settings: Settings) -> tuple[int, int, int]:
    """(width, height, pages) read from the headers only, checked against the limits. Blocking: run it
    in a thread. Only TIFF is a multi-page document (as for Azure); its pages each have a header, and
    seeking to one reads just that IFD, so every page is checked. An animated GIF/PNG/WEBP is read as
    its first frame: counting or seeking its frames makes Pillow decode them, a pixel bomb in itself."""
    try:
        with Image.open(path, formats=[PIL_FORMATS[media_type]]) as im:
            width, height = im.size
            frames = getattr(im, "n_frames", 1) if media_type == "image/tiff" else 1
            if frames > settings.max_pages:
                raise OcrgwError(
                    ErrorCode.TOO_MANY_PAGES,
                    f"The document has {frames} pages; at most {settings.max_pages} are accepted.",
                )
            _check_dimensions(width, height, settings)
            if media_type == "image/tiff":
                for index in range(1, frames):
                    im.seek(index)
                    _check_dimensions(*im.size, settings)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as exc:
        raise OcrgwError(
            ErrorCode.INVALID_IMAGE, f"Input data is not a valid image: the {media_type} header is corrupt."
        ) from exc
    return width, height, frames


def _check_dimensions(width: int, height: int, settings: Settings) -> None:
    lo, hi = settings.min_dimension, settings.max_dimension
    if width < lo or height < lo:
        raise OcrgwError(
            ErrorCode.INVALID_DIMENSIONS,
            f"Image must be at least {lo} pixels in width and height (got {width}x{height}).",
        )
    if width > hi or height > hi:
        raise OcrgwError(
            ErrorCode.INVALID_DIMENSIONS,
            f"Image must be at most {hi} pixels in width and height (got {width}x{height}).",
        )
    if width * height > settings.max_megapixels * 1_000_000:
        raise OcrgwError(
            ErrorCode.INVALID_DIMENSIONS,
            f"Image has {width * height / 1e6:.1f} megapixels; at most {settings.max_megapixels:g} are accepted.",
        )
