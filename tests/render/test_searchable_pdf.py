"""The searchable PDF (render/searchable_pdf.py), read back the way its users read it: pypdf's and poppler's
text (real spaces and line breaks, any script), poppler's word boxes against the result's polygons, qpdf's
check, and the pages themselves (count, order, the source's own page objects and pixels, nothing drawn on
top). Results come from the worker's own reading (rasterizer, reader, Tesseract) of documents made here or
kept in tests/data, or are written out where a script Tesseract's English model cannot read is needed."""

from __future__ import annotations

import io
import math
import re
import shutil
import struct
import subprocess
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pikepdf
import pypdf
import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageDraw, ImageFont
from rapidfuzz.distance import Levenshtein
from tests.conftest import doc, unavailable

from ocrgw.jobs.pages import PageSelection
from ocrgw.jobs.schemas import LineResult, PageResult, WordResult
from ocrgw.pipeline import rasterize
from ocrgw.pipeline.engines.tesseract import OrientationDetector, TesseractEngine
from ocrgw.pipeline.reader import read
from ocrgw.pipeline.runner import _page_result
from ocrgw.render import searchable_pdf
from ocrgw.settings import Settings

TESSDATA = Path("/usr/share/tesseract-ocr/5/tessdata")
DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
UNICODE = "Straße Łódź Привет 東京 مرحبا"  # docintel-layout.md §1.5
BIDI_CONTROLS = re.compile("[\u202a-\u202e]")  # poppler wraps right-to-left runs in embedding marks


# ------------------------------------------------------------------------------------------------- helpers
@pytest.fixture(scope="module")
def engine() -> Iterator[TesseractEngine]:
    eng = TesseractEngine(TESSDATA, "eng")
    yield eng
    eng.close()


def ocr(
    engine: TesseractEngine,
    path: Path,
    media_type: str,
    pages: str | None = None,
    osd: OrientationDetector | None = None,
) -> list[PageResult]:
    """The result pages a worker stores for the document (the runner's own conversion to result units)."""
    selection = PageSelection.parse(pages) if pages else PageSelection(None)
    out = []
    for page in rasterize.iter_pages(path, media_type, selection, set(), Settings()):
        got = read(page, engine, osd, "basic")
        out.append(_page_result(page, got.lines, got.matrix, got.angle, got.steps, "en"))
    return out


def tool(*args: str, data: bytes | None = None, ok: tuple[int, ...] = (0,)) -> str:
    if shutil.which(args[0]) is None:
        unavailable(f"{args[0]} missing: apt-get install qpdf poppler-utils (./dev.sh test installs them)")
    proc = subprocess.run(args, input=data, capture_output=True, timeout=60)
    assert proc.returncode in ok, proc.stderr.decode(errors="replace")
    return proc.stdout.decode()


def qpdf_check(data: bytes, tmp_path: Path) -> None:
    path = tmp_path / "check.pdf"
    path.write_bytes(data)
    out = tool("qpdf", "--check", str(path))
    assert "No syntax or stream encoding errors found" in out and "File is not encrypted" in out, out


def poppler_pages(data: bytes) -> list[str]:
    """pdftotext's text of each page."""
    return tool("pdftotext", "-", "-", data=data).split("\f")[:-1]


