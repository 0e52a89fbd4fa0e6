"""The native admin API (`/v1/admin`, ``dialects.native.admin``) through a real server on both deployments:
admin keys only (403 in the native envelope otherwise); keys created with a tier, listed, changed and
revoked; limits set, validated and cleared, in force at once on the process that took the change; jobs
accepted before a limit tightened all run to the end; subscriptions with a package of calls billed
package-first; the queue per key."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from tests.conftest import Server, doc, slow_page

LINE = doc("line/uw3_0768_010009.png").read_bytes()

ADMIN_ROUTES = (
    ("GET", "/v1/admin/keys"),
    ("POST", "/v1/admin/keys"),
    ("GET", "/v1/admin/keys/x"),
    ("PATCH", "/v1/admin/keys/x"),
    ("POST", "/v1/admin/keys/x/revoke"),
    ("GET", "/v1/admin/keys/x/limits/*"),
    ("PUT", "/v1/admin/keys/x/limits/*"),
    ("DELETE", "/v1/admin/keys/x/limits/*"),
    ("GET", "/v1/admin/keys/x/subscriptions/native"),
    ("PUT", "/v1/admin/keys/x/subscriptions/native"),
    ("DELETE", "/v1/admin/keys/x/subscriptions/native"),
    ("GET", "/v1/admin/tiers"),
    ("GET", "/v1/admin/queue"),
)


class Admin:
    """An admin key's client of the admin API."""

    def __init__(self, srv: Server, name: str) -> None:
        self.srv = srv
        self.secret = srv.cli("keys", "create", "--name", name, "--admin", "-q").strip()
        self.http = httpx.Client(base_url=srv.url, headers={"X-API-Key": self.secret}, timeout=30)

    def __call__(self, method: str, path: str, **kw) -> httpx.Response:
        return self.http.request(method, "/v1/admin" + path, **kw)

    def ok(self, method: str, path: str, status: int = 200, **kw) -> dict:
        r = self(method, path, **kw)
        assert r.status_code == status, (method, path, r.status_code, r.text)
        return r.json() if r.content else {}

    def create(self, name: str, **body) -> dict:
        return self.ok("POST", "/keys", 201, json={"name": name, **body})


@pytest.fixture
def admin(server: Server) -> Admin:
    return Admin(server, f"ops-{uuid.uuid4().hex[:8]}")


def _submit(srv: Server, key: str, body: bytes = b"") -> httpx.Response:
    files = {"file": ("a.png", body or LINE)}
    return httpx.post(srv.url + "/v1/jobs", headers={"X-API-Key": key}, files=files, timeout=60)


def _error(r: httpx.Response, status: int, code: str, param: str | None = None) -> str:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code and err.get("param") == param, err
    return err["message"]


def test_admin_only(server: Server, admin: Admin) -> None:
    plain = server.cli("keys", "create", "--name", "plain", "-q").strip()
    for method, path in ADMIN_ROUTES:
        body = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
        r = httpx.request(method, server.url + path, headers={"X-API-Key": plain}, timeout=30, **body)
        assert "admin key" in _error(r, 403, "Forbidden"), (method, path)
        r = httpx.request(method, server.url + path, timeout=30, **body)
        _error(r, 401, "MissingKey")
    mine = next(k for k in admin.ok("GET", "/keys")["items"] if k["prefix"] == admin.secret[:8])
    # An admin key cannot lock its own caller out.
    assert "itself" in _error(admin("POST", f"/keys/{mine['id']}/revoke"), 403, "Forbidden")
    assert "itself" in _error(admin("PATCH", f"/keys/{mine['id']}", json={"admin": False}), 403, "Forbidden")


