"""Selection marks (``pipeline.structure.marks``): real Tesseract readings of tests/data's forms (the rendered
order form with five kinds of box among square letters and table cells, the 100-dpi request form), and the
rules on drawn boxes where no engine is needed."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image
from tests.conftest import doc

from ocrgw.pipeline.engines.tesseract import RawLine, RawWord, TesseractEngine
from ocrgw.pipeline.layout import order_lines
from ocrgw.pipeline.orient import read_page
from ocrgw.pipeline.structure.marks import Mark, _drop_nested, covered_words, drop_covered, fill_ratio, find_marks
from ocrgw.settings import Settings

# tests/render_documents.py: CHECKBOX_STATES, top to bottom (empty, crossed, ticked, filled, empty in grey)
CHECKBOXES = [False, True, True, True, False]
LABELS = ("Daily", "Weekly", "Twice", "Only", "Do")


@pytest.fixture(scope="module")
def engine() -> TesseractEngine:
    eng = TesseractEngine(Settings().resolved_tessdata_dir, "eng")
    yield eng
    eng.close()


def read(engine: TesseractEngine, name: str) -> tuple[np.ndarray, list[RawLine]]:
    """The engine image and the lines in reading order, as a worker has them after ``reader.read``."""
    with Image.open(doc(name)) as im:
        gray = np.asarray(im.convert("L"))
    reading = read_page(gray, None, engine, None)
    assert reading.image is not None
    return reading.image, order_lines(reading.lines, "basic")


def label_right_of(mark: Mark, lines: list[RawLine]) -> str:
    """The first word of a label that starts right of the mark on its row (the engine may glue junk read
    from the frame in front of it)."""
    cy = (mark.box[1] + mark.box[3]) / 2
    words = sorted(
        (w for ln in lines for w in ln.words if w.box[1] < cy < w.box[3] and w.box[0] >= mark.box[2] - 5),
        key=lambda w: w.box[0],
    )
    return " ".join(w.text for w in words)


def test_order_form_every_box_with_its_state_and_nothing_else(engine: TesseractEngine) -> None:
    image, lines = read(engine, "form/checkboxes.png")
    marks = find_marks(image, lines)
    assert [m.selected for m in marks] == CHECKBOXES  # not the "D", "O", "B" of the labels, not the table's cells
    for mark, label in zip(marks, LABELS, strict=True):
        assert label in [w.strip(",") for w in label_right_of(mark, lines).split()[:2]]
        x0, y0, x1, y1 = mark.box
        assert 0.8 < (x1 - x0) / (y1 - y0) < 1.25 and x1 - x0 > 20
        assert 0.5 <= mark.confidence <= 1


def test_covered_words_are_the_frames_misread_not_the_labels(engine: TesseractEngine) -> None:
    image, lines = read(engine, "form/checkboxes.png")
    marks = find_marks(image, lines)
    covered = covered_words(marks, lines)
    texts = [lines[i].words[j].text for i, j in covered]
    assert not any(t.startswith(LABELS) for t in texts)
    for i, j in covered:
        word = lines[i].words[j]
        assert any(word.box[0] < m.box[2] and m.box[0] < word.box[2] for m in marks)


def test_drop_covered_keeps_the_labels(engine: TesseractEngine) -> None:
    image, lines = read(engine, "form/checkboxes.png")
    marks = find_marks(image, lines)
    kept = drop_covered(lines, marks)
    words = [w for ln in kept for w in ln.words]
    assert not any(
        w.box[0] < m.box[2] and m.box[0] < w.box[2] and w.box[1] < m.box[3] and m.box[1] < w.box[3]
        for w in words
        for m in marks
        if not any(c.isalnum() for c in w.text)
    )
    assert sum(len(ln.words) for ln in kept) == sum(len(ln.words) for ln in lines) - len(covered_words(marks, lines))
    for label in LABELS:
        assert any(w.text.startswith(label) for w in words)
    trimmed = [ln for ln in kept if not any(ln is orig for orig in lines)]
    assert trimmed  # the frames the engine glued to a label's line
    for ln in trimmed:
        assert ln.box[0] == min(w.box[0] for w in ln.words) and ln.box[2] == max(w.box[2] for w in ln.words)


def test_request_form_100dpi_only_the_crossed_box(engine: TesseractEngine) -> None:
    """The 100-dpi form's three priority boxes (about 14 px in the scan): "Urgent" carries the cross."""
    image, lines = read(engine, "form/form_100dpi.png")
    marks = find_marks(image, lines)
    assert [m.selected for m in marks] == [False, True, False]
    assert "Urgent" in label_right_of(marks[1], lines)


