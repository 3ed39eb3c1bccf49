"""A query past the time limit is really stopped: its worker process is killed and
replaced, the client gets 503, other requests keep being answered, and nothing keeps burning CPU.
"""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from tests.support.procs import alive, cpu_seconds, descendants, query_workers, wait_gone
from tests.support.server import LiveServer

pytestmark = pytest.mark.live

RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
# not a plain lookup (sovkg.sparql.lookup), so a query worker answers it, not the server process
SIMPLE = "ASK { ?s ?p ?o FILTER(isIRI(?s)) }"
LIMIT = 2.0


def _runaway(url: str, out: dict) -> None:
    started = time.monotonic()
    try:
        r = httpx.get(f"{url}/sparql", params={"query": RUNAWAY}, timeout=120)
    except httpx.TransportError as e:  # the test killed the server meanwhile
        out.update(status=0, text=str(e), seconds=time.monotonic() - started)
        return
    out.update(status=r.status_code, text=r.text, seconds=time.monotonic() - started)


def _runaway_while_probing(url: str) -> tuple[dict, list[tuple[int, bool]]]:
    """Send the runaway query and, until it is answered, a simple one every 0.1 s: the
    runaway's outcome, and the simple queries' statuses and answers."""
    out: dict = {}
    runaway = threading.Thread(target=_runaway, args=(url, out))
    runaway.start()
    answers = []
    with httpx.Client(timeout=30) as client:
        while runaway.is_alive():
            r = client.get(f"{url}/sparql", params={"query": SIMPLE})
            answers.append((r.status_code, r.json()["boolean"]))
            time.sleep(0.1)
    runaway.join()
    return out, answers


def test_runaway_query_is_killed_while_other_queries_are_answered() -> None:
    # one server process: its query workers are its children
    server = LiveServer("--workers", "1", "--query-timeout", str(LIMIT), "--query-workers", "2")
    try:
        server.wait_ready()
        workers = query_workers(server.proc.pid)
        assert len(workers) == 2
        out, answers = _runaway_while_probing(server.url)

        assert out["status"] == 503
        assert "limit of 2 s" in out["text"]
        assert out["seconds"] < LIMIT + 10  # it did not run to the end (that takes hours)
        assert len(answers) >= 5 and set(answers) == {(200, True)}

        killed = workers - query_workers(server.proc.pid)
        assert len(killed) == 1
        assert not any(alive(p) for p in killed)
        assert len(query_workers(server.proc.pid)) == 2  # replaced

        processes = {server.proc.pid} | query_workers(server.proc.pid)
        before = cpu_seconds(processes)
        time.sleep(1.0)
        assert cpu_seconds(processes) - before < 0.5  # idle: nobody still counts

        r = httpx.get(f"{server.url}/sparql", params={"query": SIMPLE})
        assert r.status_code == 200
    finally:
        server.stop()


def test_health_says_busy_not_down_while_every_worker_is_taken() -> None:
    """The only worker runs a query that its supervisor ends at 60 s: the probe gets no answer
    within its 5 s, but the pool will answer within its time limit, so /health is 200 "busy"
    (503 is for a server where nothing can answer: test_hardening_bounds)."""
    server = LiveServer("--workers", "1", "--query-timeout", "60", "--query-workers", "1")
    try:
        server.wait_ready()
        assert httpx.get(f"{server.url}/health").json()["status"] == "ok"
        out: dict = {}
        threading.Thread(target=_runaway, args=(server.url, out), daemon=True).start()
        time.sleep(0.5)
        r = httpx.get(f"{server.url}/health", timeout=30)
        assert r.status_code == 200
        assert r.json()["status"] == "busy"
    finally:
        server.proc.kill()
        server.proc.wait()


@pytest.mark.parametrize("processes", ["1", "2"])
def test_workers_die_with_a_killed_server_even_mid_query(processes: str) -> None:
    """SIGKILL of the server leaves nothing behind, mid-query: with several server processes
    (granian's workers, which granian does not end itself) the port stops answering too."""
    server = LiveServer("--workers", processes, "--query-timeout", "60", "--query-workers", "2")
    try:
        server.wait_ready()
        below = descendants(server.proc.pid)
        # per server process: its 2 query workers and 2 SHACL workers
        assert len(below) >= 4 * int(processes)
        threading.Thread(target=_runaway, args=(server.url, {}), daemon=True).start()
        time.sleep(0.5)
    finally:
        server.proc.kill()  # SIGKILL: no chance to clean up
        server.proc.wait()
    assert wait_gone(below, timeout=10) == set()
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{server.url}/health", timeout=5)


def test_a_runaway_is_stopped_behind_several_server_processes() -> None:
    """The default on this machine may be several server processes: the time limit holds in
    every one of them, and the others keep answering."""
    server = LiveServer("--workers", "2", "--query-timeout", str(LIMIT))
    try:
        server.wait_ready()
        out, answers = _runaway_while_probing(server.url)
        assert out["status"] == 503 and "limit of 2 s" in out["text"]
        assert len(answers) >= 5 and set(answers) == {(200, True)}
        processes = {server.proc.pid} | descendants(server.proc.pid)
        before = cpu_seconds(processes)
        time.sleep(1.0)
        assert cpu_seconds(processes) - before < 0.5  # idle: nobody still counts
    finally:
        server.stop()


def test_workers_stop_with_the_server() -> None:
    server = LiveServer("--query-workers", "2")
    server.wait_ready()
    below = descendants(server.proc.pid)
    assert below
    server.stop()
    assert server.proc.returncode is not None
    assert wait_gone(below, timeout=10) == set()
