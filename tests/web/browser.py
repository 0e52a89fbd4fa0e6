"""Headless Chromium for the web tests (tests/web): Debian's chromium driven through Debian's
chromedriver by Selenium, so nothing is downloaded at run time (Selenium Manager is bypassed by
naming the driver). Missing pieces skip the tests on a developer's machine and fail them in CI."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from tests.conftest import REPO, unavailable

CHROMIUM = os.environ.get("OCRGW_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("OCRGW_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")
ARTIFACTS = Path(os.environ.get("OCRGW_TEST_ARTIFACTS", REPO / "test-artifacts")) / "web"
# As the machine notes advise: no background traffic (this network refuses it), no GPU, no sandbox (root).
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--window-size=1400,1000",
)

T = TypeVar("T")


def require_chromium() -> None:
    """Skip without Chromium, chromedriver or Selenium, except in CI, where dev.sh installs them."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not (Path(p).is_file() or shutil.which(p))]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package")
    if missing:
        msg = f"browser tests need {', '.join(missing)} (./dev.sh test installs Debian's chromium and chromium-driver)"
        unavailable(msg)


@contextmanager
def chrome(profile_dir: Path, download_dir: Path | None = None) -> Iterator[Any]:
    """A fresh headless Chromium with its own profile; downloads (if wanted) land in download_dir."""
    require_chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile_dir}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=CHROMEDRIVER, log_output=str(profile_dir.parent / "chromedriver.log"))
    driver = webdriver.Chrome(options=options, service=service)
    try:
        driver.set_page_load_timeout(30)
        driver.set_script_timeout(30)
        if download_dir is not None:
            download_dir.mkdir(parents=True, exist_ok=True)
            driver.execute_cdp_cmd(
                "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(download_dir)}
            )
        yield driver
    finally:
        driver.quit()


def wait_for(what: Callable[[], T], timeout: float = 30, message: str = "condition", interval: float = 0.1) -> T:
    """Poll what() until it returns something truthy (exceptions count as not yet)."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            value = what()
            if value:
                return value
        except Exception as exc:  # a stale or not-yet-present element
            last = exc
        time.sleep(interval)
    raise AssertionError(
        f"timed out after {timeout}s waiting for {message}" + (f" (last error: {last!r})" if last else "")
    )


def foreign_requests(driver: Any, origin: str) -> list[str]:
    """Every resource the page loaded (or tried to) that is not on the test server: must be none offline."""
    names = driver.execute_script(
        "return [location.href, ...performance.getEntriesByType('resource').map(e => e.name)]"
    )
    host = urlsplit(origin).netloc
    return [n for n in names if urlsplit(n).scheme in ("http", "https", "ws", "wss") and urlsplit(n).netloc != host]


def console_errors(driver: Any) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def keep_screenshot(driver: Any, tmp_path: Path, name: str) -> Path:
    """Screenshot to tmp_path, copied to the artifacts dir (test-artifacts/web/ or $OCRGW_TEST_ARTIFACTS/web/,
    gitignored) so a person can look at what the test saw; asserts it is a real, non-empty PNG."""
    shot = tmp_path / name
    assert driver.save_screenshot(str(shot)), "Chromium took no screenshot"
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000, f"{name} is not a real screenshot"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, ARTIFACTS / name)
    return shot
