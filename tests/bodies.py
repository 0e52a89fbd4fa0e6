"""Crafted request bodies shared by the intake and bad-input tests: PNGs whose headers lie about their
size, cheap animations of huge frames, a PDF page of 200 x 200 inches (also bench/page_budget.py's), and
the Azure error-envelope check every dialect test uses."""

from __future__ import annotations

import io
import struct
import zlib

import httpx
from PIL import Image


def png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png_header_only(width: int = 20000, height: int = 20000) -> bytes:
    """A tiny, structurally valid PNG (correct CRCs) whose IHDR claims width x height: a pixel bomb."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 256))
        + png_chunk(b"IEND", b"")
    )


def gif_frames(n: int, size: int) -> bytes:
    """An animated GIF of n blank size x size frames, cheaply: one frame encoded by Pillow, repeated."""
    buf = io.BytesIO()
    Image.new("P", (size, size), 0).save(buf, format="GIF")
    data = buf.getvalue()
    pos = 13 + (3 * 2 ** ((data[10] & 7) + 1) if data[10] & 0x80 else 0)
    while data[pos] == 0x21:  # extensions before the image
        pos += 2
        while data[pos]:
            pos += data[pos] + 1
        pos += 1
    assert data[pos] == 0x2C
    start = pos
    pos += 10
    if data[pos - 1] & 0x80:  # local colour table
        pos += 3 * 2 ** ((data[pos - 1] & 7) + 1)
    pos += 1  # LZW minimum code size
    while data[pos]:
        pos += data[pos] + 1
    frame = data[start : pos + 1]
    gce = b"\x21\xf9\x04\x00\x00\x00\x00\x00"
    return data[:start] + (gce + frame) * n + b";"


def assert_azure_error(r: httpx.Response, status: int, code: str, inner: str | None = None) -> dict:
    """Exact status, JSON content type, Azure envelope, top-level and inner code; no Retry-After on a
    4xx other than 429 (azure-core would retry any response that carries it)."""
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].split(";")[0].strip() == "application/json", r.headers
    body = r.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert err["code"] == code, body
    assert isinstance(err["message"], str) and err["message"].strip(), body
    if inner is not None:
        assert set(err["innererror"]) >= {"code", "message"}, body
        assert err["innererror"]["code"] == inner, body
        assert isinstance(err["innererror"]["message"], str) and err["innererror"]["message"].strip(), body
    elif "innererror" in err:
        assert set(err["innererror"]) >= {"code", "message"}, body
    if status != 429 and status < 500:
        assert "retry-after" not in r.headers
    return err


def poster_pdf() -> bytes:
    """A one-page PDF of a few hundred bytes whose page is 200 x 200 inches (PDF's largest), one line of
    1000-point Helvetica near its top left: 3600 megapixels at the default 300 DPI."""
    content = b"BT /F1 1000 Tf 500 12500 Td (Huge page text) Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 14400 14400] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % at for at in offsets)
    return out + b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
