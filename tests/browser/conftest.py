"""The browser tier: pages rendered by a real headless Chromium (``batchrecs_local.browser``). It must run where
BATCHRECS_REQUIRE_BROWSER is set (.ci/run sets it, after installing Debian's chromium and chromium-driver); elsewhere
it is skipped when the browser is missing, saying how to install it."""

from __future__ import annotations

import os

import pytest
from pytest_socket import enable_socket, socket_allow_hosts

from batchrecs_local import browser

REQUIRE_BROWSER = "BATCHRECS_REQUIRE_BROWSER"


@pytest.fixture(autouse=True)
def _no_network() -> None:
    """Overrides the suite's socket ban: loopback only, where Selenium talks to chromedriver."""
    problem = browser.unavailable()
    if problem is not None:
        if os.environ.get(REQUIRE_BROWSER):
            pytest.fail(f"the browser tier must run here ({REQUIRE_BROWSER} is set), but {problem}")
        pytest.skip(f"browser tier skipped: {problem}")
    enable_socket()
    socket_allow_hosts(["127.0.0.1", "localhost", "::1"], allow_unix_socket=True)
