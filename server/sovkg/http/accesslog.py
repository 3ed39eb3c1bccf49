"""The access log: one JSON object per request (method, path, query string with anything
token-like blanked, status, duration, bytes, client), never a header; logger ``sovkg.access``.

Lines are written to stderr in batches by a thread of their own (:func:`configure_access_log`),
so a request costs an append, not a lock, a flush and a thread wake-up.
"""

from __future__ import annotations

import atexit
import collections
import json
import logging
import re
import sys
import threading
import time
from typing import TextIO
from urllib.parse import parse_qsl, unquote_plus, urlencode

from starlette.types import Scope

ACCESS_LOGGER = "sovkg.access"

#: query parameters whose values never reach the log
_SECRET_NAME = re.compile(r"token|key|secret|passw|auth|session|cookie|credential|sig", re.I)
#: how much of a path or query string is logged
_LOG_LIMIT = 256  # enough to recognise a request; escaping whole SPARQL texts cost 15 µs each

_js = json.encoder.encode_basestring_ascii  # a JSON string literal, quotes included


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


#: the logged form of recent requests' method, path and query string: a repeated request
#: formats its own once (bounded: cleared when full)
_requests: dict[tuple[str, str, bytes], str] = {}
_REMEMBERED = 1024
#: longer query strings are formatted every time, so the memory holds at most about 1.3 MiB
_REMEMBERED_QUERY_BYTES = 1024


def _logged_request(method: str, path: str, raw_query: bytes) -> str:
    """The log line's ``"method", "path", "query"`` members (the query string redacted, each
    cut to the log's limit), with a trailing comma."""
    key = (method, path, raw_query)
    text = _requests.get(key)
    if text is None:
        text = (
            f'"method": {_js(method)}, "path": {_js(path[:_LOG_LIMIT])}, '
            f'"query": {_js(redact_query_string(raw_query))}, '
        )
        if len(raw_query) + len(path) <= _REMEMBERED_QUERY_BYTES:
            if len(_requests) >= _REMEMBERED:
                _requests.clear()
            _requests[key] = text
    return text


_stamp: tuple[int, str] = (0, "")


def _timestamp() -> str:
    """The current second as ISO 8601, formatted once a second rather than once a request."""
    global _stamp
    now = int(time.time())
    if _stamp[0] != now:
        _stamp = (now, time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(now)))
    return _stamp[1]


def log_line(scope: Scope, status: int, size: int, started: float) -> str:
    """The JSON object of one request, written out by hand: json.dumps of a whole dict cost
    more than the rest of a cached answer; the strings are still escaped by json's C encoder,
    once per distinct request (see ``_logged_request``)."""
    client = scope.get("client")
    request = _logged_request(
        scope.get("method", ""), scope.get("path", ""), scope.get("query_string", b"")
    )
    return (
        f'{{"ts": "{_timestamp()}", {request}"status": {int(status)}, '
        f'"ms": {(time.perf_counter() - started) * 1000:.1f}, "bytes": {int(size)}, '
        f'"client": {_js(client[0]) if client else "null"}}}'
    )


_logger = logging.getLogger(ACCESS_LOGGER)


def record(scope: Scope, status: int, size: int, started: float) -> None:
    """Log one request (its status, the bytes of its body, and when it started)."""
    line = log_line(scope, status, size, started)
    if _sink is not None:
        _sink.put(line)  # the configured stderr writer, without a LogRecord per request
    else:
        _logger.info(line)


class BatchingHandler(logging.Handler):
    """Keeps formatted lines in a bounded buffer that a writer thread empties in one write every
    0.1 s. When nobody reads stderr the oldest lines are dropped; requests are never slowed."""

    def __init__(self, stream: TextIO, max_lines: int = 10_000, interval: float = 0.1) -> None:
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


_sink: BatchingHandler | None = None  # set by configure_access_log


def configure_access_log(stream: TextIO | None = None) -> None:
    """Send the access log to stderr (one JSON line per request), written in batches."""
    global _sink
    logger = logging.getLogger(ACCESS_LOGGER)
    if any(isinstance(h, BatchingHandler) for h in logger.handlers):
        return
    _sink = BatchingHandler(stream or sys.stderr)
    logger.addHandler(_sink)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def flush() -> None:
    """Write the lines still buffered now (a server process that stops: granian ends its
    worker processes without running ``atexit``, which would lose the last 0.1 s of lines)."""
    if _sink is not None:
        _sink.flush()
