"""Memory bounds for worker processes, enforced by the kernel (and how a worker asks to be
scheduled: :func:`batch_scheduling`).

Every worker (queries, updates, SHACL jobs) calls :func:`apply_worker_limits` first thing at
start: from then on its data memory may grow by at most the limit. The limit is
``RLIMIT_DATA``: since Linux 4.7 it counts the heap *and* private anonymous mappings, which is
where glibc's malloc, pymalloc's arenas and Rust's allocator (pyoxigraph) get their memory,
but not the shared libraries, the mapped files or the address space that malloc only reserves
(``RLIMIT_AS`` counts those too, so it fails early and unevenly with threads; measured, both
stop a cartesian ORDER BY cleanly). Past the limit:

- an allocation in Rust fails and pyoxigraph aborts the process (SIGABRT, ``memory allocation
  of N bytes failed`` on stderr);
- an allocation in Python raises MemoryError (pySHACL, rdflib); the worker then reports it and
  exits with :data:`MEMORY_EXIT_CODE`, because a process that ran out once is not trusted again.

Either way the pool sees the worker die, :func:`died_of_memory` classifies the death, and the
client gets 503 "memory limit of N MiB reached".

The default (:func:`default_memory_mib`) gives all workers together at most
:data:`DEFAULT_SHARE` of the machine's memory, each between :data:`MIN_MIB` and
:data:`MAX_MIB`: ``clamp(MemTotal * share / workers, MIN_MIB, MAX_MIB)``.
"""

from __future__ import annotations

import os
import resource
import signal
import sys
import threading
import time
from pathlib import Path
from typing import IO, Protocol, runtime_checkable

from sovkg.errors import EngineCrashed, MemoryLimitReached, WorkerFailed

#: the share of the machine's memory that all workers together may take by default
DEFAULT_SHARE = 1 / 8
#: no worker gets less than this by default (a worker with the data loaded needs ~100 MiB)
MIN_MIB = 256
#: nor more than this
MAX_MIB = 1024
#: the variable that hands a query worker its limit (MiB; 0: none)
MEMORY_ENV = "SOVKG_WORKER_MEMORY_MIB"
#: the exit status of a worker that caught MemoryError (and could not be trusted to go on)
MEMORY_EXIT_CODE = 86

_MIB = 1024 * 1024


def batch_scheduling() -> None:
    """Tell the kernel this worker's process is batch work (``SCHED_BATCH``), which the server
    is not. A worker woken by its next job then never preempts the server's event loop on
    that core: the server goes on reading requests, answering others and firing the timers
    that enforce the time limits, and the worker runs when the loop waits. A batch process
    still gets its fair share of the CPU. Where the policy is not there (not Linux) or is
    refused, the worker runs as it is."""
    policy = getattr(os, "SCHED_BATCH", None)
    if policy is None:
        return
    try:
        os.sched_setscheduler(0, policy, os.sched_param(0))
    except OSError:
        pass


#: how often a worker checks that the server that started it is still there
PARENT_CHECK_SECONDS = 0.2


def watch_parent(parent: int) -> None:
    """Exit this worker when the server ``parent`` goes away, even while a job runs (its
    socket's EOF is only seen between jobs): a worker never outlives a killed server."""

    def watch() -> None:
        while True:
            time.sleep(PARENT_CHECK_SECONDS)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def data_bytes(status: Path = Path("/proc/self/status")) -> int:
    """This process's data memory now (VmData), in bytes; 0 where /proc is missing."""
    try:
        for line in status.read_text().splitlines():
            if line.startswith("VmData:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return 0
    return 0


def apply_worker_limits(memory_mib: int | None) -> None:
    """Let this process's data memory grow by at most ``memory_mib`` MiB from now (None or 0:
    no cap). Relative, so that a worker forked with the store already in its memory gets the
    same room for a job as a freshly started one."""
    if not memory_mib:
        return
    limit = data_bytes() + memory_mib * _MIB
    _, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))


def total_memory_mib(meminfo: Path = Path("/proc/meminfo")) -> int | None:
    """MemTotal of this machine in MiB, or None where /proc/meminfo is missing."""
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def default_memory_mib(total_mib: int | None, workers: int) -> int:
    """The default per-worker limit: ``clamp(total * DEFAULT_SHARE / workers, MIN, MAX)``."""
    if not total_mib:
        return MAX_MIB // 2
    share = int(total_mib * DEFAULT_SHARE) // max(1, workers)
    return max(MIN_MIB, min(MAX_MIB, share))


def died_of_memory(returncode: int | None, stderr_tail: bytes) -> bool:
    """Whether a dead worker ran out of memory (rather than crashing for another reason)."""
    if returncode == MEMORY_EXIT_CODE:
        return True
    if returncode == -signal.SIGABRT and b"memory allocation of" in stderr_tail:
        return True  # Rust's allocation-failure handler
    return b"MemoryError" in stderr_tail


