"""Synchronous APIs' waits (``jobs.endings``; scale-out's ``queue.notices``) on real deployments, embedded
and scale-out: OCR.space ``/parse/image`` and Image Analysis 4.0 ``analyze`` answer with the right text
when the waiting request is woken by the job-end notice alone (the SQL fallback set to an hour), and when
no notice comes (``OCRGW_JOB_END_NOTIFY=false``) the SQL fallback still ends the wait; scale-out's
notices come back after Redis restarts. How each wait ended is read from ``ocrgw_sync_waits_total`` on
/metrics."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.conftest import RedisServer, Server, doc, scaleout_available, unavailable

IMAGE = "line/uw3_0768_010009.png"  # one text line, 1051 x 53 px: Image Analysis takes sides >= 50 px
WORD = "stability"  # its first word, which both routes must return
IA = "/computervision/imageanalysis:analyze?api-version=2024-02-01&features=read"
SYNC_WAIT = 60  # the servers' bound on a synchronous wait
# A request that took this long was not woken by its notice (a generous bound: a text line takes well
# under a second, and a broken notice path would wait out SYNC_WAIT, or the hour-long fallback).
WOKEN_WITHIN = 40


@pytest.fixture(params=["embedded", "scaleout"])
def deploy(request: pytest.FixtureRequest, make_server: Callable[..., Server]) -> Callable[..., Server]:
    def start(**env: str) -> Server:
        env = {"OCRGW_AUTH": "off", "OCRGW_SYNC_WAIT_SECONDS": str(SYNC_WAIT), **env}
        if request.param == "embedded":
            return make_server(env=env, workers=1).start()
        if not scaleout_available():
            unavailable("scale-out needs PostgreSQL on 127.0.0.1:5432 and redis-server")
        return request.getfixturevalue("make_scaleout")(env=env, workers=1).start()

    return start


def ocrspace(srv: Server, body: bytes) -> str:
    r = httpx.post(f"{srv.url}/parse/image", files={"file": ("line.png", body, "image/png")}, timeout=120)
    assert r.status_code == 200, r.text
    js = r.json()
    assert not js["IsErroredOnProcessing"], js
    return js["ParsedResults"][0]["ParsedText"]


def image_analysis(srv: Server, body: bytes) -> str:
    r = httpx.post(srv.url + IA, content=body, headers={"Content-Type": "application/octet-stream"}, timeout=120)
    assert r.status_code == 200, r.text
    return " ".join(ln["text"] for b in r.json()["readResult"]["blocks"] for ln in b["lines"])


def waits(srv: Server) -> dict[str, float]:
    """``ocrgw_sync_waits_total`` by how the waits ended."""
    r = httpx.get(f"{srv.url}/metrics", timeout=30)
    assert r.status_code == 200, r.text
    return {
        s.labels["ended_by"]: s.value
        for fam in text_string_to_metric_families(r.text)
        for s in fam.samples
        if s.name == "ocrgw_sync_waits_total"
    }


def read_twice_each(srv: Server, within: float = SYNC_WAIT) -> None:
    """Each synchronous route twice, its text checked, and each call answered ``within`` seconds."""
    body = doc(IMAGE).read_bytes()
    for call in (ocrspace, image_analysis, ocrspace, image_analysis):
        t0 = time.monotonic()
        text = call(srv, body)
        took = time.monotonic() - t0
        assert WORD in text, (call.__name__, text)
        assert took < within, (call.__name__, took)


def test_the_notice_alone_wakes_a_synchronous_request(deploy: Callable[..., Server]) -> None:
    srv = deploy(OCRGW_SYNC_POLL_SECONDS="3600")  # the SQL fallback never comes within the wait
    read_twice_each(srv, within=WOKEN_WITHIN)
    assert waits(srv).get("notice") == 4, waits(srv)


def test_a_missed_notice_still_ends_the_wait_by_the_sql_fallback(deploy: Callable[..., Server]) -> None:
    # No notices are given (the dispatcher's, or the Celery worker's on Redis, while the API listens for
    # them): every wait ends by the SQL read every half second.
    srv = deploy(OCRGW_JOB_END_NOTIFY="false", OCRGW_SYNC_POLL_SECONDS="0.5")
    read_twice_each(srv)
    got = waits(srv)
    assert got.get("poll") == 4 and not got.get("notice"), got


def test_the_notices_come_back_after_a_redis_restart(make_scaleout: Callable[..., Server], tmp_path: Path) -> None:
    # The API's subscription and the workers' connections are lost with Redis; a wait meanwhile falls back
    # to SQL, and once both have reconnected, notices wake the waits again.
    if not scaleout_available():
        unavailable("scale-out needs PostgreSQL on 127.0.0.1:5432 and redis-server")
    redis = RedisServer(tmp_path / "redis").start()
    try:
        env = {"OCRGW_AUTH": "off", "OCRGW_SYNC_WAIT_SECONDS": str(SYNC_WAIT), "OCRGW_SYNC_POLL_SECONDS": "1"}
        srv = make_scaleout(redis=redis, workers=1, env=env).start()
        body = doc(IMAGE).read_bytes()
        assert WORD in image_analysis(srv, body)
        assert waits(srv).get("notice") == 1, waits(srv)
        redis.stop()
        time.sleep(1)
        redis.start()
        deadline = time.monotonic() + 90
        while waits(srv).get("notice", 0) < 2:  # until a wait is woken by a notice again
            assert time.monotonic() < deadline, ("no notice since the restart", waits(srv), srv.log())
            assert WORD in image_analysis(srv, body)
    finally:
        redis.stop()
