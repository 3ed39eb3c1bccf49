"""Server processes each keep to a core of their own (``--cpu-affinity auto``), their workers
run on any core, and a server process started again takes its predecessor's core
(``sovkg.engine.cores``)."""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import socket
import subprocess
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from pyoxigraph import Literal, NamedNode, Quad, Store
from sovkg.engine import cores
from sovkg.engine.cores import CORES_ENV, Slots, live_child, wanted
from sovkg.engine.isolated import run_isolated
from sovkg.engine.jobs import QueryJob
from sovkg.engine.pool import WorkerPool
from sovkg.engine.shacl_job import ShaclJob
from sovkg.engine.shacl_pool import ShaclPool

from tests.support.procs import alive, children, eventually
from tests.support.server import ROOT, SOVKG, LiveServer, free_port

ALLOWED = sorted(os.sched_getaffinity(0))
THING = "https://example.org/thing"


def _sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def test_pinning_is_wanted_for_several_server_processes_and_no_more_than_the_cores() -> None:
    assert wanted("auto", 2, [0, 1])
    assert wanted("auto", 3, [0, 1, 2, 3])
    assert not wanted("auto", 4, [0, 1])  # more processes than cores: the kernel places them
    assert not wanted("off", 2, [0, 1])
    assert not wanted("auto", 1, [0, 1])  # one process: the kernel's placement is kept
    assert not wanted("auto", 2, [3])  # one core: nothing to choose
    assert not wanted("auto", 2, [])  # a platform that does not say


def test_slots_go_round_the_cores_and_a_process_keeps_its_own() -> None:
    procs = [_sleeper() for _ in range(3)]
    try:
        slots = Slots(3, [4, 7])
        me = os.getpid()
        assert [slots.take(p.pid, me) for p in procs] == [4, 7, 4]
        assert slots.take(procs[1].pid, me) == 7  # asked again: the same slot
        assert slots.owners() == [p.pid for p in procs]
        assert slots.take(me, me) is None  # every slot has a live owner: not pinned
        assert me not in slots.owners()
    finally:
        for p in procs:
            p.kill()
            p.wait()


def test_the_slot_of_a_dead_or_foreign_owner_is_taken_again() -> None:
    first, second, third = _sleeper(), _sleeper(), _sleeper()
    try:
        me = os.getpid()
        slots = Slots(2, [0, 1])
        assert slots.take(first.pid, me) == 0
        assert slots.take(second.pid, me) == 1
        first.kill()  # a zombie until reaped: not a live owner either
        assert eventually(lambda: not live_child(first.pid, me))
        assert slots.take(third.pid, me) == 0  # started again: the dead one's core
        first.wait()
        # a pid that is alive but not a child of the parent (a pid given again) holds nothing
        assert not live_child(os.getpid(), me)
        assert not live_child(second.pid, os.getppid())
        assert live_child(second.pid, me)
    finally:
        for p in (first, second, third):
            p.kill()
            p.wait()


def test_a_slot_table_needs_a_slot_and_a_core() -> None:
    with pytest.raises(ValueError, match="at least one slot and one core"):
        Slots(0, [0])
    with pytest.raises(ValueError, match="at least one slot and one core"):
        Slots(2, [])