def poppler_words(data: bytes) -> list[tuple[float, float, list[tuple[str, float, float, float, float]]]]:
    """pdftotext -bbox: each page's size and words (text, xMin, yMin, xMax, yMax) in points from the top left."""
    html = tool("pdftotext", "-bbox", "-", "-", data=data)
    pages = []
    for m in re.finditer(r'<page width="([\d.]+)" height="([\d.]+)">(.*?)</page>', html, re.S):
        words = re.findall(r'xMin="([\d.-]+)" yMin="([\d.-]+)" xMax="([\d.-]+)" yMax="([\d.-]+)">([^<]*)<', m[3])
        boxes = [(t.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"), *map(float, b)) for *b, t in words]
        pages.append((float(m[1]), float(m[2]), boxes))
    return pages


def pypdf_pages(data: bytes) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages]


def lines_of(result: PageResult) -> str:
    return "\n".join(line.text for line in result.lines)


def tidy(text: str) -> str:
    """Extracted text with blank lines (poppler's paragraph breaks) and trailing space dropped."""
    return "\n".join(line.rstrip() for line in text.strip().splitlines() if line.strip())


def cer(got: str, want: str) -> float:
    """Character error rate on the text as it is: a missing space or line break counts."""
    return Levenshtein.distance(got, want) / max(1, len(want))


def assert_boxes_match(data: bytes, results: list[PageResult], tolerance: float = 0.02, by_word: bool = False) -> None:
    """Every word of every result has a pdftotext word with its text within ``tolerance`` of the page's
    size of the right box: along its line, the word polygon's extent; across it, its line's (the layer sets
    a line on one baseline at one size), or with ``by_word`` the word's own too."""
    pages = poppler_words(data)
    for result in results:
        width, height, words = pages[result.page_no - 1]
        if result.unit == "inch":  # (pdftotext gives a turned page's size unturned, its words as shown)
            width, height = result.width * 72, result.height * 72
        kx, ky = width / result.width, height / result.height
        for ln in result.lines:
            upright = abs(ln.bbox[2] - ln.bbox[0]) >= abs(ln.bbox[3] - ln.bbox[1])  # the line runs left-right
            for word in ln.words:
                across = word.bbox if by_word else ln.bbox
                xs, ys = (word.bbox, across) if upright else (across, word.bbox)
                xs, ys = xs[0::2], ys[1::2]
                want = (min(xs) * kx, min(ys) * ky, max(xs) * kx, max(ys) * ky)
                found = [b for b in words if b[0] == word.text]
                assert found, (word.text, [b[0] for b in words])
                err = min(max(abs(b[1] - want[0]) / width, abs(b[3] - want[2]) / width,
                              abs(b[2] - want[1]) / height, abs(b[4] - want[3]) / height) for b in found)  # fmt: skip
                assert err <= tolerance, (result.page_no, word.text, want, found)


def assert_text_matches(data: bytes, results: list[PageResult], limit: float = 0.01) -> None:
    """pypdf and pdftotext give each read page's lines, words separated by spaces, at CER <= ``limit``."""
    by_pypdf, by_poppler = pypdf_pages(data), poppler_pages(data)
    for result in results:
        want = lines_of(result)
        for name, got in (("pypdf", by_pypdf), ("pdftotext", by_poppler)):
            text = tidy(got[result.page_no - 1])
            assert cer(text, want) <= limit, (name, result.page_no, text, want)


def image_pdf(images: list[Image.Image], dpi: float, rotate: int = 0, origin: tuple[float, float] = (0, 0)) -> bytes:
    """A scanned-looking PDF made with pikepdf: each image drawn so the page, once its /Rotate is applied,
    shows it upright; MediaBox and CropBox start at ``origin``."""
    pdf = pikepdf.new()
    for im in images:
        gray = im.convert("L")
        xobj = pikepdf.Stream(pdf, zlib.compress(gray.tobytes()), Filter=pikepdf.Name.FlateDecode)
        xobj.Type, xobj.Subtype, xobj.BitsPerComponent = pikepdf.Name.XObject, pikepdf.Name.Image, 8
        xobj.Width, xobj.Height, xobj.ColorSpace = gray.width, gray.height, pikepdf.Name.DeviceGray
        w, h = gray.width * 72 / dpi, gray.height * 72 / dpi
        uw, uh = (h, w) if rotate in (90, 270) else (w, h)
        cm = {0: [w, 0, 0, h, 0, 0], 90: [0, w, -h, 0, h, 0], 180: [-w, 0, 0, -h, w, h], 270: [0, -w, h, 0, 0, w]}
        a, b, c, d, e, f = cm[rotate]
        ops = b"q %.4f %.4f %.4f %.4f %.4f %.4f cm /Im0 Do Q\n" % (a, b, c, d, e + origin[0], f + origin[1])
        box = [origin[0], origin[1], origin[0] + uw, origin[1] + uh]
        page = pikepdf.Dictionary(
            Type=pikepdf.Name.Page,
            MediaBox=box,
            CropBox=box,
            Rotate=rotate,
            Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=xobj)),
            Contents=pikepdf.Stream(pdf, ops),
        )
        pdf.pages.append(pikepdf.Page(page))
    buf = io.BytesIO()
    pdf.save(buf)
    return buf.getvalue()


