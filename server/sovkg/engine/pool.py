"""``ProcessRunner``: queries in worker processes, so that a query past its time limit really
stops.

pyoxigraph cannot cancel a query; the only way to stop one is to end the process running it.
So this process keeps the one writable store (in memory or RocksDB) and a pool of worker
processes answers the queries, each on its own in-memory copy of the data:

- the copy comes from a versioned N-Quads snapshot of the store, written once at start and
  again after every committed update; a job carries the version it must see, and a worker that
  holds an older one reloads before answering, so no query sees a half-applied update and a
  client reads its own acknowledged writes;
- a query past the time limit gets its worker SIGKILLed (the CPU is free at once) and
  replaced, and the client a ``QueryTimeout``; the other workers keep answering;
- an update is first tried on a worker's copy under the same time limit (so a runaway update
  is killed there, never in the writer), then applied to the store by the writer, made durable
  (``flush``), and only then acknowledged;
- workers are fresh interpreters (``python -P -m sovkg.engine.worker`` started in ``/``, not a
  fork of this threaded process), so they import the installed package and nothing from the
  current folder; each one exits on its own when this process disappears, even if killed.
"""

from __future__ import annotations

import asyncio
import atexit
import builtins
import os
import queue
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from pyoxigraph import RdfFormat, Store

from sovkg.engine.bounds import MEMORY_ENV, StderrTail, death_error
from sovkg.engine.execute import execute_update
from sovkg.engine.jobs import QueryJob, QueryOutput, UpdateJob
from sovkg.errors import QueryTimeout, WorkersBusy

#: the module a worker process runs (see ``sovkg.engine.worker``)
WORKER_MODULE = "sovkg.engine.worker"

#: snapshots kept on disk (a job may still name the previous one)
_KEEP_SNAPSHOTS = 3


def _rebuild_error(name: str, message: str) -> Exception:
    """The exception a worker reported, as the same built-in type where there is one."""
    cls = getattr(builtins, name, None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            return cls(message)
        except TypeError:  # a built-in that takes other arguments
            pass
    return RuntimeError(message)


def _shown(payload: object) -> str:
    """The operation's text, shortened, for an error message."""
    text = str(getattr(payload, "query", None) or getattr(payload, "update", None) or "")
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:297] + "..."


class _Worker:
    """One worker process and the socket to it."""

    def __init__(self, version: int, snapshot: Path, memory_mib: int | None = None) -> None:
        ours, theirs = socket.socketpair()
        # -P and cwd="/": the worker imports the installed package, never the caller's folder
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-P",
                "-m",
                WORKER_MODULE,
                str(theirs.fileno()),
                str(version),
                str(snapshot),
                str(os.getpid()),
            ],
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,  # kept, to tell why a worker died (bounds.StderrTail)
            env={**os.environ, MEMORY_ENV: str(memory_mib or 0)},
            cwd="/",
            close_fds=True,
        )
        theirs.close()
        assert self.proc.stderr is not None
        self.stderr = StderrTail(self.proc.stderr)
        self.conn = Connection(ours.detach())
        self.ready = False

    @property
    def pid(self) -> int:
        """The worker's process id."""
        return self.proc.pid

    def wait_ready(self, deadline: float) -> None:
        """Block until the worker has loaded its first snapshot."""
        if self.ready:
            return
        if not self.conn.poll(max(0.0, deadline - time.monotonic())):
            raise TimeoutError
        self.conn.recv()
        self.ready = True

    def kill(self) -> None:
        """SIGKILL the process and reap it."""
        try:
            self.proc.kill()
        except OSError:
            pass
        self.proc.wait()
        self.conn.close()