def engine_panic(stderr_tail: bytes) -> str | None:
    """The message of a Rust panic (pyoxigraph) in a dead worker's stderr, if there is one."""
    marker = stderr_tail.rfind(b"panicked at ")
    if marker < 0:
        return None
    lines = stderr_tail[marker:].splitlines()
    message = lines[1] if len(lines) > 1 else lines[0]
    return message.decode("utf-8", "replace").strip() or "panic"


#: the share of the machine's memory that the build of the dumps may take by default
DUMP_SHARE = 1 / 4
#: and at least this (10^6 quads take about 2.3 GiB)
DUMP_MIN_MIB = 1024


def dump_memory_mib(setting: int | None, total_mib: int | None) -> int | None:
    """The memory limit of the child that builds the dumps: ``--dump-memory`` (0: none), else
    a quarter of the machine's memory, at least :data:`DUMP_MIN_MIB`."""
    if setting is not None:
        return setting or None
    return max(DUMP_MIN_MIB, int((total_mib or 4 * DUMP_MIN_MIB) * DUMP_SHARE))


@runtime_checkable
class MemorySettings(Protocol):
    """The settings the memory limit is derived from (``sovkg.config.Settings`` has them)."""

    @property
    def query_memory(self) -> int | None: ...

    @property
    def workers(self) -> int: ...

    @property
    def query_workers(self) -> int: ...

    @property
    def shacl_concurrency(self) -> int: ...


def isolated_concurrency() -> int:
    """With ``--query-workers 0``, how many children forked for one query each may run at
    once: one per core this process may run on."""
    return max(1, len(os.sched_getaffinity(0)))


def worker_processes(settings: MemorySettings) -> int:
    """How many worker processes the server may run at most: per server process, the query
    workers (or the children of ``--query-workers 0``) and the SHACL workers."""
    query = settings.query_workers or isolated_concurrency()
    return max(1, settings.workers) * (query + settings.shacl_concurrency)


def worker_memory_mib(settings: MemorySettings) -> int | None:
    """The memory limit of each worker: ``--query-memory``, else the default for this machine
    (None: no limit, with ``--query-memory 0``)."""
    if settings.query_memory is not None:
        return settings.query_memory or None
    return default_memory_mib(total_memory_mib(), worker_processes(settings))


#: what a worker's stderr says when it dies of memory or of a panic
_DEATH_MARKERS = (b"MemoryError", b"memory allocation of", b"panicked")


class StderrTail:
    """Reads a worker's stderr in a thread: forwards it to ours and keeps the first and the last
    :data:`TAIL_BYTES`, so that a dead worker's death can be classified (a panic's message comes
    before its backtrace, which may be long when RUST_BACKTRACE is set). Allocation failures and
    panics, and everything after them (a backtrace), are kept but not forwarded (the pool
    reports them as one line)."""

    TAIL_BYTES = 16 * 1024

    def __init__(self, stream: IO[bytes]) -> None:
        self.head = bytearray()
        self.tail = bytearray()
        self._stream = stream
        self._thread = threading.Thread(target=self._read, name="worker-stderr", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        read = getattr(self._stream, "read1", self._stream.read)
        quiet = False
        while chunk := read(65536):
            room = self.TAIL_BYTES - len(self.head)
            if room > 0:
                self.head.extend(chunk[:room])
                self.tail.extend(chunk[room:])
            else:
                self.tail.extend(chunk)
            del self.tail[: -self.TAIL_BYTES]
            if any(m in chunk for m in _DEATH_MARKERS):
                # the report of a death, then (with RUST_BACKTRACE set) its backtrace, which
                # may come in later chunks: none of it is forwarded, the pool tells it in a line
                quiet = True
            if not quiet:
                sys.stderr.buffer.write(chunk)
                sys.stderr.buffer.flush()

    def text(self, wait: float = 2.0) -> bytes:
        """The head and tail so far, after waiting up to ``wait`` s for the stream to close."""
        self._thread.join(timeout=wait)
        return bytes(self.head + self.tail)


def death_error(returncode: int | None, tail: bytes, limit_mib: int | None, what: str) -> Exception:
    """The error a client gets for a worker that died running ``what``."""
    if died_of_memory(returncode, tail):
        return MemoryLimitReached(limit_mib or 0, what)
    panic = engine_panic(tail)
    if panic:
        return EngineCrashed(
            f"the query engine crashed (pyoxigraph panicked: {panic}) running {what}"
        )
    return WorkerFailed(f"the worker died (exit status {returncode}) while running {what}")
