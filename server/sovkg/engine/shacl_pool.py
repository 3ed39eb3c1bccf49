"""``ShaclPool``: SHACL validations in worker processes that can be killed, with a memory limit,
a time limit and a cap on how many run at once.

A pool of its own rather than the query workers': a SHACL worker holds pySHACL, rdflib and our
shapes and ontology (warm), a query worker holds a snapshot of the store; neither needs the
other's. Workers start with the server (:meth:`ShaclPool.warm`, from the application's
lifespan) and stay warm; at most ``concurrency`` exist.

- past ``timeout`` seconds the worker is SIGKILLed (its CPU is free at once) and the client
  gets :class:`~sovkg.errors.JobTimeout`;
- past its memory limit the worker dies (or reports MemoryError and exits) and the client gets
  :class:`~sovkg.errors.MemoryLimitReached`; any other death is
  :class:`~sovkg.errors.WorkerFailed` with the reason;
- with ``concurrency`` validations already running, a new one is refused at once with
  :class:`~sovkg.errors.WorkersBusy` (503 + Retry-After), not queued behind them.

Every dead or killed worker is replaced by a fresh one on the next job.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection

from sovkg.engine.bounds import StderrTail, death_error
from sovkg.engine.shacl_job import ShaclJob, ShaclOutcome
from sovkg.errors import (
    InputError,
    JobTimeout,
    MemoryLimitReached,
    WorkerFailed,
    WorkersBusy,
)

#: the module a SHACL worker runs (see ``sovkg.engine.shacl_worker``)
WORKER_MODULE = "sovkg.engine.shacl_worker"


class _ShaclWorker:
    """One SHACL worker process, the socket to it, and the tail of its stderr."""

    def __init__(self, memory_mib: int | None) -> None:
        ours, theirs = socket.socketpair()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-P",
                "-m",
                WORKER_MODULE,
                str(theirs.fileno()),
                str(os.getpid()),
                str(memory_mib or 0),
            ],
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd="/",
            close_fds=True,
        )
        theirs.close()
        self.conn = Connection(ours.detach())
        self.ready = False
        assert self.proc.stderr is not None
        self.stderr = StderrTail(self.proc.stderr)

    def wait_ready(self, deadline: float) -> None:
        if self.ready:
            return
        if not self.conn.poll(max(0.0, deadline - time.monotonic())):
            raise TimeoutError
        self.conn.recv()
        self.ready = True

    def alive(self) -> bool:
        return self.proc.poll() is None

    def death(self) -> tuple[int | None, bytes]:
        """Kill (if still running), reap, and return the exit code and the stderr tail."""
        try:
            self.proc.kill()
        except OSError:
            pass
        code = self.proc.wait()
        self.conn.close()
        return code, self.stderr.text()


class ShaclPool:
    """At most ``concurrency`` SHACL workers, each capped at ``memory_mib``."""

    def __init__(self, concurrency: int = 2, timeout: float = 30.0, memory_mib: int | None = None):
        if concurrency < 1:
            raise ValueError("the SHACL pool needs at least one worker")
        self.concurrency = concurrency
        self.timeout = timeout
        self.memory_mib = memory_mib
        self._lock = threading.Lock()
        self._idle: list[_ShaclWorker] = []
        self._running = 0
        self._closed = False
        self._threads = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="shacl")
        #: pids of workers killed at the time limit (for tests and logs)
        self.killed: list[int] = []
        atexit.register(self.close)

    def busy(self) -> int:
        """How many validations are running now."""
        with self._lock:
            return self._running

    def _spare(self) -> None:
        """Start a worker to replace one that died, so that it warms up before it is needed."""
        with self._lock:
            if self._closed or len(self._idle) + self._running >= self.concurrency:
                return
        try:
            worker = _ShaclWorker(self.memory_mib)
        except OSError:
            return  # the next job tries again, and says why if it fails
        with self._lock:
            if not self._closed:
                self._idle.append(worker)
                return
        worker.death()

    def _reserve(self) -> None:
        """Count a validation in, or refuse it at once past the cap."""
        with self._lock:
            if self._closed:
                raise WorkersBusy("the server is shutting down", retry_after=5)
            if self._running >= self.concurrency:
                raise WorkersBusy(
                    f"all {self.concurrency} SHACL validations allowed at once are running; "
                    "try again later",
                    retry_after=max(1, round(self.timeout / 2)),
                )
            self._running += 1

    def _take(self) -> _ShaclWorker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop(0)  # the oldest: the most likely to be warm
                if worker.alive():
                    return worker
                worker.death()
        try:
            return _ShaclWorker(self.memory_mib)
        except OSError as e:
            raise WorkerFailed(f"cannot start a SHACL worker: {e}") from None

    def _release(self, worker: _ShaclWorker | None) -> None:
        """Count the validation out; keep the worker if it may serve again, else replace it."""
        with self._lock:
            self._running -= 1
            if worker is not None and not self._closed:
                self._idle.append(worker)
                return
        if worker is not None:
            worker.death()
        self._spare()

    def _run(self, job: ShaclJob) -> ShaclOutcome:
        """One validation, already counted in; the deadline covers a worker's warm-up too."""
        deadline = time.monotonic() + self.timeout
        try:
            worker = self._take()
        except WorkerFailed:
            self._release(None)
            raise
        try:
            worker.wait_ready(deadline)
            worker.conn.send(job)
            if not worker.conn.poll(max(0.0, deadline - time.monotonic())):
                raise TimeoutError
            reply = worker.conn.recv()
        except TimeoutError:
            self.killed.append(worker.proc.pid)
            worker.death()
            self._release(None)
            raise JobTimeout(
                f"the validation ran longer than the server's limit of {self.timeout:g} s "
                "and was stopped"
            ) from None
        except (EOFError, OSError):
            code, tail = worker.death()
            self._release(None)
            raise death_error(code, tail, self.memory_mib, "this validation") from None
        if reply[0] == "memory":
            worker.death()
            self._release(None)
            raise MemoryLimitReached(self.memory_mib or 0, "this validation") from None
        self._release(worker)
        if reply[0] == "error":
            _, status, message = reply
            if status >= 500:
                raise WorkerFailed(f"the validation failed: {message}")
            raise InputError(status, message)
        outcome: ShaclOutcome = reply[1]
        return outcome

    def warm(self) -> None:
        """Start every worker now (they warm up in parallel, in their own processes)."""
        for _ in range(self.concurrency):
            self._spare()

    async def validate(self, job: ShaclJob) -> ShaclOutcome:
        """Run ``job`` on a worker (see the class for what can be raised)."""
        self._reserve()  # here, not in the thread: past the cap the answer is immediate
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads, self._run, job)

    def close(self) -> None:
        """Kill the workers."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            idle, self._idle = self._idle, []
        for w in idle:
            w.death()
        self._threads.shutdown(wait=False, cancel_futures=True)
