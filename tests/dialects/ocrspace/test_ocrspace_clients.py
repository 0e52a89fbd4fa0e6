"""Acceptance: the two OCR.space clients people actually use read a real receipt through ocrgw.

PyPI `ocrspace` (form-field key, multipart part named `filename`, urlencoded base64) and npm
`ocr-space-api-wrapper` 2.4.9 (header key, always multipart, part named `file`, `url`/`base64Image` as text
parts) are pointed at a real server on 127.0.0.1, on both deployments: the embedded default and scale-out
(PostgreSQL, Celery over Redis, database blobs), since the dialect must not depend on where jobs run. The
overlay is checked against the receipt's ground-truth line boxes, so the coordinates are the image's own,
not just well-formed numbers.

The npm client runs under Node from tests/dialects/ocrspace/npm (pinned by its lockfile; `./dev.sh test`
installs it). Outside CI a missing Node or node_modules skips those tests; under CI=true it fails them.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import ocrspace
import pytest
from PIL import Image
from tests.conftest import ScaleoutServer, Server, doc, manifest_row, unavailable
from tests.dialects.ocrspace.test_ocrspace import cer, file_server

# A scanned till receipt (tests/data): Tesseract reads it well (CER ~0.004 through ocrgw) and its ground truth
# has 70 boxed segments, items apart from their amounts. `cer` compares casefolded.
RECEIPT = "receipt/till_clean.jpg"
MAX_CER = 0.06
NPM_DIR = Path(__file__).parent / "npm"

Box = tuple[float, float, float, float]  # x0, y0, x1, y1


@pytest.fixture(scope="module", params=["embedded", "scaleout"])
def deployment(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server per deployment with loopback URL sources allowed (the npm `url` mode fetches the receipt from a
    local http.server), which the shared `server` fixture does not allow: the shared `private_server` on
    embedded, one of this module's own on scale-out."""
    if request.param == "embedded":
        yield request.getfixturevalue("private_server")
        return
    env = {"OCRGW_MAX_UPLOAD_BYTES": str(8 * 1024 * 1024), "OCRGW_URL_ALLOW_PRIVATE": "true"}
    srv = ScaleoutServer(
        tmp_path_factory.mktemp("ocrspace-clients-scaleout"),
        env=env,
        redis=request.getfixturevalue("redis_server"),
        workers=2,
    )
    srv.start()
    yield srv
    srv.stop()
    srv.cleanup()


@pytest.fixture(scope="module")
def receipt() -> tuple[Path, dict, tuple[int, int]]:
    """The receipt's path, its manifest row (text and line boxes) and its pixel size."""
    path = doc(RECEIPT)
    with Image.open(path) as im:
        return path, manifest_row(RECEIPT), im.size


# ------------------------------------------------------------------------------------ clients
class RawAPI(ocrspace.API):
    """`ocrspace.API` always asks for the overlay (`isOverlayRequired: True` is in its payload; passing it
    again as a keyword keeps that explicit) but returns only `ParsedText`. Its own `_parse` still runs, so
    errors are raised exactly as the client raises them; the raw body is kept for the overlay checks."""

    raw: dict | str | None = None

    def _parse(self, raw: dict | str) -> str:
        self.raw = raw
        return super()._parse(raw)


def pypi_client(srv: Server, key: str | None = None) -> RawAPI:
    """A fresh instance per call: `ocr_base64`/`ocr_url` leave their source in the shared payload."""
    return RawAPI(
        endpoint=srv.url + "/parse/image",
        api_key=srv.key if key is None else key,
        language=ocrspace.Language.English,
        isOverlayRequired=True,
    )


def data_uri(path: Path) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(path.read_bytes()).decode()


def node_command() -> list[str]:
    """`node run.mjs`, or a skip (a failure under CI=true) when Node or the installed wrapper is missing."""
    node = shutil.which("node")
    problem = ""
    if not node:
        problem = "node is not on PATH (Debian: apt-get install nodejs npm)"
    elif not (NPM_DIR / "node_modules" / "ocr-space-api-wrapper").is_dir():
        problem = f"the npm client is not installed: npm ci --prefix {NPM_DIR} (./dev.sh test does it)"
    if problem:
        unavailable(problem)
    assert node
    return [node, str(NPM_DIR / "run.mjs")]


