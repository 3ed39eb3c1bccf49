"""Shared fixtures: the shipped store, the command line, a live server on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pyoxigraph import Store
from sovkg.dataset import open_store

ROOT = Path(__file__).resolve().parent.parent

# Validation verdicts are cached per content digest; tests keep theirs out of the user's home.
os.environ.setdefault("SOVKG_CACHE_DIR", tempfile.mkdtemp(prefix="sovkg-test-cache-"))


@pytest.fixture(scope="session")
def store() -> Store:
    """The shipped ontology and graph in a fresh in-memory store (read it, don't write it)."""
    return open_store()


def run_sovkg(
    *args: str, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    """Run the real command line in a child process and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "sovkg", *args],
        cwd=cwd or ROOT,
        capture_output=True,
        timeout=timeout,
        env=dict(os.environ),
    )


def stop_process(proc: subprocess.Popen) -> None:
    """Terminate a child process, kill it if it does not go within 10 s, and reap it."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """``sovkg serve`` in a child process, on loopback, until stopped."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sovkg", "serve", "--port", str(self.port), *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **(env or {})},
        )

    def wait_ready(self, timeout: float = 60) -> None:
        """Block until /health answers 200; fail with the server's stderr if it died."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.proc.stderr.read().decode()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise TimeoutError("server did not become ready")

    def stop(self) -> None:
        """Terminate the server and wait for it."""
        stop_process(self.proc)


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
def browser():
    """One headless Debian Chromium per test module (see tests/browser.py).

    Playwright's sync API keeps an event loop running in the main thread while it is open;
    closing it with the module lets later tests use asyncio.run() again, whatever the order.
    """
    from browser import launch_chromium
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def browser_page(browser, live_server):
    """A fresh page on the live server recording requests and console errors (tests/browser.py)."""
    from browser import BrowserPage

    with BrowserPage(browser, live_server.url) as page:
        yield page


@pytest.fixture(scope="session")
def backend_server() -> Iterator[LiveServer]:
    """``sovkg serve --backend``: our endpoint in front of the native Oxigraph server
    (tests/backend_support.py), which holds the shipped graph and nothing else."""
    from backend_support import OxigraphServer, dataset_nquads

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
