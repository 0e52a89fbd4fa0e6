"""Memory benchmark: ocrgw reads a long, 300-DPI PDF page by page, so a worker's peak memory does not grow
with the page count, and the API process streams uploads to disk, so its memory does not grow with the
upload size. Prints both side by side in one run:

* worker peak RSS (VmHWM) after reading a short and a long PDF of the same 300-DPI scanned pages
  (default 10 and 300 pages), next to the worker's peak at rest and to the 500 MB budget;
* API process peak RSS after uploading bodies of growing size (the same PDFs, plus a ~100 MB TIFF), on
  a second server, measured right after each 202, as a ratio of the smallest upload's.

Run (from the repository root; the 300-page document takes a few minutes on 2 cores):

    .venv/bin/python bench/memory.py
    .venv/bin/python bench/memory.py --pages 60 --json /tmp/mem.json

The PDF is made here: one letter-size page scanned at 300 DPI (text rendered with Pillow, 2550x3300,
JPEG-compressed), repeated with PDFium's page import. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pypdfium2 as pdfium
from PIL import Image, ImageDraw, ImageFont

from _common import OCTET_STREAM, READ_ANALYZE, BenchError, OcrgwServer, count_words, drive, peak_rss_mb

BUDGET_MB = 500
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
SENTENCES = [
    "The committee met on the third of March to review the budget.",
    "Each department submitted its figures before the deadline.",
    "Travel costs rose by eleven percent compared with last year.",
    "The board asked for a detailed plan before the next meeting.",
    "Several suppliers offered discounts for early payment.",
]


def scanned_page(number: int, dpi: int = 300) -> Image.Image:
    """A letter page at ``dpi`` with a dozen lines of body text, as a scanner would deliver it."""
    w, h = int(8.5 * dpi), int(11 * dpi)
    img = Image.new("L", (w, h), 255)
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(str(DEJAVU), dpi // 7) if DEJAVU.exists() else ImageFont.load_default(dpi // 7)
    draw.text((dpi, dpi // 2), f"Page {number}", fill=0, font=font)
    for i in range(14):
        draw.text((dpi, dpi + i * dpi // 3), SENTENCES[(i + number) % len(SENTENCES)], fill=0, font=font)
    return img


def make_pdf(pages: int, out: Path, dpi: int = 300) -> Path:
    """A PDF of distinct scanned pages (each its own JPEG), built one page at a time."""
    doc = pdfium.PdfDocument.new()
    for number in range(1, pages + 1):
        one = io.BytesIO()
        scanned_page(number, dpi).save(one, "PDF", resolution=dpi, quality=75)
        src = pdfium.PdfDocument(one.getvalue())
        doc.import_pages(src)
        src.close()
    doc.save(out)
    doc.close()
    return out


def make_tiff(out: Path, target_mb: int) -> Path:
    """An uncompressed single-page TIFF of about ``target_mb`` (the upload-size probe's largest body)."""
    side = int((target_mb * 1024 * 1024) ** 0.5)
    side = min(side, 10000)
    img = scanned_page(0, 300).resize((side, side))
    img.save(out, "TIFF", compression=None)
    return out


def upload(server: OcrgwServer, path: Path) -> str:
    """Submit a file to the Read API, streamed from disk as a client with a big file does; its
    Operation-Location."""
    with open(path, "rb") as f:
        r = httpx.post(server.url + READ_ANALYZE, content=f, timeout=600, headers=OCTET_STREAM)
    if r.status_code != 202:
        raise BenchError(f"upload of {path.name} answered {r.status_code}: {r.text[:300]}")
    return r.headers["Operation-Location"]


def submit_and_wait(server: OcrgwServer, path: Path, timeout: float) -> tuple[dict, float]:
    """Upload, then poll to the result."""
    t0 = time.monotonic()
    loc = upload(server, path)
    deadline = time.monotonic() + timeout
    while True:
        body = httpx.get(loc, timeout=60).json()
        if body["status"] in ("succeeded", "failed"):
            break
        if time.monotonic() > deadline:
            raise BenchError(f"{path.name} did not finish within {timeout:.0f}s")
        time.sleep(0.5)
    if body["status"] != "succeeded":
        raise BenchError(f"{path.name} failed: {body.get('error')}")
    return body, time.monotonic() - t0


def worker_pid(server: OcrgwServer) -> int:
    import psutil

    assert server.proc is not None
    kids = [
        c for c in psutil.Process(server.proc.pid).children(recursive=True) if "spawn_main" in " ".join(c.cmdline())
    ]
    if len(kids) != 1:
        raise BenchError(f"expected one worker process, found {len(kids)}")
    return kids[0].pid


def _server(tmpdir: Path, name: str, pages: int) -> OcrgwServer:
    data = tmpdir / name
    data.mkdir()
    return OcrgwServer(
        1, data, env={"OCRGW_MAX_UPLOAD_BYTES": str(2 * 1024**3), "OCRGW_MAX_PAGES": str(max(2000, pages))}
    )


def run(args: argparse.Namespace) -> dict:
    res: dict = {"pages_short": args.short, "pages_long": args.pages, "dpi": 300}
    with tempfile.TemporaryDirectory(prefix="ocrgw-mem-") as tmp:
        tmpdir = Path(tmp)
        docs = [
            make_pdf(args.short, tmpdir / "short.pdf"),
            make_pdf(args.pages, tmpdir / "long.pdf"),
            make_tiff(tmpdir / "big.tif", args.tiff_mb),
        ]
        sizes = {p.name: p.stat().st_size / 1e6 for p in docs}
        print("documents: " + ", ".join(f"{p.name} {sizes[p.name]:.1f} MB" for p in docs), flush=True)
        _read_phase(_server(tmpdir, "read", args.pages), docs, args.timeout, res)
        _upload_phase(_server(tmpdir, "upload", args.pages), docs, sizes, res)
    return res


def _read_phase(server: OcrgwServer, docs: list[Path], timeout: float, res: dict) -> None:
    """Phase 1, the worker: read each document to the end, one worker process, peak after each."""
    try:
        server.start()
        worker = worker_pid(server)
        res["worker_peak_mb_at_rest"] = peak_rss_mb(worker)
        res["reads"] = []
        for path in docs:  # the PDFs first: the TIFF, one huge page, sets a peak of its own
            body, secs = submit_and_wait(server, path, timeout=timeout)
            if worker_pid(server) != worker:
                raise BenchError("the worker process was replaced during the run; its peak is lost")
            pages = body["analyzeResult"]["readResults"]
            r = {
                "document": path.name,
                "pages": len(pages),
                "seconds": secs,
                "words": count_words(body),
                "worker_peak_mb": peak_rss_mb(worker),
            }
            res["reads"].append(r)
            print(
                f"  read {path.name:10} {r['pages']:4d} pages in {secs:6.1f} s ({r['pages'] / secs:.2f} pages/s),"
                f" worker peak {r['worker_peak_mb']:4.0f} MB",
                flush=True,
            )
    finally:
        server.stop()


def _upload_phase(server: OcrgwServer, docs: list[Path], sizes: dict[str, float], res: dict) -> None:
    """Phase 2, the API process: upload growing bodies and look at its peak after each 202, before any
    result is rendered (a 300-page result is big JSON; that is not the upload's doing)."""
    try:
        server.start()
        assert server.proc is not None
        res["api_peak_mb_at_rest"] = peak_rss_mb(server.proc.pid)
        res["uploads"] = []
        for path in sorted(docs, key=lambda p: p.stat().st_size):
            upload(server, path)
            up = {"document": path.name, "upload_mb": sizes[path.name], "api_peak_mb": peak_rss_mb(server.proc.pid)}
            res["uploads"].append(up)
            print(
                f"  upload {path.name:10} {up['upload_mb']:6.1f} MB, API peak {up['api_peak_mb']:4.0f} MB",
                flush=True,
            )
    finally:
        server.stop()


def report(res: dict) -> None:
    reads = {r["document"]: r for r in res["reads"]}
    short, long_, tiff = reads["short.pdf"], reads["long.pdf"], reads["big.tif"]
    print()
    short_head, long_head = f"{res['pages_short']}-page PDF", f"{res['pages_long']}-page PDF"
    print(f"{'':28}{'at rest':>10}{short_head:>14}{long_head:>15}")
    print(
        f"{'worker peak RSS (MB)':28}{res['worker_peak_mb_at_rest']:10.0f}{short['worker_peak_mb']:14.0f}"
        f"{long_['worker_peak_mb']:15.0f}"
    )
    growth = long_["worker_peak_mb"] / short["worker_peak_mb"]
    verdict = "ok" if long_["worker_peak_mb"] < BUDGET_MB else "OVER BUDGET"
    print(
        f"worker peak, {res['pages_long']} pages / {res['pages_short']} pages = {growth:.2f}   "
        f"({long_['worker_peak_mb']:.0f} MB; budget {BUDGET_MB} MB: {verdict})"
    )
    print(
        f"(the {tiff['document']} is one very large page: its worker peak, {tiff['worker_peak_mb']:.0f} MB, is "
        "that of the page's pixels, not of a long document)"
    )
    print()
    ups = res["uploads"]
    print(f"{'upload':12}{'MB':>8}{'API peak MB':>14}")
    print(f"{'(at rest)':12}{'':8}{res['api_peak_mb_at_rest']:14.0f}")
    for up in ups:
        print(f"{up['document']:12}{up['upload_mb']:8.1f}{up['api_peak_mb']:14.0f}")
    first, last = ups[0], ups[-1]
    print(
        f"upload size, largest / smallest = {last['upload_mb'] / first['upload_mb']:.1f}x; "
        f"API peak after it / after the smallest = {last['api_peak_mb'] / first['api_peak_mb']:.2f}"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=300, help="pages of the long PDF (default 300)")
    ap.add_argument("--short", type=int, default=10, help="pages of the short PDF (default 10)")
    ap.add_argument("--tiff-mb", type=int, default=95, help="size of the large uncompressed TIFF upload")
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    return drive(lambda: run(args), report, args.json, failed="memory bench failed")


if __name__ == "__main__":
    sys.exit(main())
