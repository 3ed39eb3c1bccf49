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
import atexit
import collections
import contextvars
import json
import logging
import re
import sys
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlencode

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
_LOG_LIMIT = 256  # enough to recognise a request; escaping whole SPARQL texts cost 15 µs each

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
    # look at the parameter names alone first: parsing and unquoting long SPARQL values on every
    # request cost more than the rest of the log line
    names = (unquote_plus(part.partition("=")[0]) for part in text.split("&"))
    if not any(_SECRET_NAME.search(name) for name in names):
        return text[:_LOG_LIMIT]
    pairs = parse_qsl(text, keep_blank_values=True)
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
        if (
            scope.get("method") in ("GET", "HEAD", "OPTIONS")
            and declared is None
            and not _has_header(scope, b"transfer-encoding")
        ):
            # a read without a body (RFC 9112 §6.3): nothing to limit or time; the app reads
            # the request as is (the common case, and the cached one, costs no extra task)
            await self._serve(scope, receive, send)
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

        await self._serve(scope, replay, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Call the app, adding the safety headers (and any announced extras) to its answer."""
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
            await self.app(scope, receive, send_secured)
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
        # written out by hand: json.dumps of a whole dict cost more than the rest of a cached
        # answer; the strings are still escaped by json's C encoder
        line = (
            f'{{"ts": "{_timestamp()}", "method": {_js(scope.get("method", ""))}, '
            f'"path": {_js(scope.get("path", "")[:_LOG_LIMIT])}, '
            f'"query": {_js(redact_query_string(scope.get("query_string", b"")))}, '
            f'"status": {int(state["status"])}, '
            f'"ms": {round((time.perf_counter() - started) * 1000, 1)}, '
            f'"bytes": {int(state["bytes"])}, '
            f'"client": {_js(client[0]) if client else "null"}}}'
        )
        if _sink is not None:
            _sink.put(line)  # the configured stderr writer, without a LogRecord per request
        else:
            self.log.info(line)


_stamp: tuple[int, str] = (0, "")


def _timestamp() -> str:
    """The current second as ISO 8601, formatted once a second rather than once a request."""
    global _stamp
    now = int(time.time())
    if _stamp[0] != now:
        _stamp = (now, time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(now)))
    return _stamp[1]


_js = json.encoder.encode_basestring_ascii  # a JSON string literal, quotes included


def _has_header(scope: Scope, name: bytes) -> bool:
    return any(k.lower() == name for k, _ in scope.get("headers", []))


def _content_length(scope: Scope) -> int | None:
    """The declared body length; None without the header, -1 when it is not a number."""
    for k, v in scope.get("headers", []):
        if k.lower() == b"content-length":
            value = v.strip()
            return int(value) if value.isdigit() and len(value) < 20 else -1
    return None


_sink: _BatchingHandler | None = None  # set by configure_access_log


class _BatchingHandler(logging.Handler):
    """Keeps formatted lines in a bounded buffer that a writer thread empties in one write every
    0.1 s: a request costs an append, not a lock, a flush and a thread wake-up. When nobody
    reads stderr the oldest lines are dropped; requests are never slowed."""

    def __init__(self, stream: Any, max_lines: int = 10_000, interval: float = 0.1) -> None:
        super().__init__()
        self._lines: collections.deque[str] = collections.deque(maxlen=max_lines)
        self._stream = stream
        self._interval = interval
        threading.Thread(target=self._drain_forever, name="access-log", daemon=True).start()
        atexit.register(self.flush)

    def handle(self, record: logging.LogRecord) -> bool:  # deque.append is atomic: no lock
        self._lines.append(record.getMessage())
        return True

    def emit(self, record: logging.LogRecord) -> None:
        self.handle(record)

    def put(self, line: str) -> None:
        """Queue one line (the access log's fast path: no LogRecord)."""
        self._lines.append(line)

    def _drain_forever(self) -> None:
        while True:
            time.sleep(self._interval)
            self.flush()

    def flush(self) -> None:
        """Write what is buffered, in one write."""
        lines = []
        try:
            while True:
                lines.append(self._lines.popleft())
        except IndexError:
            pass
        if lines:
            try:
                self._stream.write("\n".join(lines) + "\n")
                self._stream.flush()
            except (OSError, ValueError):
                pass  # a closed or broken stderr loses log lines, never requests


def configure_access_log(stream: Any = None) -> None:
    """Send the access log to stderr (one JSON line per request), written in batches."""
    global _sink
    logger = logging.getLogger(ACCESS_LOGGER)
    if any(isinstance(h, _BatchingHandler) for h in logger.handlers):
        return
    _sink = _BatchingHandler(stream or sys.stderr)
    logger.addHandler(_sink)
    logger.setLevel(logging.INFO)
    logger.propagate = False
