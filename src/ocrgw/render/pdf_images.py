"""Submitted images -> PDF image XObjects for the searchable PDF (render/searchable_pdf.py), without loss: a
JPEG's bytes go in as they are (DCTDecode, no recompression), a PNG's compressed pixels too where PDF can
take them (FlateDecode with the PNG predictor), and any other frame (BMP, GIF, WEBP, TIFF pages, PNGs with
alpha or interlacing) is re-encoded losslessly the same way; an alpha channel becomes a soft mask."""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass

import pikepdf
from PIL import Image, ImageOps, TiffImagePlugin, features

DEFAULT_DPI = 300.0  # an image that states no resolution is taken as a 300-dpi scan
MAX_PAGE_PT = 14_400.0  # the largest page side viewers take (200 in): a huge image is given a higher DPI
_EXIF_ROTATE = {3: 180, 6: 90, 8: 270}  # EXIF/TIFF orientation -> the page's /Rotate (clockwise)
_GRAY, _RGB, _CMYK = pikepdf.Name.DeviceGray, pikepdf.Name.DeviceRGB, pikepdf.Name.DeviceCMYK
_JPEG_SPACES = {"L": (_GRAY, 1), "RGB": (_RGB, 3), "CMYK": (_CMYK, 4)}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(slots=True)
class Placed:
    """An image ready to be a page: its XObject, its size in pixels and points, and the page's /Rotate."""

    xobject: pikepdf.Stream
    width_px: int
    height_px: int
    width_pt: float
    height_pt: float
    rotate: int


def frame_dpi(im: Image.Image) -> tuple[float, float]:
    """The resolution the image states (each axis), or ``DEFAULT_DPI``; raised where the page would be
    larger than viewers take."""
    try:
        xdpi, ydpi = (float(v) for v in im.info["dpi"][:2])
    except (KeyError, TypeError, ValueError):
        xdpi = ydpi = 0.0
    if not (10 <= xdpi <= 100_000 and 10 <= ydpi <= 100_000):
        xdpi = ydpi = DEFAULT_DPI
    grow = max(1.0, im.width * 72 / xdpi / MAX_PAGE_PT, im.height * 72 / ydpi / MAX_PAGE_PT)
    return xdpi * grow, ydpi * grow


def _rotate(im: Image.Image) -> int:
    try:
        return _EXIF_ROTATE.get(int(im.getexif().get(0x0112, 1)), 0)
    except (TypeError, ValueError, OSError, SyntaxError):
        return 0


def place(pdf: pikepdf.Pdf, im: Image.Image, media_type: str, data: bytes | None) -> Placed:
    """The current frame of ``im`` as an image XObject; ``data`` is the file's bytes for a single-image
    JPEG or PNG, whose compressed pixels are passed through when PDF can take them as they are."""
    xobject = None
    if data is not None and media_type == "image/jpeg":
        xobject = _jpeg(pdf, im, data)
    elif data is not None and media_type == "image/png":
        xobject = _png_passthrough(pdf, data)
    if xobject is None:
        xobject = _lossless(pdf, im)
    xdpi, ydpi = frame_dpi(im)
    return Placed(xobject, im.width, im.height, im.width * 72 / xdpi, im.height * 72 / ydpi, _rotate(im))


def _icc(pdf: pikepdf.Pdf, im: Image.Image, space: pikepdf.Object, components: int) -> pikepdf.Object:
    """The image's own ICC profile as its colour space, when it has one for this many components."""
    profile = im.info.get("icc_profile")
    if not profile or len(profile) < 132 or profile[16:20] != {1: b"GRAY", 3: b"RGB ", 4: b"CMYK"}.get(components):
        return space
    stream = pikepdf.Stream(pdf, zlib.compress(profile), Filter=pikepdf.Name.FlateDecode, N=components)
    stream.Alternate = space
    return pikepdf.Array([pikepdf.Name.ICCBased, stream])


def _jpeg(pdf: pikepdf.Pdf, im: Image.Image, data: bytes) -> pikepdf.Stream | None:
    """The JPEG file itself as a DCTDecode stream (an Adobe CMYK JPEG stores its inks inverted). A camera's
    multi-picture JPEG goes in whole too: decoders stop at the first image's end, the one ocrgw read."""
    if im.mode not in _JPEG_SPACES:
        return None
    space, components = _JPEG_SPACES[im.mode]
    stream = pikepdf.Stream(pdf, data)
    stream.Type, stream.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
    stream.Width, stream.Height, stream.BitsPerComponent = im.width, im.height, 8
    stream.ColorSpace = _icc(pdf, im, space, components)
    stream.Filter = pikepdf.Name.DCTDecode
    if im.mode == "CMYK" and "adobe" in im.info:
        stream.Decode = [1, 0] * 4
    return stream


def _png_chunks(data: bytes) -> dict[bytes, list[bytes]]:
    chunks: dict[bytes, list[bytes]] = {}
    pos = len(_PNG_SIGNATURE)
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunks.setdefault(kind, []).append(data[pos + 8 : pos + 8 + length])
        pos += 12 + length
        if kind == b"IEND":
            break
    return chunks


