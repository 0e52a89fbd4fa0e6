"""Test data: seeded specimen passport data pages and ID cards with an OCR-B machine-readable zone, rendered
with Pillow and degraded like a phone photo or a cheap scan (noise, blur, skew, shading, JPEG). The truth
(`Specimen.fields`) uses the same keys and formats as `ocrgw.pipeline.mrz.MrzReader.read`.

Check digits are computed here independently of the reader, so a wrong weighting in either shows up."""

from __future__ import annotations

import io
import multiprocessing
import random
import subprocess
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

DEJAVU_DIR = Path("/usr/share/fonts/truetype/dejavu")

# (lines, characters per line) of the three ICAO 9303 formats.
FORMATS = {"TD3": (2, 44), "TD2": (2, 36), "TD1": (3, 30)}
# Page sizes at ~10 px/mm (ID-3 passport page, ID-2 and ID-1 cards) and the OCR-B size that gives the
# standard 2.54 mm pitch (about 25 px per character).
_PAGE = {"TD3": (1250, 880), "TD2": (1050, 740), "TD1": (856, 540)}
_MRZ_FONT_SIZE = 35

SURNAMES = [
    "ERIKSSON",
    "MUELLER",
    "GARCIA LOPEZ",
    "SMITH-JONES",
    "NGUYEN",
    "OCONNOR",
    "VAN DER BERG",
    "ROSSI",
    "KOWALSKA",
    "TANAKA",
    "DE LA CRUZ",
    "OKAFOR",
    "SILVA",
    "JOHANSSON",
    "PETROV",
    "BROWN",
    "WOLFESCHLEGELSTEINHAUSEN BERGERDORFF",
    "LI",
    "HAUGEN",
    "FERNANDES-OLIVEIRA",
]
GIVEN_NAMES = [
    "ANNA MARIA",
    "JOHN",
    "MARIE-CLAIRE",
    "LUKAS",
    "SOFIA",
    "HIROSHI",
    "AMARA CHIOMA",
    "PIOTR",
    "ELENA",
    "JEAN PAUL",
    "OLUWASEUN ADEBAYO",
    "MAXIMILIAN ALEXANDER FREDERICK",
    "YUKI",
    "LAURA",
    "KARL",
    "MEI",
    "CHRISTOPHER JONATHAN",
    "INGRID",
    "NOAH",
    "ZOE",
]
# ICAO codes: ISO 3166-1 alpha-3, Germany's "D" and the specimen state Utopia.
COUNTRIES = {
    "UTO": "UTOPIA",
    "D": "GERMANY",
    "FRA": "FRANCE",
    "GBR": "UNITED KINGDOM",
    "USA": "UNITED STATES",
    "CAN": "CANADA",
    "NLD": "NETHERLANDS",
    "SWE": "SWEDEN",
    "ITA": "ITALY",
    "ESP": "SPAIN",
    "JPN": "JAPAN",
    "IND": "INDIA",
    "BRA": "BRAZIL",
    "AUS": "AUSTRALIA",
    "CHE": "SWITZERLAND",
    "POL": "POLAND",
    "NOR": "NORWAY",
    "IRL": "IRELAND",
    "NGA": "NIGERIA",
    "KOR": "KOREA",
}
_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass
class Specimen:
    image: bytes  # PNG or JPEG
    fields: dict  # the truth, keyed like MrzReader.read's result
    lines: list[str]  # the MRZ as printed


# ------------------------------------------------------------------------------------------------ MRZ text
def _check(s: str) -> str:
    """ICAO 9303 check digit, written out independently of the reader's: weights 7, 3, 1 repeating,
    digits count as themselves, A-Z as 10-35, '<' as 0."""
    total = 0
    for i, ch in enumerate(s):
        value = int(ch) if ch.isdigit() else (0 if ch == "<" else ord(ch) - 55)
        total += value * (7, 3, 1)[i % 3]
    return str(total % 10)


def _code(text: str, width: int) -> str:
    """Free text -> MRZ field: upper case, spaces and hyphens become '<', apostrophes vanish, padded."""
    s = text.upper().replace("'", "").replace(" ", "<").replace("-", "<")
    return s[:width].ljust(width, "<")


