"""Worker side, MRZ reading (see the package docstring), the step that drives the others: MrzReader takes
a page, asks zone.py for candidate zones, lays each one's cells out with cells.py, reads them with a warm
Tesseract constrained by the format (codes.py), settles what the engine wavers over from the document's
own prints, and hands the lines to parse.py. The runner calls MrzReader.read once per job."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tesserocr import OEM, PSM, RIL, PyTessBaseAPI, iterate_level

from ocrgw.pipeline.mrz.cells import (
    _cell_heights,
    _cell_image,
    _cell_vectors,
    _filler_votes,
    _fillers,
    _fit_grid,
    _format_for,
    _glyph_centres,
    _glyph_vectors,
    _Grid,
    _normalised,
    _pad,
    _regrid,
    _strip,
)
from ocrgw.pipeline.mrz.codes import (
    _ALPHABET,
    _CLASS,
    _CONFUSABLE,
    _DIGITS,
    _LETTER_LOOKALIKES,
    _LETTERS,
    _LOOKALIKE,
    _OTHER_CLASS,
    _TEMPLATES,
    FORMATS,
    WHITELIST,
    _valid_code,
)
from ocrgw.pipeline.mrz.parse import _LOWERED, _MIN_PLAUSIBLE, _Line, _parse, _plausibility, _Reading, _score
from ocrgw.pipeline.mrz.zone import _Band, _band, _downscale, _groups, _text_lines

_SAME_GLYPH = 0.92  # on the specimens the same character scores 0.95-0.99, different ones below 0.85
_VOTE_MARGIN = 0.1  # summed confidence by which another reading must beat the cell's own
_OTHER_GLYPH = 0.65  # below this a cell is not the character of the document's other prints of it
_EXEMPLAR_CONF = 0.8  # what a print must have been read with to speak for its character

# What the engine saw: (symbol, confidence 0..1, x centre) per symbol.
_Symbols = list[tuple[str, float, float]]


@dataclass
class _Layout:
    """One candidate zone, upright or turned, as the reader works on it: each line's strip as scanned and
    binarised, its cell grid, the engine's unconstrained reading of it, and per cell (all lines in
    order) the ink height, whether it holds a filler, and its glyph vector."""

    fmt: str
    quad: list[float]  # the zone's corners in the page's pixels, reported as the result's "box"
    strips: list[np.ndarray]
    binaries: list[np.ndarray]
    grids: list[_Grid]
    whole: list[_Symbols]
    heights: list[np.ndarray]
    fillers: np.ndarray
    glyphs: np.ndarray


class MrzReader:
    """A warm Tesseract restricted to the MRZ alphabet, kept per worker process like the page engine
    (initialising a model costs far more than reading two lines)."""

    def __init__(self, tessdata_dir: Path) -> None:
        self._api = PyTessBaseAPI(
            path=str(tessdata_dir) + "/",
            lang="eng",
            psm=PSM.SINGLE_LINE,
            oem=OEM.LSTM_ONLY,
            # Dictionaries pull reads toward English words; an MRZ holds none.
            variables={"load_system_dawg": "F", "load_freq_dawg": "F"},
        )
        self._lock = threading.Lock()

    def close(self) -> None:
        self._api.End()

    def read(self, gray: np.ndarray) -> dict | None:
        """The zone's fields, checks and per-field confidence, or None when the page has no MRZ."""
        gray = np.ascontiguousarray(gray, dtype=np.uint8)
        if gray.ndim != 2 or min(gray.shape) < 40:
            return None
        small, scale = _downscale(gray)
        lines = _text_lines(small)
        best: tuple | None = None
        with self._lock:
            for members in _groups(lines)[:4]:
                band = _band(gray, lines, members, scale)
                for turned in (False, True):  # an upside-down page shows its zone at the top, rotated
                    found = self._read_band(band, turned)
                    if found is not None and (best is None or found[0] > best[0]):
                        best = found
                    if best is not None and best[1]["valid"]:
                        return best[1]
        return None if best is None else best[1]

    def _read_band(self, band: _Band, turned: bool) -> tuple[tuple, dict] | None:
        """One candidate zone read from its strips as scanned, and again from their binarised copies
        unless the first reading is valid; the better of the two by _score. None when the band is no
        MRZ."""
        layout = self._lay_out(band, turned)
        if layout is None:
            return None
        best: tuple[tuple, dict] | None = None
        for variant in (layout.strips, layout.binaries):
            found = self._read_variant(layout, variant)
            if found is None:
                return None  # the same whole-line reading decides for the second variant too
            if best is None or found[0] > best[0]:
                best = found
            if found[1]["valid"]:
                break
        return best

    def _lay_out(self, band: _Band, turned: bool) -> _Layout | None:
        """The band's lines cut into strips, their cells gridded (the line count and cells per line
        name the format), and the cell features the reading needs. None when the lines do not grid
        as an MRZ or show no fillers."""
        image, centers, quad = band.image, list(band.line_centers), band.quad
        if turned:
            image = cv2.rotate(image, cv2.ROTATE_180)
            centers = [image.shape[0] - c for c in reversed(centers)]
            quad = quad[4:] + quad[:4]
        char_h = band.char_height
        strips = [_strip(image, c, char_h) for c in centers]
        binaries = [_normalised(s) for s in strips]
        gridded = _line_grids(binaries, char_h)
        if gridded is None:
            return None
        fmt, grids = gridded
        n = FORMATS[fmt][1]
        # Tesseract's reading of whole lines names the fillers; the cell images say where they are.
        whole = [self._ocr_whole(s) for s in strips]
        vectors = np.concatenate([_cell_vectors(s, g) for s, g in zip(strips, grids, strict=True)])
        votes = _filler_votes(whole, grids, n)
        heights = [_cell_heights(b, char_h, g) for b, g in zip(binaries, grids, strict=True)]
        fillers = _fillers(vectors, votes, np.concatenate(heights))
        if fillers is None:
            return None
        glyphs = np.concatenate([_glyph_vectors(s, g, char_h) for s, g in zip(strips, grids, strict=True)])
        return _Layout(fmt, quad, strips, binaries, grids, whole, heights, fillers, glyphs)

    def _read_variant(self, layout: _Layout, variant: list[np.ndarray]) -> tuple[tuple, dict] | None:
        """Every line read cell by cell from `variant` (the strips or their binarised copies), then
        settled by glyph height, by the document's own prints and by the valid codes, and parsed; with
        its _score. None when the unconstrained reading is too unlike an MRZ."""
        fmt, grids = layout.fmt, layout.grids
        n = FORMATS[fmt][1]
        lines, free, fixes = [], [], []
        for li, template in enumerate(_TEMPLATES[fmt]):
            line, unconstrained, line_fixes = self._read_cells(
                variant[li], grids[li], layout.fillers[li * n : (li + 1) * n], template, layout.whole[li]
            )
            lines.append(line)
            free.append(unconstrained)
            fixes += [{"line": li, **f} for f in line_fixes]
        plaus = _plausibility(fmt, free)
        if plaus < _MIN_PLAUSIBLE:
            return None
        fixes += self._by_height(fmt, lines, layout.heights, variant, grids)
        fixes += _by_template(fmt, lines, layout.glyphs, layout.fillers)
        fixes += self._by_mismatch(fmt, lines, layout.glyphs, layout.fillers, layout.strips, grids)
        fixes += self._valid_codes(fmt, lines, layout.strips, grids)
        result = _parse(_Reading(fmt, lines, fixes))
        result["box"] = layout.quad
        return _score(result, plaus), result

    def _by_height(
        self, fmt: str, lines: list[_Line], heights: list[np.ndarray], strips: list[np.ndarray], grids: list[_Grid]
    ) -> list[dict]:
        """Letter or digit in a free (alphanumeric) cell, where O/0, I/1, S/5, B/8 look alike to the
        engine: OCR-B as printed often sets digits taller than capitals, so when this document's
        digit-only cells are measurably taller than its letter-only cells, a confusable glyph's own
        height tells its class, and the cell is read again within that class. Measured per document;
        without a clear difference nothing is changed. Each change is reported."""
        refs = _class_heights(fmt, lines, heights)
        if refs is None:
            return []
        d_ref, l_ref = refs
        fixes = []
        for li, (line, template) in enumerate(zip(lines, _TEMPLATES[fmt], strict=True)):
            chars = list(line.text)
            for k, (ch, cls) in enumerate(zip(chars, template, strict=True)):
                h = heights[li][k]
                if cls != "X" or ch not in _CONFUSABLE or h <= 0:
                    continue
                want = _DIGITS if abs(h - d_ref) < abs(h - l_ref) else _LETTERS
                if ch in want:
                    continue
                cell = _cell_image(strips[li], grids[li], k, k, 0.55)
                again = self._ocr(cell, want, PSM.SINGLE_CHAR) or self._ocr(cell, want, PSM.SINGLE_LINE)
                if len(again) == 1:
                    used, conf = again[0][0], again[0][1]
                else:  # the engine sees no glyph of that class: the usual look-alike of the one it saw
                    used, conf = _LOOKALIKE[ch], line.conf[k] * 0.8
                fixes.append({"line": li, "position": k, "read": ch, "used": used, "reason": "glyph height"})
                chars[k] = used
                line.conf[k] = min(line.conf[k], conf)
            line.text = "".join(chars)
        return fixes

    def _by_mismatch(
        self,
        fmt: str,
        lines: list[_Line],
        glyphs: np.ndarray,
        fillers: np.ndarray,
        strips: list[np.ndarray],
        grids: list[_Grid],
    ) -> list[dict]:
        """The converse of _by_template, for a glyph printed once: a cell read as a character the
        document also shows elsewhere, confidently, but whose image looks nothing like those prints
        (correlation < _OTHER_GLYPH where prints of one character score > 0.9) is not that character
        (a lone G read as 6 is the usual case). It is read again without it, within its position's
        alphabet, and the new reading is kept unless it too contradicts the document's own prints.
        Each change is reported, with the confidence of the new reading."""
        n = FORMATS[fmt][1]
        labels = [("<" if fillers[li * n + k] else line.text[k]) for li, line in enumerate(lines) for k in range(n)]
        confs = np.array([c for line in lines for c in line.conf])
        has = np.abs(glyphs).sum(axis=1) > 0
        fixes = []
        for idx, ch in enumerate(labels):
            if ch in "<?" or not has[idx]:
                continue
            li, k = divmod(idx, n)
            others = [
                j for j, lab in enumerate(labels) if lab == ch and j != idx and has[j] and confs[j] >= _EXEMPLAR_CONF
            ]
            if not others or float(np.max(glyphs[others] @ glyphs[idx])) >= _OTHER_GLYPH:
                continue
            alphabet = _ALPHABET[_CLASS[_TEMPLATES[fmt][li][k]]].replace(ch, "")
            again = self._ocr(_cell_image(strips[li], grids[li], k, k, 0.55), alphabet, PSM.SINGLE_CHAR)
            if len(again) != 1:
                continue
            used, conf = again[0][0], again[0][1]
            theirs = [j for j, lab in enumerate(labels) if lab == used and has[j] and confs[j] >= _EXEMPLAR_CONF]
            if theirs and float(np.max(glyphs[theirs] @ glyphs[idx])) < _SAME_GLYPH:
                continue
            line = lines[li]
            line.text = line.text[:k] + used + line.text[k + 1 :]
            line.conf[k] = min(line.conf[k], conf)
            labels[idx] = used
            fixes.append({"line": li, "position": k, "read": ch, "used": used, "reason": "unlike the document's " + ch})
        return fixes

    def _valid_codes(self, fmt: str, lines: list[_Line], strips: list[np.ndarray], grids: list[_Grid]) -> list[dict]:
        """The issuing state and nationality must be ICAO codes and the document code must start with
        P, I, A, C or V. A read that is none of these is replaced by the valid value needing the fewest
        changed characters, each change one of the read glyph's OCR-B look-alikes; among equals, the
        engine's own second choices for those cells decide. Without any such value, or with a tie
        the engine cannot break, the read stays. A replacement is reported and halves the field's
        confidence; check digits play no part."""
        nat_line, nat_at = (1, 10) if fmt in ("TD3", "TD2") else (1, 15)
        fields = (("document_type", 0, 0, 1), ("country_code", 0, 2, 3), ("nationality", nat_line, nat_at, 3))
        fixes = []
        for name, li, start, width in fields:
            line = lines[li]
            read = line.text[start : start + width]
            if _valid_code(name, read):
                continue
            best = _nearest_codes(name, read)
            if len(best) > 1:
                best = self._by_choices(best, strips[li], grids[li], start)
            if len(best) != 1:
                continue
            value = best[0]
            line.text = line.text[:start] + value + line.text[start + width :]
            for k in range(start, start + width):
                line.conf[k] *= _LOWERED
            fixes.append(
                {
                    "line": li,
                    "position": start,
                    "read": read,
                    "used": value,
                    "reason": "not a document code" if name == "document_type" else "not an ICAO code",
                }
            )
        return fixes

    def _by_choices(self, values: list[str], strip: np.ndarray, grid: _Grid, start: int) -> list[str]:
        """Those of equally near valid codes (all the same width, starting at cell `start`) that the
        engine's own alternatives for the cells where they differ support best."""
        scores = {v: 0.0 for v in values}
        for k in range(len(values[0])):
            if len({v[k] for v in values}) == 1:
                continue
            choices = self._choices(_cell_image(strip, grid, start + k, start + k, 0.55))
            for v in values:
                scores[v] += choices.get(v[k], 0.0)
        top = max(scores.values())
        return [v for v in values if scores[v] == top]

    def _choices(self, cell: np.ndarray) -> dict[str, float]:
        """The engine's alternatives (letters) for one cell with their confidences, 0..1."""
        api = self._api
        api.SetVariable("lstm_choice_mode", "2")
        try:
            found: dict[str, float] = {}
            self._ocr(cell, _LETTERS, PSM.SINGLE_CHAR)
            ri = api.GetIterator()
            if ri is not None:
                for it in iterate_level(ri, RIL.SYMBOL):
                    for choice in it.GetChoiceIterator():
                        ch = choice.GetUTF8Text()
                        found[ch] = max(found.get(ch, 0.0), choice.Confidence() / 100.0)
                    break
            return found
        finally:
            api.SetVariable("lstm_choice_mode", "0")

    def _ocr_whole(self, strip: np.ndarray) -> _Symbols:
        """The unconstrained reading of a whole line: it names the fillers (if not their number) and
        tells an MRZ from ordinary text."""
        pad = max(2, int(strip.shape[0] / 4))
        return [
            (ch, conf, x - pad)
            for ch, conf, x in self._ocr(_pad(strip, strip.shape[0] / 2), WHITELIST, PSM.SINGLE_LINE)
        ]

    def _read_cells(
        self, strip: np.ndarray, grid: _Grid, fillers: np.ndarray, template: str, whole: _Symbols
    ) -> tuple[_Line, str, list[dict]]:
        """Fillers come from the cell images; the other cells are read in runs of one character class
        with that class's alphabet (the format dictates it: a date holds digits only), so nothing can be
        dropped, doubled or read as the wrong class. Runs of free (alphanumeric) cells, where
        Tesseract's language context hurts most, are read a cell at a time.

        Returns the line, the unconstrained whole-line reading per cell (for plausibility), and the
        cells where the class alphabet made the difference, as reported fixes."""
        n = grid.n
        chars = ["<" if f else "?" for f in fillers]
        confs = [0.95 if f else 0.0 for f in fillers]
        by_cell = _by_cell(whole, grid)
        # Tesseract often stops naming a long run of fillers part-way (seed 1036's name line came back as
        # 20 of 44 symbols); a cell it left unnamed whose image is a filler counts as one, or the line
        # would look implausible and the zone be dropped.
        free = "".join(by_cell.get(k, ("<" if fillers[k] else "?", 0.0))[0] for k in range(n))
        k = 0
        while k < n:
            if fillers[k]:
                k += 1
                continue
            cls = _CLASS[template[k]]
            end = k + 1
            while end < n and not fillers[end] and _CLASS[template[end]] == cls and cls not in ("X", "S"):
                end += 1
            self._read_run(strip, grid, k, end, _ALPHABET[cls], by_cell, chars, confs)
            k = end
        fixes = [
            {"position": i, "read": free[i], "used": chars[i]}
            for i in range(n)
            if not fillers[i] and free[i] != chars[i] and free[i] in _OTHER_CLASS.get(_CLASS[template[i]], "")
        ]
        return _Line("".join(chars), confs), free, fixes

    def _read_run(
        self,
        strip: np.ndarray,
        grid: _Grid,
        start: int,
        end: int,
        alphabet: str,
        by_cell: dict[int, tuple[str, float]],
        chars: list[str],
        confs: list[float],
    ) -> None:
        """Cells start..end-1 of one class, read into `chars` and `confs`: the run at once when the engine
        returns exactly one symbol per cell, else cell by cell, falling back to the whole-line reading
        (at half its confidence) where a cell alone gives nothing of the class."""
        read: _Symbols = []
        if end - start > 1:
            read = self._ocr(_cell_image(strip, grid, start, end - 1, 0.6), alphabet, PSM.SINGLE_LINE)
        if len(read) == end - start:
            for i, (ch, conf, _) in enumerate(read):
                chars[start + i], confs[start + i] = ch, conf
            return
        for i in range(start, end):
            one = self._ocr(_cell_image(strip, grid, i, i, 0.55), alphabet, PSM.SINGLE_CHAR)
            if len(one) == 1:
                chars[i], confs[i] = one[0][0], one[0][1]
            elif i in by_cell and by_cell[i][0] in alphabet:
                chars[i], confs[i] = by_cell[i][0], by_cell[i][1] * 0.5

    def _ocr(self, image: np.ndarray, alphabet: str, psm: int) -> _Symbols:
        """(symbol, confidence 0..1, x centre in `image`) of one line or one cell."""
        h, w = image.shape
        api = self._api
        api.SetPageSegMode(psm)
        api.SetVariable("tessedit_char_whitelist", alphabet)
        api.SetImageBytes(np.ascontiguousarray(image).tobytes(), w, h, 1, w)
        api.Recognize()
        out: _Symbols = []
        ri = api.GetIterator()
        if ri is None:
            return out
        for it in iterate_level(ri, RIL.SYMBOL):
            if it.Empty(RIL.SYMBOL):
                continue
            sym = (it.GetUTF8Text(RIL.SYMBOL) or "").strip()
            box = it.BoundingBox(RIL.SYMBOL)
            if len(sym) != 1 or sym not in alphabet or not box:
                continue
            out.append((sym, max(0.0, min(1.0, it.Confidence(RIL.SYMBOL) / 100.0)), (box[0] + box[2]) / 2))
        return out


