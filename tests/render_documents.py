"""Test data: the documents under tests/data that no licence-clean public source provides (till receipts,
a two-column report, a 100-dpi form), rendered with Pillow from text written here and degraded like a scan
or a phone photo, with their exact ground truth: every text segment and its box in the image's pixels.

The files are committed; this module is how they were made. `python -m tests.render_documents` writes them
again with their rows of tests/data/manifest.jsonl (the same shape as the accuracy bench's manifest). It is
deterministic for a given Pillow, NumPy and DejaVu (Debian `fonts-dejavu-core`), but encoders and font
hinting change between versions, so a re-render may differ by a few bytes: the committed files are what the
tests' thresholds were measured on."""

from __future__ import annotations

import io
import json
import random
import sys
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

DATA = Path(__file__).resolve().parent / "data"
DEJAVU_DIR = Path("/usr/share/fonts/truetype/dejavu")
LICENSE = "Apache-2.0, as the repository: rendered for it from text written for it, in DejaVu fonts (free licence)"

Box = tuple[int, int, int, int]  # x0, y0, x1, y1


def font(name: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(DEJAVU_DIR / name), size)


# ------------------------------------------------------------------------------------------- layout
@dataclass
class Segment:
    text: str
    box: Box
    style: str | None = None  # "handwriting" or "other" where the document's ground truth says


