"""The MRZ reader with real Tesseract on generated OCR-B specimens (tests/specimens.py): ICAO check-digit
arithmetic, field accuracy over varied degradations, broken check digits reported and not corrected,
pages without a zone, ID-card formats, and the worker path (JobSpec.outputs=("mrz",)) end to end."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tests.conftest import doc, unavailable
from tests.specimens import COUNTRIES, make_mrz_lines, make_passport, make_passports, ocrb_font_path

from ocrgw.db import make_async_engine, make_async_sessionmaker
from ocrgw.formats import ENGINE_LIMITS
from ocrgw.intake.core import from_stream
from ocrgw.jobs import service
from ocrgw.jobs.schemas import JobSpec, JobView
from ocrgw.migrate import upgrade
from ocrgw.pipeline import mrz
from ocrgw.pipeline.mrz import MrzReader
from ocrgw.pipeline.runner import WorkerContext, run
from ocrgw.settings import Settings
from ocrgw.storage.local import LocalBlobStore

FIELDS = (
    "document_type",
    "country_code",
    "document_number",
    "surname",
    "given_names",
    "nationality",
    "sex",
    "date_of_birth",
    "date_of_expiry",
    "optional_data",
)
ICAO = ["P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L898902C36UTO7408122F1204159ZE184226B<<<<<10"]
ICAO_FIELDS = {
    "document_type": "P",
    "country_code": "UTO",
    "document_number": "L898902C3",
    "surname": "ERIKSSON",
    "given_names": "ANNA MARIA",
    "nationality": "UTO",
    "sex": "F",
    "date_of_birth": "1974-08-12",
    "date_of_expiry": "2012-04-15",
    "optional_data": "ZE184226B",
}


def _need_ocrb() -> None:
    """Specimens need Debian's fonts-ocr-b (dev.sh test installs it); CI must have it."""
    try:
        ocrb_font_path()
    except FileNotFoundError:
        unavailable("OCR-B font missing: apt-get install fonts-ocr-b")


@pytest.fixture(scope="module")
def reader() -> Iterator[MrzReader]:
    _need_ocrb()
    r = MrzReader(Settings().resolved_tessdata_dir)
    yield r
    r.close()


def _gray(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("L"))


def test_check_digits_on_the_icao_specimen() -> None:
    line2 = ICAO[1]
    assert mrz.check_digit("L898902C3") == "6" == line2[9]
    assert mrz.check_digit("740812") == "2" == line2[19]
    assert mrz.check_digit("120415") == "9" == line2[27]
    assert mrz.check_digit("ZE184226B<<<<<") == "1" == line2[42]
    assert mrz.check_digit(line2[0:10] + line2[13:20] + line2[21:43]) == "0" == line2[43]
    # The generator writes the same lines from the fields, with its own arithmetic.
    assert make_mrz_lines(ICAO_FIELDS) == ICAO
    broken = make_mrz_lines(ICAO_FIELDS, break_check="date_of_birth")[1]
    assert broken[19] != "2" and broken[43] == mrz.check_digit(broken[0:10] + broken[13:20] + broken[21:43])


def test_parse_icao_specimen_lines() -> None:
    lines = [mrz._Line(t, [0.9] * len(t)) for t in ICAO]
    result = mrz._parse(mrz._Reading("TD3", lines))
    assert {k: result[k] for k in FIELDS} == ICAO_FIELDS
    assert result["valid"] and all(v in (True, None) for v in result["checks"].values())


# Held out: the reader was developed on seeds 0-23 and tuned on seeds 100-399; these 40 seeds were read
# once, after tuning ended, and are not to be swapped for friendlier ones. Result of that one run:
# 39/40 (97.5%) all fields right; the one miss (5006) reads its document number's Y as 4, which its check
# digit cannot see (Y = 34).
HELD_OUT = range(5000, 5040)


def test_held_out_varied_passports(reader: MrzReader) -> None:
    """The issue's acceptance: at least 90 percent of generated passports with varied noise have every
    field right, and every one of those has every check digit verified."""
    n = len(HELD_OUT)
    right = dict.fromkeys(FIELDS, 0)
    all_right = 0
    failures = []
    for seed, spec in zip(HELD_OUT, make_passports(HELD_OUT), strict=True):
        result = reader.read(_gray(spec.image))
        assert result is not None, (seed, spec.lines)
        wrong = [k for k in FIELDS if result[k] != spec.fields[k]]
        for k in FIELDS:
            right[k] += k not in wrong
        # Every change to what the engine read is reported with its reason.
        assert all({"line", "position", "read", "used"} <= f.keys() for f in result["fixes"]), result["fixes"]
        if not wrong:
            all_right += 1
            # A reading with every field right has every check digit verified.
            assert result["valid"], (seed, result["checks"])
            assert result["checks"] == {
                "document_number": True,
                "date_of_birth": True,
                "date_of_expiry": True,
                "optional_data": True,
                "composite": True,
            }
        else:
            failures.append((seed, wrong, result["lines"], spec.lines))
    print(
        "\nMRZ per-field accuracy over",
        n,
        "held-out specimens:",
        ", ".join(f"{k} {right[k] / n:.0%}" for k in FIELDS),
        f"| all fields right: {all_right}/{n}",
    )
    for failure in failures:
        print("  wrong:", failure)
    assert all_right >= 0.9 * n, failures


def test_zone_with_long_filler_runs_is_found(reader: MrzReader) -> None:
    """Seed 1036 (a short name and number, 51 fillers): Tesseract named only part of the filler runs,
    and the zone used to be dropped as implausible."""
    spec = make_passport(1036)
    result = reader.read(_gray(spec.image))
    assert result is not None and result["valid"], result
    assert {k: result[k] for k in FIELDS} == spec.fields