def _line_grids(binaries: list[np.ndarray], char_h: float) -> tuple[str, list[_Grid]] | None:
    """The format the lines' count and glyphs per line name, and each line's grid of exactly that many
    cells (a line whose blobs miscounted is gridded again from its end glyphs). None when a line
    cannot be gridded or the counts fit no format."""
    fitted = [_fit_grid(_glyph_centres(b, char_h)) for b in binaries]
    first = [g for g in fitted if g is not None]
    if len(first) != len(fitted):
        return None
    fmt = _format_for(len(binaries), [g.n for g in first])
    if fmt is None:
        return None
    n = FORMATS[fmt][1]
    regridded = [
        _Grid(g.x0, g.pitch, n) if g.n == n else _regrid(b, char_h, n) for g, b in zip(first, binaries, strict=True)
    ]
    grids = [g for g in regridded if g is not None]
    if len(grids) != len(regridded):
        return None
    return fmt, grids


def _by_cell(whole: _Symbols, grid: _Grid) -> dict[int, tuple[str, float]]:
    """The whole-line reading per cell: the most confident symbol whose centre falls in it."""
    by_cell: dict[int, tuple[str, float]] = {}
    for ch, conf, x in whole:
        k = grid.cell(x)
        if 0 <= k < grid.n and conf > by_cell.get(k, ("", -1.0))[1]:
            by_cell[k] = (ch, conf)
    return by_cell


