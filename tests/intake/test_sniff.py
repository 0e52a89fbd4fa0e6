"""Type sniffing and header checks (``ocrgw.intake.sniff``) on real dev documents and on synthetic images
made with Pillow: every accepted format, corrupt headers, size limits, pixel bombs, multi-frame TIFF/GIF."""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from tests.bodies import gif_frames, png_chunk, png_header_only
from tests.conftest import doc

from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.formats import ENGINE_LIMITS, ImageLimits
from ocrgw.intake.sniff import check_type, inspect_image, sniff
from ocrgw.settings import Settings

SETTINGS = Settings()
READ = ImageLimits("Azure Read", min_side=50, max_side=10_000)  # a vendor's limits, as a dialect declares them
FORMATS = {  # Pillow format -> (media type, extension, mode)
    "JPEG": ("image/jpeg", "jpg", "RGB"),
    "PNG": ("image/png", "png", "L"),
    "BMP": ("image/bmp", "bmp", "RGB"),
    "TIFF": ("image/tiff", "tif", "L"),
    "GIF": ("image/gif", "gif", "P"),
    "WEBP": ("image/webp", "webp", "RGB"),
}


def _image(size: tuple[int, int], mode: str = "L") -> Image.Image:
    im = Image.new(mode, size, "white" if mode != "P" else 255)
    ImageDraw.Draw(im).text((5, 5), "Hello 123", fill="black" if mode != "P" else 0)
    return im


def _save(tmp_path: Path, im: Image.Image, fmt: str, name: str | None = None, **kw) -> Path:
    path = tmp_path / (name or f"img.{FORMATS[fmt][1]}")
    im.save(path, format=fmt, **kw)
    return path


_MEASURE = """
import json, sys, time
from pathlib import Path
from ocrgw.errors import OcrgwError
from ocrgw.formats import ImageLimits
from ocrgw.intake.sniff import inspect_image
from ocrgw.settings import Settings
path, media_type, max_pages = sys.argv[1], sys.argv[2], int(sys.argv[3])
t0 = time.monotonic()
try:
    limits = ImageLimits("Azure Read", 50, 10000)
    out = list(inspect_image(Path(path), media_type, Settings(max_pages=max_pages), limits))
except OcrgwError as exc:
    out = exc.code.value
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent (pytest) through fork and exec.
hwm = next(int(ln.split()[1]) for ln in open("/proc/self/status") if ln.startswith("VmHWM:"))
print(json.dumps({"result": out, "secs": time.monotonic() - t0, "peak_mb": hwm / 1024}))
"""


def measure_inspect(path: Path, media_type: str, max_pages: int = 2000) -> dict:
    """inspect_image in a fresh process: its result (or error code), time and peak memory."""
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path), media_type, str(max_pages)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _err(path: Path, media_type: str, settings: Settings = SETTINGS, limits: ImageLimits = READ) -> OcrgwError:
    with pytest.raises(OcrgwError) as info:
        inspect_image(path, media_type, settings, limits)
    return info.value


# --- sniff / check_type --------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_sniff_recognises_every_supported_format(fmt: str) -> None:
    media_type, _, mode = FORMATS[fmt]
    buf = io.BytesIO()
    _image((60, 60), mode).save(buf, format=fmt)
    head = buf.getvalue()[:64]
    assert sniff(head) == media_type
    assert check_type(head) == media_type


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
        (b"GIF87a\x10\x00", "image/gif"),
        (b"GIF89a\x10\x00", "image/gif"),
        (b"II*\x00\x08\x00\x00\x00", "image/tiff"),
        (b"MM\x00*\x00\x00\x00\x08", "image/tiff"),
        (b"BM\x36\x00\x00\x00", "image/bmp"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", "application/pdf"),
        (b"", None),
        (b"\xff\xd8", None),  # too short to be JPEG
        (b"\x89PNG\r\n", None),  # truncated PNG signature
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", None),  # RIFF but not WEBP
        (b"RIFF", None),
        (b"Hello, world!\n", None),
        (b"<?xml version='1.0'?><svg/>", None),
        (b"PK\x03\x04", None),  # zip/docx
        (b"\x00\x00\x00\x0cjP  \r\n\x87\n", None),  # JPEG 2000
        (b'{"url": "http://x"}', None),
    ],
)
def test_sniff_magic_bytes(head: bytes, expected: str | None) -> None:
    assert sniff(head) == expected


