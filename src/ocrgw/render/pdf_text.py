"""Result model -> the invisible text layer of a searchable PDF (render/searchable_pdf.py places it over each
page): content-stream operators that lay every word on its box in text render mode 3, and the one font they
use, a glyphless TrueType as a Type0/CIDFontType2 font with Identity-H and a ToUnicode CMap, so any script
(and characters outside the BMP, as surrogate pairs) copies and searches as the text that was read.

Each line is one run on the line's own baseline and direction with one font size (its box height), so text
extractors see a line; each word starts where its box starts and is stretched (Tz) to its box's width, and
a real space (U+0020), stretched over the gap, separates the words, so copy-paste gives "word word"."""

from __future__ import annotations

import io
import math
import re
import unicodedata
import zlib
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache

import pikepdf
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.ttGlyphPen import TTGlyphPen

from ocrgw.jobs.schemas import LineResult, PageResult

FONT_NAME = "OcrgwGlyphless"
UNITS_PER_EM = 1000
ADVANCE = 500  # every glyph's width, in 1/1000 em: text is stretched to its box, so one width serves all
ASCENT, DESCENT = 800, 200  # a box's height splits 4:1 above and below the baseline; sum = 1 em
MIN_SIZE = 0.5  # pt: a box thinner than this carries no text
_DIGIT_RUNS = re.compile(r"\d+|\D", re.DOTALL)

Point = tuple[float, float]
ToUser = Callable[[float, float], Point]  # result units (y down) -> PDF user space (pt, y up)


@lru_cache(maxsize=1)
def glyphless_ttf() -> bytes:
    """A TrueType font of two glyphs that draw nothing (.notdef, and one every character uses) with the
    metrics above: nothing is ever drawn with it (render mode 3), it only gives viewers and extractors
    advance widths and a box for each character."""
    fb = FontBuilder(UNITS_PER_EM, isTTF=True)
    fb.setupGlyphOrder([".notdef", "blank"])
    fb.setupCharacterMap({0x20: "blank"})
    pen = TTGlyphPen(None)  # an outline of no area that spans the glyph's cell: extractors (PDFium) size
    pen.moveTo((0, -DESCENT))  # characters by their outline's box and drop a one-letter word of empty glyphs
    pen.lineTo((ADVANCE, ASCENT))
    pen.closePath()
    fb.setupGlyf({".notdef": TTGlyphPen(None).glyph(), "blank": pen.glyph()})
    fb.setupHorizontalMetrics({".notdef": (ADVANCE, 0), "blank": (ADVANCE, 0)})
    fb.setupHorizontalHeader(ascent=ASCENT, descent=-DESCENT)
    fb.setupNameTable({"familyName": FONT_NAME, "styleName": "Regular"})
    fb.setupOS2(sTypoAscender=ASCENT, sTypoDescender=-DESCENT, usWinAscent=ASCENT, usWinDescent=DESCENT)
    fb.setupPost()
    buf = io.BytesIO()
    fb.save(buf)
    return buf.getvalue()