@pytest.mark.parametrize(
    "error",
    [
        ImportError("This platform lacks a functioning sem_open implementation"),
        PermissionError("[Errno 13] Permission denied: '/dev/shm'"),
    ],
)
def test_without_shared_memory_there_is_no_table(
    monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    def refused(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(cores.multiprocessing, "Array", refused)
    assert Slots.made(2, [0, 1]) is None  # the server then runs unpinned, it does not fail


def test_the_table_is_shared_with_forked_processes() -> None:
    """Two forked children, both alive, take their slots in the table the parent made:
    distinct cores."""
    slots = Slots(2, [5, 6])
    reads, writes = os.pipe()
    go_read, go_write = os.pipe()
    pids = []
    for _ in range(2):
        pid = os.fork()
        if pid == 0:  # the child: take a slot, say which, live on until told to go
            core = slots.take(os.getpid(), os.getppid())
            os.write(writes, f"{core}\n".encode())
            os.read(go_read, 1)
            os._exit(0)
        pids.append(pid)
    try:
        got = sorted(int(os.read(reads, 2)) for _ in range(2))
    finally:
        os.write(go_write, b"xx")
        for pid in pids:
            os.waitpid(pid, 0)
        for fd in (reads, writes, go_read, go_write):
            os.close(fd)
    assert got == [5, 6]
    assert sorted(slots.owners()) == sorted(pids)


@contextmanager
def _pinned_like_a_server() -> Iterator[None]:
    """This thread kept on one core, with the cores handed down as ``sovkg serve`` does."""
    before = os.sched_getaffinity(0)
    os.environ[CORES_ENV] = ",".join(str(c) for c in ALLOWED)
    os.sched_setaffinity(0, {ALLOWED[-1]})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)
        os.environ.pop(CORES_ENV, None)


def _store() -> Store:
    store = Store()
    store.add(Quad(NamedNode(THING), NamedNode(f"{THING}/p"), Literal("x")))
    return store


def test_query_workers_of_a_pinned_server_run_on_every_core() -> None:
    with _pinned_like_a_server():
        pool = WorkerPool(_store(), workers=1, timeout=10.0)
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(pool.query(QueryJob("ASK {}")))
            (pid,) = pool.pids()
            assert eventually(lambda: sorted(os.sched_getaffinity(pid)) == ALLOWED)
            assert os.sched_getaffinity(0) == {ALLOWED[-1]}  # the server stays where it is
        finally:
            pool.close()
            loop.close()


def test_a_child_forked_for_one_query_runs_on_every_core() -> None:
    with _pinned_like_a_server():
        got = run_isolated(lambda: sorted(os.sched_getaffinity(0)), memory_mib=None, what="t")
    assert got == ALLOWED


def test_shacl_workers_of_a_pinned_server_run_on_every_core() -> None:
    with _pinned_like_a_server():
        pool = ShaclPool(concurrency=1, timeout=60.0, memory_mib=None)
        try:
            data = f'<{THING}> <http://www.w3.org/2000/01/rdf-schema#label> "x"@en .\n'.encode()
            asyncio.run(pool.validate(ShaclJob(data, "text/turtle")))
            pids = [w.proc.pid for w in pool._idle]
            assert pids
            assert eventually(lambda: all(sorted(os.sched_getaffinity(p)) == ALLOWED for p in pids))
        finally:
            pool.close()


def test_an_unpinned_server_leaves_its_workers_as_they_are(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []
    monkeypatch.setattr(cores.os, "sched_setaffinity", lambda *a: calls.append(a))
    monkeypatch.delenv(CORES_ENV, raising=False)
    cores.unpin_worker()
    monkeypatch.setenv(CORES_ENV, "not,cores")
    cores.unpin_worker()  # a value it cannot read: nothing is set
    assert calls == []
    monkeypatch.setenv(CORES_ENV, "0")
    cores.unpin_worker()
    assert calls and all(a[1] == {0} for a in calls)  # type: ignore[index]


def test_without_a_table_a_server_process_is_not_pinned() -> None:
    cores.share_slots(None)
    assert cores.pin_server() is None
    assert CORES_ENV not in os.environ


# --- the real server -----------------------------------------------------------------------


def _servers(root: int) -> set[int]:
    """granian's server processes under ``root``: its children that have workers of their own."""
    return {p for p in children(root) if children(p)}


def _thread_masks(pid: int) -> set[tuple[int, ...]]:
    masks = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            masks.add(tuple(sorted(os.sched_getaffinity(int(task.name)))))
        except OSError:
            continue
    return masks


def _placement(root: int) -> dict[int, set[tuple[int, ...]]]:
    return {server: _thread_masks(server) for server in _servers(root)}


def _workers_unpinned(servers: Iterable[int]) -> bool:
    """Whether every thread of every worker of ``servers`` may run on every core."""
    return all(_thread_masks(w) <= {tuple(ALLOWED)} for s in servers for w in children(s))


def _settled(server: LiveServer, count: int) -> bool:
    servers = _servers(server.proc.pid)
    return len(servers) == count and all(len(children(s)) >= 2 for s in servers)


@contextmanager
def _serving(
    *args: str, processes: int = 2, env: dict[str, str] | None = None
) -> Iterator[LiveServer]:
    """``sovkg serve ARGS`` ready, with its ``processes`` server processes and their workers
    started; stopped at the end."""
    server = LiveServer(*args, "--no-validate", "--no-access-log", env=env)
    try:
        server.wait_ready()
        assert eventually(lambda: _settled(server, processes))
        yield server
    finally:
        server.stop()


def test_each_server_process_keeps_to_a_core_and_its_workers_use_all() -> None:
    with _serving("--workers", "2") as server:
        placement = _placement(server.proc.pid)
        if len(ALLOWED) > 1:
            # every thread of a server process on one core, the two on different cores
            assert all(
                len(masks) == 1 and len(next(iter(masks))) == 1 for masks in placement.values()
            )
            assert len({next(iter(m)) for m in placement.values()}) == 2
        else:
            assert all(masks == {tuple(ALLOWED)} for masks in placement.values())
        # query and SHACL workers: every core (once started: a forked one unpins itself first)
        assert eventually(lambda: _workers_unpinned(placement))
        r = httpx.get(f"{server.url}/sparql", params={"query": "ASK {}"}, timeout=30)
        assert r.status_code == 200


def test_a_server_process_started_again_takes_the_core_of_the_one_that_died() -> None:
    with _serving("--workers", "2") as server:
        before = _placement(server.proc.pid)
        victim = min(before)
        os.kill(victim, signal.SIGKILL)
        assert eventually(lambda: not alive(victim))
        assert eventually(lambda: _settled(server, 2) and victim not in _servers(server.proc.pid))
        after = _placement(server.proc.pid)
        (newcomer,) = set(after) - set(before)
        assert after[newcomer] == before[victim]
        r = httpx.get(f"{server.url}/sparql", params={"query": "ASK {}"}, timeout=30)
        assert r.status_code == 200


def test_cpu_affinity_off_leaves_the_placement_to_the_kernel() -> None:
    with _serving("--workers", "2", "--cpu-affinity", "off") as server:
        placement = _placement(server.proc.pid)
        assert all(masks == {tuple(ALLOWED)} for masks in placement.values())
        assert eventually(lambda: _workers_unpinned(placement))


def test_one_server_process_pins_nothing_whatever_its_environment_says() -> None:
    """A value of the variable left in the environment (by a parent server, say) is not
    obeyed: with one server process nothing is pinned, its workers keep its cores."""
    server = LiveServer("--workers", "1", "--no-validate", env={CORES_ENV: str(ALLOWED[0])})
    try:
        server.wait_ready()
        assert eventually(lambda: len(children(server.proc.pid)) >= 2)
        assert _thread_masks(server.proc.pid) == {tuple(ALLOWED)}
        workers = children(server.proc.pid)
        assert all(_thread_masks(w) == {tuple(ALLOWED)} for w in workers)
    finally:
        server.stop()


def test_a_server_started_on_fewer_cores_stays_on_them() -> None:
    """``taskset``, systemd's ``CPUAffinity=``: the cores a server is started on are the
    only ones it and its workers use (one core here: nothing to pin, nothing widened)."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {ALLOWED[-1]})  # the child inherits it, as under taskset
    try:
        with _serving("--workers", "2") as server:
            os.sched_setaffinity(0, before)
            everyone = [server.proc.pid, *_servers(server.proc.pid)]
            everyone += [w for s in _servers(server.proc.pid) for w in children(s)]
            assert all(_thread_masks(p) == {(ALLOWED[-1],)} for p in everyone)
    finally:
        os.sched_setaffinity(0, before)


def _replicas(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    wrapper = tmp_path / "sovkg"
    wrapper.write_text(f'#!/bin/sh\nexec {shlex.join(SOVKG)} "$@"\n')
    wrapper.chmod(0o755)
    env = {**os.environ, "SOVKG_BIN": str(wrapper), "SOVKG_RUN": str(tmp_path / "run")}
    env.pop("SOVKG_CPU_AFFINITY", None)
    script = ROOT / "deploy" / "replicas.sh"
    return subprocess.run(["sh", str(script), *args], env=env, capture_output=True, timeout=30)


@pytest.mark.parametrize("extra", [(), ("--cpu-affinity", "auto")])
def test_replicas_on_one_machine_leave_the_cores_to_the_kernel_unless_told(
    tmp_path: Path, extra: tuple[str, ...]
) -> None:
    """``deploy/replicas.sh`` starts its replicas with ``--cpu-affinity off`` (they would all
    pin to the same first cores), unless its options choose otherwise."""
    ports = _two_free_ports()  # the script numbers its ports from the first
    opts = ("--no-validate", "--no-access-log", "--workers", "2", *extra)
    started = _replicas(tmp_path, "start", "2", str(ports[0]), *opts)
    try:
        assert started.returncode == 0, started.stderr
        assert started.stdout.decode().count("server replica") == 2
        pids = [int((tmp_path / "run" / f"replica-{p}.pid").read_text()) for p in ports]
        for port in ports:
            assert eventually(lambda port=port: _up(port))
        for pid in pids:
            assert eventually(lambda pid=pid: len(_servers(pid)) == 2)
            placement = _placement(pid)
            pinned = all(len(next(iter(m))) == 1 and len(m) == 1 for m in placement.values())
            if len(ALLOWED) > 1:
                assert pinned == bool(extra), placement
    finally:
        stopped = _replicas(tmp_path, "stop")
    assert stopped.returncode == 0
    for pid in pids:
        assert eventually(lambda pid=pid: not alive(pid))


def _two_free_ports() -> list[int]:
    """Two free loopback ports, one after the other."""
    while True:
        first = free_port()
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", first + 1))
            except OSError:
                continue
        return [first, first + 1]


def _up(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
    except httpx.TransportError:
        return False
