"""A query worker process: ``python -P -m sovkg.engine.worker FD VERSION SNAPSHOT PARENT``.

Started by :class:`sovkg.engine.pool.ProcessRunner`; loads the snapshot, then answers jobs
from the socket ``FD`` until it closes, and exits on its own when the server ``PARENT`` goes
away. Nothing in the package imports this module (so ``-m`` runs it fresh).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

from pyoxigraph import RdfFormat, Store

from sovkg.engine.bounds import MEMORY_ENV, MEMORY_EXIT_CODE, apply_worker_limits
from sovkg.engine.execute import execute_query, execute_update

#: how often a worker checks that the server that started it is still there
PARENT_CHECK_SECONDS = 0.2


def _watch_parent(parent: int) -> None:
    """Exit when the server goes away: its socket EOF is not seen while a query runs."""

    def watch() -> None:
        while True:
            time.sleep(PARENT_CHECK_SECONDS)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _load(path: str) -> Store:
    store = Store()
    store.load(path=path, format=RdfFormat.N_QUADS)
    return store


def _reply_error(e: BaseException) -> tuple[str, str, str]:
    if isinstance(e, SyntaxError):
        return ("error", "SyntaxError", str(e.msg if e.msg else e))
    return ("error", type(e).__name__, str(e))


def worker_main(fd: int, version: int, snapshot: str, parent: int) -> None:
    """A worker's life: load the snapshot, then answer jobs from the socket until it closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the server's to handle
    _watch_parent(parent)
    conn = Connection(fd)
    store, loaded = _load(snapshot), version
    apply_worker_limits(int(os.environ.get(MEMORY_ENV) or 0))  # room for a job, from here
    conn.send(("ready", os.getpid()))
    while True:
        try:
            kind, version, snapshot, job = conn.recv()
        except (EOFError, OSError):
            return
        try:
            if version != loaded:
                store, loaded = _load(snapshot), version
            if kind == "query":
                reply: tuple[Any, ...] = ("ok", execute_query(store, job))
            elif kind == "update":  # a trial on this copy, which is then out of date
                loaded = -1
                execute_update(store, job)
                reply = ("ok", None)
            else:
                reply = ("ok", None)
        except MemoryError:  # not trusted with another job: the server classifies the exit
            os.write(2, b"MemoryError\n")
            os._exit(MEMORY_EXIT_CODE)
        except Exception as e:  # noqa: BLE001 - every failure goes back to the server
            reply = _reply_error(e)
        conn.send(reply)


if __name__ == "__main__":
    worker_main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
