"""Which cores the server processes run on: one core each, their workers on any.

With several server processes (``sovkg serve --workers N``), the kernel moves each of them
from core to core as the load shifts, and every move leaves its caches behind. A cache hit
costs a few µs of Python, so that cost shows: on the 2-core machine of
``benchmarks/RESULTS.md`` two server processes answered a repeated point lookup at about
30,000 req/s as the kernel placed them, and at 39,000-40,000 with each kept on a core of its
own (alternated A/B runs), fresh queries within the noise. nginx's ``worker_cpu_affinity
auto`` does the same.

So, with ``--cpu-affinity auto`` (the default) and more than one server process:

- ``sovkg serve`` makes a :class:`Slots` table before the server processes are forked: one
  slot per process, slot *i* on core *i* modulo the cores this process may run on;
- each server process takes the first slot whose owner is gone (:func:`pin_server`) and
  keeps every one of its threads on that slot's core. A server process that died and was
  started again takes its predecessor's core;
- a worker process (query, update, SHACL job, a child forked for one query) may run on any of
  the cores again (:func:`unpin_worker`): a long query must not wait for its server's core
  while another is idle. The cores are handed down in :data:`CORES_ENV`.

Nothing is pinned with one server process (there is no other to keep apart from it), with
more server processes than cores, or where the platform cannot set an affinity.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
from multiprocessing.sharedctypes import SynchronizedArray

#: the cores a worker may run on, as the server found them ("0,1"): set only while pinning
CORES_ENV = "SOVKG_WORKER_CORES"


def allowed_cores() -> list[int]:
    """The cores this process may run on (empty where the platform does not say)."""
    getter = getattr(os, "sched_getaffinity", None)
    return sorted(getter(0)) if getter is not None else []


def wanted(affinity: str, server_processes: int, cores: list[int]) -> bool:
    """Whether the server processes are pinned: ``auto``, several of them but no more than
    the cores, and a platform that can set an affinity. With more processes than cores, two
    kept on one core measured slower than the kernel's placement (``--workers 4`` on 2
    cores, ``benchmarks/RESULTS.md``), so they are left to it."""
    return (
        affinity == "auto"
        and 1 < server_processes <= len(cores)
        and hasattr(os, "sched_setaffinity")
    )


class Slots:
    """One slot per server process, each holding the pid of the process that took it (0:
    none yet), in memory shared with the processes forked after it was made."""

    def __init__(self, count: int, cores: list[int]) -> None:
        if count < 1 or not cores:
            raise ValueError("a slot table needs at least one slot and one core")
        self.cores = list(cores)
        self._owners: SynchronizedArray[int] = multiprocessing.Array(ctypes.c_int, count)

    @classmethod
    def made(cls, count: int, cores: list[int]) -> Slots | None:
        """A table, or None where shared memory with a lock cannot be had (a system without
        a working ``sem_open`` or ``/dev/shm``): then nothing is pinned, and the server runs
        as the kernel places it."""
        try:
            return cls(count, cores)
        except (OSError, ImportError):
            return None

    def owners(self) -> list[int]:
        """The pid in each slot (0: never taken)."""
        with self._owners.get_lock():
            return self._owners[:]

    def take(self, pid: int, parent: int) -> int | None:
        """The core of the slot ``pid`` takes: its own if it has one, else the first one never
        taken or whose owner is no longer a live child of ``parent`` (the process that forks
        the server processes). None when every slot has a live owner (more server processes
        than slots): then ``pid`` is not pinned."""
        with self._owners.get_lock():
            owners = self._owners[:]
            free = None
            for i, owner in enumerate(owners):
                if owner == pid:
                    return self.core_of(i)
                if free is None and (owner == 0 or not live_child(owner, parent)):
                    free = i
            if free is None:
                return None
            self._owners[free] = pid
            return self.core_of(free)

    def core_of(self, slot: int) -> int:
        """The core of slot ``slot``."""
        return self.cores[slot % len(self.cores)]


def live_child(pid: int, parent: int) -> bool:
    """Whether ``pid`` is a running (not a zombie) child of ``parent``: a pid the kernel gave
    again to another process does not count."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    # "pid (comm) state ppid ...": the command may hold spaces and parentheses
    fields = stat[stat.rfind(b")") + 2 :].split()
    if len(fields) < 2:
        return False
    return fields[0] != b"Z" and int(fields[1]) == parent


def set_all_threads(cores: set[int]) -> None:
    """Keep every thread of this process on ``cores`` (threads started later inherit it from
    the one that starts them); a thread that ended meanwhile is skipped."""
    try:
        threads = [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        threads = [0]
    for thread in threads:
        try:
            os.sched_setaffinity(thread, cores)
        except OSError:
            continue


#: the slot table of the server processes forked next (see :func:`share_slots`)
_SLOTS: list[Slots] = []


def share_slots(slots: Slots | None) -> None:
    """Keep ``slots`` for the server processes forked next, and hand the cores down to their
    workers (None: nothing is pinned)."""
    _SLOTS[:] = [slots] if slots is not None else []
    if slots is None:
        os.environ.pop(CORES_ENV, None)
    else:
        os.environ[CORES_ENV] = ",".join(str(c) for c in slots.cores)


def pin_server() -> int | None:
    """Keep this server process on the core of the slot it takes; returns that core (None:
    not pinned, as when no slot table was shared)."""
    if not _SLOTS:
        return None
    core = _SLOTS[0].take(os.getpid(), os.getppid())
    if core is not None:
        set_all_threads({core})
    return core


def unpin_worker() -> None:
    """Let this worker process run on every core its server may use again (nothing when the
    server is not pinned)."""
    text = os.environ.get(CORES_ENV)
    if not text or not hasattr(os, "sched_setaffinity"):
        return
    try:
        cores = {int(c) for c in text.split(",")}
    except ValueError:
        return
    set_all_threads(cores)