def _names(surname: str, given: str, width: int) -> str:
    return _code(surname.replace(" ", "<") + "<<" + given, width)


def _yymmdd(iso: str) -> str:
    return iso[2:4] + iso[5:7] + iso[8:10]


def _broken(digit: str) -> str:
    return str((int(digit) + 1) % 10) if digit.isdigit() else "1"


def make_mrz_lines(fields: dict, fmt: str = "TD3", *, break_check: str | None = None) -> list[str]:
    """The MRZ lines for `fields`; `break_check` ("document_number", "date_of_birth", "date_of_expiry",
    "optional_data", "composite") writes a wrong check digit for that field (the composite is computed
    over what is written, so only the broken check fails)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown MRZ format {fmt!r}")
    number = _code(fields["document_number"], 9)
    birth, expiry = _yymmdd(fields["date_of_birth"]), _yymmdd(fields["date_of_expiry"])
    sex = {"M": "M", "F": "F"}.get(fields["sex"], "<")
    nat = _code(fields["nationality"], 3)
    state = _code(fields["country_code"], 3)
    doc = _code(fields["document_type"], 2)
    opt = fields.get("optional_data", "")

    def digit(field: str, value: str) -> str:
        d = _check(value)
        return _broken(d) if break_check == field else d

    if fmt == "TD3":
        opt_f = _code(opt, 14)
        opt_d = "<" if opt_f == "<" * 14 and break_check != "optional_data" else digit("optional_data", opt_f)
        line1 = doc + state + _names(fields["surname"], fields["given_names"], 39)
        body = number + digit("document_number", number) + nat + birth + digit("date_of_birth", birth) + sex
        body += expiry + digit("date_of_expiry", expiry) + opt_f + opt_d
        comp = body[0:10] + body[13:20] + body[21:43]
        return [line1, body + digit("composite", comp)]
    if fmt == "TD2":
        line1 = doc + state + _names(fields["surname"], fields["given_names"], 31)
        body = number + digit("document_number", number) + nat + birth + digit("date_of_birth", birth) + sex
        body += expiry + digit("date_of_expiry", expiry) + _code(opt, 7)
        comp = body[0:10] + body[13:20] + body[21:35]
        return [line1, body + digit("composite", comp)]
    line1 = doc + state + number + digit("document_number", number) + _code(opt, 15)
    line2 = birth + digit("date_of_birth", birth) + sex + expiry + digit("date_of_expiry", expiry) + nat
    line2 += _code(fields.get("optional_data_2", ""), 11)
    comp = line1[5:30] + line2[0:7] + line2[8:15] + line2[18:29]
    line2 += digit("composite", comp)
    return [line1, line2, _names(fields["surname"], fields["given_names"], 30)]


def _decode_names(field: str) -> tuple[str, str]:
    surname, _, given = field.partition("<<")
    clean = lambda s: " ".join(s.replace("<", " ").split())  # noqa: E731
    return clean(surname), clean(given)


def _truth(fields: dict, lines: list[str], fmt: str) -> dict:
    """What a perfect reader returns: the MRZ's own (possibly truncated) names, fillers stripped."""
    surname, given = _decode_names(lines[2] if fmt == "TD1" else lines[0][5:])
    opt = {"TD3": lines[1][28:42], "TD2": lines[1][28:35], "TD1": lines[0][15:30]}[fmt]
    truth = {
        "document_type": lines[0][:2].replace("<", ""),
        "country_code": lines[0][2:5].replace("<", ""),
        "document_number": _code(fields["document_number"], 9).replace("<", ""),
        "surname": surname,
        "given_names": given,
        "nationality": _code(fields["nationality"], 3).replace("<", ""),
        "sex": fields["sex"] if fields["sex"] in ("M", "F") else "X",
        "date_of_birth": fields["date_of_birth"],
        "date_of_expiry": fields["date_of_expiry"],
        "optional_data": opt.rstrip("<"),
    }
    if fmt == "TD1":
        truth["optional_data_2"] = lines[1][18:29].rstrip("<")
    return truth


