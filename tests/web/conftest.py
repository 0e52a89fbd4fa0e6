"""Fixtures of the browser tests (tests/web): one ocrgw server shared by all of them, since starting
one costs more than any single browser test, and none of them changes what the others see."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest
from tests.conftest import Server
from tests.web.browser import require_chromium


@pytest.fixture(scope="session")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    require_chromium()  # skip (or fail in CI) before paying for a server start
    srv = Server(tmp_path_factory.mktemp("web-srv")).start()
    yield srv
    srv.stop(signal.SIGKILL)
