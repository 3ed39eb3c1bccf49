"""The worker pool: forked workers on the in-memory store, spawned workers on RocksDB
snapshots, and what happens when things go wrong: a worker killed mid-job, a job past its time
limit, a busy pool, a missing snapshot, an update, a worker recycled for its private memory.

No timing assertions: deadlines here only bound how long a test may wait.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyoxigraph import Literal, NamedNode, Quad, Store
from sovkg.engine import pool as pool_module
from sovkg.engine.jobs import QueryJob, UpdateJob
from sovkg.engine.pool import WorkerPool
from sovkg.errors import QueryTimeout, WorkerFailed, WorkersBusy

from tests.support.procs import alive, eventually, wait_gone

RUNAWAY = QueryJob("SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }")
COUNT = QueryJob("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")
THING = "https://example.org/thing"


def _store(path: Path | None = None) -> Store:
    store = Store(str(path)) if path is not None else Store()
    store.extend(
        Quad(NamedNode(f"{THING}/{i}"), NamedNode(f"{THING}/p"), Literal(str(i)))
        for i in range(200)
    )
    store.flush()
    return store


def _count(out: object) -> int:
    return int(json.loads(out.body)["results"]["bindings"][0]["n"]["value"])  # type: ignore[attr-defined]


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    # as asyncio.run ends a loop: what is still running (a worker's memory being read after
    # its job) is cancelled and finishes before the loop closes
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.close()


@pytest.fixture
def pool() -> Iterator[WorkerPool]:
    pool = WorkerPool(_store(), workers=2, timeout=2.0)
    yield pool
    pool.close()


def test_forked_workers_answer_from_the_servers_store(loop, pool) -> None:
    assert len(pool.pids()) == 2
    assert all(os.getppid() != pid and alive(pid) for pid in pool.pids())
    assert _count(loop.run_until_complete(pool.query(COUNT))) == 200
    with pytest.raises(SyntaxError):
        loop.run_until_complete(pool.query(QueryJob("SELEC")))
    assert _count(loop.run_until_complete(pool.query(COUNT))) == 200  # still serving


def test_a_job_past_its_limit_gets_its_worker_killed_and_replaced(loop, pool) -> None:
    loop.run_until_complete(pool.query(COUNT))
    before = set(pool.pids())
    with pytest.raises(QueryTimeout, match="limit of 2 s"):
        loop.run_until_complete(pool.query(RUNAWAY))
    killed = set(pool.killed)
    assert len(killed) == 1 and killed <= before
    assert wait_gone(killed, timeout=5) == set()
    assert len(pool.pids()) == 2 and not killed & set(pool.pids())
    assert _count(loop.run_until_complete(pool.query(COUNT))) == 200


def test_a_worker_killed_mid_job_fails_that_job_only(loop, pool) -> None:
    loop.run_until_complete(pool.query(COUNT))

    async def scenario() -> None:
        job = asyncio.ensure_future(pool.query(RUNAWAY))
        await asyncio.sleep(0.3)
        busy = [w.pid for w in pool._workers if w.reply is not None]
        assert len(busy) == 1
        os.kill(busy[0], signal.SIGKILL)
        with pytest.raises(
            WorkerFailed, match=r"worker died \(exit status -9\) while running this query"
        ) as failed:
            await job
        # the job crossed as its wire tuple; the message still names the query's text
        assert " ".join(RUNAWAY.query.split())[:60] in str(failed.value)
        assert _count(await pool.query(COUNT)) == 200

    loop.run_until_complete(scenario())
    assert len(pool.pids()) == 2
    assert not pool.killed  # it died; nobody had to kill it at a limit


def test_a_busy_pool_answers_workers_busy_within_the_jobs_own_limit(loop) -> None:
    pool = WorkerPool(_store(), workers=1, timeout=3.0)
    try:

        async def scenario() -> None:
            runaway = asyncio.ensure_future(pool.query(RUNAWAY))
            await asyncio.sleep(0.3)
            with pytest.raises(WorkersBusy, match="busy"):
                await pool.run("query", COUNT, timeout=0.3)
            with pytest.raises(QueryTimeout):
                await runaway
            assert _count(await pool.query(COUNT)) == 200  # the replacement answers

        loop.run_until_complete(scenario())
    finally:
        pool.close()


def test_an_update_is_seen_by_the_next_query_and_moves_every_worker_on(loop) -> None:
    store = _store()
    pool = WorkerPool(store, workers=2, timeout=5.0)
    try:
        loop.run_until_complete(pool.query(COUNT))
        before = set(pool.pids())
        update = UpdateJob(f'INSERT DATA {{ <{THING}/new> <{THING}/p> "new" }}')
        loop.run_until_complete(pool.update(update))
        assert len(store) == 201  # applied to the server's store
        for _ in range(4):  # whichever worker answers
            assert _count(loop.run_until_complete(pool.query(COUNT))) == 201
        assert not before & set(pool.pids())  # all forked anew after the update
    finally:
        pool.close()


def test_workers_on_a_rocksdb_store_open_a_snapshot_and_recover_when_it_vanishes(
    tmp_path: Path, loop
) -> None:
    store = _store(tmp_path / "store")
    pool = WorkerPool(store, workers=1, timeout=60.0, on_disk=True)
    try:
        assert _count(loop.run_until_complete(pool.query(COUNT))) == 200
        snapshots = pool._snapshots
        assert snapshots is not None and any(snapshots.iterdir())
        shutil.rmtree(snapshots)  # the snapshot goes missing ...
        snapshots.mkdir()
        (worker,) = pool.pids()
        os.kill(worker, signal.SIGKILL)  # ... and the worker that had it open dies
        assert eventually(lambda: not alive(worker))
        # a server's event loop runs all the time and sees the death at once; here it runs
        # only inside run_until_complete, so give it a turn to notice
        loop.run_until_complete(asyncio.sleep(0.5))
        # its replacement cannot open the snapshot: the pool publishes it again, and the
        # next replacement answers
        assert _count(loop.run_until_complete(pool.query(COUNT))) == 200
        assert pool.republished >= 1
        assert worker not in pool.pids() and any(snapshots.iterdir())
        update = UpdateJob(f'INSERT DATA {{ <{THING}/new> <{THING}/p> "new" }}')
        loop.run_until_complete(pool.update(update))
        assert _count(loop.run_until_complete(pool.query(COUNT))) == 201
    finally:
        pool.close()
    assert not snapshots.exists()


def test_a_worker_whose_private_memory_passes_the_budget_is_forked_anew(loop) -> None:
    pool = WorkerPool(_store(), workers=1, timeout=5.0, recycle_bytes=1)
    try:
        (first,) = pool.pids()

        async def until_recycled() -> None:
            await pool.query(COUNT)
            deadline = time.monotonic() + 30
            while not pool.recycled and time.monotonic() < deadline:
                await asyncio.sleep(0.1)

        loop.run_until_complete(until_recycled())
        assert pool.recycled >= 1
        assert first not in pool.pids() and wait_gone({first}, timeout=5) == set()
        assert _count(loop.run_until_complete(pool.query(COUNT))) == 200
    finally:
        pool.close()


@pytest.mark.parametrize("slow", [True, False])
def test_a_slow_jobs_worker_is_looked_at_when_the_job_ends(loop, monkeypatch, slow: bool) -> None:
    """A job that ran long may have made much of the store private: its worker is measured as
    soon as it ends (the periodic look is switched off here), and recycled past the budget.
    A quick job leaves its worker to the periodic look."""
    monkeypatch.setattr(pool_module, "MEMORY_CHECK_SECONDS", 3600.0)
    monkeypatch.setattr(pool_module, "SLOW_JOB_SECONDS", 0.0 if slow else 3600.0)
    pool = WorkerPool(_store(), workers=1, timeout=5.0, recycle_bytes=1)
    try:
        (first,) = pool.pids()

        async def query_then_wait() -> None:
            await pool.query(COUNT)
            deadline = time.monotonic() + (30 if slow else 1)
            while not pool.recycled and time.monotonic() < deadline:
                await asyncio.sleep(0.05)

        loop.run_until_complete(query_then_wait())
        assert pool.recycled == (1 if slow else 0)
        assert (first in pool.pids()) is not slow
        assert _count(loop.run_until_complete(pool.query(COUNT))) == 200
    finally:
        pool.close()


def test_closing_the_pool_ends_every_worker(loop) -> None:
    pool = WorkerPool(_store(), workers=2, timeout=5.0)
    loop.run_until_complete(pool.query(COUNT))
    pids = set(pool.pids())
    pool.close()
    assert wait_gone(pids, timeout=5) == set()
    with pytest.raises(WorkersBusy, match="shutting down"):
        loop.run_until_complete(pool.query(COUNT))


def test_the_pool_follows_a_new_event_loop(caplog) -> None:
    """A loop that closes under the pool leaves nothing pending on it: the periodic look at
    the workers' memory is a timer, so no task is reported destroyed while pending."""
    pool = WorkerPool(_store(), workers=1, timeout=5.0)
    try:
        for _ in range(2):  # as an in-process test client does, one loop per client
            loop = asyncio.new_event_loop()
            assert _count(loop.run_until_complete(pool.query(COUNT))) == 200
            assert not [t for t in asyncio.all_tasks(loop) if not t.done()]
            loop.close()
    finally:
        pool.close()
    gc.collect()
    assert "destroyed but it is pending" not in caplog.text


def test_the_recycling_budget_is_shared_by_every_server_process(monkeypatch) -> None:
    """All query workers of all server processes together may hold RECYCLE_SHARE of the store
    privately: a pool that knows of another server process gives each worker half as much."""
    gib = 1024**3
    monkeypatch.setattr(pool_module, "resident_bytes", lambda: 10 * gib)
    budgets = {}
    for sharers in (1, 2):
        pool = WorkerPool(_store(), workers=2, timeout=5.0, sharers=sharers)
        budgets[sharers] = pool.recycle_bytes
        pool.close()
    assert budgets[1] == int(10 * gib * pool_module.RECYCLE_SHARE / 2)
    assert budgets[2] == int(10 * gib * pool_module.RECYCLE_SHARE / 4)
