"""Run one job in a forked child process, so that an engine crash ends the child, not us.

pyoxigraph is built to abort on a panic (one known: an ORDER BY over mixed terms whose
comparison is not a total order, see the README's known issues), and past a memory limit its
allocator aborts too. ``sovkg query`` runs its query through :func:`run_isolated`: the child
loads the data, runs the job under the memory limit and sends the pickled result back; the
parent only waits, and turns a dead child into :class:`EngineCrashed` or
:class:`MemoryLimitReached` with the reason.

Fork, not spawn: the parent forks before it starts any thread (the CLI), and the child runs one
job and leaves with ``os._exit``.
"""

from __future__ import annotations

import os
import pickle
import sys
import threading
from collections.abc import Callable
from typing import TypeVar

from sovkg.engine.bounds import (
    MEMORY_EXIT_CODE,
    apply_worker_limits,
    died_of_memory,
    engine_panic,
)
from sovkg.errors import EngineCrashed, MemoryLimitReached

T = TypeVar("T")

#: how much of a dead child's stderr is kept to tell why it died
_TAIL = 16 * 1024


def _child(job: Callable[[], object], memory_mib: int | None, out: int) -> None:
    try:
        apply_worker_limits(memory_mib)
        reply: tuple[str, object] = ("ok", job())
    except MemoryError:
        os._exit(MEMORY_EXIT_CODE)
    except Exception as e:  # noqa: BLE001 - the job's own error, re-raised in the parent
        reply = ("error", e)
    try:
        data = pickle.dumps(reply)
    except Exception:  # noqa: BLE001 - an unpicklable error: its text is enough
        data = pickle.dumps(("error", RuntimeError(str(reply[1]))))
    with os.fdopen(out, "wb") as f:
        f.write(data)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def run_isolated(job: Callable[[], T], *, memory_mib: int | None, what: str) -> T:
    """``job()`` in a child process; raises what it raised, or EngineCrashed /
    MemoryLimitReached (naming ``what``) when the child dies."""
    result_r, result_w = os.pipe()
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(result_r)
        os.close(err_r)
        os.dup2(err_w, 2)
        os.close(err_w)
        _child(job, memory_mib, result_w)
    os.close(result_w)
    os.close(err_w)
    tail = bytearray()

    def forward() -> None:
        with os.fdopen(err_r, "rb", buffering=0) as f:
            while chunk := f.read(65536):
                tail.extend(chunk)
                del tail[:-_TAIL]
                if b"panicked at" not in tail and b"memory allocation of" not in tail:
                    sys.stderr.buffer.write(chunk)
                    sys.stderr.buffer.flush()

    reader = threading.Thread(target=forward, name="isolated-stderr", daemon=True)
    reader.start()
    with os.fdopen(result_r, "rb") as f:
        data = f.read()
    _, status = os.waitpid(pid, 0)
    reader.join(timeout=5)
    code = os.waitstatus_to_exitcode(status)
    if data and code == 0:
        kind, value = pickle.loads(data)
        if kind == "error":
            raise value
        return value
    if died_of_memory(code, bytes(tail)):
        raise MemoryLimitReached(memory_mib or 0, what)
    panic = engine_panic(bytes(tail))
    cause = f"pyoxigraph panicked: {panic}" if panic else f"exit status {code}"
    raise EngineCrashed(f"the query engine crashed ({cause}) while running {what}")