def _png_passthrough(pdf: pikepdf.Pdf, data: bytes) -> pikepdf.Stream | None:
    """A PNG's IDAT data as a FlateDecode stream with the PNG predictor, for what PDF can show as it is:
    grey, RGB or palette, not interlaced, without transparency. Anything else returns None."""
    if not data.startswith(_PNG_SIGNATURE):
        return None
    chunks = _png_chunks(data)
    if len(chunks.get(b"IHDR", [b""])[0]) != 13 or not chunks.get(b"IDAT") or b"tRNS" in chunks:
        return None
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"][0])
    colors = {0: 1, 2: 3, 3: 1}.get(color)
    if colors is None or interlace != 0 or (color == 3 and not chunks.get(b"PLTE")):
        return None
    if color == 3:
        palette = chunks[b"PLTE"][0]
        space: pikepdf.Object = pikepdf.Array(
            [pikepdf.Name.Indexed, _RGB, len(palette) // 3 - 1, pikepdf.String(palette)]
        )
    else:
        space = _GRAY if color == 0 else _RGB
        if b"iCCP" in chunks:
            space = _iccp(pdf, chunks[b"iCCP"][0], space, colors)
    stream = pikepdf.Stream(pdf, b"".join(chunks[b"IDAT"]))
    stream.Type, stream.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
    stream.Width, stream.Height, stream.BitsPerComponent, stream.ColorSpace = width, height, depth, space
    stream.Filter = pikepdf.Name.FlateDecode
    stream.DecodeParms = pikepdf.Dictionary(Predictor=15, Colors=colors, BitsPerComponent=depth, Columns=width)
    return stream


def _iccp(pdf: pikepdf.Pdf, chunk: bytes, space: pikepdf.Object, colors: int) -> pikepdf.Object:
    name_end = chunk.find(b"\x00")
    try:
        profile = zlib.decompress(chunk[name_end + 2 :])
    except zlib.error:
        return space
    holder = Image.new("L", (1, 1))
    holder.info["icc_profile"] = profile
    return _icc(pdf, holder, space, colors)


def _pdf_mode(im: Image.Image) -> tuple[Image.Image, Image.Image | None]:
    """The frame in a mode PDF shows losslessly (1, L, I;16, P, RGB or CMYK) and its alpha, if any."""
    mode = im.mode
    if (mode == "P" and "transparency" in im.info) or mode == "PA":
        im, mode = im.convert("RGBA"), "RGBA"
    if mode in ("1", "L", "P", "RGB", "CMYK", "I;16"):
        return im, None
    if mode in ("LA", "La"):
        return im.getchannel("L"), im.getchannel("A")
    if mode in ("RGBA", "RGBa"):
        return im.convert("RGB"), im.getchannel("A")
    if mode in ("I;16B", "I;16L", "I;16N"):
        return im.convert("I").convert("I;16"), None
    if mode in ("I", "F"):  # 32-bit samples: shown as 8-bit grey, stretched as the reader saw them
        return ImageOps.autocontrast(im.convert("I").point(lambda v: v / 256).convert("L")), None
    return im.convert("RGB"), None


def _flate(pdf: pikepdf.Pdf, im: Image.Image) -> pikepdf.Stream:
    """``im`` (1, L, I;16, P, RGB or CMYK) as a FlateDecode image: PNG-encoded by Pillow (its per-row
    filters compress scans well) and its IDAT passed through; CMYK, which PNG lacks, deflated raw."""
    if im.mode == "CMYK":
        stream = pikepdf.Stream(pdf, zlib.compress(im.tobytes()))
        stream.Type, stream.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
        stream.Width, stream.Height, stream.BitsPerComponent = im.width, im.height, 8
        stream.ColorSpace, stream.Filter = _CMYK, pikepdf.Name.FlateDecode
        return stream
    buf = io.BytesIO()
    im.save(buf, format="PNG", compress_level=6)
    passed = _png_passthrough(pdf, buf.getvalue())
    if passed is None:  # cannot happen for these modes: Pillow writes plain, non-interlaced PNGs
        raise ValueError(f"PNG re-encoding of a {im.mode} image cannot be embedded")
    if "icc_profile" in im.info and im.mode in ("L", "RGB"):
        passed.ColorSpace = _icc(pdf, im, passed.ColorSpace, 1 if im.mode == "L" else 3)
    return passed


def _ccitt(pdf: pikepdf.Pdf, im: Image.Image) -> pikepdf.Stream | None:
    """A bilevel frame as CCITT Group 4 (lossless, and about a third of Flate's size on a scanned page):
    Pillow's libtiff encodes it as one strip, whose bytes are the stream."""
    if not features.check("libtiff"):
        return None
    buf = io.BytesIO()
    im.save(buf, format="TIFF", compression="group4", strip_size=1 << 62)
    buf.seek(0)
    with Image.open(buf, formats=["TIFF"]) as tiff:
        tags = tiff.tag_v2 if isinstance(tiff, TiffImagePlugin.TiffImageFile) else {}
        offsets, counts = tags.get(273), tags.get(279)
        if not offsets or not counts or len(offsets) != 1 or tags.get(266, 1) != 1:
            return None
        black_is_1 = tags.get(262, 0) == 1  # min-is-black: the coder's "black" runs are white here
    data = buf.getvalue()[offsets[0] : offsets[0] + counts[0]]
    stream = pikepdf.Stream(pdf, data)
    stream.Type, stream.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
    stream.Width, stream.Height, stream.BitsPerComponent, stream.ColorSpace = im.width, im.height, 1, _GRAY
    stream.Filter = pikepdf.Name.CCITTFaxDecode
    stream.DecodeParms = pikepdf.Dictionary(K=-1, Columns=im.width, Rows=im.height, BlackIs1=black_is_1)
    return stream


def _lossless(pdf: pikepdf.Pdf, im: Image.Image) -> pikepdf.Stream:
    base, alpha = _pdf_mode(im)
    if base is not im:
        base.info = {"icc_profile": im.info["icc_profile"]} if "icc_profile" in im.info else {}
    stream = (_ccitt(pdf, base) if base.mode == "1" else None) or _flate(pdf, base)
    if alpha is not None and alpha.getextrema() != (255, 255):  # a fully opaque alpha needs no mask
        stream.SMask = _flate(pdf, alpha)
    return stream
