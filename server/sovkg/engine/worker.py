"""The life of a query worker process, and the frames it speaks.

A worker answers one job at a time from its socket: a frame is a 4-byte little-endian length
and a pickle. The server sends ``(job_id, kind, payload)`` (a query as ``QueryJob.wire``, a
tuple of plain values, so that no class is looked up on either side); the worker answers
``(job_id, "ok", result)`` or ``(job_id, "error", exception type name, message)``. Its first
frame is ``(0, "ready", pid)``, or ``(0, "failed", reason)`` when it cannot see the data.

Two ways to start (see :mod:`sovkg.engine.pool`):

- **forked** from the server (in-memory store): :func:`serve_forked` runs in the child of
  ``os.fork()``, on the store it inherited, whose pages it shares copy-on-write;
- **spawned** (a RocksDB store): ``python -P -m sovkg.engine.worker FD SNAPSHOT PARENT``
  opens ``Store.read_only(SNAPSHOT)``, a ``Store.backup()`` of the server's store.

Either way it runs as batch work (:func:`sovkg.engine.bounds.batch_scheduling`: a job's
wake-up never preempts the server's event loop), caps its own memory
(:func:`sovkg.engine.bounds.apply_worker_limits`, relative to what it holds once it sees the
data), leaves with :data:`MEMORY_EXIT_CODE` after a
``MemoryError``, and exits on its own when the server goes away, even mid-job. ``JOBS`` is the
dispatch table: each kind of job is a function of the store and the payload.
"""

from __future__ import annotations

import gc
import os
import pickle
import signal
import socket
import struct
import sys
from collections.abc import Callable
from typing import Any, cast

from pyoxigraph import Store

from sovkg.engine.bounds import (
    MEMORY_ENV,
    MEMORY_EXIT_CODE,
    apply_worker_limits,
    batch_scheduling,
    watch_parent,
)
from sovkg.engine.cores import unpin_worker
from sovkg.engine.execute import execute_query, execute_update
from sovkg.engine.jobs import JobWire, OutputWire, QueryJob
from sovkg.engine.serialize import digest

#: a frame's header: the length of the pickle that follows
HEADER = struct.Struct("<I")
#: exit status of a worker that could not open its snapshot
NO_SNAPSHOT_EXIT = 3


def _query(store: Store, fields: JobWire) -> OutputWire:
    """A query's result, with the digest of its body (hashed here, not on the server's loop);
    the job and the result travel as plain tuples (``QueryJob.wire``, ``QueryOutput.wire``)."""
    out = execute_query(store, QueryJob.from_wire(fields))
    return (out.body, out.media_type, out.kind, out.truncated, digest(out.body))


def _ping(store: Store, payload: object) -> None:
    """Nothing: proves the worker is alive and answering."""
    return None


def _update(store: Store, payload: Any) -> None:
    """A trial run of an update on this worker's view (which is then out of date)."""
    execute_update(store, payload)


def _update_on_copy(store: Store, payload: Any) -> None:
    """A trial run of an update on a writable copy (a ``Store.backup()`` of a RocksDB store,
    given with the job), for workers whose own view is read-only."""
    job, path = payload
    copy = Store(path)
    try:
        execute_update(copy, job)
    finally:
        del copy  # closed before the server removes the copy


#: kind of job -> what runs it
JOBS: dict[str, Callable[[Store, Any], object]] = {
    "query": _query,
    "update": _update,
    "update_on_copy": _update_on_copy,
    "ping": _ping,
}


def frame(message: object) -> bytes:
    """One message as a frame: its pickle's length, then the pickle."""
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(data)) + data


def write_frame(sock: socket.socket, message: object) -> None:
    """Send one framed message (blocking)."""
    sock.sendall(frame(message))


#: what a blocking read asks for at a time (below malloc's mmap threshold)
_RECV_BYTES = 1 << 16


