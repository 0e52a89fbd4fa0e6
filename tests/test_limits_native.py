"""A key's limits on ocrgw's own APIs and their exactness, on both deployments: the native API's 429 with
an integer Retry-After and the limit named in `error.limit` (typed in /v1/openapi.json), 403 for a service
not subscribed, the Tesseract-style APIs' plain JSON with the same `limit`; N concurrent submits under a
limit of K concurrent jobs admit exactly K, a page quota is exact under concurrent submits (also across
two scale-out API processes), lowering a limit loses none of the jobs already accepted, and every refusal
is counted in /metrics by key id, service and reason."""

from __future__ import annotations

import base64
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.conftest import Server
from tests.limits import (
    new_key,
    policy_refreshed,
    refusals,
    require_subscriptions,
    retry_after,
    set_limits,
    slow_tiff,
    small_page,
)


def submit(url: str, key: str, data: bytes, **fields: str) -> httpx.Response:
    return httpx.post(
        url + "/v1/jobs", headers={"X-API-Key": key}, files={"file": ("doc", data)}, data=fields, timeout=120
    )


def submit_all(urls: Sequence[str], key: str, data: bytes, n: int) -> list[httpx.Response]:
    """``n`` submits at once, spread over ``urls`` (one or several API processes)."""
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda i: submit(urls[i % len(urls)], key, data), range(n)))


def wait_all(srv: Server, key: str, accepted: list[httpx.Response], timeout: float = 240) -> list[dict]:
    deadline = time.monotonic() + timeout
    ended = []
    for r in accepted:
        while True:
            op = httpx.get(r.headers["Location"], headers={"X-API-Key": key}, timeout=30).json()
            if op["status"] in ("succeeded", "failed") or time.monotonic() > deadline:
                ended.append(op)
                break
            time.sleep(0.2)
    return ended


