"""Memory bounds and engine-crash containment: real processes, real limits."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from pyoxigraph import RdfFormat, Store, parse
from sovkg.engine.bounds import (
    MAX_MIB,
    MEMORY_EXIT_CODE,
    MIN_MIB,
    StderrTail,
    default_memory_mib,
    died_of_memory,
    engine_panic,
)
from sovkg.engine.isolated import run_isolated
from sovkg.engine.shacl_job import ShaclJob
from sovkg.engine.shacl_pool import ShaclPool
from sovkg.errors import EngineCrashed, JobTimeout, MemoryLimitReached, WorkersBusy

from tests.support.procs import query_workers
from tests.support.server import LiveServer

ROOT = Path(__file__).resolve().parent.parent
PANIC_DATA = ROOT / "tests" / "data" / "engine-panic.nq"
PANIC_QUERY = "SELECT * { ?s ?p ?o } ORDER BY ?o"


def test_the_default_limit_shares_an_eighth_of_the_machine() -> None:
    assert default_memory_mib(24 * 1024, 4) == 768  # this machine: 2 query + 2 SHACL workers
    assert default_memory_mib(1024, 4) == MIN_MIB
    assert default_memory_mib(512 * 1024, 2) == MAX_MIB
    assert default_memory_mib(None, 2) == MAX_MIB // 2


def test_deaths_are_classified() -> None:
    assert died_of_memory(-6, b"memory allocation of 4800000000 bytes failed\n")
    assert died_of_memory(MEMORY_EXIT_CODE, b"")
    assert not died_of_memory(-6, b"thread '<unnamed>' panicked at sort.rs:1:1:\nboom\n")
    assert not died_of_memory(-9, b"")
    assert engine_panic(b"x\nthread '<unnamed>' panicked at a.rs:1:1:\nnot a total order\n") == (
        "not a total order"
    )


def _panicking_query() -> int:
    store = Store()
    store.extend(list(parse(PANIC_DATA.read_bytes(), format=RdfFormat.N_QUADS)))
    return len(list(store.query(PANIC_QUERY, use_default_graph_as_union=True)))  # type: ignore[arg-type]


def test_an_engine_panic_is_contained_and_names_the_query() -> None:
    with pytest.raises(EngineCrashed, match="not correctly implement a total order.*ORDER BY"):
        run_isolated(_panicking_query, memory_mib=None, what=f"this query: {PANIC_QUERY}")


def _grow() -> int:
    chunks = [bytearray(16 * 1024 * 1024) for _ in range(64)]  # 1 GiB
    return len(chunks)


def _cartesian() -> int:
    store = Store()
    store.extend(list(parse(PANIC_DATA.read_bytes(), format=RdfFormat.N_QUADS)) * 1)
    q = "SELECT * { ?a ?p ?x . ?b ?q ?y . ?c ?r ?z . ?d ?t ?w } ORDER BY ?a ?b ?c ?d"
    return len(list(store.query(q, use_default_graph_as_union=True)))  # type: ignore[arg-type]


@pytest.mark.parametrize("job", [_grow, _cartesian])
def test_a_job_past_the_memory_limit_is_stopped(job: object) -> None:
    with pytest.raises(MemoryLimitReached, match="memory limit of 128 MiB"):
        run_isolated(job, memory_mib=128, what="this job")  # type: ignore[arg-type]


def test_errors_and_results_come_back_from_the_child() -> None:
    assert run_isolated(lambda: 41 + 1, memory_mib=None, what="x") == 42
    with pytest.raises(SyntaxError):
        run_isolated(lambda: Store().query("SELECT nonsense"), memory_mib=None, what="x")


def test_shacl_pool_cuts_at_the_time_limit_and_refuses_past_the_cap() -> None:
    big = b"".join(
        b"<http://e/o%d> a <http://www.w3.org/ns/org#FormalOrganization> ; "
        b'<http://www.w3.org/2000/01/rdf-schema#label> "o%d"@en .\n' % (i, i)
        for i in range(20000)
    )
    pool = ShaclPool(concurrency=1, timeout=2.0, memory_mib=None)

    async def both() -> tuple[object, ...]:
        job = ShaclJob(big, "text/turtle")
        return await asyncio.gather(pool.validate(job), pool.validate(job), return_exceptions=True)

    try:
        results = asyncio.run(both())
        kinds = sorted(type(r).__name__ for r in results)
        assert kinds == sorted([JobTimeout.__name__, WorkersBusy.__name__])
        busy = next(r for r in results if isinstance(r, WorkersBusy))
        assert busy.retry_after >= 1
        assert len(pool.killed) == 1
    finally:
        pool.close()


def test_the_attack_is_cut_and_the_server_stays_healthy() -> None:
    """Every attack at once against a live server with small limits."""
    flags = [
        "--no-validate",
        "--no-access-log",
        "--query-memory",
        "256",
        "--query-timeout",
        "10",
        "--shacl-timeout",
        "5",
        "--shacl-concurrency",
        "2",
        "--query-workers",
        "3",
    ]
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bounds" / "attack.py"), "--json", "--", *flags],
        capture_output=True,
        timeout=600,
        check=True,
    )
    report = json.loads(out.stdout)
    limits = {
        "entity expansion": 0,
        "deep collection": 0,
        "memory-hungry query": 10,
        "2 MB validation": 5,
    }
    slack = 30  # generous: the machine is shared; a body of 2 MB is read and guarded first
    for o in report["outcomes"]:
        assert o["status"] in (400, 503), o
        assert o["seconds"] <= limits[o["attack"]] + slack, o
        if o["attack"] in ("entity expansion", "deep collection"):
            assert o["status"] == 400
            assert "refused the data" in o["message"]
        if o["attack"] == "memory-hungry query":
            assert "memory limit of 256 MiB" in o["message"]
        if o["status"] == 503 and o["attack"] == "2 MB validation":
            assert o["retry_after"]
    assert len(report["outcomes"]) == 14
    # the stated ceiling: the server process plus (query + SHACL workers) x the limit
    ceiling = report["base_rss_mib"] + (3 + 2) * 256
    assert report["peak_rss_mib"] < ceiling * 1.5
    assert report["probes"] > 0
    assert report["probes_failed"] == []
    # /health told the truth while the attack was being cut: 200 every time
    assert report["health_probes"] > 0
    assert report["health_failed"] == []
    assert report["alive_after"] and report["healthy_after"]


TOKEN = "bounds-token"


def _panic_store_update() -> str:
    """INSERT DATA of the minimal reproduction, in its order (after DROP ALL, the store then
    holds exactly what makes pyoxigraph panic; --data would merge it into the shipped graphs,
    whose order does not)."""
    quads = parse(PANIC_DATA.read_bytes(), format=RdfFormat.N_QUADS)
    body = " ".join(
        f"GRAPH {q.graph_name} {{ {q.subject} {q.predicate} {q.object} }}" for q in quads
    )
    return f"INSERT DATA {{ {body} }}"


@pytest.mark.live
def test_query_workers_0_reports_an_engine_panic_as_503_and_keeps_serving() -> None:
    server = LiveServer(
        "--query-workers",
        "0",
        "--no-validate",
        "--no-access-log",
        "--allow-updates",
        env={"SOVKG_TOKEN": TOKEN},
    )
    try:
        server.wait_ready()
        auth = {"authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=server.url, timeout=60, headers=auth) as c:
            for update in ("DROP ALL", _panic_store_update()):
                r = c.post("/sparql", data={"update": update})
                assert r.status_code == 204, r.text
            assert query_workers(server.proc.pid) == set()  # no standing pool
            r = c.get("/sparql", params={"query": PANIC_QUERY})
            assert r.status_code == 503
            assert "the query engine crashed" in r.text
            assert "not correctly implement a total order" in r.text
            assert PANIC_QUERY in r.text
            assert server.proc.poll() is None
            assert c.get("/health").json()["status"] == "ok"
            r = c.get("/sparql", params={"query": "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }"})
            assert r.status_code == 200
            assert r.json()["results"]["bindings"][0]["n"]["value"] == "96"
    finally:
        server.stop()


@pytest.mark.live
def test_health_is_503_when_no_query_worker_can_start(tmp_path: Path) -> None:
    """The query worker is killed and its replacement cannot start (the snapshots it opens are
    gone and cannot be written again): nothing can answer, and /health says so."""
    server = LiveServer(
        "--store", str(tmp_path / "store"), "--query-workers", "1", "--no-validate",
        "--no-access-log",
    )  # fmt: skip
    try:
        server.wait_ready(timeout=180)
        (worker,) = query_workers(server.proc.pid)
        argv = Path(f"/proc/{worker}/cmdline").read_bytes().split(b"\0")
        snapshots = Path(os.fsdecode(argv[argv.index(b"sovkg.engine.worker") + 2])).parent
        assert snapshots.name.startswith("sovkg-snapshots-")
        shutil.rmtree(snapshots)
        snapshots.write_text("not a directory: no snapshot can be written here\n")
        try:
            os.kill(worker, signal.SIGKILL)
            r = httpx.get(f"{server.url}/health", timeout=60)
            assert r.status_code == 503
            assert r.json()["status"] == "unavailable"
            assert server.proc.poll() is None  # alive, and honest about it
        finally:
            snapshots.unlink()
    finally:
        server.stop()


def test_a_dying_workers_backtrace_is_kept_but_not_forwarded(capfd) -> None:
    """With RUST_BACKTRACE set, an allocation failure is followed by a long backtrace, in
    later writes: none of it reaches the server's log (the client's 503 tells the death), while
    what a worker writes before it is forwarded as it comes."""
    read, write = os.pipe()
    with os.fdopen(read, "rb") as stream:
        tail = StderrTail(stream)
        os.write(write, b"a warning before\n")
        time.sleep(0.2)  # its own chunk
        os.write(write, b"memory allocation of 4096 bytes failed\n")
        time.sleep(0.2)
        os.write(write, b"".join(b"  %d: frame\n" % i for i in range(80)))
        os.close(write)
        kept = tail.text()
    forwarded = capfd.readouterr().err
    assert "a warning before" in forwarded
    assert "memory allocation" not in forwarded and "frame" not in forwarded
    assert b"memory allocation of 4096 bytes failed" in kept and b"79: frame" in kept