@dataclass
class Sheet:
    """A white sheet being typeset: text is drawn at once and each segment's ink box recorded, so the
    ground truth is exactly what was drawn. `rows` groups segments printed on one baseline."""

    width: int
    height: int
    paper: int = 255
    ink: int = 0
    image: Image.Image = field(init=False)
    rows: list[list[Segment]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.image = Image.new("L", (self.width, self.height), self.paper)
        self.draw = ImageDraw.Draw(self.image)

    def put(self, row: list[tuple[str, float, str, ImageFont.FreeTypeFont]], y: int, style: str | None = None) -> int:
        """Draw one row of (text, x, anchor 'l'/'r'/'m', font) at top y; returns the row's bottom."""
        segments = []
        bottom = y
        for text, x, align, f in row:
            anchor = {"l": "la", "r": "ra", "m": "ma"}[align]
            self.draw.text((x, y), text, fill=self.ink, font=f, anchor=anchor)
            x0, y0, x1, y1 = self.draw.textbbox((x, y), text, font=f, anchor=anchor)
            segments.append(Segment(text, (int(x0), int(y0), int(x1), int(y1)), style))
            bottom = max(bottom, int(y1))
        if segments:
            self.rows.append(segments)
        return bottom

    def rule(self, y: int, x0: int, x1: int, dashed: bool = True, width: int = 2) -> None:
        """A separator rule: receipts print them, ground truth does not transcribe them (as in SROIE)."""
        if not dashed:
            self.draw.line((x0, y, x1, y), fill=self.ink, width=width)
            return
        for x in range(x0, x1, 14):
            self.draw.line((x, y, min(x + 8, x1), y), fill=self.ink, width=width)


def row_text(rows: list[list[Segment]]) -> str:
    return "\n".join(" ".join(s.text for s in sorted(r, key=lambda s: s.box[0])) for r in rows)


# ------------------------------------------------------------------------------------------- receipts
SHOPS = [
    ("HARBOUR GATE MINI MARKET", "NO. 12, JALAN PELABUHAN 3/2", "41000 PORT KLANG, SELANGOR"),
    ("SRI MAJU HARDWARE TRADING", "LOT 7, JALAN INDUSTRI 5", "47100 PUCHONG, SELANGOR"),
    ("GREEN LEAF BAKERY CAFE", "23 JALAN SS 2/64", "47300 PETALING JAYA"),
]
ITEMS = [
    "WHITE BREAD 400G",
    "FRESH MILK 1L",
    "EGGS GRADE A 10S",
    "JASMINE RICE 5KG",
    "COOKING OIL 2KG",
    "INSTANT NOODLE 5S",
    "SUGAR FINE 1KG",
    "MINERAL WATER 1.5L",
    "DISH SOAP LEMON",
    "TISSUE BOX 3PLY",
    "CHICKEN WINGS 1KG",
    "GREEN APPLE 4S",
    "BUTTER SALTED 250G",
    "COFFEE POWDER 200G",
    "TEA BAGS 100S",
    "SOY SAUCE 640ML",
    "SCREW M6 X 30 10S",
    "PVC PIPE 1/2 INCH",
    "WALL PLUG 6MM 20S",
    "MASKING TAPE 24MM",
    "PAINT BRUSH 2 INCH",
    "CABLE TIE 200MM",
    "CROISSANT PLAIN",
    "CHOCOLATE MUFFIN",
]


def receipt(seed: int, width: int = 600, mono: bool = True, size: int = 21) -> Sheet:
    """A till receipt typeset on a white strip: shop header, bill details, items with right-aligned amounts,
    totals, payment and a footer. Amounts add up; every printed word is in the ground truth."""
    rng = random.Random(f"receipt-{seed}")
    regular = font("DejaVuSansMono.ttf" if mono else "DejaVuSans.ttf", size)
    bold = font("DejaVuSansMono-Bold.ttf" if mono else "DejaVuSans-Bold.ttf", size + 3)
    big = font("DejaVuSans-Bold.ttf", size + 9)
    items = rng.sample(ITEMS, rng.randint(9, 12))
    lines_est = 27 + 2 * len(items)
    pitch = round(size * 1.55)
    sheet = Sheet(width, 60 + lines_est * pitch + 80)
    left, right, mid = 28, width - 28, width / 2
    rule_at = round(pitch * 0.15)
    name, street, town = SHOPS[seed % len(SHOPS)]
    y = 40

    def put(row: list[tuple[str, float, str, ImageFont.FreeTypeFont]], gap: float = 1.0) -> None:
        nonlocal y
        sheet.put(row, y)
        y += round(pitch * gap)

    def sep() -> None:
        """A dashed rule in the gap under the row just put."""
        nonlocal y
        sheet.rule(y + rule_at, left, right)
        y += round(pitch * 0.7)

    put([(name, mid, "m", bold)], 1.2)
    put([(f"({rng.randint(100000, 999999)}-{rng.choice('ADHKMPTW')})", mid, "m", regular)])
    put([(street, mid, "m", regular)])
    put([(town, mid, "m", regular)])
    put([(f"TEL: 03-{rng.randint(1000, 9999)} {rng.randint(1000, 9999)}", mid, "m", regular)])
    put([(f"GST REG NO: {rng.randint(10**11, 10**12 - 1):012d}", mid, "m", regular)], 1.4)
    put([("TAX INVOICE", mid, "m", bold)], 1.3)
    day, month, hour, minute = rng.randint(1, 28), rng.randint(1, 12), rng.randint(8, 21), rng.randint(0, 59)
    put(
        [
            (f"BILL NO: {rng.randint(100000, 999999)}", left, "l", regular),
            (f"TABLE {rng.randint(1, 40)}", right, "r", regular),
        ]
    )
    put([(f"DATE: {day:02d}/{month:02d}/2018", left, "l", regular), (f"{hour:02d}:{minute:02d}", right, "r", regular)])
    put([(f"CASHIER: {rng.choice(['AMIN', 'SITI', 'KUMAR', 'MEI LING', 'ROSE'])}", left, "l", regular)], 1.3)
    put([("QTY", left, "l", regular), ("DESCRIPTION", left + 60, "l", regular), ("AMOUNT", right, "r", regular)])
    sep()
    total = 0
    for item in items:
        qty = rng.choice([1, 1, 1, 2, 3])
        unit = rng.randint(120, 4990)
        amount = qty * unit
        total += amount
        put([(str(qty), left, "l", regular), (item, left + 60, "l", regular)])
        put([(f"@ {unit / 100:.2f}", left + 60, "l", regular), (f"{amount / 100:.2f}", right, "r", regular)])
    sep()
    gst = round(total * 0.06)
    rounding = -((total + gst) % 5)
    due = total + gst + rounding
    cash = ((due + 4999) // 5000) * 5000
    put([("SUBTOTAL", left, "l", regular), (f"{total / 100:.2f}", right, "r", regular)])
    put([("GST 6%", left, "l", regular), (f"{gst / 100:.2f}", right, "r", regular)])
    put([("ROUNDING ADJ", left, "l", regular), (f"{rounding / 100:.2f}", right, "r", regular)])
    put([("TOTAL", left, "l", big), (f"{due / 100:.2f}", right, "r", big)], 1.5)
    put([("CASH", left, "l", regular), (f"{cash / 100:.2f}", right, "r", regular)])
    put([("CHANGE", left, "l", regular), (f"{(cash - due) / 100:.2f}", right, "r", regular)])
    sep()
    put([(f"ITEM COUNT: {len(items)}", left, "l", regular)], 1.3)
    put([("THANK YOU PLEASE COME AGAIN", mid, "m", regular)])
    put([("GOODS SOLD ARE NOT RETURNABLE", mid, "m", regular)])
    sheet.image = sheet.image.crop((0, 0, width, y + 50))
    sheet.height = sheet.image.height
    return sheet


# ------------------------------------------------------------------------------------------- two columns
REPORT_TITLE = "Riverside Water Cooperative: Annual Report 2023"
REPORT_SUBTITLE = "Prepared for the members' meeting of 14 March 2024"
REPORT = [
    "The cooperative ended the year with more members, fewer leaks and a small surplus. This report "
    "sets out what was built, what it cost and what the board proposes for the season that is now beginning.",
    "Membership grew from 412 to 467 households. Most of the new members live on the eastern terraces, "
    "where the old spring line was replaced in April. Each new connection was inspected by two volunteers "
    "before the meter was sealed, and every inspection sheet is kept at the pump house.",
    "Water delivered rose by nine per cent, to 61,200 cubic metres. Losses between the reservoir and the "
    "meters fell from eighteen to eleven per cent after the valve chamber under the market square was "
    "rebuilt. The remaining losses are mostly in the northern loop, which dates from 1974.",
    "The treatment plant ran without a single boil notice. Chlorine levels were logged twice a day, and "
    "the monthly samples sent to the district laboratory all met the national standard. The sand filters "
    "were washed in May and October, each time over a weekend, so that supply was never interrupted.",
    "Income from water charges was 48,650 euros and the connection fees brought another 6,100. Spending "
    "on repairs, chemicals and electricity came to 41,900 euros. The surplus of 12,850 euros has been "
    "placed in the reserve for the northern loop, which now holds 31,400 euros in total.",
    "Volunteers gave about 2,300 hours of work. The board thanks in particular the young people of the "
    "school club, who painted the pump house, cleared the intake screens after the autumn storms and "
    "showed the older members how the new meters can be read with the camera of an ordinary phone.",
    "For 2024 the board proposes to replace the first two kilometres of the northern loop, to fit a second "
    "pump so that the plant can run during maintenance, and to keep the charge per cubic metre unchanged. "
    "A detailed budget is attached and will be put to the vote at the meeting in March 2024.",
    "Members who wish to help with the pipe work are asked to sign up at the pump house before the end of "
    "April. Tools, gloves and lunch are provided, and no experience is needed to join the trench teams.",
]


def wrap(text: str, f: ImageFont.FreeTypeFont, width: float) -> list[str]:
    lines: list[str] = []
    line = ""
    for word in text.split():
        trial = f"{line} {word}".strip()
        if line and f.getlength(trial) > width:
            lines.append(line)
            line = word
        else:
            line = trial
    return [*lines, line] if line else lines


def report() -> Sheet:
    """A two-column report page at 150 dpi: a title across both columns, then ragged-right paragraphs that
    run down the left column and on down the right one."""
    sheet = Sheet(1275, 1650)
    body = font("DejaVuSerif.ttf", 21)
    title = font("DejaVuSans-Bold.ttf", 34)
    sub = font("DejaVuSans.ttf", 22)
    sheet.put([(REPORT_TITLE, 1275 / 2, "m", title)], 110)
    sheet.put([(REPORT_SUBTITLE, 1275 / 2, "m", sub)], 168)
    columns, col_w, pitch = (110, 675), 490, 34
    lines = [ln for para in REPORT for ln in [*wrap(para, body, col_w), ""]][:-1]
    per_column = (len(lines) + 1) // 2
    while lines[per_column - 1] == "" or lines[per_column] == "":  # no column starts or ends on a gap
        per_column += 1
    for col, chunk in enumerate((lines[:per_column], lines[per_column:])):
        y = 250
        for text in chunk:
            if text:
                sheet.put([(text, columns[col], "l", body)], y)
            y += pitch if text else pitch // 2
    sheet.put([("Riverside Water Cooperative, Mill Lane 4, Riverside. Page 1 of 3", 1275 / 2, "m", sub)], 1560)
    return sheet


# ------------------------------------------------------------------------------------------- form
def form() -> Sheet:
    """A one-page request form as a 100-dpi office scan: small type (about 8 px glyphs), boxes, ruled fields
    and filled-in values, the kind of page the pipeline enlarges before reading."""
    sheet = Sheet(850, 1100)
    small = font("DejaVuSans.ttf", 13)
    bold = font("DejaVuSans-Bold.ttf", 15)
    head = font("DejaVuSans-Bold.ttf", 20)
    d = sheet.draw
    sheet.put([("NORTHFIELD LABORATORIES", 425, "m", head)], 40)
    sheet.put([("Sample Analysis Request Form", 425, "m", bold)], 72)
    sheet.put([("Form QA-117 (rev. 4)", 780, "r", small)], 100)
    d.rectangle((40, 125, 810, 1060), outline=0, width=2)
    fields = [
        ("Requested by:", "Dr. Helen Marsh"),
        ("Department:", "Product Safety"),
        ("Telephone:", "(919) 555-0142"),
        ("Date submitted:", "June 3, 1991"),
        ("Project number:", "PS-2207-B"),
        ("Charge to account:", "4410-0087"),
    ]
    y = 150
    for label, value in fields:
        sheet.put([(label, 60, "l", bold), (value, 250, "l", small)], y)
        d.line((245, y + 18, 520, y + 18), fill=0, width=1)
        y += 34
    sheet.put([("Priority:", 560, "l", bold)], 150)
    for i, choice in enumerate(("Routine", "Urgent", "Same day")):
        d.rectangle((560, 178 + 28 * i, 574, 192 + 28 * i), outline=0, width=1)
        sheet.put([(choice, 584, "l", small)], 178 + 28 * i)
    d.line((562, 208, 572, 218), fill=0, width=2)
    d.line((562, 218, 572, 208), fill=0, width=2)
    y += 20
    d.line((40, y, 810, y), fill=0, width=2)
    y += 14
    sheet.put([("Samples", 60, "l", head)], y)
    y += 36
    cols = (60, 150, 420, 560, 690)
    sheet.put(
        [(h, x, "l", bold) for h, x in zip(("No.", "Description", "Quantity", "Test", "Due"), cols, strict=True)], y
    )
    y += 26
    samples = [
        ("1", "Filter paper, lot 88", "12 sheets", "Moisture", "June 10"),
        ("2", "Tipping paper, white", "3 rolls", "Porosity", "June 12"),
        ("3", "Adhesive batch 1142", "500 ml", "Viscosity", "June 12"),
        ("4", "Carton board, grey", "20 sheets", "Thickness", "June 14"),
        ("5", "Ink sample, blue", "250 ml", "Colour", "June 17"),
        ("6", "Wrapping film", "2 rolls", "Tensile", "June 17"),
    ]
    for row in samples:
        d.line((55, y - 4, 795, y - 4), fill=0, width=1)
        sheet.put([(text, x, "l", small) for text, x in zip(row, cols, strict=True)], y)
        y += 28
    d.line((55, y - 4, 795, y - 4), fill=0, width=1)
    y += 20
    sheet.put([("Instructions", 60, "l", head)], y)
    y += 34
    notes = (
        "Please keep the samples in their sealed bags until testing. Results are to be sent to the "
        "requester and to the quality office. Any sample that arrives damaged must be reported on the "
        "same day, with a photograph, so that a replacement can be drawn from the same lot."
    )
    for text in wrap(notes, small, 720):
        sheet.put([(text, 60, "l", small)], y)
        y += 22
    y += 30
    sheet.put([("Received by:", 60, "l", bold), ("Date:", 480, "l", bold)], y)
    d.line((165, y + 18, 440, y + 18), fill=0, width=1)
    d.line((525, y + 18, 780, y + 18), fill=0, width=1)
    y += 40
    sheet.put([("Approved:", 60, "l", bold), ("Signature:", 480, "l", bold)], y)
    d.line((150, y + 18, 440, y + 18), fill=0, width=1)
    d.line((560, y + 18, 780, y + 18), fill=0, width=1)
    y += 50
    d.line((40, y, 810, y), fill=0, width=2)
    y += 14
    sheet.put([("For laboratory use only", 60, "l", head)], y)
    y += 36
    for label, x in (("Log number:", 60), ("Analyst:", 330), ("Completed:", 580)):
        sheet.put([(label, x, "l", bold)], y)
    y += 34
    sheet.put([("Results filed in binder 7 unless the requester asks for a copy.", 60, "l", small)], y)
    return sheet


# ------------------------------------------------------------------------------------------- structure
def checkboxes() -> Sheet:
    """A 150-dpi order form with square checkboxes: empty, crossed, ticked by hand, filled, and an empty one
    printed light; among labels with square letters (D, O, B) and a table with small cells, which are not
    boxes. The marks' states are fixed in tests/pipeline/test_marks.py (CHECKBOXES), top to bottom."""
    sheet = Sheet(1275, 1000)
    body = font("DejaVuSans.ttf", 24)
    bold = font("DejaVuSans-Bold.ttf", 24)
    head = font("DejaVuSans-Bold.ttf", 34)
    d = sheet.draw
    sheet.put([("DELIVERY ORDER", 100, "l", head)], 60)
    sheet.put([("Bob's Dairy Outlet, Old Orchard Road 12", 100, "l", body)], 120)
    sheet.put([("How often should we deliver?", 100, "l", bold)], 200)
    for i, label in enumerate(CHECKBOX_LABELS):
        y = 260 + 60 * i
        x0, y0, x1, y1 = 110, y, 138, y + 28
        grey = 150 if i == len(CHECKBOX_LABELS) - 1 else 0
        d.rectangle((x0, y0, x1, y1), outline=grey, width=2)
        state = CHECKBOX_STATES[i]
        if state == "cross":
            d.line((x0 + 6, y0 + 6, x1 - 6, y1 - 6), fill=0, width=3)
            d.line((x0 + 6, y1 - 6, x1 - 6, y0 + 6), fill=0, width=3)
        elif state == "tick":
            d.line((x0 + 5, y0 + 14, x0 + 12, y1 - 4), fill=0, width=3)
            d.line((x0 + 12, y1 - 4, x1 + 6, y0 - 8), fill=0, width=3)
        elif state == "fill":
            d.rectangle((x0 + 5, y0 + 5, x1 - 5, y1 - 5), fill=0)
        sheet.put([(label, 165, "l", body)], y)
    y = 620
    sheet.put([("DOB ODD BOOO", 100, "l", bold)], y)
    cols = (100, 420, 700, 980)
    for r, row in enumerate((("Day", "Milk", "Bread", "Eggs"), ("Mon", "2 L", "1", "6"), ("Thu", "1 L", "2", "12"))):
        top = 700 + 50 * r
        for c, text in enumerate(row):
            d.rectangle((cols[c] - 10, top - 8, cols[c] + 260, top + 42), outline=0, width=1)
            sheet.put([(text, cols[c], "l", body)], top)
    return sheet


CHECKBOX_LABELS = ("Daily, before 7 am", "Weekly on Mondays", "Twice a week", "Only on request", "Do not deliver")
CHECKBOX_STATES = ("empty", "cross", "tick", "fill", "empty")


def roles_page() -> Sheet:
    """A report page at 150 dpi with every paragraph role Document Intelligence knows but formulas: a
    running head, a title, numbered section headings, body text, a footnote set small under a rule, a
    running foot and a page number. The roles are fixed in tests/pipeline/test_paragraphs.py."""
    sheet = Sheet(1275, 1650)
    small = font("DejaVuSerif.ttf", 16)
    body = font("DejaVuSerif.ttf", 22)
    title = font("DejaVuSans-Bold.ttf", 44)
    head = font("DejaVuSans-Bold.ttf", 28)
    sheet.put([("Riverbend Water Board", 110, "l", small), ("Annual Report 2025", 1165, "r", small)], 60)
    sheet.put([("Water Quality in the Upper Basin", 110, "l", title)], 170)
    y = 280
    for heading, text in ROLES_SECTIONS:
        sheet.put([(heading, 110, "l", head)], y)
        y += 62
        for line in wrap(text, body, 1050):
            sheet.put([(line, 110, "l", body)], y)
            y += 34
        y += 40
    sheet.draw.line((110, 1380, 500, 1380), fill=0, width=1)
    for i, line in enumerate(wrap(ROLES_NOTE, small, 1050)):
        sheet.put([(line, 110, "l", small)], 1395 + 24 * i)
    sheet.put([("Riverbend Water Board, Mill Lane 4, Riverbend", 110, "l", small), ("7", 1165, "r", body)], 1560)
    return sheet


ROLES_SECTIONS = (
    (
        "1. Sampling",
        "Samples were drawn every second week at the nine stations of the upper basin, from the spring thaw "
        "to the first frost, and sent to the board's laboratory on the same day. Each sample was tested for "
        "nitrate, phosphate, dissolved oxygen and the usual indicator bacteria.",
    ),
    (
        "2. Results",
        "Nitrate stayed below the limit at every station but one, where the spring readings rose after the "
        "heavy rain of April and fell back by June. Dissolved oxygen was lowest in August, as in earlier "
        "years, and never fell to a level that harms fish.",
    ),
    (
        "3. Outlook",
        "The board will add two stations on the northern creeks next year and publish its readings every "
        "month, so that farmers and anglers can follow them through the season.",
    ),
)
ROLES_NOTE = (
    "1 Readings below the detection limit of the method are counted as half of that limit, as the national "
    "guidance asks."
)


def figure_page() -> Sheet:
    """A report page at 150 dpi with two captioned figures between paragraphs: a bar chart with its axis
    labels, legend and bar names (text inside the figure), and a drawn landscape (a picture without text).
    The figures' boxes and captions are fixed in tests/pipeline/test_figures.py (FIGURES)."""
    sheet = Sheet(1275, 1650)
    body = font("DejaVuSerif.ttf", 22)
    small = font("DejaVuSans.ttf", 18)
    caption = font("DejaVuSans-Oblique.ttf", 20)
    d = sheet.draw
    sheet.put([("Rainfall at the Upper Basin Stations", 110, "l", font("DejaVuSans-Bold.ttf", 40))], 100)
    y = 190
    for line in wrap(FIGURE_TEXT[0], body, 1050):
        sheet.put([(line, 110, "l", body)], y)
        y += 34
    # the bar chart: axes, ticks and their labels, three groups of three bars, names under them, a legend
    x0, y0, x1, y1 = FIGURE_CHART
    d.line((x0, y0, x0, y1), fill=0, width=3)
    d.line((x0, y1, x1, y1), fill=0, width=3)
    for n, value in enumerate((0, 50, 100, 150)):
        ty = y1 - n * 100
        d.line((x0 - 12, ty, x0, ty), fill=0, width=2)
        sheet.put([(str(value), x0 - 20, "r", small)], ty - 11)
    sheet.put([("mm", x0 - 20, "r", small)], y0 - 6)
    for g, (name, heights) in enumerate(FIGURE_BARS):
        gx = x0 + 60 + g * 230
        for b, h in enumerate(heights):
            d.rectangle((gx + b * 55, y1 - 2 * h, gx + b * 55 + 45, y1), fill=(60, 120, 180)[b], outline=0)
        sheet.put([(name, gx + 75, "m", small)], y1 + 14)
    for b, year in enumerate(("2023", "2024", "2025")):
        ly = y0 + 10 + 36 * b
        d.rectangle((x1 - 150, ly, x1 - 122, ly + 24), fill=(60, 120, 180)[b], outline=0)
        sheet.put([(year, x1 - 110, "l", small)], ly + 2)
    sheet.put([(FIGURE_CAPTIONS[0], 200, "l", caption)], y1 + 60)
    y = y1 + 120
    for line in wrap(FIGURE_TEXT[1], body, 1050):
        sheet.put([(line, 110, "l", body)], y)
        y += 34
    # the picture: sky, sun, two hills and a creek, no text
    px0, py0, px1, py1 = FIGURE_PICTURE
    for row in range(py0, py1):
        d.line((px0, row, px1, row), fill=200 + (row - py0) * 40 // (py1 - py0))
    d.ellipse((px1 - 170, py0 + 30, px1 - 90, py0 + 110), fill=250)
    d.polygon([(px0, py1 - 120), (px0 + 220, py0 + 120), (px0 + 460, py1 - 60), (px0, py1)], fill=110)
    d.polygon([(px0 + 250, py1), (px0 + 480, py0 + 160), (px1, py1 - 90), (px1, py1)], fill=80)
    d.polygon([(px0 + 300, py1), (px0 + 360, py1 - 70), (px0 + 420, py1 - 70), (px0 + 400, py1)], fill=170)
    d.rectangle((px0, py0, px1, py1), outline=0, width=2)
    sheet.put([(FIGURE_CAPTIONS[1], px0, "l", caption)], py1 + 22)
    return sheet


FIGURE_CHART = (260, 420, 1015, 800)  # the bar chart's axes (x0, y0, x1, y1)
FIGURE_PICTURE = (330, 1090, 945, 1360)
FIGURE_BARS = (("North", (120, 96, 140)), ("East", (64, 82, 58)), ("South", (30, 44, 71)))
FIGURE_CAPTIONS = ("Figure 1: Rainfall at the three stations, 2023 to 2025.", "Figure 2: The northern creek.")
FIGURE_TEXT = (
    "The three stations of the upper basin recorded more rain in 2025 than in any year since they were built. "
    "The northern station, the highest of the three, had the most, as in every year, and the southern one "
    "the least; the chart shows the totals of the three years side by side.",
    "Most of the rain fell in spring. The northern creek, below the new station, ran high for six weeks.",
)


# ------------------------------------------------------------------------------------------- text lines
def text_line(text: str, width: int, height: int, size: int, x: int = 4) -> Sheet:
    """One printed line as a line detector crops it out of a page: a few px of paper around the ink, the
    ink centred top to bottom. Lower than Azure's 50 px minimum, read by the engine all the same."""
    sheet = Sheet(width, height)
    f = font("DejaVuSans.ttf", size)
    _, top, _, bottom = f.getbbox(text)
    sheet.put([(text, x, "l", f)], (height - (bottom - top)) // 2 - top)
    return sheet


# ------------------------------------------------------------------------------------------- German letter
LETTER_DE = [
    "Sehr geehrte Damen und Herren,",
    "ab dem 4. März wird die Wasserleitung in der Großen Straße zwischen der Müllerstraße und dem "
    "Brückenweg erneuert. Während der Bauarbeiten kann es zu kurzen Unterbrechungen der Versorgung "
    "kommen. Wir bitten Sie, in dieser Zeit größere Mengen Wasser vorrätig zu halten.",
    "Die Arbeiten dauern voraussichtlich fünf Wochen. Für Rückfragen erreichen Sie unser Büro montags "
    "bis freitags von 8 bis 16 Uhr. Außerhalb dieser Öffnungszeiten ist der Störungsdienst rund um die "
    "Uhr erreichbar.",
    "Bitte beachten Sie, dass die Zufahrt zu den Grundstücken nur eingeschränkt möglich ist. Fußgänger "
    "werden über einen gesicherten Übergang vor dem Rathaus geführt. Änderungen des Zeitplans teilen wir "
    "Ihnen rechtzeitig mit.",
    "Wir danken Ihnen für Ihr Verständnis und Ihre Geduld.",
]


def letter_de() -> Sheet:
    """A German business letter at 150 dpi, dense with umlauts and ß: read with the English model it loses
    every one of them (the language detection's test page)."""
    sheet = Sheet(1240, 1240)
    body = font("DejaVuSerif.ttf", 24)
    bold = font("DejaVuSerif-Bold.ttf", 24)
    head = font("DejaVuSans-Bold.ttf", 34)
    sheet.put([("Stadtwerke Süderbrück", 110, "l", head)], 90)
    sheet.put([("Mühlenweg 7, 24999 Süderbrück", 110, "l", body)], 142)
    sheet.put([("Süderbrück, 12. Februar 2024", 1130, "r", body)], 230)
    sheet.put([("Erneuerung der Wasserleitung in der Großen Straße", 110, "l", bold)], 300)
    y = 370
    for para in LETTER_DE:
        for text in wrap(para, body, 1020):
            sheet.put([(text, 110, "l", body)], y)
            y += 38
        y += 18
    for text in ("Mit freundlichen Grüßen", "", "Jürgen Weiß", "Leiter der Netzabteilung"):
        if text:
            sheet.put([(text, 110, "l", body)], y)
        y += 38
    return sheet


# ------------------------------------------------------------------------------------------- a note
# A connected cursive script (Debian fonts-dancingscript, SIL Open Font Licence): joined letters of varying
# width, as real cursive has. Only rendering needs it; the tests read the committed image.
SCRIPT_FONT = Path("/usr/share/fonts/opentype/dancingscript/DancingScript-Regular.otf")
MEMO = [
    "The supplier has raised the price of copier paper by four percent from",
    "the first of next month. Orders placed before then keep the old price.",
    "Please check the stock in the store room and tell us what we need.",
]
HANDWRITTEN = ["Call Mrs. Harper about the invoice on Monday", "Approved, send the order before Friday"]


def note() -> Sheet:
    """A printed memo at 150 dpi with two lines written on it by hand, in a cursive script: which lines are
    handwritten is in the ground truth (``style``), as Azure labels them."""
    sheet = Sheet(1100, 640)
    head = font("DejaVuSans-Bold.ttf", 30)
    body = font("DejaVuSerif.ttf", 22)
    hand = ImageFont.truetype(str(SCRIPT_FONT), 40)
    y = sheet.put([("MEMO: copier paper", 60, "l", head)], 50, "other") + 36
    for text in MEMO:
        y = sheet.put([(text, 60, "l", body)], y, "other") + 14
    y += 40
    for text in HANDWRITTEN:
        y = sheet.put([(text, 90, "l", hand)], y, "handwriting") + 34
    sheet.put([("Purchasing office, room 214", 60, "l", body)], y + 10, "other")
    return sheet


# ------------------------------------------------------------------------------------------- scanning
def scanned(
    sheet: Sheet, seed: int, *, ink: int, paper: int, blur: float, noise: float, tint: bool = False
) -> Image.Image:
    """The sheet as a scanner or a phone sees it: ink and paper levels (faded thermal print is a pale grey
    on grey), optics blur and sensor noise. Geometry is unchanged, so the ground-truth boxes still hold."""
    rng = np.random.default_rng(seed)
    a = np.asarray(sheet.image, dtype=np.float32) / 255.0
    img = Image.fromarray((ink + (paper - ink) * a).astype(np.uint8))
    if blur:
        img = img.filter(ImageFilter.GaussianBlur(blur))
    a = np.asarray(img, dtype=np.float32) + rng.normal(0.0, noise, (img.height, img.width))
    img = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
    if tint:  # warm paper: a little less blue than red
        r = np.asarray(img, dtype=np.int16)
        img = Image.fromarray(np.clip(np.stack([r + 4, r, r - 8], axis=2), 0, 255).astype(np.uint8), "RGB")
    return img


def encode(img: Image.Image, fmt: str, quality: int = 80) -> bytes:
    buf = io.BytesIO()
    if fmt == "JPEG":
        img.save(buf, "JPEG", quality=quality)  # baseline, not progressive: a cut file keeps valid headers
    else:
        img.save(buf, "PNG", optimize=True)
    return buf.getvalue()


@dataclass(frozen=True)
class Document:
    image: str  # path under tests/data
    kind: str
    make: partial[Sheet]  # the call that typesets it

    @property
    def recipe(self) -> str:
        args = [repr(a) for a in self.make.args] + [f"{k}={v!r}" for k, v in self.make.keywords.items()]
        return f"{self.make.func.__name__}({', '.join(args)})"

    scan: dict
    fmt: str
    quality: int
    notes: str


DOCUMENTS = [
    Document(
        "form/checkboxes.png",
        "form",
        partial(checkboxes),
        {"seed": 41, "ink": 30, "paper": 232, "blur": 0.7, "noise": 0},
        "PNG",
        0,
        "A 150-dpi order form with five checkboxes (empty, crossed, ticked, filled, empty in light grey) among "
        "square letters and table cells that are not boxes: the selection marks' test page.",
    ),
    Document(
        "page/roles_report.png",
        "page",
        partial(roles_page),
        {"seed": 42, "ink": 25, "paper": 240, "blur": 0.6, "noise": 0},
        "PNG",
        0,
        "A 150-dpi report page with a running head, a title, three numbered section headings, body text, a "
        "footnote under a rule, a running foot and a page number: the paragraph roles' test page.",
    ),
    Document(
        "page/figures_report.png",
        "page",
        partial(figure_page),
        {"seed": 43, "ink": 25, "paper": 242, "blur": 0.6, "noise": 0, "tint": True},
        "PNG",
        0,
        "A 150-dpi report page with two captioned figures between paragraphs: a bar chart with axis labels, a "
        "legend and bar names, and a drawn landscape without text: the figures' test page.",
    ),
    Document(
        "receipt/till_clean.jpg",
        "receipt",
        partial(receipt, 1),
        {"seed": 1, "ink": 40, "paper": 235, "blur": 0.8, "noise": 8, "tint": True},
        "JPEG",
        70,
        "A scanned till receipt that Tesseract reads well; lines are segments (item and amount apart), as in "
        "SROIE. Dashed rules are not transcribed.",
    ),
    Document(
        "receipt/till_faded.jpg",
        "receipt",
        partial(receipt, 6, mono=False),
        {"seed": 6, "ink": 135, "paper": 210, "blur": 1.0, "noise": 10, "tint": True},
        "JPEG",
        70,
        "Faded thermal print: Tesseract reads it confidently (mean word confidence ~0.86, so no second "
        "opinion) but loses the block under the last rule (CER ~0.18); PP-OCR reads it at ~0.02.",
    ),
    Document(
        "receipt/till_faint.jpg",
        "receipt",
        partial(receipt, 4, mono=False),
        {"seed": 4, "ink": 130, "paper": 215, "blur": 1.2, "noise": 14, "tint": True},
        "JPEG",
        70,
        "Fainter and noisier still: Tesseract's mean word confidence is ~0.2 and most words are lost; "
        "PP-OCR reads it at ~0.04.",
    ),
    Document(
        "multicol/report_two_column.jpg",
        "multicol",
        partial(report),
        {"seed": 11, "ink": 25, "paper": 240, "blur": 0.7, "noise": 4},
        "JPEG",
        75,
        "A two-column report page (150 dpi): a title across both columns, then eight paragraphs down the left "
        "column and on down the right. Ground truth in reading order, one line per printed line.",
    ),
    Document(
        "form/form_100dpi.png",
        "form",
        partial(form),
        {"seed": 12, "ink": 30, "paper": 230, "blur": 0.6, "noise": 0},
        "PNG",
        0,
        "A 100-dpi greyscale office form: ~8 px glyphs (the pipeline enlarges it), boxes, rules, a ticked "
        "checkbox (not transcribed) and a small table.",
    ),
    Document(
        "line/rendered_956x44.png",
        "line",
        partial(text_line, "Invoice 2024-117: three boxes of paper, delivered Tuesday", 956, 44, 32, x=6),
        {"seed": 21, "ink": 30, "paper": 235, "blur": 0.6, "noise": 5},
        "PNG",
        0,
        "One text line cropped 6 px from its 31 px high ink, 956x44: under Azure's 50 px minimum, above "
        "Huawei's 15 and the engine's 10.",
    ),
    Document(
        "line/rendered_12px.png",
        "line",
        partial(text_line, "Total due EUR 1,482.50 by 31 March; ref AX-77/3", 276, 12, 11, x=3),
        {"seed": 22, "ink": 30, "paper": 235, "blur": 0.4, "noise": 4},
        "PNG",
        0,
        "One text line 12 px high, its ink (11 px) touching top and bottom: the pipeline enlarges it, reads it "
        "as one line and hands it over with a margin of paper.",
    ),
    Document(
        "page/letter_de.png",
        "page",
        partial(letter_de),
        {"seed": 13, "ink": 20, "paper": 245, "blur": 0.5, "noise": 0},
        "PNG",
        0,
        "A German letter (150 dpi) with 41 umlauts and ß: the English model reads it at ~6 % CER (every one of "
        "them lost), German at 0; the test page of language detection.",
    ),
    Document(
        "note/memo_handwritten.jpg",
        "note",
        partial(note),
        {"seed": 31, "ink": 35, "paper": 238, "blur": 0.7, "noise": 4},
        "JPEG",
        80,
        "A printed memo with two lines added by hand in a cursive script font (not real handwriting: the "
        "style label's plumbing and a cursive line's reading; the handwriting bench measures real hands). "
        "Each GT line has its style.",
    ),
]


def manifest_row(doc: Document, sheet: Sheet) -> dict:
    return {
        "image": doc.image,
        "text": row_text(sheet.rows),
        "lines": [
            {"text": s.text, "bbox": list(s.box), **({"style": s.style} if s.style else {})}
            for row in sheet.rows
            for s in row
        ],
        "source": f"rendered by tests/render_documents.py: {doc.recipe}, scanned({doc.scan})",
        "license": LICENSE,
        "kind": doc.kind,
        "subset": "rendered",
        "notes": doc.notes,
    }


def render(doc: Document) -> tuple[bytes, dict]:
    sheet = doc.make()
    img = scanned(sheet, **doc.scan)
    return encode(img, doc.fmt, doc.quality), manifest_row(doc, sheet)


def main(out: Path = DATA, only: tuple[str, ...] = ()) -> None:
    """Write the rendered documents (``only`` those named, when given) and merge their rows into
    manifest.jsonl (other rows are kept)."""
    manifest = out / "manifest.jsonl"
    rows = {}
    if manifest.exists():
        rows = {r["image"]: r for r in map(json.loads, manifest.read_text().splitlines())}
    for doc in DOCUMENTS:
        if only and doc.image not in only:
            continue
        data, row = render(doc)
        (out / doc.image).parent.mkdir(parents=True, exist_ok=True)
        (out / doc.image).write_bytes(data)
        rows[doc.image] = row
        print(f"{doc.image}: {len(data)} bytes, {len(row['lines'])} lines", file=sys.stderr)
    manifest.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in sorted(rows.values(), key=lambda r: r["image"]))
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DATA, tuple(sys.argv[2:]))