def test_keys_lifecycle_with_a_tier(server: Server, admin: Admin) -> None:
    name = f"team-{uuid.uuid4().hex[:8]}"
    created = admin.create(name, tier="azure-docintel-free", access_key=True)
    key, secret = created["key"], created["secret"]
    assert len(secret) == 32 and created["secret_key"] and key["access_key"]
    assert key["tiers"] == ["azure-docintel-free"] and not key["admin"] and key["revoked_at"] is None
    (row,) = key["limits"]
    assert row == {
        "service": "azure-docintel",
        "tier": "azure-docintel-free",
        "rate": 20,
        "rate_seconds": 60,
        "burst": 20,
        "concurrent_jobs": None,
        "pages_quota": 500,
        "quota_period": "month",
        "max_document_pages": 2,
        "max_file_bytes": 4 * 1024 * 1024,
        "backlog_share": None,
    }
    assert _submit(server, secret).status_code == 202  # native is not limited by that tier
    listed = {k["id"]: k for k in admin.ok("GET", "/keys")["items"]}
    assert listed[key["id"]] == admin.ok("GET", f"/keys/{key['id']}") and "secret" not in str(listed[key["id"]])

    # A second tier, a rename; a Huawei tier requires and makes the subscription.
    changed = admin.ok("PATCH", f"/keys/{key['id']}", json={"name": name + "-x", "tier": "huawei-general-text"})
    assert changed["name"] == name + "-x" and changed["tiers"] == ["azure-docintel-free", "huawei-general-text"]
    assert changed["subscription_required"] and [s["service"] for s in changed["subscriptions"]] == [
        "huawei-general-text"
    ]
    msg = _error(admin("PATCH", f"/keys/{key['id']}", json={"tier": "gold"}), 400, "InvalidParameter", "tier")
    assert "azure-vision-free" in msg and "ocrspace-pro" in msg  # the tiers there are

    revoked = admin.ok("POST", f"/keys/{key['id']}/revoke")
    again = admin.ok("POST", f"/keys/{key['id']}/revoke")
    assert revoked["revoked_at"] and again["revoked_at"] == revoked["revoked_at"]
    assert admin.ok("GET", f"/keys/{key['id']}") == revoked  # still listed, revoked
    _error(_submit(server, secret), 401, "InvalidKey")  # at once on the process that revoked it
    _error(admin("GET", "/keys/no-such-key"), 404, "NotFound", "keyId")
    _error(admin("POST", f"/keys/{uuid.uuid4()}/revoke"), 404, "NotFound", "keyId")
    tiers = admin.ok("GET", "/tiers")["items"]
    assert {t["name"] for t in tiers} >= {"azure-vision-free", "ocrspace-free", "huawei-passport"}


def test_limits_are_validated_and_applied_at_once(server: Server, admin: Admin) -> None:
    created = admin.create(f"lim-{uuid.uuid4().hex[:8]}")
    kid, secret = created["key"]["id"], created["secret"]
    bad = (
        ("*", {"rate": 0}, "body.rate"),  # refused by the schema, before the operation: named in the message
        ("*", {"quota_period": "week"}, "body.quota_period"),
        ("*", {"pages_quota": -1}, "body.pages_quota"),
        ("*", {"backlog_share": 1.5}, "body.backlog_share"),
        ("*", {"rate": 1, "colour": "red"}, "body.colour"),
        ("*", {"rate": True}, "body.rate must be a number"),  # JSON numbers only: not true, not "5"
        ("*", {"rate": "5"}, "body.rate must be a number"),
        ("*", {"burst": 5}, "burst"),  # a burst without a rate: refused by the operation, with its param
        ("azure-read", {"backlog_share": 0.5}, "backlog_share"),  # key-wide: only on *
    )
    for service, body, where in bad:
        r = admin("PUT", f"/keys/{kid}/limits/{service}", json=body)
        if where.startswith("body."):
            assert where.removeprefix("body.").split()[0] in _error(r, 400, "InvalidParameter"), r.text
        else:
            _error(r, 400, "InvalidParameter", where)
    msg = _error(admin("PUT", f"/keys/{kid}/limits/azure-reed", json={}), 400, "InvalidParameter", "service")
    assert "azure-read" in msg and "*" in msg
    _error(admin("PUT", f"/keys/{uuid.uuid4()}/limits/*", json={"rate": 1}), 404, "NotFound", "keyId")
    _error(admin("GET", f"/keys/{kid}/limits/*"), 404, "NotFound", "service")

    # Two jobs at once; the third submit is refused by this process at once (its policy was forgotten).
    row = admin.ok("PUT", f"/keys/{kid}/limits/*", json={"concurrent_jobs": 0, "backlog_share": 0.5})
    assert row["concurrent_jobs"] == 0 and row["backlog_share"] == 0.5 and row["tier"] is None
    assert admin.ok("GET", f"/keys/{kid}/limits/*") == row
    _error(_submit(server, secret), 429, "ConcurrencyLimited")
    # A service's own row replaces * for it: native gets no limit.
    admin.ok("PUT", f"/keys/{kid}/limits/native", json={})
    assert _submit(server, secret).status_code == 202
    assert admin("DELETE", f"/keys/{kid}/limits/native").status_code == 204
    _error(_submit(server, secret), 429, "ConcurrencyLimited")
    _error(admin("DELETE", f"/keys/{kid}/limits/native"), 404, "NotFound", "service")
    assert admin("DELETE", f"/keys/{kid}/limits/*").status_code == 204
    assert _submit(server, secret).status_code == 202


