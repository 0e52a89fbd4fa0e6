"""Language detection for documents submitted without a language: the identifier (its data from its own
package, never fetched), which APIs detect and which keep their vendor's default, the worker's decision
on real pages read by real Tesseract, and the whole path through a real server (the native API, Azure
Read v3.2 and Document Intelligence)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from rapidfuzz.distance import Levenshtein
from tests.conftest import Server, doc, manifest_row, native_result, submit_and_wait

from ocrgw import languages
from ocrgw.dialects.azure.docintel.parse import LANGUAGES as DOCINTEL
from ocrgw.dialects.azure.shared import LANGUAGES as AZURE
from ocrgw.dialects.huawei.parse import LANGUAGES as HUAWEI
from ocrgw.dialects.native.parse import VOCABULARY as NATIVE
from ocrgw.dialects.ocrspace.parse import LANGUAGES as OCRSPACE
from ocrgw.jobs.schemas import JobSpec
from ocrgw.pipeline import langdetect, reader
from ocrgw.pipeline.engines import Choice, Engines
from ocrgw.pipeline.engines.tesseract import OrientationDetector, RawLine, RawWord
from ocrgw.pipeline.rasterize import RasterPage
from ocrgw.settings import Settings

LETTER = "page/letter_de.png"
DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"
DUTCH = [
    "Geachte heer, mevrouw, vanaf maandag wordt de waterleiding in de",
    "Hoofdstraat vervangen. Tijdens de werkzaamheden kan de levering",
    "enkele uren worden onderbroken. Wij danken u voor uw begrip.",
]
RUSSIAN = [
    "Уважаемые жители, с первого марта будет заменён водопровод",
    "на главной улице между рыночной площадью и вокзальным мостом.",
    "Во время работ подача воды может прерываться на несколько часов.",
    "Просим вас держать достаточный запас воды на это время.",
]


def cer(hyp: str, ref: str) -> float:
    h, r = " ".join(hyp.split()), " ".join(ref.split())
    return Levenshtein.distance(h, r) / max(1, len(r))


# ------------------------------------------------------------------------------------------ identifier
def test_the_identifier_loads_its_model_from_its_package_and_never_downloads(tmp_path: Path) -> None:
    """In a fresh interpreter with every socket refused and an empty home and cache, the identifier loads
    the model file inside its installed package and identifies German read by the English model."""
    probe = """
import json, socket, sys
def refuse(*a, **k):
    raise OSError("network used")
socket.socket.connect = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse
import py3langid.langid as L
from ocrgw.pipeline import langdetect
guess = langdetect.identify("Wahrend der Bauarbeiten kann es zu kurzen Unterbrechungen der Versorgung kommen.")
print(json.dumps({"model_dir": str(L.MODEL_DIR), "model_file": L.MODEL_FILE, "guess": list(guess),
                  "package": L.__file__}))
