"""A SHACL worker process: ``python -P -m sovkg.engine.shacl_worker FD PARENT MEMORY_MIB``.

Started by :class:`sovkg.engine.shacl_pool.ShaclPool`. It caps its own memory first
(:func:`sovkg.engine.bounds.apply_worker_limits`), warms up (pySHACL imported, our ontology and
shapes parsed), then validates one job at a time from the socket ``FD``; it exits when the
server ``PARENT`` goes away. A MemoryError ends the process (exit
:data:`~sovkg.engine.bounds.MEMORY_EXIT_CODE`) after saying so, because a process that ran out
of memory once is not trusted with the next job. Nothing in the package imports this module.
"""

from __future__ import annotations

import os
import signal
import sys
from multiprocessing.connection import Connection

from sovkg.engine.bounds import (
    MEMORY_EXIT_CODE,
    apply_worker_limits,
    batch_scheduling,
    watch_parent,
)
from sovkg.engine.cores import unpin_worker
from sovkg.engine.shacl_job import ShaclJob, run_shacl, warm_up
from sovkg.errors import SovkgError


def worker_main(fd: int, parent: int, memory_mib: int) -> None:
    """Cap memory, warm up, then answer jobs until the socket closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    unpin_worker()  # a validation may run on any core, not only its server's
    batch_scheduling()  # validation does not preempt the server's event loop
    watch_parent(parent)
    apply_worker_limits(memory_mib or None)
    conn = Connection(fd)
    try:
        warm_up()
    except MemoryError:
        os.write(2, b"MemoryError while warming up\n")
        os._exit(MEMORY_EXIT_CODE)
    conn.send(("ready", os.getpid()))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if not isinstance(job, ShaclJob):
            conn.send(("ok", None))  # a ping
            continue
        try:
            reply: tuple[object, ...] = ("ok", run_shacl(job))
        except MemoryError:
            try:
                conn.send(("memory",))
            finally:
                os.write(2, b"MemoryError\n")
                os._exit(MEMORY_EXIT_CODE)
        except SovkgError as e:
            reply = ("error", e.status, str(e))
        except Exception as e:  # noqa: BLE001 - every failure goes back to the server
            reply = ("error", 500, f"{type(e).__name__}: {e}")
        conn.send(reply)


if __name__ == "__main__":
    worker_main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
