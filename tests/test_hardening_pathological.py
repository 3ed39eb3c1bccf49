"""Pathological requests a stranger can send, against a live server with small limits: a
CONSTRUCT whose result is huge although it has few triples, and many clients that trickle
their requests. Each ends in a 4xx/503 or is cut, and everyone else is still answered."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support.server import LiveServer

pytestmark = pytest.mark.live

MEMORY_MIB = 256

#: every triple of the data, each with its object doubled 22 times (4 million copies): few
#: triples, far under the row limit, but gigabytes of result
HUGE_CONSTRUCT = (
    "CONSTRUCT { ?s <urn:x-big> ?big } WHERE { ?s ?p ?o BIND(STR(?o) AS ?a0) "
    + " ".join(f"BIND(CONCAT(?a{i}, ?a{i}) AS ?a{i + 1})" for i in range(22))
    + " BIND(?a22 AS ?big) }"
)
PROBE = "ASK { ?s a <https://w3id.org/ksai/ontology#Consortium> }"


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    live = LiveServer(
        "--no-validate",
        "--no-access-log",
        "--query-memory",
        str(MEMORY_MIB),
        "--query-workers",
        "2",
        "--query-timeout",
        "20",
    )
    try:
        live.wait_ready()
        yield live
    finally:
        live.stop()


def _probe(server: LiveServer) -> int:
    return httpx.post(f"{server.url}/sparql", data={"query": PROBE}, timeout=30).status_code


def test_a_huge_construct_under_the_row_limit_is_cut_at_the_memory_limit(
    server: LiveServer,
) -> None:
    r = httpx.post(
        f"{server.url}/sparql",
        data={"query": HUGE_CONSTRUCT},
        headers={"Accept": "application/n-triples"},
        timeout=90,
    )
    assert r.status_code == 503, r.text[:300]
    assert f"memory limit of {MEMORY_MIB} MiB" in r.text, r.text
    assert _probe(server) == 200
    assert server.proc.poll() is None


def test_many_clients_trickling_their_requests_do_not_hold_up_others(
    server: LiveServer,
) -> None:
    host, port = "127.0.0.1", server.port
    slow = []
    for _ in range(64):  # each sends half a request head, then nothing
        s = socket.create_connection((host, port), timeout=10)
        s.sendall(b"GET /sparql?query=ASK%7B%7D HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        slow.append(s)
    try:
        for _ in range(5):  # everyone else is answered meanwhile
            assert _probe(server) == 200
        # the server does not wait for a head forever: every trickling client is cut
        deadline = time.monotonic() + 60
        open_ = list(slow)
        while open_ and time.monotonic() < deadline:
            still = []
            for s in open_:
                s.settimeout(0.5)
                try:
                    data = s.recv(4096)
                except TimeoutError:
                    still.append(s)  # not cut yet
                    continue
                except OSError:
                    continue  # reset: cut
                if data and not data.startswith(b"HTTP/1.1 4"):
                    pytest.fail(f"a half-sent request got {data[:80]!r}")
            open_ = still
        assert not open_, f"{len(open_)} trickling connections are still held open"
    finally:
        for s in slow:
            s.close()
    assert _probe(server) == 200
