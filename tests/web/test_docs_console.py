"""The offline API docs console (/docs, Swagger UI served by fastapi-offline) in headless Chromium:
nothing is loaded from off the server, and a person can authorise with a key, submit a document with
"Try it out" on POST /v1/jobs and read the job's text with "Try it out" on GET /v1/jobs/{id}/result."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from PIL import Image
from tests.conftest import Server, doc
from tests.web.browser import chrome, console_errors, foreign_requests, keep_screenshot, require_chromium, wait_for

pytestmark = pytest.mark.slow
TAG = "ocrgw_native_API"  # Swagger UI's element ids: operations-<tag, spaces as _>-<operationId>


def _try_it_out(driver, operation_id: str):
    """Expand an operation, press "Try it out", and hand back its block."""
    from selenium.webdriver.common.by import By

    block = driver.find_element(By.ID, f"operations-{TAG}-{operation_id}")
    driver.execute_script("arguments[0].scrollIntoView({block: 'start'})", block)
    block.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
    wait_for(lambda: block.find_element(By.CSS_SELECTOR, ".try-out__btn"), message="Try it out").click()
    wait_for(lambda: block.find_element(By.CSS_SELECTOR, "button.execute"), message="Execute")
    return block


def _execute(block) -> tuple[int, str]:
    """Press Execute; the live response's status and body as the console shows them."""
    from selenium.webdriver.common.by import By

    block.find_element(By.CSS_SELECTOR, "button.execute").click()
    status = wait_for(
        lambda: block.find_element(By.CSS_SELECTOR, ".live-responses-table tbody .response-col_status").text,
        timeout=60,
        message="the live response",
    )
    body = wait_for(
        lambda: block.find_element(By.CSS_SELECTOR, ".live-responses-table .highlight-code pre").get_attribute(
            "textContent"
        ),
        message="the response body",
    )
    return int(status.split()[0]), body


def test_docs_console_submits_a_file_and_reads_the_result(web_server: Server, tmp_path: Path) -> None:
    require_chromium()
    from selenium.webdriver.common.by import By

    png = tmp_path / "tess_phototest.png"
    Image.open(doc("page/tess_phototest.tif")).save(png)
    srv = web_server
    with chrome(tmp_path / "profile") as driver:
        driver.set_window_size(1400, 1400)
        driver.get(srv.url + "/docs")
        wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, ".opblock"), message="Swagger UI to render")
        assert foreign_requests(driver, srv.url) == []  # fastapi-offline: the UI's JS and CSS are the server's

        # Authorise with the native key scheme (X-API-Key).
        driver.find_element(By.CSS_SELECTOR, ".auth-wrapper .authorize").click()
        scheme = wait_for(
            lambda: next(
                c for c in driver.find_elements(By.CSS_SELECTOR, ".modal-ux .auth-container") if "X-API-Key" in c.text
            ),
            message="the X-API-Key scheme",
        )
        scheme.find_element(By.TAG_NAME, "input").send_keys(srv.key)
        scheme.find_element(By.CSS_SELECTOR, "button.authorize").click()
        wait_for(lambda: "Authorized" in scheme.text, message="the key to be taken")
        driver.find_element(By.CSS_SELECTOR, ".modal-ux .close-modal").click()

        # POST /v1/jobs: Try it out, the file in the multipart form, the other fields left as they are.
        submit = _try_it_out(driver, "submitJob")
        submit.find_element(By.CSS_SELECTOR, "input[type=file]").send_keys(str(png))
        status, body = _execute(submit)
        assert status == 202, body
        op = json.loads(body)
        assert op["status"] in ("queued", "running", "succeeded") and op["links"]["result"].endswith("/result")
        curl = submit.find_element(By.CSS_SELECTOR, ".curl-command").text
        assert f"X-API-Key: {srv.key}" in curl

        # The console can poll too, but httpx is quicker to wait with.
        deadline = time.monotonic() + 60
        while (state := httpx.get(op["links"]["self"], headers={"X-API-Key": srv.key}).json()["status"]) not in (
            "succeeded",
            "failed",
        ) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert state == "succeeded"

        # GET /v1/jobs/{id}/result?format=text through the console.
        result = _try_it_out(driver, "getJobResult")
        result.find_element(By.CSS_SELECTOR, "input[placeholder=job_id]").send_keys(op["id"])
        result.find_element(By.CSS_SELECTOR, "input[placeholder=format]").send_keys("text")
        status, text = _execute(result)
        assert status == 200, text
        want = httpx.get(f"{op['links']['result']}?format=text", headers={"X-API-Key": srv.key}).text
        assert "quick brown dog" in want
        assert text.strip() == want.strip()

        driver.execute_script(
            "arguments[0].scrollIntoView({block: 'start'})", result.find_element(By.CSS_SELECTOR, ".responses-wrapper")
        )
        shot = keep_screenshot(driver, tmp_path, "docs-console.png")
        assert foreign_requests(driver, srv.url) == []
        assert console_errors(driver) == []
    assert shot.stat().st_size > 10_000
