"""Usage metering through a real server (both deployments): a mix of calls over four APIs, with bad
requests, a synchronous job that fails, an asynchronous one that fails, and polls, is billed exactly as the
answers' statuses say (2xx calls, pages of succeeded jobs); a worker killed mid-job bills its pages once;
the usage endpoint is admin-only; `ocrgw usage` prints the same records as a table, CSV and JSON; the
Prometheus counters carry them by key id."""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
from PIL import Image

from tests.conftest import Server, doc, poll, slow_page_image

PROJECT = "proj123"


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _tiff(pages: list[Image.Image]) -> bytes:
    buf = io.BytesIO()
    pages[0].save(buf, "TIFF", save_all=True, append_images=pages[1:], dpi=(300, 300), compression="tiff_lzw")
    return buf.getvalue()


LINE = doc("line/uw3_0768_010009.png").read_bytes()


def _truncated() -> bytes:
    """A PNG whose headers are whole but whose pixels are cut short: intake stores it, the worker fails it."""
    data = doc("page/figures_report.png").read_bytes()
    return data[: len(data) // 3]


@dataclass
class Ledger:
    """What the server's answers say must be billed, per service: calls (2xx submits) and pages."""

    calls: Counter = field(default_factory=Counter)
    pages: Counter = field(default_factory=Counter)
    statuses: Counter = field(default_factory=Counter)

    def call(self, service: str, r: httpx.Response) -> bool:
        self.statuses[r.status_code // 100 * 100] += 1
        if 200 <= r.status_code < 300:
            self.calls[service] += 1
            return True
        return False


def _azure(srv: Server, key: str, body: bytes, ledger: Ledger) -> None:
    r = httpx.post(
        f"{srv.url}/vision/v3.2/read/analyze",
        content=body,
        headers={"Ocp-Apim-Subscription-Key": key, "Content-Type": "application/octet-stream"},
        timeout=60,
    )
    if ledger.call("azure-read", r):
        done = poll(Server(srv.data_dir, key=key), r.headers["Operation-Location"], timeout=120)
        poll(Server(srv.data_dir, key=key), r.headers["Operation-Location"])  # a second poll: free
        if done["status"] == "succeeded":
            ledger.pages["azure-read"] += len(done["analyzeResult"]["readResults"])


def _huawei(srv: Server, key: str, body: bytes, ledger: Ledger) -> httpx.Response:
    r = httpx.post(
        f"{srv.url}/v2/{PROJECT}/ocr/general-text",
        json={"image": base64.b64encode(body).decode()},
        headers={"X-Auth-Token": key},
        timeout=120,
    )
    if ledger.call("huawei-general-text", r):
        ledger.pages["huawei-general-text"] += 1
    return r


def _ocrspace(srv: Server, key: str, body: bytes, ledger: Ledger) -> None:
    r = httpx.post(srv.url + "/parse/image", files={"file": ("a.png", body)}, headers={"apikey": key}, timeout=120)
    if ledger.call("ocrspace", r) and not r.json().get("IsErroredOnProcessing"):
        ledger.pages["ocrspace"] += 1


def _native(srv: Server, key: str, body: bytes, ledger: Ledger, **fields: str) -> None:
    headers = {"X-API-Key": key}
    r = httpx.post(srv.url + "/v1/jobs", headers=headers, files={"file": ("a.png", body)}, data=fields, timeout=60)
    if ledger.call("native", r):
        loc = r.json()["links"]["self"]
        deadline = time.monotonic() + 120
        while (job := httpx.get(loc, headers=headers).json())["status"] not in ("succeeded", "failed"):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        if job["status"] == "succeeded":
            ledger.pages["native"] += job["progress"]["pages_done"]


def _usage(srv: Server, admin: str, **params: str) -> httpx.Response:
    return httpx.get(srv.url + "/v1/usage", headers={"X-API-Key": admin}, params=params, timeout=30)


def _billed(srv: Server, admin: str, key_name: str) -> tuple[Counter, Counter, dict]:
    body = _usage(srv, admin, key=key_name).json()
    calls, pages = Counter(), Counter()
    for item in body["items"]:
        calls[item["service"]] += item["calls"]
        pages[item["service"]] += item["pages"]
    return +calls, +pages, body


def test_usage_matches_the_answers(server: Server) -> None:
    name = f"usage-{uuid.uuid4().hex[:8]}"
    key = server.cli("keys", "create", "--name", name, "-q").strip()
    admin = server.cli("keys", "create", "--name", f"admin-{name}", "--admin", "-q").strip()
    ledger = Ledger()
    two_pages = _tiff([Image.open(io.BytesIO(LINE)).convert("L")] * 2)
    _azure(server, key, LINE, ledger)
    _azure(server, key, two_pages, ledger)
    _azure(server, key, b"not an image at all" * 10, ledger)  # 400: not billed
    _azure(server, key, _truncated(), ledger)  # 202 (billed, as Azure bills an accepted analyze), then fails
    _huawei(server, key, LINE, ledger)
    failed = _huawei(server, key, _truncated(), ledger)  # the synchronous job fails: not billed
    assert failed.status_code >= 400, failed.text
    _ocrspace(server, key, LINE, ledger)
    _ocrspace(server, key, _truncated(), ledger)  # fails, answered 200 as OCR.space does: billed per request
    _native(server, key, LINE, ledger)
    _native(server, key, LINE, ledger, languages="xx-not-a-language")  # 400
    assert ledger.statuses[400] >= 3 and ledger.statuses[200] >= 5, ledger.statuses

    calls, pages, body = _billed(server, admin, name)
    assert calls == +ledger.calls, (calls, ledger.calls)
    assert pages == +ledger.pages, (pages, ledger.pages)
    assert calls["azure-read"] == 3 and pages["azure-read"] == 3  # the failed job: a call, no pages
    assert calls["huawei-general-text"] == 1 and calls["ocrspace"] == 2 and pages["ocrspace"] == 1
    assert body["calls"] == sum(ledger.calls.values()) and body["pages"] == sum(ledger.pages.values())
    key_id = body["items"][0]["key_id"]
    assert {i["key_id"] for i in body["items"]} == {key_id} and body["items"][0]["key_name"] == name

    # Polls and result reads since then bill nothing.
    assert _billed(server, admin, name)[:2] == (calls, pages)

    # Admin only, in the native envelope; bad filters are 400s that name the parameter.
    r = _usage(server, key)
    assert r.status_code == 403 and r.json()["error"]["code"] == "Forbidden", r.text
    r = _usage(server, admin, service="nope")
    assert r.status_code == 400 and r.json()["error"]["param"] == "service", r.text
    r = _usage(server, admin, key="no-such-key")
    assert r.status_code == 404 and r.json()["error"]["param"] == "key", r.text
    assert _usage(server, admin, key=name, service="ocrspace").json()["calls"] == ledger.calls["ocrspace"]
    assert _usage(server, admin, key=name, since="2000-01-01", until="2000-01-02").json()["items"] == []

    # Prometheus, by key id, read from the same table.
    metrics = httpx.get(server.url + "/metrics", timeout=30).text
    for service, n in calls.items():
        assert f'ocrgw_billable_calls_total{{key_id="{key_id}",service="{service}"}} {float(n)}' in metrics
    for service, n in pages.items():
        assert f'ocrgw_billed_pages_total{{key_id="{key_id}",service="{service}"}} {float(n)}' in metrics

    _check_cli(server, name, body)
    _replay_and_delete(server, key, admin, name, calls, pages)


def _replay_and_delete(server: Server, key: str, admin: str, name: str, calls: Counter, pages: Counter) -> None:
    """An idempotent replay makes no job and bills nothing; deleting a job keeps its usage."""
    headers = {"X-API-Key": key, "Idempotency-Key": name}
    first, again = (
        httpx.post(server.url + "/v1/jobs", headers=headers, files={"file": ("a.png", LINE)}, timeout=60)
        for _ in range(2)
    )
    assert first.status_code == again.status_code == 202 and again.headers["Idempotent-Replayed"] == "true"
    assert httpx.delete(first.json()["links"]["self"], headers=headers, timeout=30).status_code == 204
    after_calls, after_pages, _ = _billed(server, admin, name)
    assert after_calls == calls + Counter(native=1), after_calls
    # Its page is billed if the job succeeded before it was deleted, else never.
    assert after_pages - Counter(native=1) == pages or after_pages == pages, after_pages


def _check_cli(server: Server, name: str, body: dict) -> None:
    """`ocrgw usage` in its three formats shows what the endpoint shows."""
    as_json = json.loads(server.cli("usage", "--key", name, "--format", "json"))
    assert as_json == body
    rows = list(csv.DictReader(io.StringIO(server.cli("usage", "--key", name, "--format", "csv", "--since", "1d"))))
    assert [(r["service"], int(r["calls"]), int(r["pages"])) for r in rows] == [
        (i["service"], i["calls"], i["pages"]) for i in body["items"]
    ]
    table = server.cli("usage", "--key", name).splitlines()
    assert table[0].split()[:4] == ["day", "key_id", "key", "name"]
    assert table[-1].split() == ["total", str(body["calls"]), str(body["pages"])]
    assert len(table) == len(body["items"]) + 2


def test_worker_killed_mid_job_bills_its_pages_once(make_server) -> None:
    srv = make_server(workers=1).start()
    quarter = slow_page_image().convert("L")
    r = httpx.post(
        f"{srv.url}/vision/v3.2/read/analyze",
        content=_tiff([quarter] * 3),
        headers={**srv.headers, "Content-Type": "application/octet-stream"},
        timeout=60,
    )
    assert r.status_code == 202, r.text
    job_id = r.headers["Operation-Location"].rsplit("/", 1)[1]
    deadline = time.monotonic() + 60
    while srv.query("select pages_done from jobs where id = :id", id=job_id) != [(1,)]:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    victims = srv.worker_pids()
    for pid in victims:
        psutil.Process(pid).kill()
    done = poll(srv, r.headers["Operation-Location"], timeout=120)
    assert done["status"] == "succeeded", done
    assert srv.query("select attempts from jobs where id = :id", id=job_id) == [(2,)]
    assert srv.query("select service, calls, pages from usage") == [("azure-read", 1, 3)]


def test_every_stored_dialect_bills_as_a_listed_service() -> None:
    """Each name jobs are stored under maps to a service the usage filters accept, API versions folded."""
    from ocrgw.dialects.azure.docintel.routes import DIALECTS as DOCINTEL
    from ocrgw.dialects.azure.imageanalysis.routes import DIALECT as IMAGEANALYSIS
    from ocrgw.dialects.azure.v21.routes import DIALECT as V21
    from ocrgw.dialects.flaskapi.routes import DIALECT as FLASK
    from ocrgw.dialects.gvision.routes import DIALECT as GVISION
    from ocrgw.dialects.huawei.routes import DIALECT as HUAWEI
    from ocrgw.dialects.native.routes import DIALECT as NATIVE
    from ocrgw.dialects.ocrspace.routes import DIALECT as OCRSPACE
    from ocrgw.dialects.streamapi.routes import DIALECT as STREAM
    from ocrgw.dialects.textract.routes import DIALECT as TEXTRACT
    from ocrgw.jobs.usage import SERVICES, service_of

    stored = [NATIVE, V21, "azure-read-v3.0", "azure-read-v3.2", IMAGEANALYSIS, *DOCINTEL.values()]
    stored += [OCRSPACE, HUAWEI, FLASK, STREAM, GVISION]
    stored += [TEXTRACT]
    billed = {name: service_of(name, ()) for name in stored}
    assert set(billed.values()) <= set(SERVICES), billed
    assert billed[V21] == billed["azure-read-v3.2"] == "azure-read"
    assert {billed[n] for n in DOCINTEL.values()} == {"azure-docintel"}
    assert service_of(HUAWEI, ("mrz",)) == "huawei-passport" and billed[HUAWEI] == "huawei-general-text"
    assert set(SERVICES) == set(billed.values()) | {"huawei-passport"}


def test_usage_cli_refuses_bad_filters(tmp_path: Path) -> None:
    env = {**os.environ, "OCRGW_DATA_DIR": str(tmp_path)}
    for args, said in (
        (["--service", "azure"], "Unknown service 'azure'"),
        (["--since", "yesterday"], "is not a day"),
        (["--since", "2026-02-01", "--until", "2026-01-01"], "`since` is after `until`"),
        (["--key", "nobody"], "no key matches 'nobody'"),
    ):
        out = subprocess.run(
            [sys.executable, "-m", "ocrgw.cli", "usage", *args], env=env, capture_output=True, text=True, timeout=60
        )
        assert out.returncode != 0 and said in out.stderr, (args, out.returncode, out.stderr)