class TextFont:
    """The document's one text-layer font. Characters get CIDs 1, 2, ... as pages use them (two-byte codes
    under Identity-H); ``finish`` writes the ToUnicode CMap and CIDToGIDMap for exactly those (every CID
    draws the blank glyph), so the font is made once and shared by every page."""

    def __init__(self, pdf: pikepdf.Pdf) -> None:
        self._pdf = pdf
        self._cids: dict[str, int] = {}
        descriptor = pikepdf.Dictionary(
            Type=pikepdf.Name.FontDescriptor,
            FontName=pikepdf.Name("/" + FONT_NAME),
            Flags=4,  # symbolic: its glyphs are not the standard Latin set
            FontBBox=[0, -DESCENT, ADVANCE, ASCENT],
            ItalicAngle=0,
            Ascent=ASCENT,
            Descent=-DESCENT,
            CapHeight=ASCENT,
            StemV=80,
            FontFile2=pikepdf.Stream(pdf, zlib.compress(glyphless_ttf()), Filter=pikepdf.Name.FlateDecode),
        )
        descriptor.FontFile2.Length1 = len(glyphless_ttf())
        self._cid_font = pdf.make_indirect(
            pikepdf.Dictionary(
                Type=pikepdf.Name.Font,
                Subtype=pikepdf.Name.CIDFontType2,
                BaseFont=pikepdf.Name("/" + FONT_NAME),
                CIDSystemInfo=pikepdf.Dictionary(Registry="Adobe", Ordering="Identity", Supplement=0),
                FontDescriptor=pdf.make_indirect(descriptor),
                DW=ADVANCE,
            )
        )
        self.obj = pdf.make_indirect(
            pikepdf.Dictionary(
                Type=pikepdf.Name.Font,
                Subtype=pikepdf.Name.Type0,
                BaseFont=pikepdf.Name("/" + FONT_NAME),
                Encoding=pikepdf.Name("/Identity-H"),
                DescendantFonts=[self._cid_font],
            )
        )

    def encode(self, text: str) -> bytes:
        """``text`` as a PDF hex string of two-byte CIDs."""
        out = bytearray(b"<")
        for ch in text:
            cid = self._cids.get(ch)
            if cid is None:
                if len(self._cids) >= 0xFFFE:  # past 65534 distinct characters: shown as U+FFFD
                    cid = self._cids.setdefault("\ufffd", len(self._cids) + 1)
                else:
                    cid = self._cids[ch] = len(self._cids) + 1
            out += b"%04X" % cid
        return bytes(out + b">")

    def finish(self) -> None:
        """Write the CID maps for the characters the pages used."""
        count = len(self._cids)
        gids = b"\x00\x00" + b"\x00\x01" * count  # CID 0 -> .notdef, every other CID -> the blank glyph
        self._cid_font.CIDToGIDMap = self._stream(gids)
        self.obj.ToUnicode = self._stream(to_unicode_cmap(self._cids.items()))

    def _stream(self, data: bytes) -> pikepdf.Stream:
        return pikepdf.Stream(self._pdf, zlib.compress(data), Filter=pikepdf.Name.FlateDecode)


def _utf16_hex(ch: str) -> bytes:
    """A character as UTF-16BE hex: outside the BMP that is its surrogate pair, as ToUnicode requires."""
    return ch.encode("utf-16-be", "surrogatepass").hex().upper().encode()


def to_unicode_cmap(cids: Iterable[tuple[str, int]]) -> bytes:
    """A ToUnicode CMap mapping each two-byte CID to its character (bfchar blocks of at most 100)."""
    pairs = sorted((cid, ch) for ch, cid in cids)
    out = [
        b"/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
        b"/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        b"/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
        b"1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
    ]
    for start in range(0, len(pairs), 100):
        chunk = pairs[start : start + 100]
        out.append(b"%d beginbfchar\n" % len(chunk))
        out.extend(b"<%04X> <%s>\n" % (cid, _utf16_hex(ch)) for cid, ch in chunk)
        out.append(b"endbfchar\n")
    out.append(b"endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n")
    return b"".join(out)


# ------------------------------------------------------------------------------------------- the operators
def num(v: float) -> bytes:
    text = f"{v:.3f}".rstrip("0").rstrip(".")
    return b"0" if text in ("", "-0") else text.encode()


def _clean(text: str) -> str:
    """One word's characters: whitespace inside becomes a plain space, other control characters go, and a
    lone surrogate (undecodable input) becomes U+FFFD."""
    text = " ".join(text.split())
    return "".join("\ufffd" if 0xD800 <= ord(c) < 0xE000 else c for c in text if ord(c) >= 0x20 and c != "\x7f")


