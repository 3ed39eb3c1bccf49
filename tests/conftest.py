"""Shared fixtures: the shipped store, a live server on loopback, a headless browser.

Helpers (child processes, servers, backends, the browser wrapper) live in ``tests/support/``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright
from pyoxigraph import Store
from sovkg.dataset import open_store

from tests.support.browser import BrowserPage, launch_chromium
from tests.support.server import ROOT, LiveServer
from tests.support.setups import LOCAL, OXIGRAPH_BACKEND, LiveServers

# Validation verdicts are cached per content digest; tests keep theirs out of the user's home.
os.environ.setdefault("SOVKG_CACHE_DIR", tempfile.mkdtemp(prefix="sovkg-test-cache-"))


@pytest.fixture(scope="session")
def store() -> Store:
    """The shipped ontology and graph in a fresh in-memory store (read it, don't write it)."""
    return open_store()


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel ``pip wheel .`` builds from the repository (once per session)."""
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
        + ["-w", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = dist.glob("*.whl")
    return built


@pytest.fixture(scope="session")
def live_servers() -> Iterator[LiveServers]:
    """The servers of each setup (tests/support/setups.py), each started once when first used."""
    with ExitStack() as stack:
        yield LiveServers(stack)


@pytest.fixture(scope="session")
def live_server(request: pytest.FixtureRequest, live_servers: LiveServers) -> LiveServer:
    """A read-only server on the shipped graph: the local one, or the one of the setup a test
    decorated with ``every_setup`` runs in."""
    return live_servers.get(getattr(request, "param", LOCAL))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Debian Chromium per test module (see tests/support/browser.py).

    Playwright's sync API keeps an event loop running in the main thread while it is open;
    closing it with the module lets later tests use asyncio.run() again, whatever the order.
    """
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def browser_page(browser: Browser, live_server: LiveServer) -> Iterator[BrowserPage]:
    """A fresh page on the live server recording requests and console errors."""
    with BrowserPage(browser, live_server.url) as page:
        yield page


@pytest.fixture(scope="session")
def backend_server(live_servers: LiveServers) -> LiveServer:
    """``sovkg serve --backend`` in front of the native Oxigraph server holding the shipped graph
    (the server of the ``oxigraph-backend`` setup)."""
    return live_servers.get(OXIGRAPH_BACKEND)