def test_no_marks_on_a_page_of_text(engine: TesseractEngine) -> None:
    image, lines = read(engine, "page/tess_phototest.tif")
    assert find_marks(image, lines) == []


# --------------------------------------------------------------------------------------- drawn, no engine
def page_with_boxes(states: list[str]) -> tuple[np.ndarray, list[RawLine]]:
    """A white page with 40-px boxes in a row and a text line above them whose words are 40 px high (the
    text height the rules size boxes by)."""
    img = np.full((300, 200 + 120 * len(states)), 255, np.uint8)
    words = [RawWord(f"word{i}", (20 + 90 * i, 20, 100 + 90 * i, 60), 0.95) for i in range(3)]
    lines = [RawLine((20, 20, 280, 60), 0.95, 0, words)]
    for k, state in enumerate(states):
        x, y = 100 + 120 * k, 150
        img[y : y + 40, x : x + 3] = img[y : y + 40, x + 37 : x + 40] = 0
        img[y : y + 3, x : x + 40] = img[y + 37 : y + 40, x : x + 40] = 0
        if state == "cross":
            for t in range(6, 34):
                img[y + t, x + t - 1 : x + t + 2] = 0
                img[y + t, x + 39 - t - 1 : x + 39 - t + 2] = 0
        elif state == "fill":
            img[y + 8 : y + 32, x + 8 : x + 32] = 0
        elif state == "dot":  # a scanner speck, not a mark
            img[y + 19 : y + 21, x + 19 : x + 21] = 0
    return img, lines


def test_drawn_boxes_states() -> None:
    img, lines = page_with_boxes(["empty", "cross", "fill", "dot"])
    marks = find_marks(img, lines)
    assert [m.selected for m in marks] == [False, True, True, False]
    assert [m.box[0] for m in marks] == [100, 220, 340, 460]


def test_a_box_the_engine_read_inside_a_confident_word_is_a_letter() -> None:
    """The same frame, but the engine read it as a letter of a word that runs on past it, and is sure of
    the word: no mark. Unsure of it (a box glued to its label), the mark stays."""
    img, lines = page_with_boxes(["empty"])
    word = RawWord("Dated", (95, 145, 260, 195), 0.95)
    lines.append(RawLine(word.box, 0.95, 1, [word]))
    assert find_marks(img, lines) == []
    word.confidence = 0.4
    assert len(find_marks(img, lines)) == 1


def test_fill_ratio_ignores_the_frame() -> None:
    img, _ = page_with_boxes(["empty", "cross"])
    ink = (img < 128).astype(np.uint8)
    assert fill_ratio(ink, (100, 150, 140, 190)) == 0.0
    assert fill_ratio(ink, (220, 150, 260, 190)) > 0.2


# ----------------------------------------------------------------- drawn: the cases the FUNSD set missed
def blank_page() -> tuple[np.ndarray, list[RawLine]]:
    """As ``page_with_boxes``, without the boxes: a text line of 40-px words above an empty band."""
    img = np.full((300, 600), 255, np.uint8)
    words = [RawWord(f"word{i}", (20 + 90 * i, 20, 100 + 90 * i, 60), 0.95) for i in range(3)]
    return img, [RawLine((20, 20, 280, 60), 0.95, 0, words)]


def frame(img: np.ndarray, x: int, y: int, stroke: int = 3, sides: str = "tblr", size: int = 40) -> None:
    """A frame at (x, y) with the given sides (top, bottom, left, right) drawn."""
    s, n = stroke, size
    if "t" in sides:
        img[y : y + s, x : x + n] = 0
    if "b" in sides:
        img[y + n - s : y + n, x : x + n] = 0
    if "l" in sides:
        img[y : y + n, x : x + s] = 0
    if "r" in sides:
        img[y : y + n, x + n - s : x + n] = 0


