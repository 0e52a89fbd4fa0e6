"""The fast lane (``ocrgw.fastlane``) answers as the router does: two real servers, one with the lanes (the
default) and one with ``OCRGW_FAST_LANES=false``, are sent the same requests (good and bad submits of the
native API and Azure Read, by header and query key, raw, multipart, JSON, chunked, idempotent retries; and
their polls, of own, unknown, malformed and other-API ids, with and without keys) and must give the same
status, headers and body, ids and times aside. The lane's calls are still counted under their route's
template and logged with it, and a route with a literal path keeps its calls from a lane's template."""

from __future__ import annotations

import asyncio
import io
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from ocrgw.fastlane import FastLane, Lanes
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


def _polls(key: str, native_id: str, azure_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, httpx options): the polls the lanes take and the ones next to them they must leave to
    the router, of a native and an Azure Read job that have ended."""
    native = {"X-API-Key": key}
    azure = {"Ocp-Apim-Subscription-Key": key}
    unknown = "00000000-0000-4000-8000-000000000000"
    return [
        ("GET", f"/v1/jobs/{native_id}", {"headers": native}),
        ("GET", f"/v1/jobs/{native_id}", {"headers": {"Authorization": f"Bearer {key}"}}),
        ("GET", f"/v1/jobs/{native_id}", {}),  # no key
        ("GET", f"/v1/jobs/{native_id}", {"headers": {"X-API-Key": "wrong"}}),
        ("GET", f"/v1/jobs/{unknown}", {"headers": native}),
        ("GET", "/v1/jobs/not-a-job", {"headers": native}),
        ("GET", f"/v1/jobs/{azure_id}", {"headers": native}),  # another API's job
        ("GET", f"/v1/jobs/{native_id}/", {"headers": native}),  # the router's 404, not the lane
        ("HEAD", f"/v1/jobs/{native_id}", {"headers": native}),
        ("DELETE", f"/v1/jobs/{unknown}", {"headers": native}),
        ("GET", f"/vision/v3.2/read/analyzeResults/{azure_id}", {"headers": azure}),
        ("GET", f"/vision/v3.1/read/analyzeResults/{azure_id}", {"headers": azure}),
        ("GET", f"/vision/v3.0/read/analyzeResults/{azure_id}?subscription-key={key}", {}),
        ("GET", f"/vision/v3.2/read/analyzeResults/{azure_id}", {}),
        ("GET", f"/vision/v3.2/read/analyzeResults/{unknown}", {"headers": azure}),
        ("GET", f"/vision/v3.2/read/analyzeResults/{native_id}", {"headers": azure}),
        ("GET", "/vision/v3.2/read/analyzeResults/", {"headers": azure}),
    ]


def _ended(srv: Server, path: str, headers: dict[str, str]) -> str:
    """The id of a job of a blank page submitted to ``path``, once it has ended."""
    answer = httpx.post(srv.url + path, content=PNG, headers={"Content-Type": "image/png", **headers})
    assert answer.status_code == 202, answer.text
    location = answer.headers.get("location") or answer.headers["operation-location"]
    deadline = time.monotonic() + 60
    while httpx.get(location, headers=headers).json()["status"] not in ("succeeded", "failed"):
        assert time.monotonic() < deadline, location
        time.sleep(0.1)
    return location.rsplit("/", 1)[-1]


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


def test_the_poll_lanes_answer_as_the_router_does(servers: tuple[Server, Server]) -> None:
    seen: dict[str, list[dict[str, Any]]] = {}
    for name, srv in (("lanes", servers[0]), ("router", servers[1])):
        native_id = _ended(srv, "/v1/jobs", {"X-API-Key": srv.key})
        azure_id = _ended(srv, "/vision/v3.2/read/analyze", {"Ocp-Apim-Subscription-Key": srv.key})
        with httpx.Client(base_url=srv.url, timeout=30) as client:
            seen[name] = [_seen(client.request(m, p, **o)) for m, p, o in _polls(srv.key, native_id, azure_id)]
    statuses = [s["status"] for s in seen["lanes"]]
    assert {200, 401, 404} <= set(statuses), statuses
    assert seen["lanes"][0]["body"]["status"] == "succeeded" and seen["lanes"][10]["body"]["status"] == "succeeded"
    for i, (lane, routed) in enumerate(zip(seen["lanes"], seen["router"], strict=True)):
        assert lane == routed, (i, _polls("KEY", "N", "A")[i][:2])


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


def test_a_template_lane_takes_one_segment_and_leaves_literal_routes_their_calls() -> None:
    """A lane for ``/items/{item_id}`` answers ``/items/7`` with the parameter set as the router sets it, and
    leaves ``/items/special`` (a literal route), ``/items/7/more`` and ``/items/`` to the router. A
    parameter anywhere but last is refused at assembly."""
    app = FastAPI()
    lanes = Lanes()
    app.add_middleware(FastLane, lanes=lanes)

    @app.get("/items/special")
    async def special() -> dict:
        return {"by": "literal route"}

    @app.get("/items/{item_id}")
    async def item(item_id: str) -> dict:
        return {"by": "router", "id": item_id}

    @app.get("/items/{item_id}/more")
    async def more(item_id: str) -> dict:
        return {"by": "router", "more": item_id}

    async def lane(request: Request) -> Response:
        return JSONResponse({"by": "lane", "id": request.path_params["item_id"], "route": request.scope["route"].path})

    lanes.mount(app, {("GET", "/items/{item_id}"): lane})
    with pytest.raises(RuntimeError, match="one parameter, as its last segment"):
        Lanes().mount(app, {("GET", "/items/{item_id}/more"): lane})

    async def calls() -> list[Any]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            paths = ("/items/7", "/items/special", "/items/7/more", "/items/")
            return [(r.status_code, r.json()) for r in [await client.get(p) for p in paths]]

    got = asyncio.run(calls())
    assert got[0] == (200, {"by": "lane", "id": "7", "route": "/items/{item_id}"})
    assert got[1] == (200, {"by": "literal route"})
    assert got[2] == (200, {"by": "router", "more": "7"})
    assert got[3][0] == 404
