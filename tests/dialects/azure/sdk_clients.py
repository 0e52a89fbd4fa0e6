"""Microsoft's official Azure OCR SDKs, used unchanged against a server under test: each function runs one
SDK's read flow the way its quickstart does and returns what came back, with the list of shape checks
that failed on the SDK's own result models (a field the SDK left empty, a span that does not address its
word, a flow that took too long).

The SDKs: Computer Vision (azure-cognitiveservices-vision-computervision 0.9.x for Read v3.x; 0.5.0 for
v2.1 Batch Read, which cannot share the venv and runs in a subprocess with its own directory first on the
path), Image Analysis 4.0 (azure-ai-vision-imageanalysis), Form Recognizer 3.3 (azure-ai-formrecognizer)
and Document Intelligence 1.0 (azure-ai-documentintelligence). The test modules of each API family, and
test_family for all four at once, call these.

`python -m tests.dialects.azure.sdk_clients batch-read IMAGE` (AZ_ENDPOINT and AZ_KEY set) runs the
v2.1 flow and prints its Reading as JSON: that is how `batch_read_in_subprocess` runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import regex

REPO = Path(__file__).resolve().parents[3]
SLOW = 10.0  # seconds: a read of one page that takes longer points at Retry-After or a stuck status


@dataclass
class Reading:
    """What one SDK flow handed back: the recognised lines, the Operation-Location it polled (when the
    flow has one), how long it took, and every shape check that failed (empty when all is well)."""

    lines: list[str]
    problems: list[str] = field(default_factory=list)
    operation_location: str = ""
    seconds: float = 0.0
    result: Any = field(default=None, repr=False)  # the SDK's own result model, for further checks

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


class _Checks:
    """Collects failed checks; each is recorded once, however many lines or words fail it."""

    def __init__(self) -> None:
        self.failed: list[str] = []

    def __call__(self, ok: object, problem: str) -> None:
        if not ok and problem not in self.failed:
            self.failed.append(problem)


def _timed(reading: Reading, started: float) -> Reading:
    reading.seconds = time.monotonic() - started
    if reading.seconds > SLOW:
        reading.problems.append(f"took {reading.seconds:.1f} s (Retry-After values, or a status that lingers)")
    return reading


# ------------------------------------------------------------------------------ Computer Vision Read v3.x
def computer_vision_read(endpoint: str, key: str, path: Path, timeout: float = 120) -> Reading:
    """SDK 0.6-0.9 (Read v3.x), the quickstart's flow: read_in_stream(raw=True), the operation id as the
    last path segment of Operation-Location, get_read_result once a second until it is no longer
    notStarted/running."""
    from azure.cognitiveservices.vision.computervision import ComputerVisionClient
    from azure.cognitiveservices.vision.computervision.models import OperationStatusCodes
    from msrest.authentication import CognitiveServicesCredentials

    started = time.monotonic()
    client = ComputerVisionClient(endpoint, CognitiveServicesCredentials(key))
    with open(path, "rb") as stream:
        response = client.read_in_stream(stream, raw=True)
    location = response.headers["Operation-Location"]
    operation_id = location.split("/")[-1]
    while True:
        result = client.get_read_result(operation_id)
        if result.status not in (OperationStatusCodes.not_started, OperationStatusCodes.running):
            break
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"Read operation still {result.status} after {timeout} s")
        time.sleep(1)
    if result.status != OperationStatusCodes.succeeded:
        raise AssertionError(f"Read operation ended {result.status}")

    check = _Checks()
    check("?" not in operation_id, f"the id split off Operation-Location carries a query: {operation_id!r}")
    check(result.created_date_time and result.last_updated_date_time, "createdDateTime/lastUpdatedDateTime missing")
    analyzed = result.analyze_result
    check(analyzed.version and analyzed.model_version, "analyzeResult.version/modelVersion missing")
    lines = []
    for page in analyzed.read_results:
        check(
            page.page is not None and page.angle is not None and page.width and page.height and page.unit,
            "readResults[]: page/angle/width/height/unit missing",
        )
        for line in page.lines or []:
            lines.append(line.text)
            check(len(line.bounding_box or []) == 8, "a line's boundingBox is not 8 numbers")
            check(line.words, "a line without words")
            for word in line.words or []:
                check(word.confidence is not None, "a word without confidence")
                check(len(word.bounding_box or []) == 8, "a word's boundingBox is not 8 numbers")
    return _timed(Reading(lines, check.failed, location, result=result), started)


# ------------------------------------------------------------------------------ Computer Vision v2.1
def computer_vision_batch_read(endpoint: str, key: str, path: Path, timeout: float = 120) -> Reading:
    """SDK 0.5.0 (v2.1 Batch Read): batch_read_file_in_stream(raw=True), the id off Operation-Location,
    get_read_operation_result once a second until it is no longer NotStarted/Running."""
    from azure.cognitiveservices.vision.computervision import ComputerVisionClient
    from msrest.authentication import CognitiveServicesCredentials

    started = time.monotonic()
    client = ComputerVisionClient(endpoint, CognitiveServicesCredentials(key))
    if not hasattr(client, "batch_read_file_in_stream"):
        raise RuntimeError("this is not the v2.1-era SDK (0.5.0): batch_read_file_in_stream is missing")
    with open(path, "rb") as stream:
        response = client.batch_read_file_in_stream(stream, raw=True)
    location = response.headers["Operation-Location"]
    while True:
        result = client.get_read_operation_result(location.split("/")[-1])
        status = getattr(result.status, "value", result.status)
        if status not in ("NotStarted", "Running"):
            break
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"Batch Read operation still {status} after {timeout} s")
        time.sleep(1)
    if status != "Succeeded":
        raise AssertionError(f"Batch Read operation ended {status}")

    check = _Checks()
    lines = []
    for page in result.recognition_results or []:
        check(page.width and page.height and page.unit is not None, "recognitionResults[]: width/height/unit missing")
        check(page.clockwise_orientation is not None, "recognitionResults[]: clockwiseOrientation missing")
        for line in page.lines or []:
            lines.append(line.text)
            check(len(line.bounding_box or []) == 8, "a line's boundingBox is not 8 numbers")
            check(line.words and all(w.text and w.bounding_box for w in line.words), "a line's words are incomplete")
    return _timed(Reading(lines, check.failed, location), started)


def batch_read_in_subprocess(endpoint: str, key: str, path: Path, sdk_dir: Path, timeout: float = 180) -> Reading:
    """`computer_vision_batch_read` in a Python whose path starts with SDK 0.5.0's own directory, so it
    shadows the 0.9 installed in the venv."""
    pythonpath = os.pathsep.join(p for p in (str(sdk_dir), str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": pythonpath, "AZ_ENDPOINT": endpoint, "AZ_KEY": key}
    out = subprocess.run(
        [sys.executable, "-m", "tests.dialects.azure.sdk_clients", "batch-read", str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if out.returncode != 0:
        raise AssertionError(f"the v2.1 SDK flow failed:\n{out.stdout}{out.stderr[-4000:]}")
    data = json.loads(out.stdout)
    if not data.pop("sdk").startswith(str(sdk_dir)):
        raise AssertionError("the subprocess did not load SDK 0.5.0 from its own directory")
    return Reading(**data)


# ------------------------------------------------------------------------------ Image Analysis 4.0
def image_analysis_read(endpoint: str, key: str, path: Path, timeout: float = 120) -> Reading:
    """ImageAnalysisClient.analyze(image bytes, [VisualFeatures.READ]): one synchronous call."""
    from azure.ai.vision.imageanalysis import ImageAnalysisClient
    from azure.ai.vision.imageanalysis.models import VisualFeatures
    from azure.core.credentials import AzureKeyCredential

    started = time.monotonic()
    client = ImageAnalysisClient(
        endpoint=endpoint, credential=AzureKeyCredential(key), connection_timeout=timeout, read_timeout=timeout
    )
    result = client.analyze(image_data=path.read_bytes(), visual_features=[VisualFeatures.READ])
    if result.read is None:
        raise AssertionError("the response has no readResult")
    check = _Checks()
    check(result.model_version, "modelVersion missing")
    check(result.metadata and result.metadata.width and result.metadata.height, "metadata.width/height missing")
    lines = []
    for block in result.read.blocks or []:
        for line in block.lines or []:
            lines.append(line.text)
            polygon = line.bounding_polygon or []
            check(
                len(polygon) == 4 and all(p.x is not None and p.y is not None for p in polygon),
                "a line's boundingPolygon is not 4 points",
            )
            check(line.words, "a line without words")
            for word in line.words or []:
                check(word.confidence is not None and word.bounding_polygon, "a word without confidence/polygon")
    return _timed(Reading(lines, check.failed, result=result), started)


# ------------------------------------------------------------------------------ Form Recognizer / Doc Intelligence
def span_text(content: str, offset: int, length: int, index_type: str) -> str:
    """The text a span addresses in `content`, counted in the units its stringIndexType names."""
    if index_type == "utf16CodeUnit":
        units = content.encode("utf-16-le")
        return units[2 * offset : 2 * (offset + length)].decode("utf-16-le", errors="replace")
    if index_type == "textElements":  # user-perceived characters: extended grapheme clusters
        return "".join(regex.findall(r"\X", content)[offset : offset + length])
    return content[offset : offset + length]  # unicodeCodePoint: Python's own str indexes


def _check_analyze_result(result: Any, index_type: str, check: _Checks) -> list[str]:
    check(result.content is not None, "analyzeResult.content missing")
    check(result.api_version and result.model_id, "analyzeResult.apiVersion/modelId missing")
    content = result.content or ""
    lines = []
    for page in result.pages or []:
        check(
            page.page_number is not None and page.unit and page.width and page.height,
            "pages[]: pageNumber/width/height/unit missing",
        )
        for word in page.words or []:
            complete = word.span is not None and word.confidence is not None and word.polygon
            check(complete, "a word without span/confidence/polygon")
            if complete:
                check(
                    span_text(content, word.span.offset, word.span.length, index_type) == word.content,
                    f"a word's span does not address it in analyzeResult.content ({index_type})",
                )
        for line in page.lines or []:
            lines.append(line.content)
            check(line.spans and line.polygon, "a line without spans/polygon")
    return lines


def form_recognizer_read(endpoint: str, key: str, path: Path, timeout: float = 120) -> Reading:
    """DocumentAnalysisClient.begin_analyze_document("prebuilt-read", file) and the poller's result. This
    SDK always asks for stringIndexType=unicodeCodePoint."""
    from azure.ai.formrecognizer import DocumentAnalysisClient
    from azure.core.credentials import AzureKeyCredential

    started = time.monotonic()
    client = DocumentAnalysisClient(endpoint, AzureKeyCredential(key))
    with open(path, "rb") as stream:
        poller = client.begin_analyze_document("prebuilt-read", document=stream)
    result = poller.result(timeout=timeout)
    check = _Checks()
    lines = _check_analyze_result(result, "unicodeCodePoint", check)
    return _timed(Reading(lines, check.failed, result=result), started)


def document_intelligence_read(endpoint: str, key: str, path: Path, timeout: float = 120) -> Reading:
    """DocumentIntelligenceClient.begin_analyze_document("prebuilt-read", body=bytes), the operation id
    from the poller (the SDK parses it out of Operation-Location), and the poller's result."""
    from azure.ai.documentintelligence import DocumentIntelligenceClient
    from azure.core.credentials import AzureKeyCredential

    started = time.monotonic()
    client = DocumentIntelligenceClient(endpoint, AzureKeyCredential(key))
    poller = client.begin_analyze_document("prebuilt-read", body=path.read_bytes())
    check = _Checks()
    try:
        operation_id = poller.details["operation_id"]
    except Exception as exc:  # the SDK's pattern for Operation-Location did not match
        check(False, f"poller.details['operation_id'] failed: {type(exc).__name__}: {exc}")
        operation_id = ""
    result = poller.result(timeout=timeout)
    lines = _check_analyze_result(result, result.string_index_type or "textElements", check)
    return _timed(Reading(lines, check.failed, operation_id, result=result), started)


READERS = {
    "computer vision": computer_vision_read,
    "image analysis": image_analysis_read,
    "form recognizer": form_recognizer_read,
    "document intelligence": document_intelligence_read,
}


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "batch-read":
        print("usage: python -m tests.dialects.azure.sdk_clients batch-read IMAGE", file=sys.stderr)
        return 64
    import azure.cognitiveservices.vision.computervision as cv

    reading = computer_vision_batch_read(os.environ["AZ_ENDPOINT"], os.environ["AZ_KEY"], Path(argv[1]))
    data = {k: v for k, v in asdict(reading).items() if k != "result"}
    print(json.dumps({**data, "sdk": cv.__file__}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