@pytest.mark.parametrize("head", [b"", b"hello world\n" * 5, b"\x00" * 64, b"PK\x03\x04rest", b"<html>"])
def test_check_type_refuses_unknown_data(head: bytes) -> None:
    with pytest.raises(OcrgwError) as info:
        check_type(head)
    assert info.value.code is ErrorCode.INVALID_IMAGE
    assert "not a valid image" in info.value.message


def test_check_type_accepts_pdf() -> None:
    assert check_type(b"%PDF-1.7\n1 0 obj\n") == "application/pdf"


# --- inspect_image: real dev documents ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "media_type"),
    [
        ("page/tess_phototest.tif", "image/tiff"),
        ("receipt/till_clean.jpg", "image/jpeg"),
        ("form/form_100dpi.png", "image/png"),
        ("multicol/report_two_column.jpg", "image/jpeg"),
    ],
)
def test_inspect_real_documents(image: str, media_type: str) -> None:
    path = doc(image)
    head = path.read_bytes()[:64]
    assert check_type(head) == media_type
    with Image.open(path) as im:
        expected = (*im.size, getattr(im, "n_frames", 1))
    assert inspect_image(path, media_type, SETTINGS, READ) == expected


def test_real_line_image_is_refused_by_azure_and_taken_by_the_engine() -> None:
    path = doc("line/uw3_0468_010060.png")  # 476 x 36
    err = _err(path, "image/png")
    assert err.code is ErrorCode.INVALID_DIMENSIONS
    assert err.message == (
        "Image must be at least 50 pixels in width and height: it is 476 x 36 px "
        "(Azure Read needs 50 to 10000 px per side)."
    )
    assert inspect_image(path, "image/png", SETTINGS, ENGINE_LIMITS) == (476, 36, 1)


def test_real_document_under_a_wrong_media_type_is_corrupt() -> None:
    path = doc("page/tess_phototest.tif")
    assert _err(path, "image/png").code is ErrorCode.INVALID_IMAGE


# --- inspect_image: synthetic images in every format -------------------------------------------------


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_inspect_every_format(tmp_path: Path, fmt: str) -> None:
    media_type, _, mode = FORMATS[fmt]
    path = _save(tmp_path, _image((123, 77), mode), fmt)
    assert check_type(path.read_bytes()[:64]) == media_type
    assert inspect_image(path, media_type, SETTINGS, READ) == (123, 77, 1)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_minimum_dimension_boundary(tmp_path: Path, fmt: str) -> None:
    media_type, _, mode = FORMATS[fmt]
    ok = _save(tmp_path, _image((50, 50), mode), fmt, name="ok")
    assert inspect_image(ok, media_type, SETTINGS, READ) == (50, 50, 1)
    for size in ((49, 50), (50, 49), (10, 10)):
        small = _save(tmp_path, _image(size, mode), fmt, name=f"small{size[0]}x{size[1]}")
        err = _err(small, media_type)
        assert err.code is ErrorCode.INVALID_DIMENSIONS
        assert f"it is {size[0]} x {size[1]} px" in err.message


def test_too_large_dimension(tmp_path: Path) -> None:
    path = tmp_path / "wide.png"
    path.write_bytes(png_header_only(10001, 60))
    err = _err(path, "image/png")
    assert err.code is ErrorCode.INVALID_DIMENSIONS
    assert "at most 10000" in err.message
    path.write_bytes(png_header_only(60, 10001))
    assert _err(path, "image/png").code is ErrorCode.INVALID_DIMENSIONS
    path.write_bytes(png_header_only(10000, 60))  # on the limit: accepted
    assert inspect_image(path, "image/png", SETTINGS, READ) == (10000, 60, 1)