class _Frame:
    """A line's text space: origin on its baseline at its left end, unit vectors along and up the text."""

    def __init__(self, quad: Sequence[Point]) -> None:
        tl, tr, br, bl = quad
        dx, dy = (tr[0] - tl[0]) + (br[0] - bl[0]), (tr[1] - tl[1]) + (br[1] - bl[1])
        norm = math.hypot(dx, dy)
        self.ok = norm > 0
        self.u = (dx / norm, dy / norm) if self.ok else (1.0, 0.0)
        self.v = (-self.u[1], self.u[0])
        self.size = abs(self._up(tl, bl) + self._up(tr, br)) / 2
        self.ok = self.ok and self.size >= MIN_SIZE
        drop = DESCENT / UNITS_PER_EM * self.size
        self.origin = (bl[0] + self.v[0] * drop, bl[1] + self.v[1] * drop)

    def _up(self, top: Point, bottom: Point) -> float:
        return (top[0] - bottom[0]) * self.v[0] + (top[1] - bottom[1]) * self.v[1]

    def along(self, p: Point) -> float:
        return (p[0] - self.origin[0]) * self.u[0] + (p[1] - self.origin[1]) * self.u[1]


def _quad(bbox: Sequence[float], to_user: ToUser) -> list[Point]:
    return [to_user(float(bbox[i]), float(bbox[i + 1])) for i in range(0, 8, 2)]


def _rtl(text: str) -> bool:
    return any(unicodedata.bidirectional(c) in ("R", "AL") for c in text)


def _visual(text: str) -> str:
    """A right-to-left word in the order its letters stand on the page (numbers keep theirs), as PDF
    producers write it and extractors (pdftotext, pypdf, pdf.js) expect, turning it back when they read."""
    return "".join(reversed(_DIGIT_RUNS.findall(text))) if _rtl(text) else text


def _spans(line: LineResult, frame: _Frame, to_user: ToUser) -> list[tuple[str, float, float]]:
    """Each word of the line (the whole line when it has none) as text, start and end along the baseline;
    a line with right-to-left words goes left to right, as it is seen."""
    words = [(w.text, w.bbox) for w in line.words] or [(line.text, line.bbox)]
    spans = []
    for text, bbox in words:
        text = _clean(text)
        if text:
            along = [frame.along(p) for p in _quad(bbox, to_user)]
            spans.append((_visual(text), min(along), max(along)))
    if any(_rtl(text) for text, _, _ in spans):
        spans.sort(key=lambda span: span[1])
    return spans


def line_ops(line: LineResult, to_user: ToUser, font: TextFont, font_name: bytes) -> bytes:
    """The operators that lay one line's words (inside a BT ... ET with render mode 3 already set)."""
    frame = _Frame(_quad(line.bbox, to_user))
    spans = _spans(line, frame, to_user) if frame.ok else []
    if not spans:
        return b""
    em = ADVANCE / UNITS_PER_EM * frame.size  # one glyph's width at 100 % scaling
    (ux, uy), (vx, vy) = frame.u, frame.v
    out = [b"/%s %s Tf\n" % (font_name, num(frame.size))]
    space = font.encode(" ")
    for i, (text, start, end) in enumerate(spans):
        x, y = frame.origin[0] + ux * start, frame.origin[1] + uy * start
        scale = 100 * max(end - start, 0.01) / (em * len(text))
        out.append(
            b"%s %s %s %s %s %s Tm %s Tz %s Tj\n" % (*map(num, (ux, uy, vx, vy, x, y, scale)), font.encode(text))
        )
        if i + 1 < len(spans):  # a real space, stretched over the gap to the next word
            gap = spans[i + 1][1] - end
            out.append(b"%s Tz %s Tj\n" % (num(100 * max(gap, 0.01) / em), space))
    return b"".join(out)


def page_ops(result: PageResult, to_user: ToUser, font: TextFont, font_name: bytes) -> bytes:
    """The page's whole text layer, lines in the result's reading order, in its own graphics state."""
    body = b"".join(line_ops(line, to_user, font, font_name) for line in result.lines)
    return b"q\nBT\n3 Tr\n" + body + b"ET\nQ\n" if body else b""