def written(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def line(text: str, x: float, y: float, h: float = 40, w: float = 28, gap: float = 20) -> LineResult:
    """A written-out line of words placed left to right from (x, y), ``w`` per character."""
    words, left = [], x
    for t in text.split():
        right = left + w * len(t)
        words.append(WordResult(t, [left, y, right, y, right, y + h, left, y + h], 0.9))
        left = right + gap
    return LineResult(text, [x, y, left - gap, y, left - gap, y + h, x, y + h], 0.9, words)


def images(page: pikepdf.Page) -> dict[str, pikepdf.Stream]:
    return dict(page.resources.XObject.items())


def block_diff(a: np.ndarray, b: np.ndarray, n: int = 4) -> float:
    """Mean absolute difference of two renderings in n x n blocks: renderers resample images a little, a
    wrong colour space or an inverted image is off by far more."""
    h, w = (min(a.shape[0], b.shape[0]) // n) * n, (min(a.shape[1], b.shape[1]) // n) * n

    def means(x: np.ndarray) -> np.ndarray:
        return x[:h, :w].astype(np.float64).reshape(h // n, n, w // n, n, -1).mean(axis=(1, 3))

    return float(np.abs(means(a) - means(b)).mean())


def render(data: bytes, index: int, dpi: float) -> np.ndarray:
    page = pdfium.PdfDocument(data)[index]
    return np.asarray(page.render(scale=dpi / 72).to_pil().convert("RGB"), dtype=np.int16)


# --------------------------------------------------------------------------------------------------- tests
def test_tiff_page_reads_back_with_spaces_line_breaks_and_boxes(engine: TesseractEngine, tmp_path: Path) -> None:
    source = doc("page/tess_phototest.tif")  # 640x480 bilevel, 200 dpi
    results = ocr(engine, source, "image/tiff")
    assert len(results[0].lines) >= 8
    data = searchable_pdf.build(source, "image/tiff", results)
    qpdf_check(data, tmp_path)
    assert_text_matches(data, results)
    assert "This is a lot of 12 point text to test the\nocr code" in pypdf_pages(data)[0]  # not glued
    assert_boxes_match(data, results, by_word=True)
    pdf = pikepdf.open(io.BytesIO(data))
    page = pdf.pages[0]
    assert [round(float(v), 2) for v in page.mediabox] == [0, 0, 230.4, 172.8]  # 640x480 px at 200 dpi
    content = page.obj.Contents.read_bytes()
    assert content.index(b" Do") < content.index(b"BT") and b"3 Tr" in content  # invisible text after the image
    # Nothing drawn on top: the page renders exactly as it does without the text layer.
    assert np.array_equal(render(data, 0, 100), render(searchable_pdf.build(source, "image/tiff", []), 0, 100))


def test_text_layer_font_is_type0_identity_h_with_a_tounicode_for_any_script(tmp_path: Path) -> None:
    source = written(tmp_path, "blank.png", b"")
    Image.new("L", (1400, 300), 255).save(source, dpi=(150, 150))
    lines = [line(UNICODE, 40, 40), line("𝐀𝐁𝐂 😀 tail", 40, 140)]
    result = PageResult(1, 1400, 300, "pixel", 0.0, None, [], lines)
    data = searchable_pdf.build(source, "image/png", [result])
    qpdf_check(data, tmp_path)
    assert pypdf_pages(data)[0] == UNICODE + "\n𝐀𝐁𝐂 😀 tail"
    poppler = [BIDI_CONTROLS.sub("", ln) for ln in tidy(poppler_pages(data)[0]).splitlines()]
    assert poppler == [UNICODE, "𝐀𝐁𝐂 😀 tail"]
    pdf = pikepdf.open(io.BytesIO(data))
    font = next(iter(pdf.pages[0].resources.Font.values()))
    assert (font.Subtype, font.Encoding) == (pikepdf.Name.Type0, pikepdf.Name("/Identity-H"))
    assert font.DescendantFonts[0].Subtype == pikepdf.Name.CIDFontType2
    assert "/FontFile2" in font.DescendantFonts[0].FontDescriptor  # embedded (glyphless) TrueType
    cmap = font.ToUnicode.read_bytes()
    assert b"<D835DC00>" in cmap and b"<D83DDE00>" in cmap  # outside the BMP: UTF-16 surrogate pairs


def test_scanned_pdf_keeps_every_page_and_only_read_pages_get_text(engine: TesseractEngine, tmp_path: Path) -> None:
    pictures = [Image.open(doc("page/tess_phototest.tif")), Image.open(doc("page/letter_de.png")),
                Image.open(doc("line/rendered_956x44.png"))]  # fmt: skip
    scan = io.BytesIO()  # made by Pillow's PDF writer: pages as another program makes them
    first, *rest = (im.convert("L") for im in pictures)
    first.save(scan, "PDF", save_all=True, append_images=rest)
    source = written(tmp_path, "scan.pdf", scan.getvalue())
    results = ocr(engine, source, "application/pdf", pages="1,3")  # page 2 is not read
    assert [r.page_no for r in results] == [1, 3] and all(r.unit == "inch" for r in results)
    data = searchable_pdf.build(source, "application/pdf", results)
    qpdf_check(data, tmp_path)
    assert_text_matches(data, results)
    assert_boxes_match(data, results)
    assert poppler_pages(data)[1].strip() == ""  # kept, without text
    src, out = pikepdf.open(source), pikepdf.open(io.BytesIO(data))
    assert len(out.pages) == 3
    for before, after in zip(src.pages, out.pages, strict=True):
        # The source's own page: its boxes and its image, byte for byte (nothing re-rendered).
        assert list(after.mediabox) == list(before.mediabox)
        [(_, old)], [(_, new)] = images(before).items(), images(after).items()
        assert new.read_raw_bytes() == old.read_raw_bytes()
    assert src.pages[1].obj.Contents.read_bytes() == out.pages[1].obj.Contents.read_bytes()


@pytest.mark.parametrize("rotate", [0, 90, 180, 270])
def test_rotated_pdf_page_text_lands_on_its_words(engine: TesseractEngine, tmp_path: Path, rotate: int) -> None:
    """A page with /Rotate and boxes that do not start at 0,0: results are measured on the page as shown,
    so the layer must be mapped back into the page's own space."""
    data = image_pdf([Image.open(doc("page/tess_phototest.tif"))], dpi=200, rotate=rotate, origin=(-40, 25))
    source = written(tmp_path, "rotated.pdf", data)
    results = ocr(engine, source, "application/pdf")
    assert (results[0].width, round(results[0].height, 1)) == (3.2, 2.4)  # upright as shown
    out = searchable_pdf.build(source, "application/pdf", results)
    qpdf_check(out, tmp_path)
    with pikepdf.open(io.BytesIO(out)) as pdf:
        assert pdf.pages[0].rotation == rotate
    assert_text_matches(out, results)
    assert_boxes_match(out, results)


def test_born_digital_text_is_not_doubled_but_a_scan_inside_it_is_read(engine: TesseractEngine, tmp_path: Path) -> None:
    printed = ["Quarterly report of the gateway", "Sales rose by eleven percent in the third quarter"]
    pdf = pikepdf.new()
    helvetica = pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica)
    scan = Image.open(doc("page/tess_phototest.tif")).convert("L")
    xobj = pikepdf.Stream(pdf, zlib.compress(scan.tobytes()), Filter=pikepdf.Name.FlateDecode)
    xobj.Type, xobj.Subtype, xobj.BitsPerComponent = pikepdf.Name.XObject, pikepdf.Name.Image, 8
    xobj.Width, xobj.Height, xobj.ColorSpace = scan.width, scan.height, pikepdf.Name.DeviceGray
    text = b"BT /F1 18 Tf 72 740 Td 24 TL " + b" ".join(b"(%s) Tj T*" % t.encode() for t in printed) + b" ET\n"
    for ops in (text + b"q 320 0 0 240 72 380 cm /Im0 Do Q\n", text):  # with a scanned picture, and without
        page = pikepdf.Dictionary(
            Type=pikepdf.Name.Page,
            MediaBox=[0, 0, 612, 792],
            Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=helvetica), XObject=pikepdf.Dictionary(Im0=xobj)),
            Contents=pikepdf.Stream(pdf, ops),
        )
        pdf.pages.append(pikepdf.Page(page))
    source = tmp_path / "born.pdf"
    pdf.save(source)
    results = ocr(engine, source, "application/pdf")
    assert all(any(t in lines_of(r) for r in results) for t in printed)  # the OCR did read the printed lines
    data = searchable_pdf.build(source, "application/pdf", results)
    qpdf_check(data, tmp_path)
    for got in (poppler_pages(data), pypdf_pages(data)):
        for page_text in got:
            assert all(page_text.count(t) == 1 for t in printed), page_text  # once: the page's own text
        assert "This is a lot of 12 point text" in got[0] and "brown dog jumped over the lazy fox" in got[0]
    with pikepdf.open(io.BytesIO(data)) as out:
        second = out.pages[1].obj
        assert not isinstance(second.Contents, pikepdf.Array) and "/OcrgwText" not in second.Resources.Font


