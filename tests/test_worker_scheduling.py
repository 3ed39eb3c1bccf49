"""Query and SHACL workers run as batch work (``SCHED_BATCH``), so that a worker woken by its
job never preempts the server's event loop; the server itself keeps the normal policy."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest
from pyoxigraph import Literal, NamedNode, Quad, Store
from sovkg.engine import bounds
from sovkg.engine.jobs import QueryJob
from sovkg.engine.pool import WorkerPool
from sovkg.engine.shacl_job import ShaclJob
from sovkg.engine.shacl_pool import ShaclPool

from tests.support.procs import alive, eventually

THING = "https://example.org/thing"


def _store(path: Path | None = None) -> Store:
    store = Store(str(path)) if path is not None else Store()
    store.add(Quad(NamedNode(THING), NamedNode(f"{THING}/p"), Literal("x")))
    store.flush()
    return store


def _policy(pid: int) -> int | None:
    try:
        return os.sched_getscheduler(pid)
    except ProcessLookupError:
        return None


def _all_batch(pids: list[int]) -> bool:
    return bool(pids) and all(_policy(pid) == os.SCHED_BATCH for pid in pids)


def test_forked_query_workers_and_their_replacements_are_batch_work() -> None:
    pool = WorkerPool(_store(), workers=2, timeout=10.0)
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(pool.query(QueryJob("ASK {}")))
        assert eventually(lambda: _all_batch(pool.pids()))
        assert os.sched_getscheduler(0) == os.SCHED_OTHER  # the server is not batch work
        victim = pool.pids()[0]
        os.kill(victim, signal.SIGKILL)
        assert eventually(lambda: not alive(victim))
        loop.run_until_complete(asyncio.sleep(0.5))  # the loop sees the death, forks anew
        loop.run_until_complete(pool.query(QueryJob("ASK {}")))
        assert victim not in pool.pids()
        assert eventually(lambda: _all_batch(pool.pids()))
    finally:
        pool.close()
        loop.close()


def test_spawned_query_workers_on_a_snapshot_are_batch_work(tmp_path: Path) -> None:
    pool = WorkerPool(_store(tmp_path / "store"), workers=1, timeout=60.0, on_disk=True)
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(pool.query(QueryJob("ASK {}")))
        assert eventually(lambda: _all_batch(pool.pids()))
        assert os.sched_getscheduler(0) == os.SCHED_OTHER
    finally:
        pool.close()
        loop.close()


def test_shacl_workers_are_batch_work() -> None:
    pool = ShaclPool(concurrency=1, timeout=60.0, memory_mib=None)
    try:
        data = f'<{THING}> <http://www.w3.org/2000/01/rdf-schema#label> "x"@en .\n'.encode()
        asyncio.run(pool.validate(ShaclJob(data, "text/turtle")))
        pids = [w.proc.pid for w in pool._idle]
        assert eventually(lambda: _all_batch(pids))
        assert os.sched_getscheduler(0) == os.SCHED_OTHER
    finally:
        pool.close()


def test_a_refused_or_missing_policy_leaves_the_worker_as_it_is(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []
    batch = os.SCHED_BATCH

    def refuse(pid: int, policy: int, param: object) -> None:
        calls.append(policy)
        raise PermissionError("not allowed here")

    monkeypatch.setattr(bounds.os, "sched_setscheduler", refuse)
    bounds.batch_scheduling()  # no exception: the worker runs with the policy it has
    assert calls == [batch]
    monkeypatch.delattr(bounds.os, "SCHED_BATCH")
    bounds.batch_scheduling()  # not Linux: nothing is asked for
    assert calls == [batch]
