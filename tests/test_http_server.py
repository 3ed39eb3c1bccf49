"""The HTTP server under ``sovkg serve`` (granian by default) keeps uvicorn/h11's bound on the
request head: a head over 64 KiB is refused with 431, and a client that never finishes its head
is disconnected, while ordinary requests are answered (nothing gets weaker for speed)."""

from __future__ import annotations

import socket

import pytest

from tests.support.server import LiveServer

pytestmark = pytest.mark.live


def _ask(port: int, extra_header_bytes: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(
            b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: "
            + b"a" * extra_header_bytes
            + b"\r\nConnection: close\r\n\r\n"
        )
        return s.recv(64)


def test_the_request_head_is_bounded_and_must_arrive_in_time() -> None:
    server = LiveServer("--no-validate", "--no-access-log")
    try:
        server.wait_ready()
        assert _ask(server.port, 8 * 1024).startswith(b"HTTP/1.1 200")
        assert _ask(server.port, 70 * 1024).startswith(b"HTTP/1.1 431")
        with socket.create_connection(("127.0.0.1", server.port), timeout=60) as s:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
            assert s.recv(64) == b""  # closed by the server, not answered
    finally:
        server.stop()
