"""The official Azure Computer Vision SDK, used exactly as Microsoft's quickstart uses it, against a real
server: it must read real documents, and the text must match the ground truth."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from rapidfuzz.distance import Levenshtein
from tests.conftest import SHARED, Server, manifest_row, require_shared


def cer(hyp: str, ref: str) -> float:
    h, r = " ".join(hyp.split()).casefold(), " ".join(ref.split()).casefold()
    return Levenshtein.distance(h, r) / max(1, len(r))


def quickstart_read(endpoint: str, key: str, path: str):
    """Microsoft's Read quickstart, verbatim in spirit: read_in_stream(raw=True), split the id off
    Operation-Location, poll get_read_result once a second."""
    from azure.cognitiveservices.vision.computervision import ComputerVisionClient
    from azure.cognitiveservices.vision.computervision.models import OperationStatusCodes
    from msrest.authentication import CognitiveServicesCredentials

    client = ComputerVisionClient(endpoint, CognitiveServicesCredentials(key))
    with open(path, "rb") as image:
        read_response = client.read_in_stream(image, raw=True)
    operation_id = read_response.headers["Operation-Location"].split("/")[-1]
    deadline = time.monotonic() + 120
    while True:
        read_result = client.get_read_result(operation_id)
        if read_result.status not in ["notStarted", "running"]:
            break
        assert time.monotonic() < deadline, "operation did not finish"
        time.sleep(1)
    assert read_result.status == OperationStatusCodes.succeeded
    return read_result


@pytest.mark.parametrize("image, max_cer", [("page/tess_phototest.tif", 0.05), ("line/uw3_0768_010009.png", 0.05)])
def test_quickstart_reads_real_document(server: Server, image: str, max_cer: float) -> None:
    row = manifest_row(image)
    result = quickstart_read(server.url, server.key, str(require_shared() / image))
    pages = result.analyze_result.read_results
    assert len(pages) == 1 and pages[0].unit == "pixel" and pages[0].width > 0 and pages[0].height > 0
    lines = pages[0].lines
    assert lines, "no lines"
    for line in lines:
        assert len(line.bounding_box) == 8
        assert line.words and all(0.0 <= w.confidence <= 1.0 and len(w.bounding_box) == 8 for w in line.words)
    text = "\n".join(line.text for line in lines)
    score = cer(text, row["text"])
    assert score <= max_cer, f"CER {score:.3f} > {max_cer}: {text!r}"


def test_endpoint_with_trailing_slash(server: Server) -> None:
    result = quickstart_read(server.url + "/", server.key, str(require_shared() / "line/uw3_0768_010009.png"))
    assert result.analyze_result.read_results[0].lines


def test_shared_probe_strict(server: Server) -> None:
    """The shared SDK probe (cv family) with every shape check turned into a failure."""
    probe = SHARED / "tools" / "azure_sdk_probe.py"
    image = require_shared() / "page" / "tess_phototest.tif"
    env = {**os.environ, "AZ_ENDPOINT": server.url, "AZ_KEY": server.key}
    out = subprocess.run(
        [sys.executable, str(probe), str(image), "--only", "cv", "--strict"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.startswith("OK cv"), out.stdout
    assert "quick brown" in out.stdout
