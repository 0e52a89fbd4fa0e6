"""The submits' fast lane (``ocrgw.fastlane``) answers as the router does: two real servers, one with the lanes
(the default) and one with ``OCRGW_FAST_LANES=false``, are sent the same requests (good and bad submits of
the native API and Azure Read, by header and query key, raw, multipart, JSON, chunked, idempotent retries)
and must give the same status, headers and body, ids and times aside. The lane's calls are still counted
under their route's template and logged with it."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from ocrgw.fastlane import Lanes
from ocrgw.main import create_app
from ocrgw.settings import Settings
from tests.conftest import Server

_VOLATILE = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32}"  # ids
    r"|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z?|127\.0\.0\.1:\d+"  # times, the server's own port
)
_HEADERS_SKIPPED = {"date", "x-request-id", "apim-request-id", "content-length"}


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("L", (120, 60), 255).save(out, "PNG")
    return out.getvalue()


PNG = _png()


def _requests(key: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, httpx options): every branch of a submit the lane takes, good and bad."""
    native = {"X-API-Key": key}
    azure = {"Ocp-Apim-Subscription-Key": key}
    png = {"Content-Type": "image/png"}
    chunks = iter([PNG[:100], PNG[100:]])
    return [
        ("POST", "/v1/jobs", {"content": PNG, "headers": png}),  # no key
        ("POST", "/v1/jobs", {"content": PNG, "headers": {**png, "X-API-Key": "wrong"}}),
        ("POST", "/v1/jobs", {"content": PNG, "headers": {**png, **native}}),
        ("POST", "/v1/jobs", {"content": PNG, "headers": {**png, "Authorization": f"Bearer {key}"}}),
        ("POST", "/v1/jobs", {"content": PNG, "headers": {**png, "Authorization": f"Basic {key}"}}),
        ("POST", "/v1/jobs?mode=bogus", {"content": PNG, "headers": {**png, **native}}),
        ("POST", "/v1/jobs?languages=de&pages=1", {"content": PNG, "headers": {**png, **native}}),
        ("POST", "/v1/jobs", {"content": b"hello", "headers": {"Content-Type": "text/plain", **native}}),
        ("POST", "/v1/jobs", {"content": b"\x89PNG\r\n\x1a\nbroken", "headers": {**png, **native}}),
        ("POST", "/v1/jobs", {"content": b"", "headers": {**png, **native}}),
        ("POST", "/v1/jobs", {"files": {"file": ("a.png", PNG, "image/png")}, "data": {"mode": "default"}}),
        ("POST", "/v1/jobs", {"json": {"url": "http://127.0.0.1:1/a.png"}, "headers": native}),
        ("POST", "/v1/jobs", {"json": {"base64": "!!"}, "headers": native}),
        ("POST", "/v1/jobs", {"content": chunks, "headers": {**png, **native}}),
        ("POST", "/v1/jobs", {"content": PNG, "headers": {**png, **native, "Idempotency-Key": "fast-lane-1"}}),
        ("POST", "/v1/jobs", {"content": PNG, "headers": {**png, **native, "Idempotency-Key": "fast-lane-1"}}),
        ("POST", "/v1/jobs", {"content": PNG[:-1], "headers": {**png, **native, "Idempotency-Key": "fast-lane-1"}}),
        ("POST", "/vision/v3.2/read/analyze", {"content": PNG, "headers": {"Content-Type": "image/png"}}),
        ("POST", "/vision/v3.2/read/analyze", {"content": PNG, "headers": {**png, **azure}}),
        ("POST", f"/vision/v3.2/read/analyze?subscription-key={key}", {"content": PNG, "headers": png}),
        ("POST", "/vision/v3.2/read/analyze?readingOrder=bogus", {"content": PNG, "headers": {**png, **azure}}),
        ("POST", "/vision/v3.2/read/analyze?language=xx&pages=2", {"content": PNG, "headers": {**png, **azure}}),
        ("POST", "/vision/v3.1/read/analyze?language=en", {"content": PNG, "headers": {**png, **azure}}),
        # a repeated plain parameter: FastAPI reads the last value, and so must the lane
        ("POST", "/vision/v3.2/read/analyze?language=xx&language=en", {"content": PNG, "headers": {**png, **azure}}),
        ("POST", "/vision/v3.2/read/analyze?language=en&language=xx", {"content": PNG, "headers": {**png, **azure}}),
        ("POST", "/vision/v3.0/read/analyze", {"json": {"url": "http://10.0.0.1/a.png"}, "headers": azure}),
        ("POST", "/vision/v3.2/read/analyze", {"content": b"GIF89a", "headers": {**png, **azure}}),
    ]