class ProcessRunner:
    """A pool of worker processes for queries, with this process's store as the one writer."""

    def __init__(
        self, store: Store, workers: int = 2, timeout: float = 30.0, memory_mib: int | None = None
    ) -> None:
        if workers < 1:
            raise ValueError("a process pool needs at least one worker")
        self.store = store
        self.timeout = timeout
        self.memory_mib = memory_mib
        self.size = workers
        self._dir = Path(tempfile.mkdtemp(prefix="sovkg-snapshots-"))
        self._state = threading.Lock()  # version, snapshot, the set of workers
        self._writer = threading.Lock()  # one update at a time
        self._version = 0
        self._snapshot = self._dir / "unset"
        self._publish()
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._workers: set[_Worker] = set()
        self._closed = False
        #: pids of the workers killed at a time limit (for tests and logs)
        self.killed: deque[int] = deque(maxlen=100)
        self._threads = ThreadPoolExecutor(
            max_workers=max(32, 8 * workers), thread_name_prefix="sparql-worker-io"
        )
        for _ in range(workers):
            self._idle.put(self._spawn())
        atexit.register(self.close)

    # snapshots

    def _publish(self) -> None:
        """Write the store as a new snapshot version (the caller holds the writer lock)."""
        version = self._version + 1
        path = self._dir / f"snapshot-{version}.nq"
        tmp = path.with_suffix(".tmp")
        self.store.dump(str(tmp), format=RdfFormat.N_QUADS)
        os.replace(tmp, path)
        with self._state:
            self._version, self._snapshot = version, path
        for old in self._dir.glob("snapshot-*.nq"):
            n = int(old.stem.split("-")[1])
            if n <= version - _KEEP_SNAPSHOTS:
                old.unlink(missing_ok=True)

    # the pool

    def pids(self) -> list[int]:
        """The process ids of the current workers."""
        with self._state:
            return sorted(w.pid for w in self._workers)

    def _spawn(self) -> _Worker:
        with self._state:
            worker = _Worker(self._version, self._snapshot, self.memory_mib)
            self._workers.add(worker)
        return worker

    def _retire(self, worker: _Worker, replace: bool = True) -> None:
        """Kill a worker and, unless the pool is closing, start another in its place."""
        worker.kill()
        with self._state:
            self._workers.discard(worker)
        if replace and not self._closed:
            self._idle.put(self._spawn())

    def _call(self, kind: str, payload: object, deadline: float) -> Any:
        """Run one operation on an idle worker before the deadline (blocking)."""
        if self._closed:
            raise WorkersBusy("the server is shutting down")
        try:
            worker = self._idle.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise WorkersBusy(
                f"all {self.size} query workers stayed busy for {self.timeout:g} s; try again later"
            ) from None
        try:
            worker.wait_ready(deadline)
            with self._state:
                version, snapshot = self._version, str(self._snapshot)
            worker.conn.send((kind, version, snapshot, payload))
            if not worker.conn.poll(max(0.0, deadline - time.monotonic())):
                raise TimeoutError
            reply = worker.conn.recv()
        except TimeoutError:
            self.killed.append(worker.pid)
            self._retire(worker)
            raise QueryTimeout(
                f"the {'update' if kind == 'update' else 'query'} ran longer than the "
                f"server's limit of {self.timeout:g} s and was stopped"
            ) from None
        except (EOFError, OSError):
            code = worker.proc.wait()
            self._retire(worker)
            what = f"this {kind}" + (f": {_shown(payload)}" if kind in ("query", "update") else "")
            raise death_error(code, worker.stderr.text(), self.memory_mib, what) from None
        except BaseException:
            self._retire(worker)
            raise
        self._idle.put(worker)
        if reply[0] == "error":
            _, name, message = reply
            if name == "SyntaxError":
                raise SyntaxError(message)
            raise _rebuild_error(name, message)
        return reply[1]

    def _update(self, job: UpdateJob, deadline: float) -> None:
        with self._writer:
            self._call("update", job, deadline)  # a runaway update dies in a worker
            execute_update(self.store, job)
            self.store.flush()  # durable before it is acknowledged
            self._publish()

    # the Runner protocol

    async def query(self, job: QueryJob) -> QueryOutput:
        """Run a query on a worker; QueryTimeout past the limit (the worker is killed)."""
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + self.timeout
        return await loop.run_in_executor(self._threads, self._call, "query", job, deadline)

    async def update(self, job: UpdateJob) -> None:
        """Try the update on a worker, then apply it to the store and refresh the workers."""
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + self.timeout
        await loop.run_in_executor(self._threads, self._update, job, deadline)

    def close(self) -> None:
        """Kill the workers and remove the snapshots."""
        if self._closed:
            return
        self._closed = True
        with self._state:
            workers = list(self._workers)
        for w in workers:
            self._retire(w, replace=False)
        self._threads.shutdown(wait=False, cancel_futures=True)
        shutil.rmtree(self._dir, ignore_errors=True)
