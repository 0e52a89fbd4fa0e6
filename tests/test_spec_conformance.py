"""The served OpenAPI document matches the server (issue 17): schemathesis over every operation of every
dialect in /openapi.json, against a real server on 127.0.0.1, with all its checks (statuses, media types,
response schemas and headers, valid input accepted, invalid input refused, auth, Allow on 405s, ...), a
bounded number of deterministic examples, and no failure allowed. tests/schemathesis.toml says where a
schema cannot describe the server (documents that are no image, an opaque cursor, OCR.space's HTTP 200
errors).

Generated requests carry URLs with made-up host names (image sources, callbacks): the server runs with
OCRGW_URL_ALLOWED_HOSTS=127.0.0.1 and private addresses refused, so it refuses every one of them before
resolving it. Nothing it is sent makes it look up a name or connect anywhere."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO, Server

pytestmark = pytest.mark.slow

CONFIG = REPO / "tests" / "schemathesis.toml"
# Per operation and phase: ~35 s on 2 cores. Random seeds 1-15 at 40 examples found nothing more.
EXAMPLES = 25
# Where each dialect takes its key (the Huawei SDK signs with AK/SK; X-Auth-Token carries a plain key).
KEY_HEADERS = ("Ocp-Apim-Subscription-Key", "X-API-Key", "apikey", "X-Auth-Token", "x-goog-api-key")
CONFINED = {
    "OCRGW_URL_ALLOWED_HOSTS": "127.0.0.1",
    "OCRGW_URL_ALLOW_PRIVATE": "false",
    "OCRGW_MAX_UPLOAD_BYTES": str(8 * 1024 * 1024),
    "OCRGW_SYNC_WAIT_SECONDS": "30",  # generated documents fail in milliseconds; a hang fails the test
}
RUN_ST = "import sys; from schemathesis.cli import schemathesis; sys.exit(schemathesis(prog_name='st'))"


@pytest.fixture(scope="module")
def confined_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of its own (generated requests make jobs and keys), one worker, with an admin key, so that
    POST /generate_api_key is exercised past its 403."""
    srv = Server(tmp_path_factory.mktemp("conformance"), env=CONFINED, workers=1).start()
    srv.key = srv.cli("keys", "create", "--admin", "--name", "schemathesis", "-q").strip()
    yield srv
    srv.stop()


def test_generated_urls_are_refused_before_any_lookup(confined_server: Server) -> None:
    """The confinement the run relies on is in force: a public host name is refused as not allowed (a
    lookup would have answered "cannot resolve" or fetched it)."""
    r = httpx.post(
        confined_server.url + "/v1/jobs",
        headers={"X-API-Key": confined_server.key},
        json={"url": "https://example.com/scan.png"},
        timeout=30,
    )
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "UrlForbidden"
    assert "does not fetch from example.com" in r.json()["error"]["message"]


def test_schemathesis_finds_no_failure_in_the_whole_spec(confined_server: Server, tmp_path: Path) -> None:
    headers = [arg for name in KEY_HEADERS for arg in ("-H", f"{name}: {confined_server.key}")]
    cmd = [
        sys.executable,
        "-c",
        RUN_ST,
        "--config-file",
        str(CONFIG),
        "--no-color",
        "run",
        f"{confined_server.url}/openapi.json",
        "--max-examples",
        str(EXAMPLES),
        "--generation-deterministic",
        # One worker: the run is the same run every time (and hypothesis's lambda descriptions are not
        # thread-safe on Python 3.11: two workers occasionally stop an operation with a SystemError).
        "--workers",
        "1",
        "--request-timeout",
        "60",
        *headers,
    ]
    started = time.monotonic()
    out = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    took = time.monotonic() - started
    report = out.stdout + out.stderr
    assert out.returncode == 0, f"schemathesis failed (exit {out.returncode}, {took:.0f} s):\n{report}"
    spec = httpx.get(confined_server.url + "/openapi.json", timeout=30).json()
    operations = sum(len(ops) for ops in spec["paths"].values())
    assert f"Selected: {operations}/{operations}" in report and f"Tested: {operations}" in report, report[-3000:]
    verdict = report.rstrip().splitlines()[-1]  # "=== 2 warnings in 40.1s ===": no failure, no error
    assert "failure" not in verdict and "error" not in verdict, report[-3000:]
