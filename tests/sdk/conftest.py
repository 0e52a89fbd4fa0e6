"""One real server for both generated-client tests: the suite's shared embedded server, under a key of their
own so listJobs shows their jobs and nobody else's. Starting a server (uvicorn, warm workers) is most of
their cost, and neither test needs a server of its own."""

from __future__ import annotations

import copy

import pytest
from tests.conftest import Server


@pytest.fixture(scope="session")
def sdk_server(embedded_server: Server) -> Server:
    srv = copy.copy(embedded_server)
    srv.key = embedded_server.cli("keys", "create", "--name", "sdk", "-q").strip()
    return srv
