"""Shared fixtures: the shipped store, a live server on loopback, a headless browser.

Helpers (child processes, servers, backends, the browser wrapper) live in ``tests/support/``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright
from pyoxigraph import Store
from sovkg.dataset import open_store

from tests.support.browser import BrowserPage, launch_chromium
from tests.support.oxigraph import OxigraphServer, dataset_nquads
from tests.support.server import LiveServer

# Validation verdicts are cached per content digest; tests keep theirs out of the user's home.
os.environ.setdefault("SOVKG_CACHE_DIR", tempfile.mkdtemp(prefix="sovkg-test-cache-"))


@pytest.fixture(scope="session")
def store() -> Store:
    """The shipped ontology and graph in a fresh in-memory store (read it, don't write it)."""
    return open_store()


@pytest.fixture(scope="session")
def live_server() -> Iterator[LiveServer]:
    """One read-only server for the whole session, on the shipped graph."""
    server = LiveServer()
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


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
def backend_server() -> Iterator[LiveServer]:
    """``sovkg serve --backend``: our endpoint in front of the native Oxigraph server
    (tests/support/oxigraph.py), which holds the shipped graph and nothing else."""
    oxigraph = OxigraphServer()
    server = None
    try:
        oxigraph.load(dataset_nquads())
        server = LiveServer("--backend", oxigraph.query_url)
        server.wait_ready()
        server.backend = oxigraph  # type: ignore[attr-defined]
        yield server
    finally:
        if server is not None:
            server.stop()
        oxigraph.stop()