def test_multipage_tiff_keeps_every_frame_losslessly(tmp_path: Path) -> None:
    frames = [
        Image.open(doc("page/tess_phototest.tif")).convert("1"),
        Image.open(doc("page/letter_de.png")).convert("L"),
        Image.open(doc("receipt/till_clean.jpg")).convert("RGB"),
    ]
    source = tmp_path / "three.tif"
    frames[0].save(source, save_all=True, append_images=frames[1:], compression="tiff_deflate", dpi=(150, 150))
    result = PageResult(2, 1240, 1240, "pixel", 0.0, None, [], [line("Second frame only", 100, 100)])
    data = searchable_pdf.build(source, "image/tiff", [result])
    qpdf_check(data, tmp_path)
    assert [tidy(t) for t in poppler_pages(data)] == ["", "Second frame only", ""]
    pdf = pikepdf.open(io.BytesIO(data))
    for page, frame in zip(pdf.pages, frames, strict=True):
        assert [round(float(v), 2) for v in page.mediabox][2:] == [frame.width * 72 / 150, frame.height * 72 / 150]
        [(_, xobj)] = images(page).items()
        assert np.array_equal(np.asarray(pikepdf.PdfImage(xobj).as_pil_image()), np.asarray(frame))
    assert images(pdf.pages[0])["/Im0"].Filter == pikepdf.Name.CCITTFaxDecode  # bilevel: Group 4