"""
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "PYTHONPATH": os.pathsep.join(sys.path),
        "http_proxy": "http://127.0.0.1:9",
        "https_proxy": "http://127.0.0.1:9",
    }
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout)
    package = Path(found["package"]).parent
    model = Path(found["model_dir"]) / found["model_file"]
    assert model.is_file() and package in model.parents, found  # inside the installed package
    assert "site-packages" in str(package) or "dist-packages" in str(package), found
    assert found["guess"][0] == "de" and found["guess"][1] >= langdetect.CONFIDENT, found
    assert not any(home.iterdir()), "nothing may be cached or fetched into the home directory"


def test_identify_short_and_english_text() -> None:
    assert langdetect.identify("Total 12.50 Thank you") is None  # under 20 letters: a guess, not a finding
    en = langdetect.identify("This is a lot of plain text to read back, and the gateway returns every line.")
    assert en is not None and en.code == "en" and en.confidence >= langdetect.CONFIDENT
    de = langdetect.identify("Mit freundlichen GriiSen, Ihre Stadtwerke. Fur Ruckfragen erreichen Sie uns.")
    assert de is not None and de.code == "de"
    assert langdetect.model_for("de") == "deu" and langdetect.model_for("nl") == "nld"
    assert langdetect.model_for("pcm") is None  # a language Tesseract has no model for


# -------------------------------------------------------------------------------------- who detects
@pytest.mark.parametrize(
    "vocab, code, detect",
    [
        (AZURE, None, True),  # Read v3.2, v4 (Image Analysis): no `language` = the service detects it
        (AZURE, "auto", True),
        (AZURE, "en", False),  # an explicit language always wins
        (DOCINTEL, None, True),  # Document Intelligence without `locale`
        (DOCINTEL, "de-DE", False),
        (NATIVE, None, True),
        (NATIVE, "eng", False),
        (OCRSPACE, None, False),  # OCR.space documents `eng` as its default
        (HUAWEI, None, False),  # Huawei reads Chinese and English unless told otherwise
    ],
)
def test_which_requests_detect(vocab: languages.Vocabulary, code: str | None, detect: bool) -> None:
    assert vocab.ask(code).detect is detect


def test_a_spec_stored_before_detection_reads_as_not_detecting() -> None:
    old = {"languages": ["eng"], "language_hint": None, "pages": None, "reading_order": "basic"}
    spec = JobSpec.model_validate(old)
    assert spec.languages == ("eng",) and spec.languages_detect is False


# ---------------------------------------------------------------------------- the worker's decision
@pytest.fixture(scope="module")
def pool() -> Engines:
    engines = Engines(Settings().resolved_tessdata_dir)
    yield engines
    engines.close()


@pytest.fixture(scope="module")
def osd() -> OrientationDetector:
    return OrientationDetector(Settings().resolved_tessdata_dir)


def _page(lines: list[str]) -> RasterPage:
    img = Image.new("L", (1100, 80 + 44 * len(lines)), 255)
    draw = ImageDraw.Draw(img)
    for i, text in enumerate(lines):
        draw.text((40, 40 + 44 * i), text, font=ImageFont.truetype(DEJAVU, 26), fill=0)
    return RasterPage(1, np.asarray(img), None)


def _detect(pool: Engines, osd: OrientationDetector, page: RasterPage) -> tuple[reader.PageRead, str | None]:
    def read(choice: Choice) -> reader.PageRead:
        engine, step, second = choice
        return reader.read(page, engine, osd, "basic", second=second, second_below=0.7, engine_step=step)

    detector = langdetect.Detector(JobSpec(languages_detect=True), pool, osd, Settings().resolved_tessdata_dir)
    return detector.read(page, read)


def test_a_language_whose_model_is_missing_is_reported_and_read_with_the_default(
    pool: Engines, osd: OrientationDetector
) -> None:
    """Dutch (no nld model here): reported as nl, read with eng, and the step says the model is missing."""
    if "nld" in languages.installed(Settings().resolved_tessdata_dir):
        pytest.skip("tesseract-ocr-nld is installed here")
    got, language = _detect(pool, osd, _page(DUTCH))
    assert language == "nl"
    step = got.steps[-1]
    assert step["step"] == "language" and step["detected"] == "nl" and step["confidence"] >= langdetect.CONFIDENT
    assert step["models"] == "eng" and step["installed"] is False and step["wanted"] == "nld", step
    assert "Hoofdstraat" in " ".join(w.text for ln in got.lines for w in ln.words)


def test_a_script_whose_model_is_missing_is_reported(pool: Engines, osd: OrientationDetector) -> None:
    """Russian read with the English model yields too little to identify; OSD names the script."""
    if "rus" in languages.installed(Settings().resolved_tessdata_dir):
        pytest.skip("tesseract-ocr-rus is installed here")
    got, language = _detect(pool, osd, _page(RUSSIAN))
    step = got.steps[-1]
    assert language is None and step["script"] == "Cyrillic" and step["installed"] is False, step
    assert step["wanted"] == "rus" and step["models"] == "eng"


def test_french_is_read_again_with_the_french_model(pool: Engines, osd: OrientationDetector) -> None:
    lines = [
        "Madame, Monsieur, à partir du premier mars, la conduite d'eau",
        "de la rue Principale sera remplacée entre la place du Marché",
        "et le pont de la Gare. Nous vous remercions de votre compréhension.",
    ]
    got, language = _detect(pool, osd, _page(lines))
    step = got.steps[-1]
    assert language == "fr" and step["models"] == "fra+eng" and step["applied"] is True, step
    assert [" ".join(w.text for w in ln.words) for ln in got.lines] == lines


# ------------------------------------------------------------------------------------ through a server
def _native(server: Server, data: bytes, **fields: str) -> dict:
    return native_result(server, data, "letter.png", **fields)


def _azure_read(server: Server, data: bytes, query: str = "") -> dict:
    body = submit_and_wait(server, data, query=query, timeout=120)
    assert body["status"] == "succeeded", body
    return body["analyzeResult"]["readResults"][0]


def test_a_german_page_without_a_language_is_read_in_german(server: Server) -> None:
    """No language through the native API and Azure Read v3.2: the page is read with the German model
    (ü, ö, ß and all), reported as `de`, and the step says so; language=en is read with English."""
    data, truth = doc(LETTER).read_bytes(), manifest_row(LETTER)["text"]
    res = _native(server, data)
    (page,) = res["pages"]
    assert page["language"] == "de", page["preprocessing"]
    assert cer(res["text"], truth) <= 0.01, res["text"]
    assert "Großen Straße" in res["text"] and "Grüßen" in res["text"] and "Öffnungszeiten" in res["text"]
    step = page["preprocessing"][-1]
    assert step["step"] == "language" and step["detected"] == "de" and step["models"] == "deu+eng", step
    assert step["applied"] is True and step["installed"] is True

    read = _azure_read(server, data)
    assert read["language"] == "de"
    text = "\n".join(line["text"] for line in read["lines"])
    assert cer(text, truth) <= 0.01 and "Weiß" in text, text

    explicit = _azure_read(server, data, "?language=en")  # an explicit language always wins
    assert explicit["language"] == "en"
    text = "\n".join(line["text"] for line in explicit["lines"])
    # read with the English model: most umlauts lost (the runs Tesseract is unsure of are read again by the
    # second engine, whose Latin alphabet has them, so a few come back)
    assert cer(text, truth) > 0.02, text
    res = _native(server, data, languages="eng")
    assert res["pages"][0]["language"] == "eng"
    assert not any(s["step"] == "language" for s in res["pages"][0]["preprocessing"])


def test_an_english_page_is_read_once_and_reported_as_english(server: Server) -> None:
    data = doc("page/tess_phototest.tif").read_bytes()
    res = _native(server, data)
    (page,) = res["pages"]
    assert page["language"] == "en"
    step = page["preprocessing"][-1]
    assert step == {
        "step": "language",
        "detected": "en",
        "confidence": step["confidence"],
        "models": "eng",
        "ms": step["ms"],  # identifying it, timed for the throughput bench
    }
    assert _azure_read(server, data)["language"] == "en"
    assert httpx.get(f"{server.url}/v1/languages", timeout=30).json()["detect"] is True


def test_document_intelligence_reports_the_detected_locale(server: Server) -> None:
    path = "/documentintelligence/documentModels/prebuilt-read:analyze"
    query = "?api-version=2024-11-30&features=languages"
    body = submit_and_wait(server, doc(LETTER).read_bytes(), path=path, query=query, timeout=120)
    assert body["status"] == "succeeded", body
    result = body["analyzeResult"]
    (found,) = result["languages"]
    assert found["locale"] == "de" and found["confidence"] >= langdetect.CONFIDENT, found
    assert found["spans"] == [{"offset": 0, "length": len(result["content"])}]
    assert "Süderbrück" in result["content"]


MIXED = [
    "The meeting of the committee will take place on Monday in the main hall,",
    "and the minutes of the last meeting will be sent to all members by email.",
    "La réunion du comité aura lieu lundi dans la grande salle de la mairie.",
    "Please bring the annual report and the list of new members with you.",
]


def test_a_line_in_another_language_is_labelled_with_it(pool: Engines, osd: OrientationDetector) -> None:
    """An English page with a French line: the page is English, the French line says fr, the English
    lines carry no language of their own (Read v3.2 names a line's language only where it differs)."""
    got, language = _detect(pool, osd, _page(MIXED))
    assert language == "en"
    assert [ln.language for ln in got.lines] == [None, None, "fr", None], [
        (" ".join(w.text for w in ln.words), ln.language) for ln in got.lines
    ]


def test_short_or_unsure_lines_get_no_language() -> None:
    words = [RawWord(t, (0, 0, 1, 1), 0.9) for t in ("Grand", "total", "RM", "12.50")]
    short = RawLine((0, 0, 10, 10), 0.9, 0, words)
    german = RawLine((0, 0, 10, 10), 0.9, 0, [RawWord("Sehr geehrte Damen und Herren,", (0, 0, 1, 1), 0.9)])
    english = RawLine((0, 0, 10, 10), 0.9, 0, [RawWord("Please find the invoice attached below", (0, 0, 1, 1), 0.9)])
    langdetect.label_lines([short, german, english], "en")
    assert (short.language, german.language, english.language) == (None, "de", None)


def test_line_languages_through_read_and_document_intelligence(server: Server) -> None:
    page = _page(MIXED)
    buf = io.BytesIO()
    Image.fromarray(page.gray).save(buf, format="PNG")
    read = _azure_read(server, buf.getvalue())
    assert read["language"] == "en"
    assert [line.get("language") for line in read["lines"]] == [None, None, "fr", None], read["lines"]

    path = "/documentintelligence/documentModels/prebuilt-read:analyze"
    query = "?api-version=2024-11-30&features=languages"
    body = submit_and_wait(server, buf.getvalue(), path=path, query=query, timeout=120)
    result = body["analyzeResult"]
    found = {entry["locale"]: entry for entry in result["languages"]}
    assert set(found) == {"en", "fr"}, result["languages"]
    (span,) = found["fr"]["spans"]
    assert result["content"][span["offset"] : span["offset"] + span["length"]].startswith("La r"), span
    assert len(found["en"]["spans"]) == 2  # the lines before and after the French one

    native = _native(server, buf.getvalue())
    assert [line["language"] for line in native["pages"][0]["lines"]] == [None, None, "fr", None]
    url = f"{server.url}/v1/jobs/{native['id']}/result"
    hocr = httpx.get(url, params={"format": "hocr"}, headers={"X-API-Key": server.key}, timeout=30).text
    assert hocr.count('lang="fr"') == 1 and 'class="ocr_line"' in hocr
    alto = httpx.get(url, params={"format": "alto"}, headers={"X-API-Key": server.key}, timeout=30).text
    assert alto.count('LANG="fr"') == 1
