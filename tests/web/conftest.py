"""Fixtures of the browser tests (tests/web): the suite's shared embedded server, since starting one costs
more than any single browser test, and none of them changes what the others see."""

from __future__ import annotations

import pytest
from tests.conftest import Server
from tests.web.browser import require_chromium


@pytest.fixture(scope="session")
def web_server(request: pytest.FixtureRequest) -> Server:
    require_chromium()  # skip (or fail in CI) before paying for a server start
    return request.getfixturevalue("embedded_server")