def test_jpeg_is_passed_through_unchanged(tmp_path: Path) -> None:
    source = doc("receipt/till_clean.jpg")  # no resolution in the file: a 300-dpi page
    data = searchable_pdf.build(source, "image/jpeg", [PageResult(1, 600, 1546, "pixel", 0.0, None, [], [])])
    qpdf_check(data, tmp_path)
    pdf = pikepdf.open(io.BytesIO(data))
    page = pdf.pages[0]
    xobj = images(page)["/Im0"]
    assert xobj.Filter == pikepdf.Name.DCTDecode and xobj.read_raw_bytes() == source.read_bytes()
    assert [float(v) for v in page.mediabox] == [0, 0, 600 * 72 / 300, 1546 * 72 / 300]
    assert len(data) < source.stat().st_size + 4_000


def _cmyk_jpeg(path: Path) -> Image.Image:
    im = Image.open(doc("receipt/till_clean.jpg")).convert("CMYK")
    im.save(path, "JPEG", quality=95)  # Pillow writes an Adobe marker and inverted inks, as Photoshop does
    return Image.open(path).convert("RGB")


def _save(path: Path, im: Image.Image, **kw) -> Image.Image:
    im.save(path, **{"format": "PNG", **kw})
    return im


def _sample(mode: str) -> Image.Image:
    base = Image.open(doc("receipt/till_clean.jpg")).convert("RGB").crop((0, 0, 300, 400))
    ImageDraw.Draw(base).rectangle((20, 20, 120, 80), fill=(200, 30, 60))
    return base.convert(mode) if mode != "RGBA" else _with_alpha(base)


