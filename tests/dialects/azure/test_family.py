"""The four Azure API generations side by side on one server: each knows only its own operations, and
the shared SDK probe passes for every family at once."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
from tests.bodies import assert_azure_error
from tests.conftest import SHARED, Server, poll, require_shared

DI = "/documentintelligence/documentModels/prebuilt-read"


def test_operations_are_not_visible_across_api_families(server: Server) -> None:
    image = (require_shared() / "line" / "uw3_0768_010009.png").read_bytes()
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


def test_shared_probe_passes_for_every_family(server: Server) -> None:
    image = require_shared() / "page" / "tess_phototest.tif"
    env = {**os.environ, "AZ_ENDPOINT": server.url, "AZ_KEY": server.key}
    out = subprocess.run(
        [sys.executable, str(SHARED / "tools" / "azure_sdk_probe.py"), str(image), "--strict"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    for name in ("cv", "ia", "fr", "di"):
        assert f"OK {name}" in out.stdout, out.stdout
    assert out.stdout.count("quick brown dog") >= 4
