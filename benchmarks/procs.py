"""What the benchmarks do with processes: a free loopback port, a process tree, the CPU time
its processes used (from ``/proc``), waiting until servers are idle, and stopping them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterable


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children(pid: int) -> list[int]:
    """The direct children of ``pid`` (those of each of its threads)."""
    out: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(c) for c in f.read().split()]
    except OSError:  # gone meanwhile
        pass
    return out


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):  # gone meanwhile
            continue
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_seconds(pids: list[int]) -> float:
    """CPU time (user and system) the given processes used so far; those gone count 0."""
    ticks = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def wait_idle(procs: Iterable[subprocess.Popen], timeout: float = 180, busy: float = 0.05) -> float:
    """Block until the process trees of ``procs`` are idle: under ``busy`` CPU seconds in one
    second. A server answers before it has warmed up (sovkg's SHACL workers load pySHACL and
    the shapes for a few seconds of CPU each, more with several server processes), and no
    measurement may share the cores with that. Returns the seconds waited."""
    procs = list(procs)
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        pids = [pid for p in procs for pid in tree(p.pid)]
        before = cpu_seconds(pids)
        time.sleep(1.0)
        if cpu_seconds(pids) - before < busy:
            break
    return time.monotonic() - started


def stop_all(procs: Iterable[subprocess.Popen]) -> None:
    """Terminate each process's session (a server and its children), killing what lingers."""
    procs = list(procs)
    for p in procs:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
