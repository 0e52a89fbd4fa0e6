"""No accepted job is lost: jobs queued when the server stops complete after it restarts; a worker
killed mid-job costs one attempt, not the job; a job that keeps killing its worker ends failed. Workers
read at a lower CPU priority than the API, so that a busy queue does not starve it."""

from __future__ import annotations

import signal
import sqlite3
import time

import httpx
import psutil
import pytest

from tests.conftest import Server, doc, poll, slow_page


def _submit(srv: Server, body: bytes) -> str:
    r = httpx.post(
        f"{srv.url}/vision/v3.2/read/analyze",
        content=body,
        headers={**srv.headers, "Content-Type": "application/octet-stream"},
        timeout=60,
    )
    assert r.status_code == 202, r.text
    return r.headers["Operation-Location"]


def _db_rows(srv: Server, sql: str, *args) -> list[tuple]:
    with sqlite3.connect(srv.data_dir / "ocrgw.db") as conn:
        return conn.execute(sql, args).fetchall()


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
def test_queued_jobs_complete_after_restart(make_server, how: int) -> None:
    # A form page takes about a second: with one worker, most of the four are still waiting at the stop.
    page = doc("form/form_100dpi.png").read_bytes()
    srv = make_server(workers=1).start()
    locations = [_submit(srv, page) for _ in range(4)]
    srv.stop(how)
    states = [s for (s,) in _db_rows(srv, "select status from jobs")]
    assert len(states) == 4 and any(s in ("queued", "running") for s in states), states
    srv.start()
    for loc in locations:
        body = poll(srv, loc, timeout=120)
        assert body["status"] == "succeeded", body
        assert body["analyzeResult"]["readResults"][0]["lines"]
    # Each job has its single page once, whatever happened to the attempt that was cut short.
    counts = _db_rows(srv, "select job_id, count(*) from pages group by job_id")
    assert sorted(c for _, c in counts) == [1, 1, 1, 1]


def test_worker_killed_mid_job_costs_one_attempt(make_server) -> None:
    page = slow_page()
    srv = make_server(workers=1).start()
    loc = _submit(srv, page)
    deadline = time.monotonic() + 30
    while httpx.get(loc, headers=srv.headers).json()["status"] != "running":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    victims = srv.worker_pids()
    assert victims
    for pid in victims:
        psutil.Process(pid).kill()
    body = poll(srv, loc, timeout=120)
    assert body["status"] == "succeeded", body
    job_id = loc.rsplit("/", 1)[1]
    assert _db_rows(srv, "select attempts from jobs where id = ?", job_id) == [(2,)]
    assert _db_rows(srv, "select count(*) from pages where job_id = ?", job_id) == [(1,)]
    assert set(srv.worker_pids()).isdisjoint(victims), "the dead worker was not replaced"
    # And the replacement serves the next job.
    nxt = poll(srv, _submit(srv, doc("line/uw3_0768_010009.png").read_bytes()))
    assert nxt["status"] == "succeeded"


def test_job_that_always_overruns_fails_after_max_attempts(make_server) -> None:
    """The hard time limit kills the worker each time; after the cap the job fails with a clear error
    and the queue keeps flowing."""
    page = doc("multicol/tess_8071_093.3B.tif").read_bytes()
    srv = make_server(workers=1, env={"OCRGW_JOB_TIMEOUT_SECONDS": "0.3", "OCRGW_MAX_ATTEMPTS": "2"}).start()
    loc = _submit(srv, page)
    body = poll(srv, loc, timeout=120)
    assert body["status"] == "failed", body
    assert body["error"]["innererror"]["code"] == "FailedToProcess"
    assert "every attempt" in body["error"]["message"]
    job_id = loc.rsplit("/", 1)[1]
    assert _db_rows(srv, "select attempts, error_code from jobs where id = ?", job_id) == [(2, "WorkerCrashed")]
    small = doc("line/uw3_0768_010009.png").read_bytes()
    assert poll(srv, _submit(srv, small))["status"] == "succeeded"


def test_shutdown_hands_back_a_running_job_without_spending_an_attempt(make_server) -> None:
    """A graceful stop that cannot wait for a long job returns it to the queue at no cost."""
    page = slow_page()
    srv = make_server(workers=1, env={"OCRGW_SHUTDOWN_GRACE_SECONDS": "0"}).start()
    loc = _submit(srv, page)
    deadline = time.monotonic() + 30
    while httpx.get(loc, headers=srv.headers).json()["status"] != "running":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    srv.stop(signal.SIGTERM)
    job_id = loc.rsplit("/", 1)[1]
    assert _db_rows(srv, "select status, attempts, lease_owner from jobs where id = ?", job_id) == [("queued", 0, None)]
    srv.start()
    assert poll(srv, loc, timeout=120)["status"] == "succeeded"
    assert _db_rows(srv, "select attempts from jobs where id = ?", job_id) == [(1,)]


def test_workers_read_at_a_lower_cpu_priority_than_the_api(server: Server) -> None:
    """OCR on every core must not starve the API's event loop: worker processes (local ones, or Celery's
    pool children) run OCRGW_WORKER_NICE (default 10) below the API process."""
    assert server.proc is not None
    api = psutil.Process(server.proc.pid).nice()
    deadline = time.monotonic() + 60
    while True:
        nice = {pid: psutil.Process(pid).nice() for pid in server.worker_pids()}
        if nice and set(nice.values()) == {min(api + 10, 19)}:
            break
        assert time.monotonic() < deadline, f"API at {api}, workers at {nice}"
        time.sleep(0.2)
