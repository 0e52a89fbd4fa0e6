"""Worker side, after recognition: put lines in reading order. ``natural`` keeps Tesseract's layout
order (block by block, so columns are read one after the other); ``basic`` reads rows left to right,
top to bottom across the whole page, as Azure's default does."""

from __future__ import annotations

from ocrgw.pipeline.engines.tesseract import RawLine


def _vertical_overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    top, bottom = max(a[1], b[1]), min(a[3], b[3])
    smaller = max(1, min(a[3] - a[1], b[3] - b[1]))
    return max(0, bottom - top) / smaller


FRAGMENT_HEIGHT = 0.35  # of the median line height
FRAGMENT_CONFIDENCE = 0.5


def drop_fragments(lines: list[RawLine]) -> list[RawLine]:
    """Remove "lines" that are stray marks, not text: Tesseract sometimes reads a row of accents above a
    line (the grave and circumflex of "à côté") as a line of its own ("AZ"). Such a line is far flatter
    than the page's text lines and read with low confidence; both must hold, so short real words stay."""
    if len(lines) < 2:
        return lines
    heights = sorted(ln.box[3] - ln.box[1] for ln in lines)
    median = heights[len(heights) // 2]
    return [ln for ln in lines
            if not (ln.box[3] - ln.box[1] < FRAGMENT_HEIGHT * median and ln.confidence < FRAGMENT_CONFIDENCE)]


def order_lines(lines: list[RawLine], mode: str) -> list[RawLine]:
    lines = drop_fragments(lines)
    if mode == "natural" or len(lines) < 2:
        return list(lines)
    rows: list[list[RawLine]] = []
    for line in sorted(lines, key=lambda ln: (ln.box[1] + ln.box[3]) / 2):
        if rows and _vertical_overlap(rows[-1][0].box, line.box) >= 0.5:
            rows[-1].append(line)
        else:
            rows.append([line])
    return [line for row in rows for line in sorted(row, key=lambda ln: ln.box[0])]
