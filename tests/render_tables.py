"""Test data: two table pages under tests/data/table, rendered with Pillow like tests/render_documents.py
(whose sheet, fonts and scanner this uses), with their text ground truth in manifest.jsonl and their
table structure in the row's ``table`` key: rows, columns, header rows and every cell's (row, col,
row_span, col_span, text).

* ``table/ruled.png``: a page with a fully ruled table, a header over two rows with cells spanning
  rows and columns.
* ``table/borderless.jpg``: a scanned page with a table drawn without any rule (only white space between
  columns), between two paragraphs.

``python -m tests.render_tables`` writes them again and merges their rows into manifest.jsonl."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from PIL import ImageFont

from tests.render_documents import DATA, LICENSE, Sheet, encode, font, row_text, scanned

Cell = tuple[int, int, int, int, str]  # row, col, row_span, col_span, text


def _cells_row(
    sheet: Sheet, cells: list[Cell], xs: list[int], ys: list[int], f: ImageFont.FreeTypeFont, pad: int
) -> None:
    """Draw each cell's text left-aligned (numbers right-aligned), vertically centred in its area."""
    items = []
    for r, c, rs, cs, text in cells:
        if not text:
            continue
        top, bottom = ys[r], ys[r + rs]
        x0, x1 = xs[c], xs[c + cs]
        numeric = text.replace(",", "").replace(".", "").isdigit()
        x, anchor = (x1 - pad, "r") if numeric else (x0 + pad, "l")
        asc, desc = f.getmetrics()
        y = int((top + bottom) / 2 - (asc + desc) / 2)
        items.append((y, (text, x, anchor, f)))
    for y in sorted({y for y, _ in items}):
        sheet.put([item for yy, item in items if yy == y], y)


RULED_CELLS: list[Cell] = [
    (0, 0, 2, 1, "Region"), (0, 1, 1, 2, "2025"), (0, 3, 2, 1, "Total"),
    (1, 1, 1, 1, "Q1"), (1, 2, 1, 1, "Q2"),
    (2, 0, 1, 1, "North"), (2, 1, 1, 1, "120"), (2, 2, 1, 1, "135"), (2, 3, 1, 1, "255"),
    (3, 0, 1, 1, "South"), (3, 1, 1, 1, "98"), (3, 2, 1, 1, "110"), (3, 3, 1, 1, "208"),
    (4, 0, 1, 1, "East"), (4, 1, 1, 1, "143"), (4, 2, 1, 1, "150"), (4, 3, 1, 1, "293"),
    (5, 0, 1, 1, "West"), (5, 1, 1, 1, "77"), (5, 2, 1, 1, "81"), (5, 3, 1, 1, "158"),
]  # fmt: skip


def ruled() -> tuple[Sheet, dict]:
    """A 1240x1000 page (150 dpi): a title, a sentence and a 6x4 ruled table with a two-row header."""
    sheet = Sheet(1240, 1000)
    title, body = font("DejaVuSans-Bold.ttf", 34), font("DejaVuSans.ttf", 24)
    y = sheet.put([("Quarterly shipments", 100, "l", title)], 80)
    sheet.put([("Boxes shipped by region in the first half of 2025.", 100, "l", body)], y + 30)
    xs, ys = [100, 420, 640, 860, 1100], [260 + 62 * i for i in range(7)]
    d, w = sheet.draw, 3
    for x in (xs[0], xs[-1]):
        d.line([(x, ys[0]), (x, ys[-1])], fill=0, width=w)
    for y in (ys[0], ys[-1]):
        d.line([(xs[0], y), (xs[-1], y)], fill=0, width=w)
    d.line([(xs[1], ys[0]), (xs[1], ys[-1])], fill=0, width=w)
    d.line([(xs[3], ys[0]), (xs[3], ys[-1])], fill=0, width=w)
    d.line([(xs[2], ys[1]), (xs[2], ys[-1])], fill=0, width=w)  # "2025" spans Q1 and Q2
    d.line([(xs[1], ys[1]), (xs[3], ys[1])], fill=0, width=w)  # "Region" and "Total" span two rows
    for y in ys[2:-1]:
        d.line([(xs[0], y), (xs[-1], y)], fill=0, width=w)
    _cells_row(sheet, RULED_CELLS, xs, ys, body, 14)
    structure = {"rows": 6, "cols": 4, "header_rows": 2, "cells": [list(c) for c in RULED_CELLS]}
    return sheet, structure


BORDERLESS_ROWS = [
    ["Item", "Unit price", "Quantity", "Amount"],
    ["Copy paper A4", "4.20", "12", "50.40"],
    ["Stapler", "7.95", "2", "15.90"],
    ["Ballpoint pens", "0.65", "40", "26.00"],
    ["Folders", "1.10", "25", "27.50"],
    ["Desk lamp", "18.50", "1", "18.50"],
]


def borderless() -> tuple[Sheet, dict]:
    """A 1240x1100 page (150 dpi): a heading, a paragraph, a 6x4 table with no rules (a bold header
    row), and a closing line."""
    sheet = Sheet(1240, 1100)
    title, body, bold = font("DejaVuSans-Bold.ttf", 34), font("DejaVuSans.ttf", 24), font("DejaVuSans-Bold.ttf", 24)
    y = sheet.put([("Office supplies order", 100, "l", title)], 80)
    y = sheet.put([("The items below were ordered on 3 March and delivered in one parcel.", 100, "l", body)], y + 30)
    y = sheet.put([("Prices are per unit and include tax.", 100, "l", body)], y + 10)
    xs = [100, 480, 700, 900, 1120]
    y += 50
    cells: list[Cell] = []
    for r, row in enumerate(BORDERLESS_ROWS):
        f = bold if r == 0 else body
        items = []
        for c, text in enumerate(row):
            if c == 0:
                items.append((text, xs[0] + 10, "l", f))
            else:
                items.append((text, xs[c + 1] - 10, "r", f))
            cells.append((r, c, 1, 1, text))
        y = sheet.put(items, y) + 26
    sheet.put([("Please keep this sheet with the delivery note.", 100, "l", body)], y + 40)
    structure = {"rows": 6, "cols": 4, "header_rows": 1, "cells": [list(c) for c in cells]}
    return sheet, structure


TABLES = {
    "table/ruled.png": (ruled, {"seed": 41, "ink": 25, "paper": 240, "blur": 0.6, "noise": 0}),
    "table/borderless.jpg": (borderless, {"seed": 42, "ink": 30, "paper": 235, "blur": 0.7, "noise": 5}),
}


def main(out: Path = DATA) -> None:
    manifest = out / "manifest.jsonl"
    rows = {r["image"]: r for r in map(json.loads, manifest.read_text().splitlines())} if manifest.exists() else {}
    for name, (make, scan) in TABLES.items():
        sheet, structure = make()
        data = encode(scanned(sheet, **scan), "JPEG" if name.endswith(".jpg") else "PNG", 75)
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(data)
        rows[name] = {
            "image": name,
            "text": row_text(sheet.rows),
            "lines": [{"text": s.text, "bbox": list(s.box)} for row in sheet.rows for s in row],
            "source": f"rendered by tests/render_tables.py: {make.__name__}(), scanned({scan})",
            "license": LICENSE,
            "kind": "table",
            "subset": "rendered",
            "notes": (make.__doc__ or "").split("\n")[0],
            "table": structure,
        }
        print(f"{name}: {len(data)} bytes", file=sys.stderr)
    manifest.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in sorted(rows.values(), key=lambda r: r["image"]))
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DATA)
