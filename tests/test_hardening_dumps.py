"""Building the dumps is bounded like a query: it runs in a child process forked for it, under
a time limit (``--dump-timeout``) and a memory limit (``--dump-memory``), one at a time.

A graph whose blank nodes are costly to label canonically (RDFC-1.0) made the build run for
more than ten minutes at 3.6 GB, holding the server's GIL, after someone with the token wrote
a 5,000-long chain of blank nodes (157 KB of N-Triples); every anonymous ``GET /dumps/...``
then hung the server. Now the client gets 503 naming the limit, everyone else is answered
meanwhile, the failure is given again at once until the data changes, and no child is left."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.server import LiveServer

pytestmark = pytest.mark.live

TOKEN = "dump-bounds-token-9e21"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CHAIN_GRAPH = "http://example.org/graph/blank-chain"
#: 5,000 blank nodes, each pointing at the next: RDFC-1.0 explores paths through all of them
CHAIN = "".join(f"_:b{i} <urn:x:next> _:b{i + 1} .\n" for i in range(5000)).encode()
PROBE = "ASK { ?s a <https://w3id.org/ksai/ontology#Consortium> }"
DUMP = "/dumps/sovereign-ai-kg.ttl"


def _serve(*args: str) -> LiveServer:
    server = LiveServer(
        "--no-validate",
        "--no-access-log",
        "--allow-updates",
        "--workers",
        "1",
        *args,
        env={"SOVKG_TOKEN": TOKEN},
    )
    server.wait_ready()
    return server


@pytest.fixture()
def timed() -> Iterator[LiveServer]:
    server = _serve("--dump-timeout", "3")
    try:
        yield server
    finally:
        server.stop()


def _put_chain(server: LiveServer) -> None:
    r = httpx.put(
        f"{server.url}/store",
        params={"graph": CHAIN_GRAPH},
        content=CHAIN,
        headers={**AUTH, "Content-Type": "application/n-triples"},
        timeout=60,
    )
    assert r.status_code == 201, r.text


def _children(pid: int) -> set[int]:
    """The pids of the processes whose parent is ``pid``."""
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.update(int(c) for c in (task / "children").read_text().split())
    return found


def test_a_costly_build_gets_503_at_the_time_limit_and_others_are_answered(
    timed: LiveServer,
) -> None:
    assert httpx.get(f"{timed.url}{DUMP}", timeout=60).status_code == 200
    _put_chain(timed)
    before = _children(timed.proc.pid)
    answers: dict[str, httpx.Response] = {}
    fetch = threading.Thread(
        target=lambda: answers.update(dump=httpx.get(f"{timed.url}{DUMP}", timeout=60))
    )
    fetch.start()
    time.sleep(0.5)  # the build is under way
    during = _children(timed.proc.pid) - before
    probe = httpx.post(f"{timed.url}/sparql", data={"query": PROBE}, timeout=30)
    assert probe.status_code == 200 and probe.json()["boolean"] is True
    fetch.join(timeout=60)
    dump = answers["dump"]
    assert dump.status_code == 503, dump.text
    assert "the build of the dumps ran longer than the server's limit of 3 s" in dump.text
    assert during, "the build ran in a child process of the server"
    # the child was killed and reaped: none of those that ran the build is left
    deadline = time.monotonic() + 10
    while during & _children(timed.proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not during & _children(timed.proc.pid)
    # the same data fails the same way: every surface built on the dumps says so at once
    for path in (DUMP, "/dumps", "/.well-known/void"):
        again = httpx.get(f"{timed.url}{path}", timeout=10)
        assert again.status_code == 503 and "limit of 3 s" in again.text, path
    store = httpx.get(f"{timed.url}/store", headers={"Accept": "application/n-quads"}, timeout=10)
    assert store.status_code == 503
    # once the data changes the dumps are built again
    r = httpx.delete(f"{timed.url}/store", params={"graph": CHAIN_GRAPH}, headers=AUTH)
    assert r.status_code == 204
    fresh = httpx.get(f"{timed.url}{DUMP}", timeout=60)
    assert fresh.status_code == 200 and b"urn:x:next" not in fresh.content


def test_a_costly_build_gets_503_at_the_memory_limit() -> None:
    server = _serve("--dump-memory", "200", "--dump-timeout", "120")
    try:
        _put_chain(server)
        r = httpx.get(f"{server.url}{DUMP}", timeout=150)
        assert r.status_code == 503, r.text
        assert "memory limit of 200 MiB" in r.text and "the build of the dumps" in r.text
        probe = httpx.post(f"{server.url}/sparql", data={"query": PROBE}, timeout=30)
        assert probe.status_code == 200
    finally:
        server.stop()


def test_the_dump_limits_are_checked_at_start() -> None:
    for bad in (("--dump-timeout", "0"), ("--dump-memory", "-1")):
        server = LiveServer("--no-validate", *bad)
        try:
            out, err = server.proc.communicate(timeout=60)
        finally:
            server.stop()
        assert server.proc.returncode == 2, err
        assert bad[0].encode() in err