def native_error(r: httpx.Response, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code, err
    return err


def test_native_429_names_the_limit_and_spec_types_it(server: Server) -> None:
    key, key_id, _ = new_key(server)
    set_limits(server, key_id, "native", rate=1, rate_seconds=60, burst=1, tier="my-tier")
    assert submit(server.url, key, small_page()).status_code == 202
    r = submit(server.url, key, small_page())
    err = native_error(r, 429, "RateLimited")
    seconds = retry_after(r)
    assert 55 <= seconds <= 60 and str(seconds) in err["message"]
    assert err["limit"] == {"service": "native", "count": 1, "seconds": 60, "tier": "my-tier"}
    spec = httpx.get(server.url + "/v1/openapi.json", timeout=30).json()
    schemas = spec["components"]["schemas"]
    assert "limit" in schemas["RequestErrorDetail"]["properties"]
    assert set(schemas["LimitDetail"]["properties"]) == {"service", "count", "seconds", "period", "tier"}
    submit_doc = spec["paths"]["/v1/jobs"]["post"]["responses"]
    assert {"403", "429"} <= set(submit_doc) and "Retry-After" in submit_doc["429"]["headers"]


def test_native_quota_and_not_subscribed(server: Server) -> None:
    key, key_id, _ = new_key(server)
    set_limits(server, key_id, "*", pages_quota=1, quota_period="day")
    assert submit(server.url, key, small_page()).status_code == 202
    r = submit(server.url, key, small_page())
    err = native_error(r, 429, "QuotaExceeded")
    assert 1 <= retry_after(r) <= 86400
    assert err["limit"] == {"service": "native", "count": 1, "period": "day"}

    key, key_id, _ = new_key(server)
    require_subscriptions(server, key_id, "azure-read")
    r = submit(server.url, key, small_page())
    err = native_error(r, 403, "NotSubscribed")
    assert err["limit"]["service"] == "native" and "retry-after" not in r.headers
    assert refusals(server, key_id) == {("native", "NotSubscribed"): 1.0}


def test_tesseract_style_apis_name_the_limit(server: Server) -> None:
    """The Flask-style and the streaming API answer a key's rate in their plain JSON, 429 + Retry-After."""
    key, key_id, _ = new_key(server)
    for service in ("seed-flask", "seed-stream"):
        set_limits(server, key_id, service, rate=1, rate_seconds=30, burst=1)
    headers = {"X-API-Key": key}

    def flask() -> httpx.Response:
        return httpx.post(server.url + "/ocr_process", files={"image": small_page()}, headers=headers, timeout=120)

    def stream() -> httpx.Response:
        body = {"image": base64.b64encode(small_page()).decode()}
        return httpx.post(server.url + "/ocr", json=body, headers=headers, timeout=120)

    for call, service, shape in ((flask, "seed-flask", {"success"}), (stream, "seed-stream", set())):
        assert call().status_code == 200
        r = call()
        assert r.status_code == 429 and 25 <= retry_after(r) <= 30, r.text
        body = r.json()
        assert set(body) == {"error", "limit"} | shape and "Rate limit is exceeded" in body["error"]
        assert body["limit"] == {"service": service, "count": 1, "seconds": 30}


def test_concurrency_limit_admits_exactly_k(server: Server) -> None:
    """12 submits at once of a job that runs for seconds, 3 jobs allowed: exactly 3 accepted, the others
    429 ConcurrencyLimited naming 3; the 3 all succeed, and then the key submits again."""
    key, key_id, _ = new_key(server)
    set_limits(server, key_id, "native", concurrent_jobs=3)
    answers = submit_all([server.url], key, slow_tiff(3), 12)
    accepted = [r for r in answers if r.status_code == 202]
    refused = [r for r in answers if r.status_code != 202]
    assert len(accepted) == 3, [r.status_code for r in answers]
    for r in refused:
        assert native_error(r, 429, "ConcurrencyLimited")["limit"] == {"service": "native", "count": 3}
        assert retry_after(r) == 1
    assert [op["status"] for op in wait_all(server, key, accepted)] == ["succeeded"] * 3
    assert submit(server.url, key, small_page()).status_code == 202
    assert refusals(server, key_id) == {("native", "ConcurrencyLimited"): 9.0}


def test_page_quota_is_exact_under_concurrent_submits(server: Server) -> None:
    """5 pages a month, 12 one-page submits at once: exactly 5 accepted; once they are read (billed), the
    quota still holds; a 2-page document does not fit in a quota with 1 page left."""
    key, key_id, _ = new_key(server)
    set_limits(server, key_id, "native", pages_quota=5, quota_period="month")
    answers = submit_all([server.url], key, small_page(), 12)
    accepted = [r for r in answers if r.status_code == 202]
    assert len(accepted) == 5, [r.status_code for r in answers]
    assert all(native_error(r, 429, "QuotaExceeded")["limit"]["count"] == 5 for r in answers if r.status_code != 202)
    assert [op["status"] for op in wait_all(server, key, accepted)] == ["succeeded"] * 5
    native_error(submit(server.url, key, small_page()), 429, "QuotaExceeded")

    key, key_id, _ = new_key(server)
    set_limits(server, key_id, "native", pages_quota=3, quota_period="day")
    assert submit(server.url, key, small_page()).status_code == 202
    assert submit(server.url, key, slow_tiff(2), pages="1-2").status_code == 202
    native_error(submit(server.url, key, small_page()), 429, "QuotaExceeded")


def test_lowering_a_limit_loses_no_accepted_job(server: Server) -> None:
    """Four slow jobs accepted under a limit of 10, then the limit is lowered to none at all (0 jobs, an
    operator's block; lowering it to 1 raced the four jobs' ends on a fast machine): the next submit is
    refused once every API process has read the change, and all four finish."""
    key, key_id, _ = new_key(server)
    set_limits(server, key_id, "native", concurrent_jobs=10)
    accepted = submit_all([server.url], key, slow_tiff(2), 4)
    assert [r.status_code for r in accepted] == [202] * 4
    set_limits(server, key_id, "native", concurrent_jobs=0)
    time.sleep(policy_refreshed())
    r = submit(server.url, key, small_page())
    assert r.status_code == 429 and r.json()["error"]["code"] == "ConcurrencyLimited"
    assert [op["status"] for op in wait_all(server, key, accepted)] == ["succeeded"] * 4


def test_limits_hold_across_two_api_processes(make_scaleout) -> None:
    """Scale-out with two API processes sharing PostgreSQL: 16 submits at once, half to each process, with
    concurrent_jobs=4 admit exactly 4; a 6-page quota admits exactly 6 pages; a 1-a-minute rate, one."""
    srv = make_scaleout(apis=2, workers=2).start()
    key, key_id, _ = new_key(srv)
    set_limits(srv, key_id, "native", concurrent_jobs=4)
    answers = submit_all(srv.urls, key, slow_tiff(3), 16)
    assert sum(r.status_code == 202 for r in answers) == 4, [r.status_code for r in answers]

    key, key_id, _ = new_key(srv)
    set_limits(srv, key_id, "native", pages_quota=6, quota_period="day")
    answers = submit_all(srv.urls, key, small_page(), 16)
    assert sum(r.status_code == 202 for r in answers) == 6, [r.status_code for r in answers]

    key, key_id, _ = new_key(srv)
    set_limits(srv, key_id, "native", rate=1, rate_seconds=60, burst=1)
    answers = submit_all(srv.urls, key, small_page(), 16)
    assert sum(r.status_code == 202 for r in answers) == 1, [r.status_code for r in answers]
    assert refusals(srv, key_id) == {("native", "RateLimited"): 15.0}


def test_unknown_key_and_api_in_each_dialect(server: Server) -> None:
    """A key the server does not know is refused before any limit is looked up, in each dialect's own
    words; so is an API that does not exist (Huawei's APIG.0101)."""
    bad, png = "0" * 32, small_page()
    r = submit(server.url, bad, png)
    assert native_error(r, 401, "InvalidKey") and "limit" not in r.json()["error"]
    headers = {"Ocp-Apim-Subscription-Key": bad, "Content-Type": "application/octet-stream"}
    r = httpx.post(server.url + "/vision/v3.2/read/analyze", content=png, headers=headers, timeout=60)
    assert r.status_code == 401 and r.json()["error"]["code"] == "401"
    b64 = base64.b64encode(png).decode()
    r = httpx.post(f"{server.url}/v2/p1/ocr/general-text", json={"image": b64}, headers={"X-Auth-Token": bad})
    assert r.status_code == 401 and r.json()["error_code"] == "APIG.0301"
    r = httpx.post(f"{server.url}/v2/p1/ocr/no-such-api", json={"image": b64}, headers={"X-Auth-Token": server.key})
    assert r.status_code == 404 and r.json()["error_code"] == "APIG.0101"
    r = httpx.post(server.url + "/parse/image", data={"apikey": bad}, files={"file": png}, timeout=60)
    assert r.status_code == 403 and r.json() == "The API key is invalid"
    r = httpx.post(server.url + "/ocr_process", files={"image": png}, headers={"X-API-Key": bad}, timeout=60)
    assert r.status_code == 401 and r.json()["success"] is False and "limit" not in r.json()
    r = httpx.post(server.url + "/ocr", json={"image": b64}, headers={"X-API-Key": bad}, timeout=60)
    assert r.status_code == 401 and set(r.json()) == {"error"}


def test_refusals_counter_is_exposed(server: Server) -> None:
    key, key_id, _ = new_key(server)
    set_limits(server, key_id, "native", max_file_bytes=1000)
    r = submit(server.url, key, small_page())
    err = native_error(r, 413, "TooLarge")
    assert err["limit"] == {"service": "native", "count": 1000}
    text = httpx.get(server.url + "/metrics", timeout=30).text
    assert "# TYPE ocrgw_refusals_total counter" in text
    assert refusals(server, key_id) == {("native", "TooLarge"): 1.0}