def _seen(response: httpx.Response) -> dict[str, Any]:
    """What a client sees, without what differs from call to call (ids, times, ports)."""
    try:
        body: Any = json.loads(_VOLATILE.sub("*", response.text)) if response.content else None
    except ValueError:
        body = _VOLATILE.sub("*", response.text)
    headers = {k: _VOLATILE.sub("*", v) for k, v in response.headers.items() if k not in _HEADERS_SKIPPED}
    if headers.get("idempotent-replayed") == "true" and isinstance(body, dict):
        for progress in ("status", "attempts", "started_at", "finished_at", "pages_done"):  # the earlier job
            if progress in body:  # as it is now: queued or already running, by the worker's pace
                body[progress] = "*"
        if isinstance(body.get("progress"), dict):  # the native operation's pages done, as far as it got
            body["progress"]["pages_done"] = "*"
    return {"status": response.status_code, "headers": headers, "body": body}


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    env = {"OCRGW_LOG_FORMAT": "json"}
    lanes = Server(tmp_path_factory.mktemp("lanes"), env=env, workers=1).start()
    router = Server(tmp_path_factory.mktemp("router"), env={**env, "OCRGW_FAST_LANES": "false"}, workers=1)
    try:
        yield lanes, router.start()
    finally:
        lanes.stop()
        router.stop()


def test_the_lane_answers_as_the_router_does(servers: tuple[Server, Server]) -> None:
    lanes, router = servers
    seen: dict[str, list[dict[str, Any]]] = {}
    for name, srv in (("lanes", lanes), ("router", router)):
        with httpx.Client(base_url=srv.url, timeout=30) as client:
            for method, path, options in _requests(srv.key):
                if "files" in options:  # multipart: the key in a header, as the SDKs send it
                    options = {**options, "headers": {"X-API-Key": srv.key}}
                seen.setdefault(name, []).append(_seen(client.request(method, path, **options)))
    statuses = [s["status"] for s in seen["lanes"]]
    assert {202, 400, 401, 415} <= set(statuses), statuses  # the cases cover success and each refusal
    assert seen["lanes"][15]["headers"].get("idempotent-replayed") == "true"
    for i, (lane, routed) in enumerate(zip(seen["lanes"], seen["router"], strict=True)):
        assert lane == routed, (i, _requests("KEY")[i][:2])


def _count(url: str, route: str) -> float:
    text = httpx.get(url + "/metrics").text
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "ocrgw_http_requests_total" and s.labels.get("route") == route and s.labels.get("method") == "POST"
    )


def test_lane_calls_are_counted_and_logged_by_route(servers: tuple[Server, Server]) -> None:
    lanes, _ = servers
    before = _count(lanes.url, "/v1/jobs"), _count(lanes.url, "/vision/v3.2/read/analyze")
    headers = {"Content-Type": "image/png", "X-API-Key": lanes.key, "X-Request-Id": "fastlane-counted-1"}
    assert httpx.post(lanes.url + "/v1/jobs", content=PNG, headers=headers).status_code == 202
    azure = {"Content-Type": "image/png", "Ocp-Apim-Subscription-Key": lanes.key}
    assert httpx.post(lanes.url + "/vision/v3.2/read/analyze", content=PNG, headers=azure).status_code == 202
    after = _count(lanes.url, "/v1/jobs"), _count(lanes.url, "/vision/v3.2/read/analyze")
    assert (after[0] - before[0], after[1] - before[1]) == (1, 1)
    lines = [json.loads(line) for line in lanes.log().splitlines() if line.startswith("{")]
    mine = [line for line in lines if line.get("request_id") == "fastlane-counted-1" and "route" in line]
    assert mine and mine[0]["route"] == "/v1/jobs" and mine[0]["status"] == 202, mine


def test_a_lane_needs_a_mounted_route(tmp_path: Path) -> None:
    """A lane standing for no route would be undocumented and counted as nothing: refused at assembly."""
    app = create_app(Settings(data_dir=tmp_path))

    async def lane(request: Any) -> Any:
        raise AssertionError("never called")

    with pytest.raises(RuntimeError, match="without a mounted route"):
        Lanes().mount(app, {("POST", "/v1/nothing-here"): lane})
    with pytest.raises(RuntimeError, match="without a mounted route"):
        Lanes().mount(app, {("PUT", "/v1/jobs"): lane})  # the path exists, not for this method
    Lanes().mount(app, {("POST", "/v1/jobs"): lane})
