"""Writes: off by default, bearer token only, atomic, never logged; with --store they
survive restarts and a SIGKILL in the middle of a stream of updates loses no acknowledged update
and leaves no partial one; the shipped graph is loaded once.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support.server import LiveServer

pytestmark = pytest.mark.live

TOKEN = "writes-test-token-7f3a9c"
TRIPLES_PER_UPDATE = 5
RUNAWAY_UPDATE = (
    "INSERT { <urn:x:runaway> <urn:x:n> ?n } WHERE { SELECT (COUNT(*) AS ?n) WHERE { "
    "GRAPH ?w { ?a ?b ?c } GRAPH ?x { ?d ?e ?f } GRAPH ?y { ?g ?h ?i } GRAPH ?z { ?j ?k ?l } } }"
)


def _update(url: str, update: str, token: str | None = TOKEN, **kw) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(f"{url}/sparql", data={"update": update}, headers=headers, timeout=60, **kw)


def _ask(url: str, query: str) -> bool:
    r = httpx.post(f"{url}/sparql", data={"query": query}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["boolean"]


@pytest.fixture(scope="module")
def writable() -> Iterator[LiveServer]:
    """A server that takes updates with the token, a short time limit, and its access log."""
    server = LiveServer("--allow-updates", "--query-timeout", "2", env={"SOVKG_TOKEN": TOKEN})
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def test_read_only_server_refuses_updates(live_server) -> None:
    r = _update(live_server.url, "INSERT DATA { <urn:x:a> <urn:x:b> <urn:x:c> }")
    assert r.status_code == 403
    assert not _ask(live_server.url, "ASK { <urn:x:a> ?p ?o }")


def test_updates_need_the_right_token(writable) -> None:
    insert = "INSERT DATA { <urn:x:tok> <urn:x:b> <urn:x:c> }"
    assert _update(writable.url, insert, token=None).status_code in (401, 403)
    assert _update(writable.url, insert, token="wrong").status_code in (401, 403)
    assert _update(writable.url, insert, token=TOKEN + "x").status_code in (401, 403)
    assert not _ask(writable.url, "ASK { <urn:x:tok> ?p ?o }")
    assert _update(writable.url, insert).status_code == 204
    assert _ask(writable.url, "ASK { <urn:x:tok> ?p ?o }")  # every worker sees it at once
    assert _ask(writable.url, "ASK { <urn:x:tok> ?p ?o }")


def test_a_failing_update_applies_nothing(writable) -> None:
    assert _update(writable.url, "CREATE GRAPH <urn:x:existing>").status_code == 204
    r = _update(
        writable.url,
        "INSERT DATA { <urn:x:half> <urn:x:b> <urn:x:c> } ; CREATE GRAPH <urn:x:existing>",
    )
    assert r.status_code == 400
    assert "already exists" in r.text
    assert not _ask(writable.url, "ASK { <urn:x:half> ?p ?o }")


def test_a_runaway_update_is_stopped_and_not_applied(writable) -> None:
    r = _update(writable.url, RUNAWAY_UPDATE)
    assert r.status_code == 503
    assert "limit" in r.text
    assert not _ask(writable.url, "ASK { <urn:x:runaway> ?p ?o }")
    assert _update(writable.url, "INSERT DATA { <urn:x:after> <urn:x:b> 1 }").status_code == 204


def test_the_token_never_reaches_the_log() -> None:
    server = LiveServer("--allow-updates", env={"SOVKG_TOKEN": TOKEN})
    try:
        server.wait_ready()
        _update(server.url, "INSERT DATA { <urn:x:log> <urn:x:b> 1 }")
        _update(server.url, "INSERT DATA { <urn:x:log> <urn:x:b> 2 }", token="not-" + TOKEN)
        httpx.get(f"{server.url}/sparql", params={"query": "ASK {}", "access_token": TOKEN})
    finally:
        server.stop()
    log = server.proc.stderr.read().decode()
    assert TOKEN not in log
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert [(e["method"], e["status"]) for e in lines if e["path"] == "/sparql"] == [
        ("POST", 204),
        ("POST", 401),
        ("GET", 200),
    ]
    assert all({"method", "path", "status", "ms"} <= set(e) for e in lines)


def _insert(i: int) -> str:
    objects = ", ".join(str(k) for k in range(TRIPLES_PER_UPDATE))
    return f"INSERT DATA {{ GRAPH <urn:x:crash> {{ <urn:x:u{i}> <urn:x:k> {objects} }} }}"


def _counts(url: str) -> dict[int, int]:
    q = "SELECT ?s (COUNT(*) AS ?n) WHERE { GRAPH <urn:x:crash> { ?s ?p ?o } } GROUP BY ?s"
    r = httpx.post(f"{url}/sparql", data={"query": q}, timeout=30)
    assert r.status_code == 200, r.text
    return {
        int(b["s"]["value"].removeprefix("urn:x:u")): int(b["n"]["value"])
        for b in r.json()["results"]["bindings"]
    }


def _quads_outside(url: str, graph: str) -> int:
    q = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH ?g {{ ?s ?p ?o }} FILTER(?g != <{graph}>) }}"
    r = httpx.post(f"{url}/sparql", data={"query": q}, timeout=30)
    return int(r.json()["results"]["bindings"][0]["n"]["value"])


def test_sigkill_during_updates_loses_no_acknowledged_update(tmp_path, store) -> None:
    path = str(tmp_path / "store")
    args = ("--store", path, "--allow-updates", "--no-access-log")
    server = LiveServer(*args, env={"SOVKG_TOKEN": TOKEN})
    acknowledged: list[int] = []
    stop = threading.Event()

    def writer() -> None:
        with httpx.Client(timeout=30) as client:
            i = 0
            while not stop.is_set():
                try:
                    r = client.post(
                        f"{server.url}/sparql",
                        data={"update": _insert(i)},
                        headers={"Authorization": f"Bearer {TOKEN}"},
                    )
                except httpx.TransportError:
                    return  # the server is gone
                assert r.status_code == 204, r.text
                acknowledged.append(i)
                i += 1

    try:
        server.wait_ready()
        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        time.sleep(random.uniform(1.0, 2.5))
        server.proc.kill()
        server.proc.wait()
        stop.set()
        thread.join(timeout=30)
    finally:
        server.stop()
    assert len(acknowledged) >= 3

    again = LiveServer(*args, env={"SOVKG_TOKEN": TOKEN})
    try:
        again.wait_ready()
        counts = _counts(again.url)
        shipped = _quads_outside(again.url, "urn:x:crash")
    finally:
        again.stop()
    assert all(counts.get(i) == TRIPLES_PER_UPDATE for i in acknowledged)  # none lost
    assert set(counts.values()) == {TRIPLES_PER_UPDATE}  # none half-applied
    assert max(counts) <= acknowledged[-1] + 1  # at most the one in flight, whole
    assert shipped == len(store)  # the shipped graph once, not once per start
