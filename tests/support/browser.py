"""Headless Chromium for page tests: every request and every console error recorded.

Pages of this project must work offline: everything they load comes from the server that
serves them. These helpers make that checkable in one line, for any page (the query UI, the
Linked Data pages, the home page)::

    def test_my_page_is_self_contained(browser_page, live_server):
        page = browser_page.goto(f"{live_server.url}/id/team/naver-cloud")
        assert page.title()
        browser_page.assert_clean()      # no outside request, no console or script error

``browser`` (module fixture in ``tests/conftest.py``) is one Chromium process per test module:
Debian's ``/usr/bin/chromium`` driven by the ``playwright`` package (never ``playwright
install``: nothing is downloaded). ``browser_page`` (function fixture) is a fresh browser
context (no cookies, no localStorage) with one page, whose traffic is recorded in a
:class:`PageLog` from before the first request:

- ``log.requests``: every URL the page, its frames and its workers asked for (including
  websockets), in order;
- ``log.outside_requests()``: those that do not start with the server's loopback origin and are
  not ``data:``/``blob:`` — the "no outside request" assertion is that this list is empty;
- ``log.console_errors``: console messages of type ``error`` (CSP violations and failed loads
  land here too) and uncaught script exceptions (``pageerror``).

Outside requests are also *aborted* (and still recorded), so a page that tries to reach the
internet fails its test instead of reaching it; Chromium additionally runs with background
networking, component updates and sync off, and resolves no host name except loopback.

To open a page somewhere else than the live server, build ``BrowserPage(browser, origin)``
yourself and call ``close()`` when done (or use it as a context manager).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, Request, Route
from playwright.sync_api import Error as PlaywrightError

#: Debian's Chromium; CI installs it with apt (``.ci/run``). Override with SOVKG_CHROMIUM.
CHROMIUM = os.environ.get("SOVKG_CHROMIUM", "/usr/bin/chromium")

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    # Any host name other than loopback fails to resolve: a request that slipped past the
    # router below still cannot leave the machine.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
]

#: URL schemes that never leave the page
LOCAL_SCHEMES = ("data:", "blob:", "about:")


def find_chromium() -> str:
    """The Chromium executable, or a clear failure saying how to install it."""
    path = CHROMIUM if os.path.isabs(CHROMIUM) else shutil.which(CHROMIUM)
    if not path or not os.access(path, os.X_OK):
        raise RuntimeError(
            f"Chromium not found at {CHROMIUM!r}: install Debian's package "
            "(apt-get install chromium) or set SOVKG_CHROMIUM; never `playwright install`"
        )
    return path


def launch_chromium(playwright: Playwright) -> Browser:
    """Start headless Debian Chromium through Playwright, with the network-quiet flags."""
    return playwright.chromium.launch(
        executable_path=find_chromium(), headless=True, args=CHROMIUM_ARGS
    )


def origin_of(url: str) -> str:
    """``scheme://host:port`` of a URL, the prefix every allowed request must start with."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def is_local(url: str, origin: str) -> bool:
    """Whether a request URL stays on the given origin (or never leaves the page at all)."""
    return url.startswith(LOCAL_SCHEMES) or url == origin or url.startswith(origin + "/")


@dataclass
class PageLog:
    """What one browser context did: requests, failed requests and errors, in order."""

    origin: str
    requests: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def outside_requests(self) -> list[str]:
        """Requested URLs that are neither on the server's origin nor data:/blob: URLs."""
        return [url for url in self.requests if not is_local(url, self.origin)]

    def assert_clean(self) -> None:
        """Fail with the offending URLs and messages if anything left the origin or errored."""
        outside = self.outside_requests()
        assert not outside, f"requests beyond {self.origin}: {outside}"
        assert not self.console_errors, f"console errors: {self.console_errors}"


class BrowserPage:
    """A fresh browser context with one page, recording everything into :attr:`log`."""

    def __init__(self, browser: Browser, origin: str) -> None:
        self.log = PageLog(origin=origin_of(origin))
        self.context = browser.new_context(service_workers="block")
        self.context.route("**/*", self._route)
        self.context.on("request", self._on_request)
        self.context.on("requestfailed", self._on_request_failed)
        self.context.on("console", self._on_console)
        self.context.on("weberror", lambda e: self.log.console_errors.append(f"{e.error}"))
        self.page: Page = self.context.new_page()
        self.page.on("websocket", lambda ws: self.log.requests.append(ws.url))

    def _route(self, route: Route) -> None:
        if is_local(route.request.url, self.log.origin):
            route.continue_()
        else:
            route.abort("blockedbyclient")

    def _on_request(self, request: Request) -> None:
        self.log.requests.append(request.url)

    def _on_request_failed(self, request: Request) -> None:
        self.log.failed_requests.append(f"{request.url}: {request.failure}")

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            loc = message.location
            where = f" ({loc.get('url')}:{loc.get('lineNumber')})" if loc else ""
            self.log.console_errors.append(f"{message.text}{where}")

    def goto(
        self,
        url: str,
        wait_until: Literal["commit", "domcontentloaded", "load", "networkidle"] = "networkidle",
    ) -> Page:
        """Open a URL and wait until the network is quiet; fail on an HTTP error status."""
        response = self.page.goto(url, wait_until=wait_until)
        assert response is not None, f"no response for {url}"
        assert response.ok, f"{url}: HTTP {response.status}"
        return self.page

    def assert_clean(self) -> None:
        """Shorthand for ``self.log.assert_clean()``."""
        self.log.assert_clean()

    def close(self) -> None:
        """Close the context (and its page); the browser stays up for the next test."""
        try:
            self.context.close()
        except PlaywrightError:
            pass  # the browser went away first; nothing left to close

    def __enter__(self) -> BrowserPage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
