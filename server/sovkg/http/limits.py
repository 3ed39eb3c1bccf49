"""Limits of a request: URL length (414), body size (413, decided from ``Content-Length`` before
reading, and by counting while a chunked body arrives), and a deadline for receiving the body
(408) against clients that trickle it. A body sent with ``Content-Encoding: gzip`` is
decompressed here, and its decompressed size counts against the same limit (a zip bomb is a
413); the application sees the plain body. Other encodings are a 415.

What it does not cover: a client that trickles the request line and headers is uvicorn's
(``h11_max_incomplete_event_size`` bounds their size; uvicorn has no deadline for them, so put
a reverse proxy with one in front of a public deployment); idle keep-alive connections are
closed after ``timeout_keep_alive`` seconds.
"""

from __future__ import annotations

import asyncio
import zlib
from dataclasses import dataclass

from starlette.types import Message, Receive, Scope, Send


class _BodyTooLarge(Exception):
    pass


class ClientLeft(Exception):
    """The client went away before its body arrived: there is nobody to answer."""


class Refused(Exception):
    """A request over the limits: the status and message it gets instead of an answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def send_plain(send: Send, status: int, message: str) -> None:
    """A plain-text answer that closes the connection (the request was not read in full)."""
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


def content_encoding(scope: Scope) -> str | None:
    """The request's Content-Encoding, lower case (None without one, or for ``identity``)."""
    for k, v in scope.get("headers", []):
        if k.lower() == b"content-encoding":
            value = v.decode("latin-1").strip().lower()
            return None if value in ("", "identity") else value
    return None


def gunzip_limited(data: bytes, limit: int) -> bytes:
    """``data`` gzip-decompressed (every member), never more than ``limit`` bytes of it:
    raises _BodyTooLarge past it, ValueError when it is not gzip."""
    out: list[bytes] = []
    size = 0
    while data:
        decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            chunk = decoder.decompress(data, limit + 1 - size)
            while True:
                size += len(chunk)
                if size > limit:
                    raise _BodyTooLarge
                out.append(chunk)
                if not decoder.unconsumed_tail:
                    break
                chunk = decoder.decompress(decoder.unconsumed_tail, limit + 1 - size)
        except zlib.error as e:
            raise ValueError(f"the gzip body cannot be decompressed: {e}") from None
        if not decoder.eof:
            raise ValueError("the gzip body is cut short")
        data = decoder.unused_data
    return b"".join(out)


def _decoded(scope: Scope, size: int) -> Scope:
    """The scope of a request whose body was decompressed: no Content-Encoding, the new length."""
    headers = [
        (k, v)
        for k, v in scope.get("headers", [])
        if k.lower() not in (b"content-encoding", b"content-length")
    ]
    return {**scope, "headers": [*headers, (b"content-length", str(size).encode())]}


@dataclass(frozen=True)
class Limits:
    """The limits of a request, and the checks that apply them (``sovkg.http.front`` calls
    them for every request: 414, 413, 400, 408 or 415 instead of an answer)."""

    max_body: int = 8 * 1024 * 1024
    max_url: int = 8192
    body_timeout: float = 30.0

    def check(self, scope: Scope) -> bool:
        """Whether the request has a body to read (and limit, and time) before it goes on.
        Raises Refused when its URL or declared length already puts it over the limits.

        A read without a body (RFC 9112 §6.3) has nothing to limit or time: the application
        reads the request as is (the common case, and the cached one, costs no extra task)."""
        path = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
        if len(path) + len(scope.get("query_string", b"")) + 1 > self.max_url:
            raise Refused(
                414, f"the URL is longer than this server's limit of {self.max_url} bytes"
            )
        declared: int | None = None
        chunked = False
        for k, v in scope.get("headers", ()):  # one pass: this runs for every request
            k = k.lower()
            if k == b"content-length":
                if declared is None:  # the first one, as a client library reads it
                    value = v.strip()
                    declared = int(value) if value.isdigit() and len(value) < 20 else -1
            elif k == b"transfer-encoding":
                chunked = True
        if declared == -1:
            raise Refused(400, "the Content-Length header is not a number")
        if declared is not None and declared > self.max_body:
            raise Refused(413, self._too_large())
        return not (
            scope.get("method") in ("GET", "HEAD", "OPTIONS") and declared is None and not chunked
        )

    async def read(self, scope: Scope, receive: Receive) -> tuple[Scope, Receive]:
        """Read the body within the limits: the scope and ``receive`` to pass on with it (the
        body decompressed, when it came gzipped). Raises Refused over a limit, ClientLeft when
        the client went away."""
        try:
            body = await asyncio.wait_for(self._read_body(receive), self.body_timeout)
        except _BodyTooLarge:
            raise Refused(413, self._too_large()) from None
        except TimeoutError:
            raise Refused(
                408, f"the request body did not arrive within {self.body_timeout:g} s"
            ) from None
        encoding = content_encoding(scope)
        if encoding == "gzip":
            try:
                body = gunzip_limited(body, self.max_body)
            except _BodyTooLarge:
                raise Refused(413, self._too_large() + " once decompressed") from None
            except ValueError as e:
                raise Refused(400, str(e)) from None
            scope = _decoded(scope, len(body))
        elif encoding is not None:
            raise Refused(415, f"Content-Encoding {encoding!r} is not supported; send gzip or none")

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return scope, replay

    async def _read_body(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientLeft
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise _BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _too_large(self) -> str:
        return f"the request body is larger than this server's limit of {self.max_body} bytes"