def pop_frame(buf: bytearray) -> tuple[bool, object]:
    """Take the first whole frame off ``buf``: ``(True, message)``, or ``(False, None)`` while
    ``buf`` holds no whole frame yet."""
    if len(buf) < HEADER.size:
        return False, None
    (n,) = HEADER.unpack_from(buf)
    end = HEADER.size + n
    if len(buf) < end:
        return False, None
    message = pickle.loads(memoryview(buf)[HEADER.size : end])
    del buf[:end]
    return True, message


class FrameReader:
    """Reads framed messages from a blocking socket through a buffer: a frame that arrived
    whole (the usual case) costs one ``recv``, and frames sent ahead cost none."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buf = bytearray()

    def read(self) -> object | None:
        """The next message (blocking); None when the other side closed."""
        while True:
            whole, message = pop_frame(self._buf)
            if whole:
                return message
            chunk = self.sock.recv(_RECV_BYTES)
            if not chunk:
                return None
            self._buf += chunk


def _error(job_id: int, e: BaseException) -> tuple[Any, ...]:
    message = str(e.msg if isinstance(e, SyntaxError) and e.msg else e)
    return (job_id, "error", type(e).__name__, message)


def serve(sock: socket.socket, store: Store) -> None:
    """Answer jobs from ``sock`` until it closes."""
    write_frame(sock, (0, "ready", os.getpid()))
    frames = FrameReader(sock)
    while True:
        message = frames.read()
        if message is None:
            return
        job_id, kind, payload = cast(tuple[int, str, Any], message)
        if kind == "open":  # a newer snapshot (after an update): see it from now on
            try:
                store = Store.read_only(str(payload))
            except (OSError, RuntimeError, ValueError) as e:
                write_frame(sock, _error(job_id, e))
                continue
            write_frame(sock, (job_id, "ok", None))
            continue
        try:
            reply: tuple[Any, ...] = (job_id, "ok", JOBS[kind](store, payload))
        except MemoryError:  # not trusted with another job: the server classifies the exit
            os.write(2, b"MemoryError\n")
            os._exit(MEMORY_EXIT_CODE)
        except Exception as e:  # noqa: BLE001 - every failure goes back to the server
            reply = _error(job_id, e)
        write_frame(sock, reply)


def _start(parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the server's to handle
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    unpin_worker()  # a job may run on any core, not only its server's
    batch_scheduling()  # a worker woken by a job does not preempt the server's event loop
    watch_parent(parent)


def serve_forked(
    sock: socket.socket, store: Store, parent: int, memory_mib: int | None, stderr: int
) -> None:
    """A forked worker's life; never returns (``os._exit``: nothing of the server's state,
    its event loop, threads or files, is touched on the way out). ``stderr``: the pipe the
    server reads to tell why a worker died."""
    code = 0
    try:
        signal.set_wakeup_fd(-1)  # the server's event loop listened to signals through it
        os.dup2(stderr, 2)
        # a fresh stderr: another thread of the server may have held the old one's lock
        sys.stderr = open(2, "w", closefd=False)
        keep = sock.fileno()
        os.closerange(3, keep)  # the listening socket, clients' sockets, other workers'
        os.closerange(keep + 1, 1 << 16)
        _start(parent)
        # what the worker inherited is never garbage it could collect: its collector leaves
        # it alone (no pause to walk the server's objects, no shared page written by the walk)
        gc.freeze()
        apply_worker_limits(memory_mib)  # room for a job on top of the shared store
        serve(sock, store)
    except BaseException:  # noqa: BLE001 - a worker leaves quietly; the server sees EOF
        code = 1
    finally:
        os._exit(code)


def main(fd: int, snapshot: str, parent: int) -> None:
    """A spawned worker's life: open the snapshot read-only, then serve."""
    _start(parent)
    sock = socket.socket(fileno=fd)
    try:
        store = Store.read_only(snapshot)
    except (OSError, RuntimeError, ValueError) as e:
        write_frame(sock, (0, "failed", f"cannot open the snapshot {snapshot}: {e}"))
        sys.exit(NO_SNAPSHOT_EXIT)
    gc.freeze()  # what it loaded to get here lives as long as the worker
    apply_worker_limits(int(os.environ.get(MEMORY_ENV) or 0))  # room for a job, from here
    serve(sock, store)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], int(sys.argv[3]))