def test_max_dimension_setting(tmp_path: Path) -> None:
    path = _save(tmp_path, _image((300, 200)), "PNG")
    assert inspect_image(path, "image/png", SETTINGS, READ) == (300, 200, 1)
    assert _err(path, "image/png", Settings(max_dimension=299)).code is ErrorCode.INVALID_DIMENSIONS
    assert inspect_image(path, "image/png", Settings(max_dimension=300), READ) == (300, 200, 1)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_engine_limits_take_a_line_10_px_high(tmp_path: Path, fmt: str) -> None:
    """ocrgw's own APIs (and OCR.space, which documents no pixel limits) take what the engine reads: a
    text line 10 px high and more; below that the message names the limit and the size."""
    media_type, _, mode = FORMATS[fmt]
    assert inspect_image(_save(tmp_path, _image((956, 10), mode), fmt), media_type, SETTINGS, ENGINE_LIMITS) == (
        956,
        10,
        1,
    )
    err = _err(_save(tmp_path, _image((956, 9), mode), fmt, name="low"), media_type, limits=ENGINE_LIMITS)
    assert err.code is ErrorCode.INVALID_DIMENSIONS
    assert err.message == (
        "Image must be at least 10 pixels in width and height: it is 956 x 9 px "
        "(the OCR engine needs at least 10 px per side)."
    )


def test_a_vendor_maximum_above_the_server_cap_is_capped_and_says_so(tmp_path: Path) -> None:
    analysis = ImageLimits("Azure Image Analysis", min_side=50, max_side=16_000)
    path = tmp_path / "wide.png"
    path.write_bytes(png_header_only(12000, 60))
    err = _err(path, "image/png", limits=analysis)
    assert err.message == (
        "Image must be at most 10000 pixels in width and height: it is 12000 x 60 px "
        "(this server takes at most 10000 px per side: OCRGW_MAX_DIMENSION)."
    )
    assert inspect_image(path, "image/png", Settings(max_dimension=16_000), analysis) == (12000, 60, 1)
    path.write_bytes(png_header_only(16001, 60))
    assert "needs 50 to 16000 px per side)" in _err(path, "image/png", Settings(max_dimension=20_000), analysis).message


def test_a_vendor_megapixel_limit_is_named_when_it_is_the_lower(tmp_path: Path) -> None:
    huawei = ImageLimits("Huawei general text OCR", min_side=15, max_side=30_000, max_megapixels=160)
    path = tmp_path / "big.png"
    path.write_bytes(png_header_only(13000, 13000))  # 169 MP
    roomy = Settings(max_dimension=30_000, max_megapixels=200)
    err = _err(path, "image/png", roomy, huawei)
    assert (
        err.message == "Image has 169.0 megapixels: it is 13000 x 13000 px (Huawei general text OCR takes at most 160)."
    )
    err = _err(path, "image/png", Settings(max_dimension=30_000), huawei)  # the server's 100 MP is lower
    assert "(this server (OCRGW_MAX_MEGAPIXELS) takes at most 100)" in err.message


def test_too_many_megapixels(tmp_path: Path) -> None:
    path = _save(tmp_path, _image((400, 300)), "PNG")  # 0.12 MP
    assert inspect_image(path, "image/png", Settings(max_megapixels=0.12), READ) == (400, 300, 1)
    err = _err(path, "image/png", Settings(max_megapixels=0.1))
    assert err.code is ErrorCode.INVALID_DIMENSIONS
    assert "megapixels" in err.message


