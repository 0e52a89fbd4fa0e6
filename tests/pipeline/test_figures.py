"""structure.figures and compose: which of the layout model's `figure` regions are figures, their captions,
and a figure's lines laid out together. Drawn pages for each rule (no model: the regions are given), then
the whole pipeline on tests/data/page/figures_report.png (a captioned bar chart with text in it and a
captioned picture without text) and on two test pages the model calls figures wrongly (a till receipt as
one page-sized figure, the boxes of a 100-dpi form)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw
from tests.conftest import doc
from tests.render_documents import FIGURE_CAPTIONS

from ocrgw.jobs.schemas import JobSpec
from ocrgw.pipeline import reader
from ocrgw.pipeline.engines import Engines
from ocrgw.pipeline.engines.tesseract import OrientationDetector, RawLine, RawWord
from ocrgw.pipeline.rasterize import RasterPage, _dpi, _to_gray
from ocrgw.pipeline.structure import figures
from ocrgw.settings import Settings


class Page:
    """A white page to draw on, with the lines an engine would have read from it."""

    def __init__(self, width: int = 1000, height: int = 1400) -> None:
        self.image = Image.new("L", (width, height), 255)
        self.draw = ImageDraw.Draw(self.image)
        self.lines: list[RawLine] = []

    def text(self, x: int, y: int, *words: str) -> RawLine:
        """A line of words 20 px high, each drawn as ink filling most of its box."""
        boxes = []
        for word in words:
            w = 14 * len(word)
            self.draw.rectangle((x, y + 4, x + w, y + 16), fill=30)
            boxes.append(RawWord(word, (x, y, x + w, y + 20), 0.95))
            x += w + 12
        line = RawLine((boxes[0].box[0], y, boxes[-1].box[2], y + 20), 0.95, 1, boxes)
        self.lines.append(line)
        return line

    def prose(self, x: int, y: int, rows: int) -> None:
        for r in range(rows):
            self.text(x, y + 30 * r, "some", "words", "of", "running", "text", "here")

    @property
    def gray(self) -> np.ndarray:
        return np.asarray(self.image)


def figure(box: tuple[int, int, int, int], score: float = 0.9) -> figures.Region:
    return (box, "figure", score)


def test_a_chart_is_a_figure_and_a_block_of_text_is_not() -> None:
    page = Page()
    page.prose(100, 60, 6)
    for n, h in enumerate((200, 140, 260)):  # bars over an axis, with a label under each
        page.draw.rectangle((200 + 120 * n, 600 - h, 280 + 120 * n, 600), fill=90)
        page.text(200 + 120 * n, 610, f"Q{n + 1}")
    page.draw.line((180, 600, 600, 600), fill=0, width=2)
    found = figures.find_figures(page.gray, page.lines, [figure((170, 300, 620, 640)), figure((90, 50, 900, 240))])
    assert [f.box for f in found] == [(170, 300, 620, 640)]
    assert found[0].graphics >= figures.MIN_GRAPHICS


def test_a_region_holding_the_pages_text_is_the_page_not_a_figure() -> None:
    """A receipt or a form the model boxes whole: no figure, even with some graphics in it (a logo)."""
    page = Page()
    page.prose(100, 200, 12)
    page.draw.ellipse((100, 40, 260, 180), fill=60)
    assert figures.find_figures(page.gray, page.lines, [figure((40, 20, 960, 1300))]) == []


def test_a_scans_black_border_does_not_make_the_page_a_figure() -> None:
    page = Page()
    page.prose(100, 200, 12)
    page.draw.rectangle((0, 1250, 1000, 1400), fill=0)  # the scanner's lid, along the bottom edge
    assert figures.find_figures(page.gray, page.lines, [figure((0, 20, 1000, 1400))]) == []


def test_a_chart_submitted_alone_is_a_figure() -> None:
    """The whole image is the chart, with its many labels: graphics away from the edges make it one."""
    page = Page()
    for n in range(8):
        page.draw.rectangle((120 + 100 * n, 900 - 80 * n, 190 + 100 * n, 1100), fill=90)
        page.text(120 + 100 * n, 1120, "Q", f"{n}")
        page.text(120 + 100 * n, 1160, "2024", "x")
    page.prose(100, 100, 4)
    (found,) = figures.find_figures(page.gray, page.lines, [figure((20, 20, 980, 1380))])
    assert found.box == (20, 20, 980, 1380)


def test_a_diagram_of_thin_lines_needs_a_caption() -> None:
    page = Page()
    for n in range(3):  # three outlined boxes with a name each, joined by thin lines: a flow chart
        page.draw.rectangle((150 + 250 * n, 300, 330 + 250 * n, 380), outline=0, width=2)
        page.text(170 + 250 * n, 330, f"Step{n + 1}")
        if n:
            page.draw.line((330 + 250 * (n - 1), 340, 150 + 250 * n, 340), fill=0, width=2)
    region = figure((130, 280, 860, 400))
    assert figures.find_figures(page.gray, page.lines, [region]) == []
    caption = page.text(150, 420, "Figure", "3:", "The", "flow")
    (found,) = figures.find_figures(page.gray, page.lines, [region])
    assert found.caption_line is caption and found.box == region[0]


def test_a_caption_inside_the_region_is_cut_off_its_box() -> None:
    page = Page()
    page.draw.rectangle((150, 300, 750, 600), fill=120)  # a picture
    caption = page.text(150, 620, "Fig.", "2", "A", "picture")
    (found,) = figures.find_figures(page.gray, page.lines, [figure((140, 290, 760, 650))])
    assert found.caption_line is caption
    assert found.box[3] < caption.box[1] and found.box[:3] == (140, 290, 760)


def test_a_caption_in_another_figure_is_not_taken() -> None:
    page = Page()
    page.draw.rectangle((150, 100, 750, 400), outline=0, width=2)  # a diagram without graphics
    page.text(300, 200, "Box")
    page.draw.rectangle((150, 480, 750, 800), fill=120)  # a picture whose caption sits in its own box
    caption = page.text(150, 780, "Figure", "4:", "Below")
    found = figures.find_figures(page.gray, page.lines, [figure((140, 90, 760, 460)), figure((140, 470, 760, 810))])
    assert [f.box[1] for f in found] == [470]
    assert found[0].caption_line is caption


def test_caption_words() -> None:
    for text in (
        "Figure 3-1 The form",
        "Fig. 2: x",
        "Figs. 3",
        "Abb. 4 Lageplan",
        "[그림 4-5] 도출",
        "图1 流程",
        "Figure IV",
    ):
        assert figures.CAPTION_TEXT.match(text), text
    for text in ("Figure in the text", "Table 1: x", "Graphic design", "Figures show"):
        assert not figures.CAPTION_TEXT.match(text), text


# ------------------------------------------------------------------------------------- whole pipeline
@pytest.fixture(scope="module")
def engines() -> Engines:
    settings = Settings()
    engines = Engines(settings.resolved_tessdata_dir, "default", settings.second_opinion_below)
    yield engines
    engines.close()


def read(engines: Engines, name: str) -> reader.PageRead:
    with Image.open(doc(name)) as im:
        gray, dpi = _to_gray(im), _dpi(im)
    engine, step, _ = engines.for_spec(JobSpec())
    osd = OrientationDetector(Settings().resolved_tessdata_dir)
    return reader.read(RasterPage(1, gray, dpi), engine, osd, "basic", engine_step=step, layout=True)


def words(read: reader.PageRead, indices: list[int]) -> str:
    return " ".join(w.text for i in indices for w in read.lines[i].words)


def test_a_report_pages_figures_their_captions_and_text(engines: Engines) -> None:
    got = read(engines, "page/figures_report.png")
    layout = got.layout
    assert layout is not None
    chart, picture = layout.figures
    paragraphs = [group for group, _ in layout.paragraphs]
    assert [words(got, paragraphs[f.caption]) for f in (chart, picture)] == list(FIGURE_CAPTIONS)
    text = words(got, [i for p in chart.paragraphs for i in paragraphs[p]])
    assert all(name in text for name in ("North", "East", "South", "2025", "mm")), text
    assert picture.paragraphs == []
    # the chart's caption and text follow each other in reading order, the caption first
    own = [i for p in [chart.caption, *chart.paragraphs] for i in paragraphs[p]]
    assert own == list(range(own[0], own[0] + len(own)))
    assert chart.before == own[0] and picture.before == paragraphs[picture.caption][0]
    # every line in exactly one paragraph; the body's paragraphs are not the figures'
    owners = sorted(i for group in paragraphs for i in group)
    assert owners == list(range(len(got.lines)))
    assert all(role is None for p in chart.paragraphs for _, role in [layout.paragraphs[p]])
    assert layout.paragraphs[0][1] == "title"


@pytest.mark.parametrize("name", ["receipt/till_clean.jpg", "form/form_100dpi.png"])
def test_text_the_model_calls_a_figure_is_not_one(engines: Engines, name: str) -> None:
    """The layout model boxes the whole receipt, and the form's ruled boxes, as figures (0.63, 0.70)."""
    got = read(engines, name)
    assert got.layout is not None and got.layout.figures == []