def test_a_thick_frame_is_one_box() -> None:
    """A 50-px frame drawn 10 px thick: the outline inside it is a third of its area, as a box is of the
    table cell around it; the two outlines are one frame (they stand two strokes apart at most), and the
    box is the outer one."""
    img, lines = blank_page()
    frame(img, 100, 150, stroke=10, size=50)
    marks = find_marks(img, lines)
    assert [(m.box, m.selected) for m in marks] == [((100, 150, 150, 200), False)]
    # The three outlines a blurred scan gives: outside the frame, its top and bottom edges paired a few
    # pixels shorter, and inside. Taken by area, the outer two were a table cell around the inner one
    # (on a FUNSD form, with the middle one smaller than here, each dropped another and the box was lost).
    ink = (img < 128).astype(np.uint8)
    outer, edges, inner = (100, 150, 150, 200), (100, 150, 150, 196), (111, 161, 139, 189)
    assert _drop_nested(ink, [(outer, 0.0), (edges, 0.0), (inner, 0.0)]) == [(outer, 0.0)]


def test_a_cross_drawn_over_a_side() -> None:
    """A heavy "x" drawn past the frame: the right side is lost under its arms. Three whole sides and a
    mark inside: a ticked box. The same three sides without the mark are a "[" or a "C": nothing."""
    img, lines = blank_page()
    frame(img, 100, 150, sides="tbl")
    cv2.line(img, (112, 154), (146, 186), 0, 6)
    cv2.line(img, (112, 186), (146, 154), 0, 6)
    marks = find_marks(img, lines)
    assert len(marks) == 1 and marks[0].selected and marks[0].box[:2] == (100, 150)
    img, lines = blank_page()
    frame(img, 100, 150, sides="tbl")
    assert find_marks(img, lines) == []


def test_a_heavy_tick_and_a_letters_bar() -> None:
    """A tick drawn with a broad pen fills half the inside with strokes too thick to look diagonal: a
    mark. A bar straight across the middle with blank rows above and below is the inside of a "B"."""
    img, lines = blank_page()
    frame(img, 100, 150)
    cv2.line(img, (108, 170), (117, 182), 0, 11)
    cv2.line(img, (117, 182), (132, 158), 0, 11)
    frame(img, 300, 150)
    img[168:173, 300:340] = 0
    marks = find_marks(img, lines)
    assert [(m.box[0], m.selected) for m in marks] == [(100, True)]


def test_a_box_glued_to_a_label_the_engine_is_sure_of() -> None:
    """The engine read the frame and its label as one word it is sure of ("ONo" at 0.9): the word starts
    with the junk a frame reads as, and the label starts a word space after the frame, so the box stays.
    A word running on past the shape a letter space later ("Oval") makes it a letter."""
    img, lines = blank_page()
    frame(img, 100, 150)
    img[155:185, 165:170] = 0  # the label's first stroke, 25 px (0.6 text heights) after the frame
    word = RawWord("ONo", (98, 148, 200, 192), 0.9)
    lines.append(RawLine(word.box, 0.9, 1, [word]))
    assert len(find_marks(img, lines)) == 1
    img[155:185, 165:170] = 255
    img[155:185, 143:148] = 0  # a letter 3 px after the frame
    word.text = "Oval"
    assert find_marks(img, lines) == []


def test_one_letter_words_and_shapes_inside_words() -> None:
    """A frame the engine read as a one-letter word it is sure of ("a") is the letter; read as "O" (what a
    lone frame reads as) it is a box. Inside a word that runs on to both sides it is a letter however
    unsure the engine is of the word."""
    img, lines = blank_page()
    frame(img, 100, 150)
    word = RawWord("a", (98, 148, 142, 192), 0.96)
    lines.append(RawLine(word.box, 0.96, 1, [word]))
    assert find_marks(img, lines) == []
    word.text = "O"
    assert len(find_marks(img, lines)) == 1
    word.text, word.confidence, word.box = "2247~Dihydroxy", 0.08, (20, 148, 300, 192)
    assert find_marks(img, lines) == []


