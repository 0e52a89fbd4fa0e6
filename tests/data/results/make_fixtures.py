"""Makes the stored results the fast renderer tests read (tests/data/results/*.json), from one real run:
a real server (`ocrgw serve`, one worker process, SQLite, Tesseract) on 127.0.0.1 reads documents drawn
here with Pillow, submitted through the vendor APIs that would submit them, and each job is then loaded
through the job service and repository (`service.get` -> `repository.job_view`), exactly as a dialect
gets it before rendering, and written as JSON.

    cd <worktree> && PYTHONPATH=$PWD/src:$PWD .venv/bin/python tests/data/results/make_fixtures.py

then `OCRGW_UPDATE_GOLDEN=1 pytest tests/dialects -k render` and review the goldens' diff: new fixtures
change every golden made from them. The documents are drawn here (DejaVu Sans, and the test suite's own
specimen passport), so nothing of unknown licence ends up in the repository.

The fixtures (names in tests/results.FIXTURES):
- phototest: one 1240x880 px PNG page, a heading and two paragraphs, via Azure Read v3.2 (language=en).
- two_pages: a 2-page PDF of different page sizes (US Letter portrait; a 4x6 in page whose text is turned
  90 degrees), via Document Intelligence 2024-11-30 with features=languages: inch units and an angle.
- passport: a clean specimen TD3 passport page via Huawei passport (JobSpec.outputs "mrz", analysis.mrz).
- blank: an empty white page via OCR.space: succeeded with zero lines.
- failed: a PNG truncated after its header, via the native API with a callback to a closed loopback port:
  the worker fails it (InvalidImage) and the one callback attempt fails.
- queued: the phototest job while the only worker was busy with two_pages (same id as phototest).
- running: the two_pages job after its first page was read (same id as two_pages).
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import socket
import sys
import tempfile
import time
from pathlib import Path

import httpx
from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
sys.path.insert(0, str(REPO))

from tests.conftest import Server  # noqa: E402
from tests.results import view_json  # noqa: E402
from tests.specimens import make_passport  # noqa: E402

from ocrgw.db import make_async_engine, make_async_sessionmaker  # noqa: E402
from ocrgw.formats import ENGINE_LIMITS  # noqa: E402
from ocrgw.intake import sniff  # noqa: E402
from ocrgw.jobs import service  # noqa: E402
from ocrgw.jobs.models import Job  # noqa: E402
from ocrgw.jobs.schemas import JobView  # noqa: E402
from ocrgw.settings import Settings  # noqa: E402

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
PROJECT = "0123456789abcdef0123456789abcdef"

PHOTOTEST_LINES = [
    ("This is a lot of plain text to read back.", 34),
    ("The quick brown fox jumps over the lazy dog", 34),
    ("while five boxing wizards jump quickly; the", 34),
    ("gateway returns every line and word it finds.", 34),
    (None, 0),
    ("Invoice 2024-117: 3 items at 12.50 each.", 34),
    ("Total due: 37.50, payable within 30 days.", 34),
]
LETTER_LINES = [
    "Quarterly Report",
    "",
    "Sales rose by eleven percent in the",
    "third quarter, led by the northern",
    "region and the new online shop.",
    "",
    "Costs stayed flat; the margin grew.",
]
CARD_LINES = ["Shipping label", "Parcel 5 of 12", "Keep this side up"]


# ----------------------------------------------------------------------------------------------- documents
def _png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def phototest_png() -> bytes:
    im = Image.new("L", (1240, 880), 255)
    draw = ImageDraw.Draw(im)
    draw.text((80, 60), "Reading Test Page", font=ImageFont.truetype(BOLD, 48), fill=0)
    y = 180
    for text, size in PHOTOTEST_LINES:
        if text is None:
            y += 50  # a paragraph break
            continue
        draw.text((80, y), text, font=ImageFont.truetype(FONT, size), fill=0)
        y += 46  # single-spaced: the lines between breaks make one paragraph
    return _png(im)


def two_page_pdf() -> bytes:
    """US Letter at 150 dpi, then a 4x6 in label drawn landscape and turned a quarter (text reads upwards)."""
    letter = Image.new("L", (1275, 1650), 255)
    draw = ImageDraw.Draw(letter)
    y = 150
    for i, text in enumerate(LETTER_LINES):
        if text:
            font = ImageFont.truetype(BOLD if i == 0 else FONT, 44 if i == 0 else 36)
            draw.text((150, y), text, font=font, fill=0)
        y += 52
    label = Image.new("L", (900, 600), 255)
    draw = ImageDraw.Draw(label)
    for i, text in enumerate(CARD_LINES):
        draw.text((80, 120 + i * 110), text, font=ImageFont.truetype(BOLD if i == 0 else FONT, 52), fill=0)
    label = label.rotate(90, expand=True)  # 600x900 px: 4x6 in at 150 dpi
    buf = io.BytesIO()
    letter.save(buf, "PDF", save_all=True, append_images=[label], resolution=150)
    return buf.getvalue()


def blank_png() -> bytes:
    return _png(Image.new("L", (800, 600), 255))


def truncated_png() -> bytes:
    return phototest_png()[:300]  # a valid header, so intake takes it; only decoding finds out


# ----------------------------------------------------------------------------------------------- the run
def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when this returns: connections are refused


class Run:
    def __init__(self, data_dir: Path) -> None:
        self.srv = Server(
            data_dir,
            workers=1,  # one at a time, so a job can be caught queued behind another
            env={
                "OCRGW_URL_ALLOW_PRIVATE": "true",  # the failed job's callback to a loopback port
                "OCRGW_CALLBACK_MAX_ATTEMPTS": "1",
                "OCRGW_MODE": "default",
            },
        )
        self.settings = Settings(data_dir=data_dir)
        self.documents: dict[str, dict] = {}

    # -- submits, one per vendor API ---------------------------------------------------------------------
    def azure_read(self, body: bytes) -> str:
        r = httpx.post(
            f"{self.srv.url}/vision/v3.2/read/analyze?language=en",
            content=body,
            headers={**self.srv.headers, "Content-Type": "application/octet-stream"},
            timeout=60,
        )
        assert r.status_code == 202, r.text
        return r.headers["Operation-Location"].rsplit("/", 1)[1]

    def docintel(self, body: bytes) -> str:
        r = httpx.post(
            f"{self.srv.url}/documentintelligence/documentModels/prebuilt-read:analyze"
            "?api-version=2024-11-30&features=languages",
            content=body,
            headers={**self.srv.headers, "Content-Type": "application/pdf"},
            timeout=60,
        )
        assert r.status_code == 202, r.text
        return r.headers["Operation-Location"].split("/analyzeResults/")[1].split("?")[0]

    def native(self, body: bytes, **options: object) -> str:
        r = httpx.post(
            f"{self.srv.url}/v1/jobs",
            json={"base64": base64.b64encode(body).decode(), **options},
            headers={"X-API-Key": self.srv.key},
            timeout=60,
        )
        assert r.status_code == 202, r.text
        return r.json()["id"]

    def huawei_passport(self, body: bytes) -> None:
        r = httpx.post(
            f"{self.srv.url}/v2/{PROJECT}/ocr/passport",
            json={"image": base64.b64encode(body).decode()},
            headers={"X-Auth-Token": self.srv.key},
            timeout=120,
        )
        assert r.status_code == 200, r.text

    def ocrspace(self, body: bytes) -> None:
        r = httpx.post(
            f"{self.srv.url}/parse/image",
            files={"file": ("blank.png", body)},
            data={"language": "eng", "isOverlayRequired": "true"},
            headers={"apikey": self.srv.key},
            timeout=120,
        )
        assert r.status_code == 200 and not r.json()["IsErroredOnProcessing"], r.text

    # -- the database, through the job service -------------------------------------------------------------
    def view(self, job_id: str) -> JobView:
        async def get() -> JobView:
            engine = make_async_engine(self.settings)
            try:
                return await service.get(db=make_async_sessionmaker(engine), job_id=job_id, owner_key_id=None)
            finally:
                await engine.dispose()

        return asyncio.run(get())

    def job_ids(self, dialect: str) -> list[str]:
        return [row[0] for row in self.srv.query("SELECT id FROM jobs WHERE dialect = :d", d=dialect)]

    def wait(self, job_id: str, until, timeout: float = 120) -> JobView:
        deadline = time.monotonic() + timeout
        while True:
            view = self.view(job_id)
            if until(view):
                return view
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} stayed {view.status} ({view.pages_done} pages done)")
            time.sleep(0.02)

    def remember(self, name: str, body: bytes) -> None:
        """What intake recorded for a document: its sniffed type and header size, as `sniff` finds them."""
        with tempfile.NamedTemporaryFile() as f:
            f.write(body)
            f.flush()
            media_type = sniff.check_type(body[:64])
            width, height, frames = sniff.inspect_document(Path(f.name), media_type, self.settings, ENGINE_LIMITS)
        self.documents[name] = {
            "size": len(body),
            "media_type": media_type,
            "width": width,
            "height": height,
            "frames": frames,
        }

    def blob_key(self, job_id: str) -> str:
        from sqlalchemy import select

        from ocrgw.db import sync_sessionmaker

        with sync_sessionmaker(self.settings)() as s:
            return s.execute(select(Job.blob_key).where(Job.id == job_id)).scalar_one()


def write(name: str, about: str, via: str, view: JobView, document: dict) -> None:
    body = {"about": about, "submitted_via": via, "document": document, "view": view_json(view)}
    path = HERE / f"{name}.json"
    path.write_text(json.dumps(body, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(REPO)}: {view.status.value}, {len(view.pages or [])} page(s)")


def main() -> None:
    docs = {
        "phototest": phototest_png(),
        "two_pages": two_page_pdf(),
        "passport": make_passport(5, noise="clean", image_format="png").image,
        "blank": blank_png(),
        "failed": truncated_png(),
    }
    with tempfile.TemporaryDirectory(prefix="ocrgw-fixtures-") as tmp:
        run = Run(Path(tmp) / "data")
        for name, body in docs.items():
            run.remember(name, body)
        run.srv.start()
        try:
            pdf_id = run.docintel(docs["two_pages"])
            photo_id = run.azure_read(docs["phototest"])  # behind the PDF on the only worker
            queued = run.view(photo_id)
            assert queued.status.value == "queued", queued.status
            running = run.wait(pdf_id, lambda v: v.status.value == "running" and v.pages_done == 1)
            two_pages = run.wait(pdf_id, lambda v: v.status.terminal)
            phototest = run.wait(photo_id, lambda v: v.status.terminal)
            failed_id = run.native(
                docs["failed"], languages="en", callback_url=f"http://127.0.0.1:{closed_port()}/ocr-done"
            )
            failed = run.wait(failed_id, lambda v: v.callback is not None and v.callback.state == "failed")
            run.huawei_passport(docs["passport"])
            passport = run.view(run.job_ids("huawei")[0])
            run.ocrspace(docs["blank"])
            blank = run.view(run.job_ids("ocrspace")[0])
            ids = {"phototest": photo_id, "two_pages": pdf_id, "failed": failed_id}
            ids.update(passport=passport.id, blank=blank.id)
            for name, job_id in ids.items():
                run.documents[name]["key"] = run.blob_key(job_id)
        finally:
            run.srv.stop()

    d = run.documents
    photo_via, pdf_via = "Azure Read v3.2, language=en", "Document Intelligence 2024-11-30, features=languages"
    for name, about, via, view, document in [
        ("phototest", "One PNG page: a heading and two paragraphs.", photo_via, phototest, d["phototest"]),
        (
            "two_pages",
            "A 2-page PDF: US Letter portrait, then a 4x6 in page with its text turned 90 degrees.",
            pdf_via,
            two_pages,
            d["two_pages"],
        ),
        (
            "passport",
            "A clean specimen TD3 passport page (tests/specimens.py, seed 5).",
            "Huawei passport",
            passport,
            d["passport"],
        ),
        ("blank", "An empty white 800x600 PNG: nothing to read.", "OCR.space /parse/image", blank, d["blank"]),
        (
            "failed",
            "A PNG cut after 300 bytes: intake reads its header, the worker cannot decode it. Its callback "
            "(to a closed loopback port, one attempt allowed) failed.",
            "native /v1/jobs with callback_url",
            failed,
            d["failed"],
        ),
        ("queued", "The phototest job while the only worker read two_pages.", photo_via, queued, d["phototest"]),
        ("running", "The two_pages job after its first page was read.", pdf_via, running, d["two_pages"]),
    ]:
        write(name, about, via, view, document)


if __name__ == "__main__":
    main()
