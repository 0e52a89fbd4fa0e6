"""Operations on real servers: Prometheus /metrics (requests by route template, jobs by state from SQL, page
and engine histograms added up from the worker processes), JSON logs whose request id follows a job from the
API into the worker, and a Celery worker's own metrics port."""

from __future__ import annotations

import io
import json
import logging
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image, ImageDraw, ImageFont
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Server, free_port, poll

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
ANALYZE = "/vision/v3.2/read/analyze"
RESULTS = "/vision/v3.2/read/analyzeResults/{operation_id}"


def text_png(text: str = "Metrics 2024") -> bytes:
    img = Image.new("L", (520, 110), 255)
    font = ImageFont.truetype(FONT, 44) if Path(FONT).exists() else ImageFont.load_default(44)
    ImageDraw.Draw(img).text((20, 30), text, fill=0, font=font)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def samples(url: str) -> dict[tuple[str, frozenset], float]:
    r = httpx.get(f"{url}/metrics", timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for fam in text_string_to_metric_families(r.text)
        for s in fam.samples
    }


def value(got: dict, name: str, **labels: str) -> float | None:
    return got.get((name, frozenset(labels.items())))


def submit(srv: Server, request_id: str | None = None) -> tuple[httpx.Response, dict]:
    headers = {**srv.headers, "Content-Type": "application/octet-stream"}
    if request_id:
        headers["X-Request-Id"] = request_id
    r = httpx.post(srv.url + ANALYZE, content=text_png(), headers=headers, timeout=60)
    assert r.status_code == 202, r.text
    body = poll(srv, r.headers["Operation-Location"])
    assert body["status"] == "succeeded", body
    return r, body


def json_lines(path: Path) -> list[dict]:
    out = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            out.append(json.loads(line))  # every log line is one JSON object
    return out


def wait_for_line(path: Path, pred, timeout: float = 10) -> dict:
    """The job line is written just after the job's commit, so a poll can see the result first."""
    deadline = time.monotonic() + timeout
    while True:
        found = [rec for rec in json_lines(path) if pred(rec)]
        if found or time.monotonic() > deadline:
            assert found, path.read_text(errors="replace")[-4000:]
            return found[0]
        time.sleep(0.1)


