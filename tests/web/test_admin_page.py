"""The operator page at /admin end to end in headless Chromium, as an operator uses it against a real
server: paste an admin key, create a key with a tier, apply a second tier, set a limit, see the key's
usage and queue after it made calls, revoke it; a key that is not an admin's is told so. Each step is
checked against the admin API's own answer, and the page is kept as a screenshot."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
import pytest
from tests.conftest import Server, doc, slow_page
from tests.web.browser import chrome, console_errors, foreign_requests, keep_screenshot, require_chromium, wait_for

pytestmark = pytest.mark.slow
LINE = doc("line/uw3_0768_010009.png").read_bytes()


def _cell(driver, name: str, testid: str) -> str:
    from selenium.webdriver.common.by import By

    row = driver.find_element(By.CSS_SELECTOR, f'[data-testid=key-row][data-name="{name}"]')
    return row.find_element(By.CSS_SELECTOR, f"[data-testid={testid}]").text


def _submit(srv: Server, secret: str, body: bytes) -> str:
    r = httpx.post(srv.url + "/v1/jobs", headers={"X-API-Key": secret}, files={"file": ("a.png", body)}, timeout=60)
    assert r.status_code == 202, r.text
    return r.json()["links"]["self"]


def _wait(url: str, secret: str, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while (status := httpx.get(url, headers={"X-API-Key": secret}, timeout=30).json()["status"]) not in (
        "succeeded",
        "failed",
    ):
        assert time.monotonic() < deadline, status
        time.sleep(0.2)
    return status


def test_operator_page_creates_limits_and_shows_a_key(web_server: Server, tmp_path: Path) -> None:
    require_chromium()
    srv = web_server
    admin_key = srv.cli("keys", "create", "--admin", "--name", "web-ops", "-q").strip()
    name = f"team-{uuid.uuid4().hex[:8]}"
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    with chrome(tmp_path / "profile") as driver:
        driver.get(srv.url + "/admin")
        by_id = lambda testid: driver.find_element(By.CSS_SELECTOR, f"[data-testid={testid}]")  # noqa: E731
        state = lambda: driver.execute_script("return document.body.dataset.state")  # noqa: E731
        by_id("admin-key").send_keys(admin_key)
        by_id("load").click()
        wait_for(lambda: state() == "ready", message="the keys to load")
        assert driver.execute_script("return localStorage.getItem('ocrgw.admin.apiKey')") == admin_key

        # Create a key with a tier: its secret is shown once, its row lists the tier.
        by_id("create-name").send_keys(name)
        Select(by_id("create-tier")).select_by_value("ocrspace-free")
        by_id("create").click()
        secret = wait_for(lambda: by_id("new-secret").text, message="the new key's secret")
        assert len(secret) == 32
        wait_for(lambda: _cell(driver, name, "key-tiers") == "ocrspace-free", message="the new key's row")
        listed = httpx.get(srv.url + "/v1/admin/keys", headers={"X-API-Key": admin_key}, timeout=30).json()
        (key,) = [k for k in listed["items"] if k["name"] == name]
        assert key["tiers"] == ["ocrspace-free"] and key["prefix"] == secret[:8]

        # Apply a second tier, then set a key-wide limit.
        Select(by_id("tier-key")).select_by_value(key["id"])
        Select(by_id("tier-name")).select_by_value("azure-vision-free")
        assert "20 calls a minute" in by_id("tier-about").text
        by_id("apply-tier").click()
        wait_for(lambda: "azure-vision-free" in _cell(driver, name, "key-tiers"), message="the second tier")
        Select(by_id("limit-key")).select_by_value(key["id"])
        Select(by_id("limit-service")).select_by_value("*")
        by_id("limit-concurrent").send_keys("5")
        by_id("limit-share").send_keys("0.5")
        by_id("set-limit").click()
        wait_for(lambda: "*: 5 jobs at once, 0.5 of backlog" in _cell(driver, name, "key-limits"), message="the * row")
        assert "azure-read: 20/60s burst 20" in _cell(driver, name, "key-limits")

        # Its calls show as usage, its jobs not yet ended as its queue.
        assert _wait(_submit(srv, secret, LINE), secret) == "succeeded"
        slow = [_submit(srv, secret, slow_page()) for _ in range(3)]
        by_id("refresh").click()
        wait_for(lambda: state() == "ready" and _cell(driver, name, "key-calls") == "4", message="the usage")
        queued = int(_cell(driver, name, "key-queued")) + int(_cell(driver, name, "key-running"))
        assert 1 <= queued <= 3, queued
        assert _cell(driver, name, "key-state") == "active"
        driver.execute_script("window.scrollTo(0, 0)")
        keep_screenshot(driver, tmp_path, "admin.png")
        for url in slow:
            assert _wait(url, secret) == "succeeded"
        by_id("refresh").click()
        wait_for(lambda: _cell(driver, name, "key-pages") == "4", message="the pages read")

        # Revoke: the first click asks, the second revokes.
        row = driver.find_element(By.CSS_SELECTOR, f'[data-testid=key-row][data-name="{name}"]')
        row.find_element(By.CSS_SELECTOR, "[data-testid=revoke]").click()
        row.find_element(By.CSS_SELECTOR, "[data-testid=revoke]").click()
        wait_for(lambda: _cell(driver, name, "key-state").startswith("revoked"), message="the revocation")

        assert not console_errors(driver), console_errors(driver)
        assert not foreign_requests(driver, srv.url), foreign_requests(driver, srv.url)

        # A key that is not an admin's gets the API's refusal on the page.
        by_id("admin-key").clear()
        by_id("admin-key").send_keys(srv.key)
        by_id("load").click()
        wait_for(lambda: state() == "error", message="the refusal")
        assert "HTTP 403 Forbidden" in by_id("error").text
