"""The searchable PDF builder (render/searchable_pdf.py) on tests/data documents: output size against input
size, and build time per page, with the text layer of each page as the worker reads it (rasterizer,
reader, Tesseract; each distinct page read once, the reading reused where a page repeats).

    PYTHONPATH=$PWD/src:$PWD .venv/bin/python bench/searchable_pdf.py [--pages 20] [--repeat 5]

Cases: a JPEG, a PNG, a bilevel G4 TIFF, a scanned PDF made by Pillow's PDF writer (JPEG pages, as many
scanners write) with --pages pages, and a born-digital PDF (text in Helvetica, one page). Building is
timed (median of --repeat), reading is not."""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pikepdf
from PIL import Image

from ocrgw.jobs.pages import PageSelection
from ocrgw.jobs.schemas import PageResult
from ocrgw.pipeline import rasterize
from ocrgw.pipeline.engines.tesseract import TesseractEngine
from ocrgw.pipeline.reader import read
from ocrgw.pipeline.runner import _page_result
from ocrgw.render import searchable_pdf
from ocrgw.settings import Settings

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
TESSDATA = Path("/usr/share/tesseract-ocr/5/tessdata")


def reading(engine: TesseractEngine, path: Path, media_type: str, pages: str | None = None) -> list[PageResult]:
    selection = PageSelection.parse(pages) if pages else PageSelection(None)
    out = []
    for page in rasterize.iter_pages(path, media_type, selection, set(), Settings()):
        got = read(page, engine, None, "basic")
        out.append(_page_result(page, got.lines, got.matrix, got.angle, got.steps, "en"))
    return out


def scanned_pdf(tmp: Path, pages: int) -> Path:
    """``pages`` pages cycling through three scans (JPEG, PNG, bilevel TIFF), as Pillow writes a PDF."""
    kinds = [DATA / "multicol/report_two_column.jpg", DATA / "page/letter_de.png", DATA / "page/tess_phototest.tif"]
    images = [Image.open(kinds[i % 3]).convert("L") for i in range(pages)]
    path = tmp / "scanned.pdf"
    images[0].save(path, "PDF", save_all=True, append_images=images[1:], resolution=150)
    return path


def born_digital_pdf(tmp: Path) -> Path:
    pdf = pikepdf.new()
    font = pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica)
    lines = [f"Line {i}: the gateway keeps every document on the operator's own machines." for i in range(40)]
    ops = b"BT /F1 11 Tf 60 760 Td 16 TL " + b" ".join(b"(%s) Tj T*" % t.encode() for t in lines) + b" ET"
    page = pikepdf.Dictionary(
        Type=pikepdf.Name.Page,
        MediaBox=[0, 0, 612, 792],
        Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font)),
        Contents=pikepdf.Stream(pdf, ops),
    )
    pdf.pages.append(pikepdf.Page(page))
    path = tmp / "born.pdf"
    pdf.save(path)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=20, help="pages of the scanned PDF")
    parser.add_argument("--repeat", type=int, default=5, help="builds timed per case (the median is shown)")
    args = parser.parse_args()
    engine = TesseractEngine(TESSDATA, "eng")
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        cases = [
            ("JPEG (receipt, 600x1546)", DATA / "receipt/till_clean.jpg", "image/jpeg"),
            ("JPEG (report, 1275x1650)", DATA / "multicol/report_two_column.jpg", "image/jpeg"),
            ("PNG (letter, 1240x1240 grey)", DATA / "page/letter_de.png", "image/png"),
            ("TIFF G4 (3312x2550 bilevel)", DATA / "multicol/tess_8071_093.3B.tif", "image/tiff"),
            (f"scanned PDF ({args.pages} pages)", scanned_pdf(tmp, args.pages), "application/pdf"),
            ("born-digital PDF (1 page)", born_digital_pdf(tmp), "application/pdf"),
        ]
        print(f"{'case':32} {'input':>10} {'output':>10} {'ratio':>6} {'words':>6} {'ms/page':>8}")
        for name, path, media_type in cases:
            pages = args.pages if "scanned" in name else 1
            distinct = reading(engine, path, media_type, pages="1-3" if pages > 3 else None)
            results = [PageResult(*_fields(distinct[i % len(distinct)], i + 1)) for i in range(pages)]
            times, data = [], b""
            for _ in range(args.repeat):
                started = time.perf_counter()
                data = searchable_pdf.build(path, media_type, results)
                times.append(time.perf_counter() - started)
            words = sum(len(ln.words) for r in results for ln in r.lines)
            size = path.stat().st_size
            per_page = statistics.median(times) / pages * 1000
            print(f"{name:32} {size:>10,} {len(data):>10,} {len(data) / size:>6.3f} {words:>6} {per_page:>8.1f}")
            assert len(pikepdf.open(io.BytesIO(data)).pages) == pages
    engine.close()
    return 0


def _fields(page: PageResult, page_no: int) -> tuple:
    return (page_no, page.width, page.height, page.unit, page.angle, page.language, [], page.lines)


if __name__ == "__main__":
    sys.exit(main())
