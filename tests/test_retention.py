"""Retention and backpressure on the Read API: results expire (404 in Azure's envelope) and the purge
removes their rows and documents; a full backlog answers 429 with an integer Retry-After while every
job already accepted completes."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.bodies import assert_azure_error
from tests.conftest import doc, poll, slow_page


def _submit(srv, body: bytes) -> httpx.Response:
    return httpx.post(
        f"{srv.url}/vision/v3.2/read/analyze",
        content=body,
        timeout=60,
        headers={**srv.headers, "Content-Type": "application/octet-stream"},
    )


def test_expired_read_result_is_404_and_purged_with_its_document(make_server) -> None:
    # Retention of 2 s, purge every second.
    srv = make_server(
        workers=1, env={"OCRGW_RETENTION_READ_HOURS": str(2 / 3600), "OCRGW_PURGE_INTERVAL_SECONDS": "1"}
    ).start()
    r = _submit(srv, doc("line/uw3_0768_010009.png").read_bytes())
    assert r.status_code == 202
    loc = r.headers["Operation-Location"]
    job_id = loc.rsplit("/", 1)[1]
    assert poll(srv, loc)["status"] == "succeeded"
    (blob_key,) = srv.query("select blob_key from jobs where id = :id", id=job_id)[0]
    blob = srv.data_dir / "blobs" / blob_key[:2] / blob_key
    assert blob.exists()
    deadline = time.monotonic() + 30
    while httpx.get(loc, headers=srv.headers).status_code != 404:
        assert time.monotonic() < deadline, "the result did not expire"
        time.sleep(0.2)
    assert_azure_error(httpx.get(loc, headers=srv.headers), 404, "NotFound", "OperationNotFound")
    while srv.query("select count(*) from jobs where id = :id", id=job_id) != [(0,)] or blob.exists():
        assert time.monotonic() < deadline, "the purge did not remove the job and its document"
        time.sleep(0.2)
    assert srv.query("select count(*) from pages where job_id = :id", id=job_id) == [(0,)]
    assert srv.query("select count(*) from words") == [(0,)]


def test_full_backlog_answers_429_and_accepted_jobs_complete(make_server) -> None:
    srv = make_server(workers=1, env={"OCRGW_MAX_BACKLOG": "2", "OCRGW_BACKLOG_RETRY_AFTER_SECONDS": "3"}).start()
    page = slow_page()
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda _: _submit(srv, page), range(10)))
    accepted = [r for r in responses if r.status_code == 202]
    refused = [r for r in responses if r.status_code != 202]
    assert accepted and refused, [r.status_code for r in responses]
    for r in refused:
        assert_azure_error(r, 429, "429")
        assert r.headers["Retry-After"] == "3"
    for r in accepted:
        assert poll(srv, r.headers["Operation-Location"], timeout=180)["status"] == "succeeded"
    # Once the backlog drains, submits are accepted again.
    assert _submit(srv, page).status_code == 202