def test_pixel_bomb_is_refused_from_the_header(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(png_header_only(20000, 20000))
    assert path.stat().st_size < 200
    err = _err(path, "image/png")
    assert err.code is ErrorCode.INVALID_DIMENSIONS
    assert "20000 x 20000 px" in err.message


def test_megapixel_limit_applies_within_the_dimension_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    path.write_bytes(png_header_only(10000, 10000))  # 100 MP: on the default limit
    assert inspect_image(path, "image/png", SETTINGS, READ) == (10000, 10000, 1)
    path.write_bytes(png_header_only(9999, 9000))
    err = _err(path, "image/png", Settings(max_megapixels=50))
    assert err.code is ErrorCode.INVALID_DIMENSIONS and "megapixels" in err.message


# --- inspect_image: corrupt headers ------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(
    ("body", "media_type"),
    [
        (b"\xff\xd8\xff" + b"garbage!" * 200, "image/jpeg"),
        (b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4, "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "image/png"),
        (b"GIF89a", "image/gif"),
        (b"II*\x00" + b"\xff" * 60, "image/tiff"),
        (b"MM\x00*" + b"\x00" * 60, "image/tiff"),
        (b"BM" + b"\x00" * 10, "image/bmp"),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"\x00" * 8, "image/webp"),
    ],
    ids=[
        "jpeg-garbage",
        "jpeg-app0-garbage",
        "png-no-ihdr",
        "gif-signature-only",
        "tiff-le-bad-ifd",
        "tiff-be-zero-ifd",
        "bmp-short",
        "webp-empty-vp8",
    ],
)
def test_corrupt_headers_are_invalid_images(tmp_path: Path, body: bytes, media_type: str) -> None:
    assert sniff(body[:64]) == media_type
    path = tmp_path / "corrupt"
    path.write_bytes(body)
    err = _err(path, media_type)
    assert err.code is ErrorCode.INVALID_IMAGE
    assert "corrupt" in err.message


def test_png_with_bad_ihdr_crc_is_invalid(tmp_path: Path) -> None:
    good = png_header_only(100, 100)
    bad = bytearray(good)
    bad[29] ^= 0xFF  # inside the IHDR CRC
    path = tmp_path / "badcrc.png"
    path.write_bytes(bytes(bad))
    assert _err(path, "image/png").code is ErrorCode.INVALID_IMAGE


