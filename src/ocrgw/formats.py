"""The document formats ocrgw reads, told apart by their first bytes: a leaf module shared by intake (which
refuses anything else at submit) and the worker's rasterizer (which opens each with the matching decoder)."""

from __future__ import annotations

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
