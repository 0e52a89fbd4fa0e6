"""Worker side, MRZ reading (see the package docstring), between detection and reading: the image side of
one band. Each line is cut into a strip and binarised, the strictly monospaced OCR-B cells are laid out
as a _Grid, and each cell gets the features the reader (reader.py) compares within one document: ink
height, a plain image vector, a centroid-aligned glyph vector, and whether it holds the filler '<'."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ocrgw.pipeline.mrz.codes import FORMATS

# Normalised cross-correlation with the fillers' mean image: '<' cells score >0.9 on the specimens, the
# closest glyph (K) up to ~0.76; between the two, other evidence decides (see _fillers).
_FILLER_SIMILARITY = 0.82
_FILLER_WEAK = 0.6
# Same-document glyph comparison (reader._by_template): cells are compared as centroid-aligned images of
# this size.
_GLYPH_SIZE = (20, 30)


def _normalised(image: np.ndarray) -> np.ndarray:
    """Background-divided and Otsu-binarised copy: the second reading for shaded or low-contrast zones,
    and where glyph blobs are counted."""
    k = max(15, (image.shape[0] // 2) | 1)
    bg = cv2.morphologyEx(image, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    norm = cv2.divide(image, np.maximum(bg, 1), scale=255)
    norm = cv2.GaussianBlur(norm, (3, 3), 0)
    _, binary = cv2.threshold(norm, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return binary


def _strip(image: np.ndarray, center: float, char_h: float) -> np.ndarray:
    """The rows of one line of a band, with a little of the gap above and below."""
    h = image.shape[0]
    y0, y1 = max(0, int(center - char_h * 0.95)), min(h, int(center + char_h * 0.95) + 1)
    return image[y0:y1]


@dataclass
class _Grid:
    """The character cells of one MRZ line: OCR-B in an MRZ is strictly monospaced, so cell k is
    centred at x0 + k * pitch."""

    x0: float
    pitch: float
    n: int

    def center(self, k: int) -> float:
        return self.x0 + k * self.pitch

    def cell(self, x: float) -> int:
        return round((x - self.x0) / self.pitch)


def _glyphs(binary: np.ndarray, char_h: float) -> tuple[np.ndarray, np.ndarray]:
    """x centres and ink heights of the glyph-sized blobs of a line strip, left to right (noise and
    neighbouring lines dropped)."""
    n, _, stats, _ = cv2.connectedComponentsWithStats(255 - binary, connectivity=8)
    mid = binary.shape[0] / 2
    found = []
    for i in range(1, n):
        x, y, w, h, area = stats[i]
        if 0.45 * char_h <= h <= 1.6 * char_h and w <= 1.6 * char_h and area > 10 and y < mid < y + h:
            found.append((x + w / 2, float(h)))
    found.sort()
    return np.array([f[0] for f in found]), np.array([f[1] for f in found])


def _glyph_centres(binary: np.ndarray, char_h: float) -> np.ndarray:
    """x centres of the glyph-sized blobs of a line strip, left to right."""
    return _glyphs(binary, char_h)[0]


def _cell_heights(binary: np.ndarray, char_h: float, grid: _Grid) -> np.ndarray:
    """Ink height of each cell's glyph (0 where no blob sits)."""
    out = np.zeros(grid.n)
    for x, h in zip(*_glyphs(binary, char_h), strict=True):
        k = grid.cell(x)
        if 0 <= k < grid.n:
            out[k] = max(out[k], h)
    return out


def _fit_grid(xs: np.ndarray) -> _Grid | None:
    """Cell index of each blob by walking neighbour to neighbour (every gap is a whole number of
    pitches, so rounding never accumulates), then a least-squares line through (index, x)."""
    if xs.size < 8:
        return None
    gaps = np.diff(xs)
    pitch = float(np.median(gaps))
    if pitch <= 0:
        return None
    steps = np.maximum(1, np.round(gaps / pitch))
    pitch = float(np.median(gaps / steps))
    k = np.concatenate([[0.0], np.cumsum(np.maximum(1, np.round(gaps / pitch)))])
    design = np.stack([np.ones_like(k), k], axis=1)
    (x0, p), *_ = np.linalg.lstsq(design, xs, rcond=None)
    return _Grid(float(x0), float(p), int(k[-1]) + 1)


