"""The document formats ocrgw reads, told apart by their first bytes, and the pixel sizes each API takes: a
leaf module shared by intake (which refuses anything else at submit), the dialects (which declare their
vendor's limits) and the worker's rasterizer (which opens each format with the matching decoder)."""

from __future__ import annotations

from dataclasses import dataclass

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"BM", "image/bmp"),
    (b"%PDF-", "application/pdf"),
)

PIL_FORMATS = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/gif": "GIF",
    "image/tiff": "TIFF",
    "image/bmp": "BMP",
    "image/webp": "WEBP",
}

SUPPORTED = "PDF, JPEG, PNG, BMP, TIFF, GIF or WEBP"


def sniff(head: bytes) -> str | None:
    """Media type from the first bytes of a body, or None when it is nothing we know."""
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    for magic, media_type in _SIGNATURES:
        if head.startswith(magic):
            return media_type
    return None


@dataclass(frozen=True, slots=True)
class ImageLimits:
    """The pixel sizes an API takes for an image (each page of a multi-page TIFF), as its vendor documents
    them: data a dialect declares and hands to ``jobs.service.accept``, which intake checks the headers
    against. The server's own caps (``OCRGW_MAX_DIMENSION``, ``OCRGW_MAX_MEGAPIXELS``: memory and time)
    bound every API on top; ``None`` leaves a bound to them alone. PDF pages are not checked: they are
    rendered at a resolution that fits the caps."""

    api: str  # how error messages name the API ("Azure Read")
    min_side: int
    max_side: int | None = None
    max_megapixels: float | None = None


# What the engine needs, for APIs whose vendor documents no pixel limits (and ocrgw's own): a text line
# 10 px high is read (text cut at its ink, at CER ~0.5 % on rendered lines); below that it is guesswork.
ENGINE_LIMITS = ImageLimits("the OCR engine", min_side=10)