def random_fields(rng: random.Random, fmt: str = "TD3") -> dict:
    state = rng.choice(list(COUNTRIES))
    nationality = state if rng.random() < 0.8 else rng.choice(list(COUNTRIES))
    letters = rng.randint(1, 3)
    number = "".join(rng.choice(_CHARS[10:]) for _ in range(letters))
    number += "".join(rng.choice(_CHARS) for _ in range(rng.choice((6, 8, 8, 9)) - letters))
    birth = date(1940, 1, 1) + timedelta(days=rng.randrange(0, 80 * 365))
    expiry = date(2020, 1, 1) + timedelta(days=rng.randrange(0, 15 * 365))
    if rng.random() < 0.5:
        optional = "".join(rng.choice(_CHARS) for _ in range(rng.randint(6, 14 if fmt == "TD3" else 7)))
    else:
        optional = ""
    doc = {
        "TD3": rng.choice(["P", "P", "P", "PD"]),
        "TD2": rng.choice(["I", "ID", "AC"]),
        "TD1": rng.choice(["I", "ID", "IR"]),
    }[fmt]
    return {
        "document_type": doc,
        "country_code": state,
        "document_number": number,
        "surname": rng.choice(SURNAMES),
        "given_names": rng.choice(GIVEN_NAMES),
        "nationality": nationality,
        "sex": rng.choice(["M", "F", "F", "M", "X"]),
        "date_of_birth": birth.isoformat(),
        "date_of_expiry": expiry.isoformat(),
        "optional_data": optional,
        "optional_data_2": "",
    }


# ----------------------------------------------------------------------------------------------- rendering
def ocrb_font_path() -> Path:
    """The OCR-B face Debian's fonts-ocr-b installs, found through fontconfig when it is there."""
    try:
        out = subprocess.run(["fc-match", "OCRB", "-f", "%{file}"], capture_output=True, text=True, timeout=10)
        found = Path(out.stdout.strip())
        if found.name.upper().startswith("OCRB") and found.exists():
            return found
    except (OSError, subprocess.SubprocessError):
        pass
    for candidate in (
        Path("/usr/share/fonts/opentype/ocr-b/OCRB.otf"),
        Path("/usr/share/fonts/truetype/ocr-b/OCRB.ttf"),
    ):
        if candidate.exists():
            return candidate
    raise FileNotFoundError("OCR-B font not found: apt-get install fonts-ocr-b")


def _font(name: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(DEJAVU_DIR / name), size)


def _human_date(iso: str) -> str:
    y, m, d = iso.split("-")
    return f"{d} {_MONTHS[int(m) - 1]} {y}"