def npm_client(srv: Server, source: str, mode: str, key: str | None = None) -> tuple[int, dict]:
    """Run the npm wrapper; returns run.mjs's exit code (0 ok, 2 the wrapper threw) and the JSON it printed."""
    out = subprocess.run(
        [*node_command(), srv.url, srv.key if key is None else key, source, mode],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode in (0, 2), out.stderr[-3000:]
    return out.returncode, json.loads(out.stdout)


# ------------------------------------------------------------------------------------ checks
def word_box(w: dict) -> Box:
    return w["Left"], w["Top"], w["Left"] + w["Width"], w["Top"] + w["Height"]


def intersection(a: Box, b: Box) -> float:
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def centre_in(w: dict, box: Box, slack: float = 3) -> bool:
    x, y = w["Left"] + w["Width"] / 2, w["Top"] + w["Height"] / 2
    return box[0] - slack <= x <= box[2] + slack and box[1] - slack <= y <= box[3] + slack


def check_receipt(body: dict, row: dict, size: tuple[int, int]) -> None:
    """The full success shape, the text within MAX_CER, and an overlay whose boxes sit on the receipt's
    ground-truth lines."""
    assert body["IsErroredOnProcessing"] is False and body["OCRExitCode"] == 1, body
    (res,) = body["ParsedResults"]
    assert res["FileParseExitCode"] == 1 and res["ErrorMessage"] == "" and res["ErrorDetails"] == ""
    error = cer(res["ParsedText"], row["text"])
    assert error <= MAX_CER, (error, res["ParsedText"])

    overlay = res["TextOverlay"]
    lines = overlay["Lines"]
    assert overlay["HasOverlay"] is True and lines and overlay["Message"] == f"Total lines: {len(lines)}"
    width, height = size
    for line in lines:
        assert line["Words"] and line["LineText"] == " ".join(w["WordText"] for w in line["Words"])
        for w in line["Words"]:
            assert set(w) == {"WordText", "Left", "Top", "Height", "Width"}, w
            assert w["WordText"] and w["Width"] > 0 and w["Height"] > 0, w
            assert w["Left"] >= 0 and w["Left"] + w["Width"] <= width, w
            assert w["Top"] >= 0 and w["Top"] + w["Height"] <= height, w
        assert line["MinTop"] == min(w["Top"] for w in line["Words"])
        assert line["MaxHeight"] == max(w["Height"] for w in line["Words"])

    # Measured on this receipt: 69 of its 70 ground-truth segments are over half covered by some overlay
    # line's box and get their own text back from the words centred in them (the miss is a lone quantity
    # "2"), and all 131 words sit inside a ground-truth box. The thresholds are those set on a SROIE scan.
    words = [w for line in lines for w in line["Words"]]
    line_boxes = [
        (min(b[0] for b in bs), min(b[1] for b in bs), max(b[2] for b in bs), max(b[3] for b in bs))
        for bs in ([word_box(w) for w in line["Words"]] for line in lines)
    ]
    gt = [(tuple(g["bbox"]), g["text"]) for g in row["lines"]]
    covered = sum(
        any(intersection(lb, box) > 0.5 * (box[2] - box[0]) * (box[3] - box[1]) for lb in line_boxes) for box, _ in gt
    )
    read_back = sum(cer(" ".join(w["WordText"] for w in words if centre_in(w, box)), text) <= 0.34 for box, text in gt)
    placed = sum(any(centre_in(w, box) for box, _ in gt) for w in words)
    assert covered >= 0.9 * len(gt), (covered, len(gt))
    assert read_back >= 0.8 * len(gt), (read_back, len(gt))
    assert placed >= 0.9 * len(words), (placed, len(words))


# ------------------------------------------------------------------------------------ PyPI ocrspace
@pytest.mark.parametrize("mode", ["file", "base64"])
def test_pypi_ocrspace_reads_the_receipt(
    deployment: Server, receipt: tuple[Path, dict, tuple[int, int]], mode: str
) -> None:
    path, row, size = receipt
    api = pypi_client(deployment)
    text = api.ocr_file(str(path)) if mode == "file" else api.ocr_base64(data_uri(path))
    assert isinstance(api.raw, dict)
    assert text == api.raw["ParsedResults"][0]["ParsedText"]
    check_receipt(api.raw, row, size)


def test_pypi_ocrspace_errors(deployment: Server, tmp_path: Path) -> None:
    """A bad key is a 403 string body, which the client raises as is; a corrupt image is an HTTP 200 error
    body whose ErrorMessage list gives the client a whole sentence (a string would give one character)."""
    with pytest.raises(Exception, match="API key is invalid"):
        pypi_client(deployment, key="0" * 32).ocr_base64("data:image/png;base64,iVBORw0KGgo=")
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(doc(RECEIPT).read_bytes()[:200])
    api = pypi_client(deployment)
    with pytest.raises(Exception) as raised:
        api.ocr_file(str(corrupt))
    assert isinstance(api.raw, dict) and api.raw["OCRExitCode"] in (3, 4)
    assert str(raised.value) == api.raw["ErrorMessage"][0] and len(str(raised.value)) > 1


# ------------------------------------------------------------------------------------ npm wrapper
@pytest.mark.parametrize("mode", ["file", "base64", "url"])
def test_npm_wrapper_reads_the_receipt(
    deployment: Server, receipt: tuple[Path, dict, tuple[int, int]], mode: str
) -> None:
    path, row, size = receipt
    if mode == "url":
        with file_server(path.parent) as base:
            rc, body = npm_client(deployment, f"{base}/{path.name}", "url")
    else:
        rc, body = npm_client(deployment, str(path), mode)
    assert rc == 0, body
    check_receipt(body, row, size)


def test_npm_wrapper_bad_key_surfaces_the_403_string(deployment: Server) -> None:
    """axios throws on the 403; what the Node user gets is the status and the bare JSON string body."""
    rc, body = npm_client(deployment, str(doc(RECEIPT)), "file", key="0" * 32)
    assert rc == 2, body
    thrown = body["thrown"]
    assert thrown["status"] == 403 and isinstance(thrown["data"], str) and "API key is invalid" in thrown["data"]


def test_npm_wrapper_corrupt_file_is_a_200_error_body(deployment: Server, tmp_path: Path) -> None:
    """Processing errors must come back as HTTP 200 (the wrapper discards the body of any non-2xx)."""
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(doc(RECEIPT).read_bytes()[:200])
    rc, body = npm_client(deployment, str(corrupt), "file")
    assert rc == 0, body
    assert body["IsErroredOnProcessing"] is True and body["OCRExitCode"] in (3, 4), body
    assert isinstance(body["ErrorMessage"], list) and body["ErrorMessage"]
    assert all(isinstance(m, str) and m for m in body["ErrorMessage"])


def test_pypi_ocrengine_2_reads_with_the_accurate_mode(deployment: Server) -> None:
    """OCR.space's OCREngine=2 is its slower, more accurate engine; here it is the accurate mode (PP-OCR).
    A faded receipt, which engine 1 (Tesseract) reads at ~18 % CER, comes back at a few per cent."""
    image = "receipt/till_faded.jpg"
    path, ref = doc(image), manifest_row(image)["text"]
    engine1 = pypi_client(deployment).ocr_file(str(path))
    api = RawAPI(
        endpoint=deployment.url + "/parse/image",
        api_key=deployment.key,
        language=ocrspace.Language.English,
        isOverlayRequired=True,
        OCREngine=2,
    )
    engine2 = api.ocr_file(str(path))
    assert isinstance(api.raw, dict) and api.raw["OCRExitCode"] == 1
    assert cer(engine2, ref) <= 0.04 and cer(engine2, ref) < cer(engine1, ref), (engine2, engine1)