def test_truncated_real_jpeg_passes_the_header_check(tmp_path: Path) -> None:
    """Only headers are read in the API process: a JPEG cut in half still has valid headers."""
    data = doc("receipt/till_clean.jpg").read_bytes()
    path = tmp_path / "half.jpg"
    path.write_bytes(data[: len(data) // 2])
    assert inspect_image(path, "image/jpeg", SETTINGS, READ) == (600, 1546, 1)


def test_empty_file_is_invalid(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.write_bytes(b"")
    assert _err(path, "image/png").code is ErrorCode.INVALID_IMAGE


# --- inspect_image: multi-frame documents ------------------------------------------------------------


def _multi(tmp_path: Path, fmt: str, sizes: list[tuple[int, int]], mode: str = "L") -> Path:
    frames = [_image(s, mode) for s in sizes]
    path = tmp_path / f"multi.{FORMATS[fmt][1]}"
    frames[0].save(path, format=fmt, save_all=True, append_images=frames[1:])
    return path


def test_multi_frame_tiff_frame_count(tmp_path: Path) -> None:
    path = _multi(tmp_path, "TIFF", [(200, 100), (120, 80), (60, 60)])
    assert inspect_image(path, "image/tiff", SETTINGS, READ) == (200, 100, 3)  # size of the first frame


def test_multi_frame_tiff_page_limit(tmp_path: Path) -> None:
    path = _multi(tmp_path, "TIFF", [(80, 80)] * 4)
    assert inspect_image(path, "image/tiff", Settings(max_pages=4), READ) == (80, 80, 4)
    err = _err(path, "image/tiff", Settings(max_pages=3))
    assert err.code is ErrorCode.TOO_MANY_PAGES
    assert "at most 3 are accepted" in err.message


def test_every_tiff_frame_is_checked(tmp_path: Path) -> None:
    path = _multi(tmp_path, "TIFF", [(200, 100), (200, 100), (200, 20)])
    err = _err(path, "image/tiff")
    assert err.code is ErrorCode.INVALID_DIMENSIONS
    assert "page 3 is 200 x 20 px" in err.message


def test_animated_gif_is_one_page(tmp_path: Path) -> None:
    path = tmp_path / "multi.gif"
    # Pillow drops GIF frames identical to the previous one: make them differ.
    frames = [_image((90, 70), "P") for _ in range(3)]
    for i, f in enumerate(frames):
        ImageDraw.Draw(f).rectangle((60, 40 + i * 5, 80, 50 + i * 5), fill=i + 1)
    frames[0].save(path, format="GIF", save_all=True, append_images=frames[1:])
    assert inspect_image(path, "image/gif", SETTINGS, READ) == (90, 70, 1)


def apng_frames(n: int, size: int) -> bytes:
    """An animated PNG of n blank size x size grayscale frames; one compressed frame, reused."""
    comp = zlib.compressobj(9)
    row = b"\x00" * (size + 1)  # filter byte + pixels
    data = b"".join(comp.compress(row) for _ in range(size)) + comp.flush()
    out = [
        b"\x89PNG\r\n\x1a\n",
        png_chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0)),
        png_chunk(b"acTL", struct.pack(">II", n, 0)),
    ]
    seq = 0
    for i in range(n):
        out.append(png_chunk(b"fcTL", struct.pack(">IIIIIHHBB", seq, size, size, 0, 0, 1, 10, 0, 0)))
        seq += 1
        if i == 0:
            out.append(png_chunk(b"IDAT", data))
        else:
            out.append(png_chunk(b"fdAT", struct.pack(">I", seq) + data))
            seq += 1
    out.append(png_chunk(b"IEND", b""))
    return b"".join(out)


def test_small_animated_images_from_repeated_frames(tmp_path: Path) -> None:
    gif = tmp_path / "small.gif"
    gif.write_bytes(gif_frames(4, 80))
    assert inspect_image(gif, "image/gif", SETTINGS, READ) == (80, 80, 1)
    png = tmp_path / "small.png"
    png.write_bytes(apng_frames(3, 70))
    assert inspect_image(png, "image/png", SETTINGS, READ) == (70, 70, 1)


@pytest.fixture(scope="module")
def baseline_mb(tmp_path_factory: pytest.TempPathFactory) -> float:
    """Peak memory of the measuring process for a tiny image: imports and interpreter."""
    path = tmp_path_factory.mktemp("baseline") / "tiny.png"
    _image((60, 60)).save(path, format="PNG")
    m = measure_inspect(path, "image/png")
    assert m["result"] == [60, 60, 1]
    return m["peak_mb"]


# Animations whose every frame is within the limits (100 megapixels, 10000 px a side): the API process
# reads headers only, and counting or seeking frames would decode them (a decoded frame: 100+ MB and
# ~0.3 s), so an animation is one page, its first frame, as for Azure (only TIFF is multi-page).
ANIMATIONS = {"gif": (gif_frames, "image/gif"), "apng": (apng_frames, "image/png")}


@pytest.mark.parametrize("kind", list(ANIMATIONS))
def test_animation_is_one_page_read_without_decoding_pixels(tmp_path: Path, baseline_mb: float, kind: str) -> None:
    make, media_type = ANIMATIONS[kind]
    path = tmp_path / f"frames.{kind}"
    path.write_bytes(make(6, 10000))
    assert path.stat().st_size < 1024 * 1024
    m = measure_inspect(path, media_type)
    assert m["result"] == [10000, 10000, 1], m
    assert m["peak_mb"] - baseline_mb < 50, m


@pytest.mark.parametrize("kind", list(ANIMATIONS))
def test_animation_frames_do_not_count_as_pages(tmp_path: Path, baseline_mb: float, kind: str) -> None:
    make, media_type = ANIMATIONS[kind]
    path = tmp_path / f"frames.{kind}"
    path.write_bytes(make(6, 10000))
    m = measure_inspect(path, media_type, max_pages=2)
    assert m["result"] == [10000, 10000, 1], m
    assert m["peak_mb"] - baseline_mb < 50, m