def _background(rng: random.Random, size: tuple[int, int]) -> Image.Image:
    """Security-paper look: a pale two-colour gradient with fine guilloche-like wavy lines."""
    w, h = size
    c1 = np.array([rng.randint(215, 250) for _ in range(3)], dtype=np.float32)
    c2 = np.array([rng.randint(215, 250) for _ in range(3)], dtype=np.float32)
    t = (
        np.linspace(0, 1, w, dtype=np.float32)[None, :, None] * 0.6
        + np.linspace(0, 1, h, dtype=np.float32)[:, None, None] * 0.4
    )
    img = Image.fromarray((c1 * (1 - t) + c2 * t).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    tint = tuple(int(v) for v in (c1 * 0.85))
    period, amp = rng.uniform(60, 140), rng.uniform(6, 18)
    xs = np.arange(0, w, 4)
    for y0 in range(-20, h + 20, rng.randint(14, 24)):
        ys = y0 + amp * np.sin(xs / period * 2 * np.pi + y0 / 37.0)
        draw.line(list(zip(xs.tolist(), ys.tolist(), strict=True)), fill=tint, width=1)
    return img


def _render_page(rng: random.Random, fields: dict, lines: list[str], fmt: str) -> Image.Image:
    w, h = _PAGE[fmt]
    page = _background(rng, (w, h))
    draw = ImageDraw.Draw(page)
    scale = w / 1250
    label_font = _font("DejaVuSans.ttf", max(12, round(17 * scale)))
    value_font = _font("DejaVuSans-Bold.ttf", max(16, round(25 * scale)))
    title_font = _font("DejaVuSans-Bold.ttf", max(18, round(34 * scale)))
    ink = (rng.randint(10, 50), rng.randint(10, 50), rng.randint(20, 70))
    label_ink = (90, 90, 110)
    country = COUNTRIES.get(fields["country_code"], fields["country_code"])
    title = {"TD3": "PASSPORT / PASSEPORT", "TD2": "IDENTITY CARD", "TD1": "IDENTITY CARD"}[fmt]
    draw.text((int(40 * scale), int(25 * scale)), f"{country}   {title}", fill=ink, font=title_font)

    # Photo area: a grey box with a head-and-shoulders silhouette.
    px0, py0 = int(50 * scale), int(100 * scale)
    px1, py1 = px0 + int(300 * scale), py0 + int(400 * scale) if fmt == "TD3" else py0 + int(330 * scale)
    draw.rectangle((px0, py0, px1, py1), fill=(rng.randint(170, 205),) * 3, outline=(120, 120, 120))
    cx = (px0 + px1) // 2
    head = int(70 * scale)
    draw.ellipse(
        (cx - head, py0 + int(60 * scale), cx + head, py0 + int(60 * scale) + 2 * head + int(20 * scale)),
        fill=(110, 105, 100),
    )
    draw.pieslice(
        (px0 + int(20 * scale), py1 - int(140 * scale), px1 - int(20 * scale), py1 + int(140 * scale)),
        180,
        360,
        fill=(95, 90, 88),
    )

    rows: list[list[tuple[str, str]]] = [
        [
            ("Type / Type", fields["document_type"]),
            ("Code / Code", fields["country_code"]),
            ("Passport No. / No. du passeport" if fmt == "TD3" else "Document No.", fields["document_number"]),
        ],
        [("Surname / Nom", fields["surname"])],
        [("Given names / Prénoms", fields["given_names"])],
        [("Nationality / Nationalité", COUNTRIES.get(fields["nationality"], fields["nationality"]))],
        [
            ("Date of birth / Date de naissance", _human_date(fields["date_of_birth"])),
            ("Sex / Sexe", fields["sex"] if fields["sex"] in "MF" else "X"),
        ],
        [
            ("Date of expiry / Date d'expiration", _human_date(fields["date_of_expiry"])),
            ("Authority / Autorité", f"{country[:14]} MFA"),
        ],
    ]
    x0 = px1 + int(40 * scale)
    y = py0 - int(5 * scale)
    step = int((72 if fmt == "TD3" else 60) * scale)
    mrz_top = h - int(len(lines) * 62 * scale) - int(40 * scale)
    for row in rows:
        if y + step > mrz_top - 10:
            break
        col_w = (w - x0 - int(30 * scale)) // len(row)
        for i, (label, value) in enumerate(row):
            x = x0 + i * col_w
            draw.text((x, y), label, fill=label_ink, font=label_font)
            value_text = value if len(row) > 1 or len(value) < 30 else value[:28] + "…"
            draw.text((x, y + int(22 * scale)), value_text, fill=ink, font=value_font)
        y += step

    # The MRZ, OCR-B at the standard pitch, left aligned at the bottom.
    mrz_font = ImageFont.truetype(str(ocrb_font_path()), _MRZ_FONT_SIZE)
    line_w = mrz_font.getlength(lines[0])
    mx = int((w - line_w) / 2)
    pitch = 58 if fmt == "TD3" else 52
    my = h - 30 - len(lines) * pitch
    for i, text in enumerate(lines):
        draw.text((mx, my + i * pitch), text, fill=(15, 15, 20), font=mrz_font)
    return page


# ------------------------------------------------------------------------------------------------ degrading
def _degrade(rng: random.Random, page: Image.Image) -> Image.Image:
    """A photo or scan of the page: on a larger darker surface, turned, shaded, blurred and noisy.

    The held-out MRZ result is stated for these exact bytes, so the arithmetic is fixed: the same random
    draws in the same order, and per pixel the same operations in the same dtypes (float64 noise and ramp,
    float32 vignette and pixels). Only the passes are lean: the light maps are built from one row and one
    column and broadcast (instead of a full coordinate grid), and the big arrays are updated in place. Check
    a change with sha256 over the specimens the tests use: it must not move a single byte."""
    angle = rng.uniform(-4.0, 4.0)
    turned = page.convert("RGBA").rotate(angle, resample=Image.BICUBIC, expand=True)
    margin = [rng.randint(30, 180) for _ in range(4)]
    bw, bh = turned.width + margin[0] + margin[2], turned.height + margin[1] + margin[3]
    base = np.array([rng.randint(40, 110), rng.randint(40, 100), rng.randint(35, 95)], dtype=np.float32)
    surface = np.random.default_rng(rng.randrange(2**32)).normal(0, 6, (bh, bw, 3))
    surface += base
    np.clip(surface, 0, 255, out=surface)
    canvas = Image.fromarray(surface.astype(np.uint8), "RGB")
    canvas.paste(turned, (margin[0], margin[1]), turned)

    arr = np.asarray(canvas).astype(np.float32)
    # Uneven lighting: a linear falloff in a random direction plus a soft vignette.
    xx = np.arange(bw, dtype=np.float32)
    yy = np.arange(bh, dtype=np.float32)[:, None]
    theta = rng.uniform(0, 2 * np.pi)
    light = np.cos(theta) * xx / bw + np.sin(theta) * yy / bh  # float64: np.cos gives a float64 scalar
    low, spread = light.min(), max(float(np.ptp(light)), 1e-6)
    light -= low
    light /= spread
    light *= rng.uniform(0.05, 0.35)
    np.subtract(1.0, light, out=light)
    r2 = ((xx - bw / 2) / bw) ** 2 + ((yy - bh / 2) / bh) ** 2  # float32
    light *= 1.0 - rng.uniform(0.0, 0.3) * r2
    arr *= light[:, :, None]
    np.clip(arr, 0, 255, out=arr)
    img = Image.fromarray(arr.astype(np.uint8), "RGB")
    sigma = rng.uniform(0.0, 1.2)
    if sigma > 0.2:
        img = img.filter(ImageFilter.GaussianBlur(sigma))
    noise = rng.uniform(2.0, 12.0)
    gen = np.random.default_rng(rng.randrange(2**32))
    # uint8 + float64 adds in float64, as float32 pixels + float64 noise did: the same sums, one pass fewer.
    arr = np.add(np.asarray(img), gen.normal(0, noise, (bh, bw, 1)))
    np.clip(arr, 0, 255, out=arr)
    return Image.fromarray(arr.astype(np.uint8), "RGB")


def make_passport(
    seed: int,
    *,
    fmt: str = "TD3",
    noise: str = "varied",
    image_format: str = "jpeg",
    break_check: str | None = None,
    fields: dict | None = None,
) -> Specimen:
    """One specimen data page (TD3 passport, or a TD2/TD1 card), the same for the same arguments."""
    if noise not in ("varied", "clean"):
        raise ValueError(f"noise must be 'varied' or 'clean', not {noise!r}")
    rng = random.Random(f"{fmt}-{seed}")
    fields = fields or random_fields(rng, fmt)
    lines = make_mrz_lines(fields, fmt, break_check=break_check)
    img = _render_page(rng, fields, lines, fmt)
    img = _degrade(rng, img) if noise == "varied" else img.convert("RGB")
    buf = io.BytesIO()
    if image_format == "jpeg":
        img.save(buf, "JPEG", quality=rng.randint(60, 90) if noise == "varied" else 92)
    elif image_format == "png":
        img.save(buf, "PNG")
    else:
        raise ValueError(f"image_format must be 'jpeg' or 'png', not {image_format!r}")
    return Specimen(buf.getvalue(), _truth(fields, lines, fmt), lines)


def make_passports(seeds: Iterable[int], *, processes: int = 2) -> Iterator[Specimen]:
    """`make_passport(seed)` for each seed, in order, made by `processes` spawned processes while the caller
    works on the ones already made. Generating a varied specimen costs more CPU than reading it, so a
    test reading many overlaps the two instead of alternating them; the specimens are the same bytes."""
    context = multiprocessing.get_context("spawn")  # not fork: the caller may hold threads and engines
    pool = ProcessPoolExecutor(processes, mp_context=context)
    try:
        yield from pool.map(make_passport, seeds)
    finally:  # a failing caller stops here: the specimens not yet made are not made
        pool.shutdown(cancel_futures=True)