def _format_for(n_lines: int, counts: list[int]) -> str | None:
    """The ICAO format of a zone with this many lines and about these many cells per line, if any."""
    if n_lines == 3:
        fmt = "TD1"
    elif n_lines == 2:
        fmt = min(("TD3", "TD2"), key=lambda f: abs(FORMATS[f][1] - float(np.median(counts))))
    else:
        return None
    n = FORMATS[fmt][1]
    return fmt if all(abs(c - n) <= max(3, n // 10) for c in counts) else None


def _regrid(binary: np.ndarray, char_h: float, n: int) -> _Grid | None:
    """A line whose blobs did not give the right count (touching or broken glyphs): the first and last
    glyphs still mark the ends, and the format says how many cells lie between."""
    xs = _glyph_centres(binary, char_h)
    if xs.size < 2 or xs[-1] <= xs[0]:
        return None
    return _Grid(float(xs[0]), float(xs[-1] - xs[0]) / (n - 1), n)


def _cell_vectors(strip: np.ndarray, grid: _Grid) -> np.ndarray:
    """Each cell resampled to a small fixed size, zero-mean and unit-norm: comparing two cells is then
    a dot product (normalised cross-correlation)."""
    _h, w = strip.shape
    out = np.zeros((grid.n, 16 * 28), dtype=np.float32)
    for k in range(grid.n):
        cx = grid.center(k)
        x0, x1 = round(cx - grid.pitch / 2), round(cx + grid.pitch / 2)
        cell = strip[:, max(0, x0) : min(w, x1)]
        if cell.size == 0:
            continue
        v = cv2.resize(cell, (16, 28), interpolation=cv2.INTER_AREA).astype(np.float32).ravel()
        v -= v.mean()
        out[k] = v / (np.linalg.norm(v) + 1e-6)
    return out


def _glyph_vectors(strip: np.ndarray, grid: _Grid, char_h: float) -> np.ndarray:
    """Each cell's glyph, cut out around its own ink centroid (so two prints of the same character line
    up however the grid falls), resampled to _GLYPH_SIZE, zero-mean and unit-norm."""
    img = strip.astype(np.float32)
    paper = float(np.percentile(img, 90))
    ink = np.clip(paper - img, 0, None) ** 2
    h, w = img.shape
    half_w, half_h = grid.pitch / 2, char_h * 0.6
    pad = int(np.ceil(max(half_w, half_h))) + 2
    padded = cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=paper)
    out = np.zeros((grid.n, _GLYPH_SIZE[0] * _GLYPH_SIZE[1]), dtype=np.float32)
    # The centroid is taken over the line's own rows: a strip's edges may hold bits of the next line.
    r0, r1 = max(0, round(h / 2 - char_h * 0.75)), min(h, round(h / 2 + char_h * 0.75))
    ink[:r0] = 0
    ink[r1:] = 0
    ys = np.arange(h, dtype=np.float32)[:, None]
    for k in range(grid.n):
        cx = grid.center(k)
        x0, x1 = max(0, round(cx - half_w)), min(w, round(cx + half_w))
        if x1 <= x0:
            continue
        window = ink[:, x0:x1]
        total = float(window.sum())
        if total <= 0:
            continue
        mx = float((window * np.arange(x0, x1, dtype=np.float32)[None, :]).sum()) / total
        my = float((window * ys).sum()) / total
        a, b = round(mx - half_w) + pad, round(my - half_h) + pad
        cell = padded[b : b + round(2 * half_h), a : a + round(2 * half_w)]
        if cell.size == 0:
            continue
        v = cv2.resize(cell, _GLYPH_SIZE, interpolation=cv2.INTER_AREA).ravel()
        v = v - v.mean()
        out[k] = v / (np.linalg.norm(v) + 1e-6)
    return out


def _fillers(vectors: np.ndarray, votes: np.ndarray, heights: np.ndarray) -> np.ndarray | None:
    """Which cells hold the filler '<'. It is the MRZ's most repeated glyph and always printed the
    same way, so its cells form a tight cluster; Tesseract, which often miscounts long runs of '<',
    still names enough of them to tell that cluster from a repeated letter. Returns a boolean mask."""
    sim = vectors @ vectors.T
    close = sim > 0.8
    best, best_votes = None, 0.0
    seen = np.zeros(len(vectors), dtype=bool)
    for seed in np.argsort(-close.sum(axis=1)):
        if seen[seed] or close[seed].sum() < 2:
            continue
        members = close[seed]
        seen |= members
        v = float(votes[members].sum())
        if v > best_votes:
            best, best_votes = members, v
    if best is None or best_votes < max(2.0, 0.3 * best.sum()):
        return None
    template = vectors[best].mean(axis=0)
    template /= np.linalg.norm(template) + 1e-6
    sim = vectors @ template
    strong = sim > _FILLER_SIMILARITY
    # A noisy filler can fall short of the strong match; it still looks more like '<' than anything
    # else does, and either Tesseract named it or it has the filler's lower height.
    filler_h = float(np.median(heights[strong & (heights > 0)])) if np.any(strong & (heights > 0)) else 0.0
    glyph_h = float(np.median(heights[~strong & (heights > 0)])) if np.any(~strong & (heights > 0)) else 0.0
    short = (heights > 0) & (np.abs(heights - filler_h) < np.abs(heights - glyph_h))
    if glyph_h - filler_h < 2.0:
        short[:] = False
    return strong | ((sim > _FILLER_WEAK) & ((votes > 0) | short))


def _pad(image: np.ndarray, size: float) -> np.ndarray:
    """White margins: Tesseract reads a glyph touching the image edge badly."""
    pad = max(2, int(size / 2))
    white = int(np.percentile(image, 90)) if image.size else 255
    return cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=white)


def _cell_image(strip: np.ndarray, grid: _Grid, first: int, last: int, margin: float) -> np.ndarray:
    """Cells first..last of a line strip, from `margin` pitches before the first cell's centre to as far
    after the last one's, with white margins: what the engine reads one cell or one run at a time."""
    x0 = int(max(0, grid.center(first) - grid.pitch * margin))
    x1 = int(min(strip.shape[1], grid.center(last) + grid.pitch * margin))
    return _pad(strip[:, x0:x1], grid.pitch)


def _filler_votes(whole: list[list[tuple[str, float, float]]], grids: list[_Grid], n: int) -> np.ndarray:
    """1 for each cell (all lines in order, n per line) where the engine's whole-line reading put a '<'."""
    votes = np.zeros(n * len(grids))
    for li, (syms, g) in enumerate(zip(whole, grids, strict=True)):
        for ch, _, x in syms:
            k = g.cell(x)
            if ch == "<" and 0 <= k < n:
                votes[li * n + k] = 1.0
    return votes