def _class_heights(fmt: str, lines: list[_Line], heights: list[np.ndarray]) -> tuple[float, float] | None:
    """The document's typical digit and letter heights (medians over the cells whose position allows only
    one class), or None when there are too few of either or digits are not clearly the taller."""
    digit_h, letter_h = [], []
    for li, (line, template) in enumerate(zip(lines, _TEMPLATES[fmt], strict=True)):
        for k, (ch, cls) in enumerate(zip(line.text, template, strict=True)):
            h = heights[li][k]
            if h <= 0:
                continue
            if _CLASS[cls] == "D" and ch.isdigit():
                digit_h.append(h)
            elif cls == "A" and ch.isalpha():
                letter_h.append(h)
    if len(digit_h) < 6 or len(letter_h) < 6:
        return None
    d_ref, l_ref = float(np.median(digit_h)), float(np.median(letter_h))
    spread = (
        float(
            np.percentile(digit_h, 75)
            - np.percentile(digit_h, 25)
            + np.percentile(letter_h, 75)
            - np.percentile(letter_h, 25)
        )
        / 2
    )
    if d_ref - l_ref < max(0.04 * l_ref, 2.0 * spread, 1.5):
        return None
    return d_ref, l_ref


def _nearest_codes(name: str, read: str) -> list[str]:
    """The valid values of field `name` reachable from `read` by swapping characters for their OCR-B
    look-alikes, with the fewest swaps; empty when none is."""
    options = [[(ch, 0, 0.0)] + [(alt, 1, 0.0) for alt in _LETTER_LOOKALIKES.get(ch, "")] for ch in read]
    candidates = []
    for combo in itertools.product(*options):
        value = "".join(c for c, _, _ in combo)
        if _valid_code(name, value):
            candidates.append((sum(cost for _, cost, _ in combo), value))
    if not candidates:
        return []
    fewest = min(cost for cost, _ in candidates)
    return [v for cost, v in candidates if cost == fewest]