def _with_alpha(im: Image.Image) -> Image.Image:
    out = im.convert("RGBA")
    out.putalpha(Image.linear_gradient("L").resize(im.size))
    return out


IMAGES = {  # name: (media type, write the file and return what Pillow decodes from it)
    "png-rgb-150dpi": ("image/png", lambda p: _save(p, _sample("RGB"), dpi=(150, 150))),
    "png-palette-transparent": ("image/png", lambda p: _save(p, _sample("P"), transparency=0)),
    "png-alpha": ("image/png", lambda p: _save(p, _sample("RGBA"))),
    "png-16bit": ("image/png", lambda p: _save(p, _sample("L").convert("I;16").point(lambda v: v * 257))),
    "png-interlaced": ("image/png", lambda p: _save(p, _sample("L"), interlace=1)),
    "gif": ("image/gif", lambda p: _save(p, _sample("P"), format="GIF")),
    "bmp": ("image/bmp", lambda p: _save(p, _sample("RGB"), format="BMP")),
    "webp-lossless": ("image/webp", lambda p: _save(p, _sample("RGB"), format="WEBP", lossless=True)),
    "webp-lossy": ("image/webp", lambda p: _save(p, _sample("RGB"), format="WEBP", quality=60)),
    "tiff-cmyk": ("image/tiff", lambda p: _save(p, _sample("CMYK"), format="TIFF")),
    "jpeg-cmyk": ("image/jpeg", _cmyk_jpeg),
}


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_images_are_embedded_without_loss_and_render_as_they_look(name: str, tmp_path: Path) -> None:
    media_type, make = IMAGES[name]
    source = tmp_path / f"image.{media_type.split('/')[1]}"
    make(source)
    data = searchable_pdf.build(source, media_type, [])
    qpdf_check(data, tmp_path)
    with Image.open(source) as im:
        im.load()
        want = im.copy()
        dpi = im.info["dpi"][0] if im.info.get("dpi", (0,))[0] >= 10 else 300  # (Pillow's TIFF says 1 if unset)
    pdf = pikepdf.open(io.BytesIO(data))
    page = pdf.pages[0]
    assert float(page.mediabox[2]) == pytest.approx(want.width * 72 / dpi, abs=0.01)
    xobj = images(page)["/Im0"]
    embedded = pikepdf.PdfImage(xobj).as_pil_image()
    if want.mode == "I;16":  # 16-bit samples: compared as numbers, shown scaled to 8 bits
        assert np.array_equal(np.asarray(embedded, dtype=np.int32), np.asarray(want, dtype=np.int32))
        want = Image.fromarray((np.asarray(want, dtype=np.float64) / 257).round().astype(np.uint8))
    elif media_type != "image/jpeg":  # (a JPEG's bytes are the file's own: the test above)
        colour = want.convert("RGBA").convert("RGB") if want.mode in ("P", "RGBA") else want
        assert np.array_equal(np.asarray(embedded.convert(colour.mode)), np.asarray(colour)), name
    if want.mode == "RGBA" or "transparency" in want.info:  # a real alpha channel: a soft mask
        alpha = np.asarray(want.convert("RGBA").getchannel("A"))
        assert np.array_equal(np.asarray(pikepdf.PdfImage(xobj.SMask).as_pil_image()), alpha)
    # And it shows as the image does, over white paper (compared in 4x4 blocks: renderers resample).
    shown = Image.alpha_composite(Image.new("RGBA", want.size, "white"), want.convert("RGBA")).convert("RGB")
    diff = block_diff(render(data, 0, dpi), np.asarray(shown))
    assert diff < 8, (name, diff)  # measured 0.3-2.6, and 5.5 for CMYK (PDFium's inks vs Pillow's); ~220 inverted