def test_tightening_a_limit_loses_no_accepted_job(server: Server, admin: Admin) -> None:
    """Jobs queued behind busy workers when their key's limits drop to nothing all run to the end; only
    later submits are refused."""
    created = admin.create(f"tight-{uuid.uuid4().hex[:8]}")
    kid, secret = created["key"]["id"], created["secret"]
    accepted = []
    for _ in range(6):
        r = _submit(server, secret, slow_page())
        assert r.status_code == 202, r.text
        accepted.append(r.json()["links"]["self"])
    queue = {q["key_id"]: q for q in admin.ok("GET", "/queue")["items"]}
    assert queue[kid]["queued"] + queue[kid]["running"] >= 4, queue.get(kid)
    admin.ok(
        "PUT", f"/keys/{kid}/limits/*", json={"concurrent_jobs": 0, "pages_quota": 0, "rate": 1, "rate_seconds": 3600}
    )
    admin.ok("PATCH", f"/keys/{kid}", json={"tier": "ocrspace-free", "subscription_required": True})
    _error(_submit(server, secret), 403, "NotSubscribed")
    headers = {"X-API-Key": secret}
    deadline = time.monotonic() + 180
    done: dict[str, dict] = {}
    while len(done) < len(accepted):
        assert time.monotonic() < deadline, done
        for url in accepted:
            job = httpx.get(url, headers=headers, timeout=30).json()
            if job["status"] in ("succeeded", "failed"):
                done[url] = job
        time.sleep(0.3)
    assert {j["status"] for j in done.values()} == {"succeeded"}, done
    assert kid not in {q["key_id"] for q in admin.ok("GET", "/queue")["items"]}


def test_subscription_package_then_pay_per_use(server: Server, admin: Admin) -> None:
    created = admin.create(f"sub-{uuid.uuid4().hex[:8]}")
    kid, secret = created["key"]["id"], created["secret"]
    status = admin.ok("PUT", f"/keys/{kid}/subscriptions/native", json={"package_calls": 2})
    assert (status["calls"], status["package_used"], status["package_remaining"], status["pay_per_use_calls"]) == (
        0,
        0,
        2,
        0,
    )
    admin.ok("PATCH", f"/keys/{kid}", json={"subscription_required": True})
    for _ in range(3):
        assert _submit(server, secret).status_code == 202
    status = admin.ok("GET", f"/keys/{kid}/subscriptions/native")
    assert (status["calls"], status["package_used"], status["package_remaining"], status["pay_per_use_calls"]) == (
        3,
        2,
        0,
        1,
    )
    # The same package again changes nothing; a new one starts today, counting today's calls.
    assert admin.ok("PUT", f"/keys/{kid}/subscriptions/native", json={"package_calls": 2}) == status
    _error(admin("PUT", f"/keys/{kid}/subscriptions/*", json={}), 400, "InvalidParameter", "service")
    _error(admin("PUT", f"/keys/{kid}/subscriptions/native", json={"package_calls": -1}), 400, "InvalidParameter")
    assert admin("DELETE", f"/keys/{kid}/subscriptions/native").status_code == 204
    _error(admin("GET", f"/keys/{kid}/subscriptions/native"), 404, "NotFound", "service")
    _error(_submit(server, secret), 403, "NotSubscribed")