def test_icao_codes() -> None:
    assert all(mrz._valid_code("country_code", code.ljust(3, "<")) for code in COUNTRIES)
    assert not mrz._valid_code("country_code", "ESR") and not mrz._valid_code("nationality", "UT0")
    assert mrz._valid_code("document_type", "PD") and not mrz._valid_code("document_type", "DP")


def test_broken_check_digit_is_reported_not_corrected(reader: MrzReader) -> None:
    spec = make_passport(7, noise="clean", image_format="png", break_check="date_of_birth")
    clean = make_passport(7, noise="clean", image_format="png")
    result = reader.read(_gray(spec.image))
    assert result is not None
    assert result["lines"] == spec.lines  # read as printed, wrong digit included
    assert result["checks"]["date_of_birth"] is False and result["valid"] is False
    assert result["checks"]["document_number"] and result["checks"]["date_of_expiry"] and result["checks"]["composite"]
    assert "date_of_birth" in result["failed_checks"]
    assert result["date_of_birth"] == spec.fields["date_of_birth"]  # the value as read, not "fixed"
    ok = reader.read(_gray(clean.image))
    assert ok is not None and ok["valid"]
    assert result["confidence"]["date_of_birth"] <= 0.5 * ok["confidence"]["date_of_birth"] + 0.01
    assert result["confidence"]["date_of_birth"] < result["confidence"]["date_of_expiry"]


def test_page_without_mrz(reader: MrzReader) -> None:
    assert reader.read(_gray(doc("page/tess_phototest.tif").read_bytes())) is None
    assert reader.read(np.full((300, 400), 255, np.uint8)) is None


def test_upside_down_page(reader: MrzReader) -> None:
    spec = make_passport(3)
    result = reader.read(np.ascontiguousarray(np.rot90(_gray(spec.image), 2)))
    assert result is not None and result["valid"], result
    assert {k: result[k] for k in FIELDS} == spec.fields


@pytest.mark.parametrize("fmt", ["TD1", "TD2"])
def test_id_card_formats(reader: MrzReader, fmt: str) -> None:
    n = 4  # kept small: the held-out passport test is the large one
    good = 0
    for seed in range(n):
        spec = make_passport(seed, fmt=fmt)
        result = reader.read(_gray(spec.image))
        assert result is not None and result["format"] == fmt, (seed, result)
        fields = {k: result[k] for k in FIELDS}
        truth = {k: spec.fields[k] for k in FIELDS}
        if fields == truth and result["valid"]:
            good += 1
        assert result["checks"]["optional_data"] is None  # TD1/TD2 optional data carries no check digit
    print(f"\n{fmt}: {good}/{n} specimens with every field right and every check valid")
    assert good >= n - 1


def test_box_surrounds_the_zone(reader: MrzReader) -> None:
    spec = make_passport(5, noise="clean", image_format="png")
    gray = _gray(spec.image)
    result = reader.read(gray)
    assert result is not None and result["valid"]
    xs, ys = result["box"][0::2], result["box"][1::2]
    h, w = gray.shape
    # The zone sits in the bottom quarter of the page and spans most of its width.
    assert min(ys) > 0.7 * h and max(ys) <= h + 2
    assert max(xs) - min(xs) > 0.8 * w


def test_mrz_through_the_worker(tmp_path: Path) -> None:
    """A passport submitted as a job with outputs=("mrz",) is read by the real runner, and the job view
    carries the zone under analysis["mrz"]; a job without a zone says found: false."""
    _need_ocrb()
    settings = Settings(data_dir=tmp_path)
    upgrade(settings)
    passport = make_passport(11)
    blank = io.BytesIO()
    Image.new("L", (600, 400), 255).save(blank, "PNG")

    class Queue:
        def __init__(self) -> None:
            self.ids: list[str] = []

        async def enqueue(self, job_id: str) -> None:
            self.ids.append(job_id)

    async def submit_all() -> tuple[list[str], Queue]:
        engine = make_async_engine(settings)
        db = make_async_sessionmaker(engine)
        store = LocalBlobStore(settings.blob_dir)
        queue = Queue()
        ids = []
        for body in (passport.image, blank.getvalue()):

            async def chunks(data: bytes = body):
                yield data

            blob = await from_stream(chunks(), store=store, settings=settings, limits=ENGINE_LIMITS)
            view = await service.submit(
                db=db,
                queue=queue,
                store=store,
                settings=settings,
                owner_key_id=None,
                dialect="native",
                spec=JobSpec(outputs=("mrz",)),
                blob=blob,
                retention=timedelta(hours=1),
            )
            ids.append(view.id)
        await engine.dispose()
        return ids, queue

    async def get(job_id: str) -> JobView:
        engine = make_async_engine(settings)
        try:
            return await service.get(db=make_async_sessionmaker(engine), job_id=job_id, owner_key_id=None)
        finally:
            await engine.dispose()

    ids, queue = asyncio.run(submit_all())
    assert queue.ids == ids
    ctx = WorkerContext(settings)
    assert [run(job_id, ctx) for job_id in ids] == ["succeeded", "succeeded"]

    view = asyncio.run(get(ids[0]))
    found = view.analysis["mrz"]
    assert found["found"] is True and found["valid"] is True, found
    assert {k: found[k] for k in FIELDS} == passport.fields
    assert found["lines"] == passport.lines and len(found["box"]) == 8
    assert view.pages and view.pages[0].lines  # the page itself was read as usual
    assert asyncio.run(get(ids[1])).analysis == {"mrz": {"found": False}}