# ----------------------------------------------------- drawn: siblings, boxes found by a box of their row
def row_of_two(size: int = 40) -> tuple[np.ndarray, list[RawLine]]:
    """A blank page with a clean frame at x=60 and one more of the same size at x=300 on its row (for the
    caller to damage), each with a label the engine read to its right."""
    img, lines = blank_page()
    frame(img, 60, 150, size=size)
    frame(img, 300, 150, size=size)
    words = [RawWord("Yes", (110, 150, 200, 190), 0.95), RawWord("No", (380, 150, 450, 190), 0.95)]
    lines.append(RawLine((110, 150, 450, 190), 0.95, 1, words))
    return img, lines


def test_a_sibling_vouches_for_a_box_a_cross_runs_over() -> None:
    """A heavy cross over two corners of a box joins its outline to the cross's arms: alone, no candidate
    is that box. Beside a box of its size on its row it is found, ticked; not without a label read next to
    it (a row of shapes the engine did not read), nor off the row."""
    img, lines = row_of_two()
    cv2.line(img, (292, 198), (350, 140), 0, 7)
    cv2.line(img, (306, 156), (334, 184), 0, 7)
    marks = find_marks(img, lines)
    assert [(m.box, m.selected) for m in marks] == [((60, 150, 100, 190), False), ((300, 150, 340, 190), True)]
    alone = img.copy()
    alone[150:190, 60:100] = 255
    assert find_marks(alone, lines) == []
    unlabelled = [lines[0]]
    assert [m.box for m in find_marks(img, unlabelled)] == [(60, 150, 100, 190)]
    off_row = np.full_like(img, 255)
    off_row[:, :200] = img[:, :200]
    off_row[160:, 200:] = img[150:-10, 200:]  # the crossed box 10 px (a quarter of its height) lower
    assert [m.box for m in find_marks(off_row, lines)] == [(60, 150, 100, 190)]


def test_a_sibling_with_a_grey_speck_before_its_label() -> None:
    """A grey speck a hair after a box's frame, joined to its outline: the box alone is no candidate. Its
    sibling finds it, and the speck is not a neighbour letter (it is not dark); a black one is."""
    img, lines = row_of_two()
    img[162:178, 342:350] = 170
    assert [m.box for m in find_marks(img, lines)] == [(60, 150, 100, 190), (300, 150, 340, 190)]
    img[162:178, 342:350] = 0
    assert [m.box for m in find_marks(img, lines)] == [(60, 150, 100, 190)]


def test_a_siblings_state_is_read_past_the_stroke_of_its_row() -> None:
    """A cross so heavy it touches every side along most of its length reads as a frame 15 px thick, which
    leaves no middle to read the state in. The box found by its sibling is read past the sibling's
    stroke: ticked."""
    img, lines = row_of_two(size=30)
    cv2.line(img, (296, 184), (334, 146), 0, 14)
    cv2.line(img, (296, 146), (334, 184), 0, 14)
    marks = find_marks(img, lines)
    assert [(m.box, m.selected) for m in marks] == [((60, 150, 90, 180), False), ((300, 150, 330, 180), True)]
    alone = img.copy()
    alone[150:180, 60:90] = 255
    assert find_marks(alone, lines) == []


def test_a_box_the_engine_read_twice() -> None:
    """A crossed box after its label: the engine stretched the label's box over it ("COMBINED" at 0.89)
    and read the box again as a word of its own ("Ox"). The label runs past the shape on one side only:
    not a letter of it. Without the second reading the shape ends a word the engine is sure of."""
    img, lines = blank_page()
    frame(img, 300, 150)
    cv2.line(img, (306, 156), (334, 184), 0, 5)
    cv2.line(img, (306, 184), (334, 156), 0, 5)
    label = RawWord("COMBINED", (150, 150, 342, 190), 0.89)
    lines.append(RawLine(label.box, 0.89, 1, [label]))
    assert find_marks(img, lines) == []
    twice = RawWord("Ox", (298, 140, 344, 200), 0.44)
    lines.append(RawLine(twice.box, 0.44, 2, [twice]))
    assert [(m.box, m.selected) for m in find_marks(img, lines)] == [((300, 150, 340, 190), True)]