def test_png_pixels_pass_through_and_an_exif_turn_becomes_the_page_rotation(tmp_path: Path) -> None:
    source = doc("page/letter_de.png")
    data = searchable_pdf.build(source, "image/png", [])
    pdf = pikepdf.open(io.BytesIO(data))
    xobj = images(pdf.pages[0])["/Im0"]
    png, pos, idat = source.read_bytes(), 8, b""
    while pos < len(png):  # the PNG's chunks: length, type, data, CRC
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        idat += png[pos + 8 : pos + 8 + length] if png[pos + 4 : pos + 8] == b"IDAT" else b""
        pos += 12 + length
    assert idat and xobj.read_raw_bytes() == idat  # the PNG's compressed pixels, as they were
    assert len(data) < source.stat().st_size + 4_000
    turned = tmp_path / "turned.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to show"
    Image.open(doc("note/memo_handwritten.jpg")).save(turned, exif=exif.tobytes())
    result = PageResult(1, 1100, 640, "pixel", 0.0, None, [], [line("memo text", 50, 50)])
    data = searchable_pdf.build(turned, "image/jpeg", [result])
    with pikepdf.open(io.BytesIO(data)) as pdf:
        assert pdf.pages[0].rotation == 90
    assert pypdf_pages(data)[0] == "memo text"


@pytest.mark.parametrize("turn", [5, 90, 180])
def test_turned_page_gets_a_turned_text_matrix(engine: TesseractEngine, tmp_path: Path, turn: int) -> None:
    """Words on a page scanned askew or turned are laid along their lines, whose first corner is the text's
    top left. (pdftotext starts a new word whenever a glyph's baseline moves by half a point, so past about
    1 degree of skew it splits words; pypdf, PDFium and pdf.js follow slanted lines. Quarter turns it reads.)"""
    texts = ["Gateways keep documents at home", "while clients speak the vendor API", "and nothing else changes"]
    im = Image.new("L", (1400, 600), 255)
    draw = ImageDraw.Draw(im)
    for i, text in enumerate(texts):
        draw.text((100, 120 + i * 120), text, fill=0, font=ImageFont.truetype(DEJAVU, 40))
    source = tmp_path / "turned.png"
    im.rotate(-turn, expand=True, fillcolor=255, resample=Image.BICUBIC).save(source)  # PIL turns anticlockwise
    osd = OrientationDetector(TESSDATA)  # the worker's own: a page read sideways is turned before reading
    try:
        results = ocr(engine, source, "image/png", osd=osd)
    finally:
        osd.close()
    assert [ln.text for ln in results[0].lines] == texts and abs(results[0].angle - turn) < 0.5
    data = searchable_pdf.build(source, "image/png", results)
    qpdf_check(data, tmp_path)
    assert pypdf_pages(data)[0] == "\n".join(texts)
    if turn % 90 == 0:
        assert tidy(poppler_pages(data)[0]) == "\n".join(texts)
        assert_boxes_match(data, results)
    with pikepdf.open(io.BytesIO(data)) as pdf:
        matrices = [[float(v) for v in op.operands] for op in pikepdf.parse_content_stream(pdf.pages[0], "Tm")]
    angles = [math.degrees(math.atan2(m[1], m[0])) for m in matrices]  # PDF y runs up: clockwise is negative
    assert len(angles) == sum(len(ln.words) for ln in results[0].lines)
    assert all(abs((a + turn + 180) % 360 - 180) < 0.5 for a in angles), angles


def test_encrypted_source_and_unbalanced_content_stay_readable(tmp_path: Path) -> None:
    """A PDF encrypted for permissions only (it opens without a password) comes out unencrypted, and a page
    whose content leaves a scaled graphics state open still gets its layer at the right place."""
    pdf = pikepdf.new()
    pdf.pages.append(pikepdf.Page(pikepdf.Dictionary(
        Type=pikepdf.Name.Page, MediaBox=[0, 0, 612, 792], Contents=pikepdf.Stream(pdf, b"q 0.5 0 0 0.5 0 0 cm q\n")
    )))  # fmt: skip
    source = tmp_path / "locked.pdf"
    pdf.save(source, encryption=pikepdf.Encryption(owner="secret", user="", allow=pikepdf.Permissions(extract=False)))
    assert pikepdf.open(source).is_encrypted
    result = PageResult(1, 8.5, 11.0, "inch", 0.0, None, [], [line("Found it", 1, 1, h=0.5, w=0.25, gap=0.2)])
    data = searchable_pdf.build(source, "application/pdf", [result])
    qpdf_check(data, tmp_path)
    assert_boxes_match(data, [result], tolerance=0.005)
