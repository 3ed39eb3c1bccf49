"""A synchronous HTTP client for an ASGI application in this process (httpx.ASGITransport on
one event loop of its own), for tests that send many requests without a server."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx


class InProcessClient:
    """``request``/``get``/``post`` like httpx.Client, answered by the application directly;
    exceptions the application raises reach the caller."""

    def __init__(self, app: Any, base_url: str = "http://test") -> None:
        self._loop = asyncio.new_event_loop()
        self._client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send one request and read the whole response."""
        return self._loop.run_until_complete(self._client.request(method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        """GET."""
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        """POST."""
        return self.request("POST", url, **kwargs)

    def close(self) -> None:
        """Close the client and its event loop."""
        self._loop.run_until_complete(self._client.aclose())
        self._loop.close()
