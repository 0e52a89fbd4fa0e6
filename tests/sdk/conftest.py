"""One real server for both generated-client tests: starting one (a key made with the CLI, uvicorn, a warm
worker) is most of their cost, and neither test needs a server of its own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.conftest import Server


@pytest.fixture(scope="session")
def sdk_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("sdk"), workers=1).start()
    yield srv
    srv.stop()
    srv.cleanup()
