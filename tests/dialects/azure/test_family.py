"""The four Azure API generations side by side on one server: each knows only its own operations, and
every family's official SDK reads the same page from it, with nothing missing from its result models."""

from __future__ import annotations

import httpx
from tests.bodies import assert_azure_error
from tests.conftest import Server, doc, poll
from tests.dialects.azure.sdk_clients import READERS

DI = "/documentintelligence/documentModels/prebuilt-read"


def test_operations_are_not_visible_across_api_families(server: Server) -> None:
    image = doc("line/uw3_0768_010009.png").read_bytes()
    headers = {**server.headers, "Content-Type": "application/octet-stream"}
    read = httpx.post(f"{server.url}/vision/v3.2/read/analyze", content=image, headers=headers, timeout=60)
    di = httpx.post(f"{server.url}{DI}:analyze?api-version=2024-11-30", content=image, headers=headers, timeout=60)
    assert read.status_code == di.status_code == 202
    read_id = read.headers["Operation-Location"].rsplit("/", 1)[1]
    di_id = di.headers["Operation-Location"].split("?")[0].rsplit("/", 1)[1]
    assert poll(server, read.headers["Operation-Location"])["status"] == "succeeded"
    # A Read operation is unknown to v2.1 and to Document Intelligence, and the other way round.
    r = httpx.get(f"{server.url}/vision/v2.1/read/operations/{read_id}", headers=server.headers)
    assert r.status_code == 404 and set(r.json()) == {"code", "message", "requestId"}
    r = httpx.get(f"{server.url}{DI}/analyzeResults/{read_id}?api-version=2024-11-30", headers=server.headers)
    assert_azure_error(r, 404, "NotFound")
    r = httpx.get(f"{server.url}/vision/v3.2/read/analyzeResults/{di_id}", headers=server.headers)
    assert_azure_error(r, 404, "NotFound", "OperationNotFound")


def test_every_family_sdk_reads_the_page(server: Server) -> None:
    """Computer Vision, Image Analysis, Form Recognizer and Document Intelligence, each through its own
    SDK's read flow against the same server: the whole text is there and every shape check holds."""
    page = doc("page/tess_phototest.tif")
    for family, read in READERS.items():
        reading = read(server.url, server.key, page)
        assert reading.problems == [], (family, reading.problems)
        assert " ".join(reading.text.split()).count("quick brown dog") == 4, (family, reading.text)
