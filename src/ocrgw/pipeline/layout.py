"""Worker side, after recognition: put lines in reading order. ``natural`` keeps Tesseract's layout
order (block by block, so columns are read one after the other); ``basic`` reads rows left to right,
top to bottom across the whole page, as Azure's default does."""

from __future__ import annotations

from ocrgw.pipeline.engines.tesseract import RawLine


def _vertical_overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    top, bottom = max(a[1], b[1]), min(a[3], b[3])
    smaller = max(1, min(a[3] - a[1], b[3] - b[1]))
    return max(0, bottom - top) / smaller


def order_lines(lines: list[RawLine], mode: str) -> list[RawLine]:
    if mode == "natural" or len(lines) < 2:
        return list(lines)
    rows: list[list[RawLine]] = []
    for line in sorted(lines, key=lambda ln: (ln.box[1] + ln.box[3]) / 2):
        if rows and _vertical_overlap(rows[-1][0].box, line.box) >= 0.5:
            rows[-1].append(line)
        else:
            rows.append([line])
    return [line for row in rows for line in sorted(row, key=lambda ln: ln.box[0])]
