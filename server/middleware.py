"""The HTTP front's own guards, as one pure ASGI middleware around the whole application.

- request limits: URL length (414), body size (413, decided from ``Content-Length`` before
  reading, and by counting while a chunked body arrives), and a deadline for receiving the body
  (408) against clients that trickle it;
- safety headers: ``X-Content-Type-Options: nosniff`` on every response, and a
  ``Content-Security-Policy`` on every HTML response that does not bring its own;
- headers that the layers below ask for while they run (``X-SPARQL-MaxRows``);
- a structured access log: one JSON object per request (method, path, query string with
  anything token-like blanked, status, duration), never a header.

What it does not cover: a client that trickles the request line and headers is uvicorn's
(``h11_max_incomplete_event_size`` bounds their size; uvicorn has no deadline for them, so put
a reverse proxy with one in front of a public deployment); idle keep-alive connections are
closed after ``timeout_keep_alive`` seconds.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import logging.handlers
import queue
import re
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: a policy for HTML that loads nothing from elsewhere and runs no inline script
DEFAULT_CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

#: query parameters whose values never reach the log
_SECRET_NAME = re.compile(r"token|key|secret|passw|auth|session|cookie|credential|sig", re.I)
#: how much of a path or query string is logged
_LOG_LIMIT = 2000

ACCESS_LOGGER = "sovkg.access"

_extra_headers: contextvars.ContextVar[list[tuple[bytes, bytes]] | None] = contextvars.ContextVar(
    "sovkg_extra_headers", default=None
)


def add_response_header(name: str, value: str) -> None:
    """Ask for a header on the response to the request being handled (no-op outside one)."""
    headers = _extra_headers.get()
    if headers is not None:
        headers.append((name.lower().encode("latin-1"), value.encode("latin-1")))


def redact_query_string(raw: bytes) -> str:
    """The query string for the log, with the values of token-like parameters blanked."""
    text = raw.decode("latin-1")
    if not text:
        return ""
    pairs = parse_qsl(text, keep_blank_values=True)
    if not any(_SECRET_NAME.search(k) for k, _ in pairs):
        return text[:_LOG_LIMIT]
    return urlencode([(k, "***" if _SECRET_NAME.search(k) else v) for k, v in pairs])[:_LOG_LIMIT]


class _BodyTooLarge(Exception):
    pass


class _Disconnected(Exception):
    pass


async def _send_plain(send: Send, status: int, message: str) -> None:
    body = (message.rstrip("\n") + "\n").encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"x-content-type-options", b"nosniff"),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class HardeningMiddleware:
    """Limits, safety headers and the access log for every HTTP request."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body: int = 8 * 1024 * 1024,
        max_url: int = 8192,
        body_timeout: float = 30.0,
        csp: str = DEFAULT_CSP,
        access_log: bool = True,
    ) -> None:
        self.app = app
        self.max_body = max_body
        self.max_url = max_url
        self.body_timeout = body_timeout
        self.csp = csp.encode("latin-1")
        self.log = logging.getLogger(ACCESS_LOGGER) if access_log else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state = {"status": 0, "bytes": 0}

        async def send_logged(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
            elif message["type"] == "http.response.body":
                state["bytes"] += len(message.get("body", b""))
            await send(message)

        try:
            await self._handle(scope, receive, send_logged)
        except BaseException:
            if not state["status"]:
                state["status"] = 500
            raise
        finally:
            if self.log is not None:
                self._log(scope, state, started)

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
        if len(path) + len(scope.get("query_string", b"")) + 1 > self.max_url:
            await _send_plain(
                send, 414, f"the URL is longer than this server's limit of {self.max_url} bytes"
            )
            return
        declared = _content_length(scope)
        if declared == -1:
            await _send_plain(send, 400, "the Content-Length header is not a number")
            return
        if declared is not None and declared > self.max_body:
            await _send_plain(send, 413, self._too_large())
            return
        try:
            body = await asyncio.wait_for(self._read_body(receive), self.body_timeout)
        except _BodyTooLarge:
            await _send_plain(send, 413, self._too_large())
            return
        except TimeoutError:
            await _send_plain(
                send, 408, f"the request body did not arrive within {self.body_timeout:g} s"
            )
            return
        except _Disconnected:
            return

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        extra: list[tuple[bytes, bytes]] = []
        token = _extra_headers.set(extra)

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                if b"x-content-type-options" not in names:
                    headers.append((b"x-content-type-options", b"nosniff"))
                ctype = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                if b"html" in ctype.lower() and b"content-security-policy" not in names:
                    headers.append((b"content-security-policy", self.csp))
                headers.extend(h for h in extra if h[0] not in names)
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, replay, send_secured)
        finally:
            _extra_headers.reset(token)

    async def _read_body(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise _BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _too_large(self) -> str:
        return f"the request body is larger than this server's limit of {self.max_body} bytes"

    def _log(self, scope: Scope, state: dict[str, int], started: float) -> None:
        assert self.log is not None
        client = scope.get("client")
        record = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "method": scope.get("method", ""),
            "path": scope.get("path", "")[:_LOG_LIMIT],
            "query": redact_query_string(scope.get("query_string", b"")),
            "status": state["status"],
            "ms": round((time.perf_counter() - started) * 1000, 1),
            "bytes": state["bytes"],
            "client": client[0] if client else None,
        }
        self.log.info(json.dumps(record, ensure_ascii=False))


def _content_length(scope: Scope) -> int | None:
    """The declared body length; None without the header, -1 when it is not a number."""
    for k, v in scope.get("headers", []):
        if k.lower() == b"content-length":
            value = v.strip()
            return int(value) if value.isdigit() and len(value) < 20 else -1
    return None


class _DroppingQueueHandler(logging.handlers.QueueHandler):
    """Hands records to a writer thread; drops them when it falls behind, so that a stderr
    nobody reads can slow the log down but never the server."""

    def enqueue(self, record: logging.LogRecord) -> None:
        try:
            self.queue.put_nowait(record)
        except queue.Full:
            pass

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        return record


def configure_access_log(stream: Any = None) -> None:
    """Send the access log to stderr (one JSON line per request) through a bounded queue."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if any(isinstance(h, _DroppingQueueHandler) for h in logger.handlers):
        return
    records: queue.Queue[logging.LogRecord] = queue.Queue(maxsize=10_000)
    writer = logging.StreamHandler(stream or sys.stderr)
    writer.setFormatter(logging.Formatter("%(message)s"))
    listener = logging.handlers.QueueListener(records, writer)
    listener.start()
    logger.addHandler(_DroppingQueueHandler(records))
    logger.setLevel(logging.INFO)
    logger.propagate = False
