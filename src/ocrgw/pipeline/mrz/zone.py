"""Worker side, MRZ reading (see the package docstring), first step: where on the page the zone is. Long,
parallel, evenly spaced text lines of equal length are grouped as candidate zones, and each candidate is
resampled straight, at the height the reader reads best, into a _Band for the reader (reader.py)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Detection works on a copy whose longer side is this long: an MRZ on a whole page keeps characters of
# ~12-25 px there, enough to see them and few enough pixels to cost a few ms.
_DETECT_SIDE = 1000
# Lines are read at this character (cap) height: Tesseract's LSTM is most accurate from ~25-40 px.
_READ_HEIGHT = 36

# A text line of the detection copy: (centre, unit direction, length, height).
_TextLine = tuple[tuple[float, float], tuple[float, float], float, float]


@dataclass
class _Band:
    """A candidate MRZ: its text lines, straightened. `to_src` maps band pixels to image pixels."""

    image: np.ndarray  # the straightened band, grayscale
    line_centers: list[float]  # y of each line's centre in `image`
    char_height: float  # px in `image`
    to_src: np.ndarray  # 2x3 affine
    quad: list[float]  # the zone's corners (TL, TR, BR, BL) in the image's pixels


def _downscale(gray: np.ndarray) -> tuple[np.ndarray, float]:
    """The detection copy (longer side _DETECT_SIDE) and its scale from the page."""
    h, w = gray.shape
    scale = _DETECT_SIDE / max(h, w)
    if abs(scale - 1.0) < 0.02:
        return gray, 1.0
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(gray, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=interp), scale


def _text_lines(small: np.ndarray) -> list[_TextLine]:
    """Long text lines of the detection copy as (centre, direction, length, height): characters are
    picked out with a blackhat (dark on light, smaller than the kernel), shapes that are not
    character-like (page edges, photo outlines, guilloche) are dropped, and the rest is closed along
    the line."""
    blurred = cv2.GaussianBlur(small, (3, 3), 0)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (25, 25))
    blackhat = cv2.morphologyEx(blurred, cv2.MORPH_BLACKHAT, kernel)
    _, mask = cv2.threshold(blackhat, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    _n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    w_, h_, area = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT], stats[:, cv2.CC_STAT_AREA]
    keep = (h_ >= 6) & (h_ <= 60) & (w_ <= 2.0 * h_ + 4) & (area >= 12) & (area <= 0.9 * w_ * h_ + 1)
    keep[0] = False
    if keep.sum() < 20:
        return []
    chars = np.where(keep[labels], np.uint8(255), np.uint8(0))
    char_h = float(np.median(h_[keep]))
    width = max(9, round(char_h * 1.4) | 1)
    closed = cv2.morphologyEx(chars, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (width, 1)))
    contours, _ = cv2.findContours(closed, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    out: list[_TextLine] = []
    for cnt in contours:
        (cx, cy), (rw, rh), angle = cv2.minAreaRect(cnt)
        if rw < rh:
            rw, rh, angle = rh, rw, angle + 90
        if angle > 90:
            angle -= 180
        if rh < 5 or rw < 12 * rh or abs(angle) > 20:
            continue
        rad = np.deg2rad(angle)
        out.append(((cx, cy), (float(np.cos(rad)), float(np.sin(rad))), float(rw), float(rh)))
    return out


def _groups(lines: list[_TextLine]) -> list[list[int]]:
    """Sets of 2 or 3 lines that look like an MRZ: parallel, about equally long and high, starting in
    the same column, evenly and closely spaced; longest first."""
    groups: list[list[int]] = []
    order = sorted(range(len(lines)), key=lambda i: -lines[i][2])
    for i in order:
        (cx, cy), (dx, dy), length, height = lines[i]
        nx, ny = -dy, dx  # normal, pointing down the page when upright
        members = [i]
        for j, ((ox, oy), (ex, ey), olen, oh) in enumerate(lines):
            if j == i:
                continue
            if abs(dx * ey - dy * ex) > np.sin(np.deg2rad(2.5)):
                continue
            if abs(olen - length) > 0.12 * length or not 0.6 < oh / height < 1.6:
                continue
            along = (ox - cx) * dx + (oy - cy) * dy
            across = (ox - cx) * nx + (oy - cy) * ny
            if abs(along) > 0.08 * length or abs(across) > 4.5 * 2 * height * 1.0 + 1:
                continue
            members.append(j)
        if len(members) < 2:
            continue
        members.sort(key=lambda k: (lines[k][0][0] - cx) * nx + (lines[k][0][1] - cy) * ny)
        offsets = [(lines[k][0][0] - cx) * nx + (lines[k][0][1] - cy) * ny for k in members]
        gaps = np.diff(offsets)
        if len(members) > 3 or np.any(gaps < 1.2 * height) or np.any(gaps > 4.0 * height):
            continue
        if len(gaps) > 1 and max(gaps) > 1.4 * min(gaps):
            continue
        key = tuple(members)
        if key not in [tuple(g) for g in groups]:
            groups.append(members)
    groups.sort(key=lambda g: -sum(lines[k][2] for k in g))
    return groups


def _band(gray: np.ndarray, lines: list[_TextLine], members: list[int], scale: float) -> _Band:
    """The candidate zone `members` of `lines` cut from the full-size page, rotated level and scaled to
    _READ_HEIGHT in one warp."""
    sel = [lines[k] for k in members]
    dx = float(np.mean([ln[1][0] for ln in sel]))
    dy = float(np.mean([ln[1][1] for ln in sel]))
    norm = np.hypot(dx, dy)
    dx, dy = dx / norm, dy / norm
    nx, ny = -dy, dx
    cx = float(np.mean([ln[0][0] for ln in sel])) / scale
    cy = float(np.mean([ln[0][1] for ln in sel])) / scale
    length = max(ln[2] for ln in sel) / scale
    char_h = float(np.median([ln[3] for ln in sel])) / scale
    offsets = [((ln[0][0] / scale - cx) * nx + (ln[0][1] / scale - cy) * ny) for ln in sel]
    top, bottom = min(offsets) - char_h * 1.1, max(offsets) + char_h * 1.1
    half_len = length / 2 + char_h * 1.2
    # Resample straight at the reading size: one warp does rotation, crop and scaling.
    zoom = _READ_HEIGHT / max(char_h, 1.0)
    out_w = round(2 * half_len * zoom)
    out_h = round((bottom - top) * zoom)
    # band (u, v) -> source: origin at the band's top-left corner along the line direction.
    ox = cx - half_len * dx + top * nx
    oy = cy - half_len * dy + top * ny
    to_src = np.array([[dx / zoom, nx / zoom, ox], [dy / zoom, ny / zoom, oy]], dtype=np.float64)
    image = cv2.warpAffine(
        gray, to_src, (out_w, out_h), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE
    )
    centers = [(o - top) * zoom for o in offsets]
    q = []
    for u, v in ((0, 0), (out_w, 0), (out_w, out_h), (0, out_h)):
        x, y = to_src @ np.array([u, v, 1.0])
        q += [round(float(x), 1), round(float(y), 1)]
    return _Band(image, centers, _READ_HEIGHT, to_src, q)