def _by_template(fmt: str, lines: list[_Line], glyphs: np.ndarray, fillers: np.ndarray) -> list[dict]:
    """Every character of a zone is printed in the same font at the same size, so cells whose images
    match closely (normalised correlation >= _SAME_GLYPH) hold the same character, whatever the engine
    made of each: within such a group the reading with the most confidence behind it wins, among the
    characters the cell's position allows. This is what tells G from 6, O from 0 and D, 5 from 3 where
    the engine wavers over one print but reads another of the same glyph well; a glyph printed once gets
    no second opinion. A cell changes only on a clear majority; each change is reported and the cell's
    confidence falls to the share of the vote behind it. Check digits play no part."""
    templates = _TEMPLATES[fmt]
    n = FORMATS[fmt][1]
    labels, confs, allowed = [], [], []
    for li, (line, template) in enumerate(zip(lines, templates, strict=True)):
        for k in range(n):
            labels.append("<" if fillers[li * n + k] else line.text[k])
            confs.append(line.conf[k])
            allowed.append(_ALPHABET[_CLASS[template[k]]])
    usable = np.array([ch != "<" for ch in labels]) & (np.abs(glyphs).sum(axis=1) > 0)
    sim = glyphs @ glyphs.T
    fixes = []
    new_labels = list(labels)
    for idx in np.flatnonzero(usable):
        ch = labels[idx]
        votes: dict[str, float] = {}
        for j in np.flatnonzero(usable & (sim[idx] >= _SAME_GLYPH)):
            lab = labels[j]
            if lab in allowed[idx]:
                votes[lab] = votes.get(lab, 0.0) + confs[j]
        if not votes:
            continue
        winner = max(votes, key=lambda lab: votes[lab])
        total = sum(votes.values())
        if winner == ch or votes[winner] - votes.get(ch, 0.0) < _VOTE_MARGIN:
            continue
        new_labels[idx] = winner
        li, k = divmod(int(idx), n)
        lines[li].conf[k] = min(lines[li].conf[k], votes[winner] / total) if ch != "?" else votes[winner] / total
        fixes.append(
            {
                "line": li,
                "position": k,
                "read": ch,
                "used": winner,
                "reason": "document glyphs",
                "votes": {lab: round(v, 3) for lab, v in votes.items()},
            }
        )
    for li, line in enumerate(lines):
        chars = list(line.text)
        for k in range(n):
            if not fillers[li * n + k]:
                chars[k] = new_labels[li * n + k]
        line.text = "".join(chars)
    return fixes
