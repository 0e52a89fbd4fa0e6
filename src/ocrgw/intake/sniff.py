"""Type sniffing from magic bytes and dimension checks from image headers, before any pixel is decoded:
this is where corrupt files, wrong types and pixel bombs are turned away."""

from __future__ import annotations

import io
from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image, UnidentifiedImageError

from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.formats import PIL_FORMATS, SUPPORTED, ImageLimits, sniff
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


def inspect_document(
    path: Path | bytes, media_type: str, settings: Settings, limits: ImageLimits
) -> tuple[int, int, int]:
    """(width, height, pages) of an image or PDF (a file, or a small one's bytes) from its headers and
    structure only, an image checked against the API's ``limits``. Blocking: run it in a thread."""
    if media_type == "application/pdf":
        return inspect_pdf(path, settings)
    return inspect_image(path, media_type, settings, limits)


def inspect_pdf(path: Path | bytes, settings: Settings) -> tuple[int, int, int]:
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


def inspect_image(path: Path | bytes, media_type: str, settings: Settings, limits: ImageLimits) -> tuple[int, int, int]:
    """(width, height, pages) read from the headers only, checked against the API's ``limits`` and the
    server's caps. Blocking: run it in a thread. Only TIFF is a multi-page document (as for Azure); its
    pages each have a header, and seeking to one reads just that IFD, so every page is checked. An
    animated GIF/PNG/WEBP is read as its first frame: counting or seeking its frames makes Pillow decode
    them, a pixel bomb in itself."""
    try:
        source = io.BytesIO(path) if isinstance(path, bytes) else path
        with Image.open(source, formats=[PIL_FORMATS[media_type]]) as im:
            width, height = im.size
            frames = getattr(im, "n_frames", 1) if media_type == "image/tiff" else 1
            if frames > settings.max_pages:
                raise OcrgwError(
                    ErrorCode.TOO_MANY_PAGES,
                    f"The document has {frames} pages; at most {settings.max_pages} are accepted.",
                )
            check_dimensions(width, height, limits, settings)
            if media_type == "image/tiff":
                for index in range(1, frames):
                    im.seek(index)
                    check_dimensions(*im.size, limits, settings, page=index + 1)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as exc:
        raise OcrgwError(
            ErrorCode.INVALID_IMAGE, f"Input data is not a valid image: the {media_type} header is corrupt."
        ) from exc
    return width, height, frames


def check_dimensions(width: int, height: int, limits: ImageLimits, settings: Settings, page: int = 1) -> None:
    """Refuse an image (or a TIFF's ``page``) outside the API's pixel limits or the server's caps, naming
    the limit and the size found, e.g. "Image must be at least 50 pixels in width and height: it is
    956 x 44 px (Azure Read needs 50 to 10000 px per side)." The words before the colon are Azure's own."""
    size = f"{'it' if page == 1 else f'page {page}'} is {width} x {height} px"
    lo, cap = limits.min_side, settings.max_dimension
    span = f"{lo} to {limits.max_side}" if limits.max_side else f"at least {lo}"
    rule = f"{limits.api} needs {span} px per side"
    if min(width, height) < lo:
        raise _dimensions(f"Image must be at least {lo} pixels in width and height: {size} ({rule}).")
    hi = min(limits.max_side or cap, cap)
    if max(width, height) > hi:
        why = rule if hi == limits.max_side else f"this server takes at most {cap} px per side: OCRGW_MAX_DIMENSION"
        raise _dimensions(f"Image must be at most {hi} pixels in width and height: {size} ({why}).")
    vendor_mp = limits.max_megapixels or float("inf")
    most = min(vendor_mp, settings.max_megapixels)
    if width * height > most * 1_000_000:
        who = limits.api if vendor_mp <= settings.max_megapixels else "this server (OCRGW_MAX_MEGAPIXELS)"
        megapixels = width * height / 1e6
        raise _dimensions(f"Image has {megapixels:.1f} megapixels: {size} ({who} takes at most {most:g}).")


def _dimensions(message: str) -> OcrgwError:
    return OcrgwError(ErrorCode.INVALID_DIMENSIONS, message)