@pytest.fixture(scope="module")
def json_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One embedded server for the module (JSON logs, one worker process): starting servers is the cost."""
    srv = Server(tmp_path_factory.mktemp("ops"), env={"OCRGW_LOG_FORMAT": "json"}, workers=1).start()
    yield srv
    srv.stop()


def test_metrics_count_requests_jobs_and_pages(json_server: Server) -> None:
    srv = json_server
    before = samples(srv.url)
    r, _ = submit(srv)
    job_id = r.headers["Operation-Location"].rsplit("/", 1)[1]
    for slash in ("/", "//"):  # `//` as Azure SDKs send with a trailing-slash endpoint: the same route
        r404 = httpx.get(f"{srv.url}{slash}vision/v3.2/read/analyzeResults/{uuid.uuid4()}", headers=srv.headers)
        assert r404.status_code == 404
    assert httpx.get(f"{srv.url}/no/such/{uuid.uuid4()}", headers=srv.headers).status_code == 404
    # an operations endpoint, not part of the API schema
    assert "/metrics" not in httpx.get(f"{srv.url}/openapi.json").json()["paths"]
    got = samples(srv.url)

    def delta(name: str, **labels: str) -> float:
        return (value(got, name, **labels) or 0) - (value(before, name, **labels) or 0)

    # requests by route template and status, never by raw path
    assert delta("ocrgw_http_requests_total", method="POST", route=ANALYZE, status="202") == 1
    assert delta("ocrgw_http_requests_total", method="GET", route=RESULTS, status="200") >= 1
    assert delta("ocrgw_http_requests_total", method="GET", route=RESULTS, status="404") == 2
    assert delta("ocrgw_http_requests_total", method="GET", route="unmatched", status="404") == 1
    assert delta("ocrgw_http_requests_total", method="GET", route="/openapi.json", status="200") == 1
    assert delta("ocrgw_http_request_duration_seconds_count", method="POST", route=ANALYZE) == 1
    routes = {dict(labels).get("route", "") for _, labels in got}
    assert not any(job_id in r or "/no/such" in r for r in routes), routes
    # jobs by state and queue depth, read from SQL at scrape time (cached for two seconds)
    deadline = time.monotonic() + 10
    while not value(got, "ocrgw_jobs", state="succeeded") and time.monotonic() < deadline:
        time.sleep(0.5)
        got = samples(srv.url)
    assert value(got, "ocrgw_jobs", state="succeeded") >= 1
    assert value(got, "ocrgw_queue_depth") == 0
    assert value(got, "ocrgw_database_up") == 1
    # the app, its routes and engine are out of the full collections' walk (ops.heap: ~150,000 objects)
    assert value(got, "ocrgw_gc_frozen_objects") > 50_000
    assert value(got, "ocrgw_workers_live") == 1
    # observed in the worker process, added up by the API's /metrics (multi-process mode)
    assert delta("ocrgw_page_seconds_count") == 1
    assert delta("ocrgw_engine_seconds_count") == 1
    assert 0 < delta("ocrgw_engine_seconds_sum") <= delta("ocrgw_page_seconds_sum")
    assert delta("ocrgw_jobs_finished_total", status="succeeded") == 1


def test_json_logs_carry_the_request_id_into_the_worker(json_server: Server) -> None:
    srv = json_server
    r, _ = submit(srv, request_id="test-123")
    assert r.headers["X-Request-Id"] == "test-123"
    job_id = r.headers["Operation-Location"].rsplit("/", 1)[1]
    assert srv.log_path is not None
    access = wait_for_line(
        srv.log_path,
        lambda rec: (
            rec.get("logger") == "ocrgw.access" and rec.get("request_id") == "test-123" and rec.get("method") == "POST"
        ),
    )
    assert access["route"] == ANALYZE and access["status"] == 202 and access["duration_ms"] >= 0
    assert access["level"] == "INFO" and access["time"].endswith("Z")
    job = wait_for_line(srv.log_path, lambda rec: rec.get("logger") == "ocrgw.job" and rec.get("job_id") == job_id)
    assert job["request_id"] == "test-123" and job["status"] == "succeeded"
    assert job["pid"] != access["pid"]  # written by the worker process
    assert srv.query("select request_id from jobs where id = :id", id=job_id) == [("test-123",)]
    # an id unfit for logs is replaced; a response without one gets one
    bad = httpx.get(f"{srv.url}/health", headers={"X-Request-Id": "x" * 65})
    assert len(bad.headers["X-Request-Id"]) == 32 and bad.headers["X-Request-Id"] != "x" * 65
    assert len(httpx.get(f"{srv.url}/health").headers["X-Request-Id"]) == 32


def test_scaleout_worker_serves_its_own_metrics(make_scaleout) -> None:
    port = free_port()
    srv = make_scaleout(
        workers=1,
        worker_processes=1,
        env={
            "OCRGW_WORKER_METRICS_PORT": str(port),
            "OCRGW_WORKER_METRICS_HOST": "127.0.0.1",
            "OCRGW_LOG_FORMAT": "json",
        },
    ).start()
    r, _ = submit(srv, request_id="scale-1")
    job_id = r.headers["Operation-Location"].rsplit("/", 1)[1]
    worker = samples(f"http://127.0.0.1:{port}")
    assert value(worker, "ocrgw_page_seconds_count") >= 1
    assert value(worker, "ocrgw_engine_seconds_count") >= 1
    assert value(worker, "ocrgw_jobs_finished_total", status="succeeded") >= 1
    api = samples(srv.url)  # the first scrape: nothing cached yet
    assert value(api, "ocrgw_jobs", state="succeeded") >= 1  # from PostgreSQL
    assert value(api, "ocrgw_http_requests_total", method="POST", route=ANALYZE, status="202") == 1
    job = wait_for_line(
        srv.data_dir / "worker-0.log", lambda rec: rec.get("logger") == "ocrgw.job" and rec.get("job_id") == job_id
    )
    assert job["request_id"] == "scale-1"


def test_request_id_rule_and_formatters() -> None:
    """In-process: which client ids are kept, and both formats carrying the context's ids."""
    from ocrgw.ops.context import accept_request_id, job_scope, request_id_var, set_job_request_id
    from ocrgw.ops.logs import JsonFormatter, TextFormatter

    assert accept_request_id("abc-1.2_X") == "abc-1.2_X"
    for bad in ("", "x" * 65, "a b", 'a"b', "a\nb", "é"):
        assert len(accept_request_id(bad)) == 32
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("ocrgw.t", logging.ERROR, __file__, 1, "m %s", ("x",), sys.exc_info())
    record.pages = 3
    with job_scope("j-1"):
        set_job_request_id("r-1")
        out = json.loads(JsonFormatter().format(record))
        text = TextFormatter().format(record)
    assert request_id_var.get() is None  # restored when the job ends
    assert {k: out[k] for k in ("level", "logger", "message", "request_id", "job_id", "pages")} == {
        "level": "ERROR",
        "logger": "ocrgw.t",
        "message": "m x",
        "request_id": "r-1",
        "job_id": "j-1",
        "pages": 3,
    }
    assert "ValueError: boom" in out["exc"]
    first, _, rest = text.partition("\n")
    assert first.endswith("m x [request_id=r-1 job_id=j-1]") and "ValueError: boom" in rest
