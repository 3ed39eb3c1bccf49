"""``WorkerPool``: untrusted jobs in worker processes that are killed at their time limit.

pyoxigraph cannot cancel a query; the only way to stop one is to end the process running it.
So this process keeps the one writable store and a pool of worker processes runs the jobs:

- **how workers see the data, never a copy each**: with the store in memory, a worker is
  ``os.fork()``-ed from this process and shares its pages copy-on-write; oxigraph's memory store
  writes to the pages it reads, so a worker that has scanned much of the data is recycled (a new
  fork) once its private memory passes ``recycle_bytes``. With a RocksDB store (``--store``), a
  worker is a fresh interpreter that opens ``Store.read_only()`` on a ``Store.backup()``
  snapshot (hard links; the OS page cache is shared);
- **the IPC** is a socketpair per worker, length-prefixed pickle frames, read by an
  ``asyncio.Protocol`` on the event loop: no thread-pool hop, no pipe thread;
- **the supervisor** is a ``loop.call_later`` per job: past the deadline the worker gets
  SIGKILL (its CPU is free at once), the job ``QueryTimeout``, and a new worker takes its place.
  A worker that dies mid-job fails its job with ``WorkerFailed`` (or ``MemoryLimitReached`` when
  ``bounds`` says it died of its memory limit) and is replaced the same way;
- **busy**: a job waits for a free worker within its own deadline, else ``WorkersBusy``;
- **updates** are tried on a worker first under the same limit (a runaway update dies there,
  never in the writer), then applied to the store, made durable, and only then acknowledged;
  every worker that saw the old data is retired (idle ones at once, busy ones when their job
  ends), so the next job sees the update: a client reads its own writes.
"""

from __future__ import annotations

import asyncio
import atexit
import builtins
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from pyoxigraph import Store

from sovkg import errors
from sovkg.engine.bounds import MEMORY_ENV, StderrTail, death_error
from sovkg.engine.execute import execute_update
from sovkg.engine.jobs import QueryJob, QueryOutput, UpdateJob
from sovkg.engine.worker import frame, pop_frame, serve_forked
from sovkg.errors import ClientError, QueryTimeout, WorkerFailed, WorkersBusy

#: the module a spawned worker runs
WORKER_MODULE = "sovkg.engine.worker"
#: an update that may evaluate a pattern (over-approximated: the word anywhere in its text)
_WHERE = re.compile(r"where", re.IGNORECASE)
#: seconds a new worker may take to say it is ready (a spawned one opens a snapshot)
START_SECONDS = 60.0
#: seconds between two looks at the workers' private memory
MEMORY_CHECK_SECONDS = 2.0
#: a job longer than this has its worker's private memory looked at as soon as it ends
SLOW_JOB_SECONDS = 0.5
#: a forked worker is recycled past this much private memory, at least
MIN_RECYCLE_BYTES = 64 * 1024 * 1024
#: all forked workers together (of every server process) may hold this share of the store
#: privately before they are recycled
RECYCLE_SHARE = 0.4
#: snapshots kept on disk besides the current one (a worker may still have one open)
_KEEP_SNAPSHOTS = 2


def rebuild_error(name: str, message: str) -> Exception:
    """The exception a worker reported, as the same built-in type where there is one, or the
    same client error of the package (``TooDeep``, ``UsingConflictError`` ...)."""
    if name == "SyntaxError":
        return SyntaxError(message)
    ours = getattr(errors, name, None)
    if isinstance(ours, type) and issubclass(ours, ClientError):
        try:
            return ours(message)
        except TypeError:  # one that takes other arguments
            pass
    cls = getattr(builtins, name, None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            return cls(message)
        except TypeError:  # a built-in that takes other arguments
            pass
    return RuntimeError(message)


def _shown(payload: object) -> str:
    """The operation's text, shortened, for an error message (a query travels as its
    ``QueryJob.wire`` tuple, whose first field is the text)."""
    if isinstance(payload, tuple) and payload and isinstance(payload[0], str):
        text = payload[0]
    else:
        text = str(getattr(payload, "query", None) or getattr(payload, "update", None) or "")
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:297] + "..."


def private_bytes(pid: int) -> int:
    """Memory only this process holds (private pages, clean or dirty); 0 when it is gone."""
    total = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith((b"Private_Dirty:", b"Private_Clean:")):
                    total += int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return 0
    return total


def resident_bytes() -> int:
    """This process's resident memory."""
    with open("/proc/self/statm", "rb") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class _Connection(asyncio.Protocol):
    """The server's end of one worker's socket: frames in, one pending reply at a time."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while True:
            whole, message = pop_frame(self._buffer)
            if not whole:
                return
            self.worker.received(message)

    def connection_lost(self, exc: Exception | None) -> None:
        self.worker.lost()


class Worker:
    """One worker process, its socket, and the job it runs (at most one)."""

    def __init__(
        self, pid: int, sock: socket.socket, version: int, on_lost: Callable[[Worker], None]
    ) -> None:
        self.pid = pid
        self.version = version
        self.on_lost = on_lost
        self.proc: subprocess.Popen[bytes] | None = None
        self.stderr: StderrTail | None = None
        self.sock = sock
        self.ready: asyncio.Future[None] | None = None
        self.reply: asyncio.Future[tuple[Any, ...]] | None = None
        self.conn: _Connection | None = None
        self.retire = False
        self.dead = False
        self.timed_out = False
        self.jobs = 0

    async def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Read the socket on ``loop``; returns when the worker said it is ready."""
        self.ready = loop.create_future()
        _, self.conn = await loop.create_connection(lambda: _Connection(self), sock=self.sock)
        await self.ready

    def received(self, message: Any) -> None:
        """A frame from the worker."""
        if message[1] == "ready":
            if self.ready is not None and not self.ready.done():
                self.ready.set_result(None)
        elif message[1] == "failed":
            if self.ready is not None and not self.ready.done():
                self.ready.set_exception(WorkerFailed(str(message[2])))
        elif self.reply is not None and not self.reply.done():
            self.reply.set_result(message)

    def lost(self) -> None:
        """The socket closed: the worker is gone."""
        self.dead = True
        for f in (self.ready, self.reply):
            if f is not None and not f.done():
                f.set_exception(EOFError())
        self.on_lost(self)

    def send(self, message: object) -> None:
        """Send a framed message."""
        assert self.conn is not None and self.conn.transport is not None
        self.conn.transport.write(frame(message))

    def expire(self) -> None:
        """The job ran past its deadline: kill the worker (the supervisor's timer)."""
        self.timed_out = True
        self.kill()

    def kill(self) -> None:
        """SIGKILL the process (it is reaped by :meth:`reap`)."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        transport = self.conn.transport if self.conn is not None else None
        try:
            if transport is not None:
                transport.close()
        except RuntimeError:  # its event loop is closed already
            transport = None
        if transport is None:
            self.sock.close()

    def reap(self, block: bool = False) -> int | None:
        """The exit status once the process is gone (and no longer a zombie), else None."""
        if self.proc is not None:
            try:
                return self.proc.wait() if block else self.proc.poll()
            except subprocess.TimeoutExpired:
                return None
        try:
            pid, status = os.waitpid(self.pid, 0 if block else os.WNOHANG)
        except ChildProcessError:
            return -1
        if pid == 0:
            return None
        return os.waitstatus_to_exitcode(status)


class WorkerPool:
    """Worker processes for untrusted jobs; this process keeps the one writable store.

    ``snapshot_dir`` None: the store is in memory and workers are forked from this process.
    Otherwise (a RocksDB store) workers open read-only backups written under it.
    """

    def __init__(
        self,
        store: Store,
        workers: int = 2,
        timeout: float = 30.0,
        *,
        memory_mib: int | None = None,
        on_disk: bool = False,
        recycle_bytes: int | None = None,
        sharers: int = 1,
    ) -> None:
        if workers < 1:
            raise ValueError("a process pool needs at least one worker")
        self.store = store
        self.size = workers
        self.timeout = timeout
        self.memory_mib = memory_mib
        self.on_disk = on_disk
        if recycle_bytes is None and not on_disk:
            # this process's resident memory is mostly the store: the workers together may
            # make RECYCLE_SHARE of it private before they are forked anew
            # (``sharers``: the server processes, each with a pool like this one, that share
            # the same store)
            share = int(resident_bytes() * RECYCLE_SHARE / (workers * max(1, sharers)))
            recycle_bytes = max(share, MIN_RECYCLE_BYTES)
        self.recycle_bytes = recycle_bytes
        self.version = 0
        #: pids of the workers killed at a time limit (for tests and logs)
        self.killed: deque[int] = deque(maxlen=100)
        #: how many workers were recycled for their private memory
        self.recycled = 0
        #: how many times a snapshot was published again because a worker could not open it
        self.republished = 0
        self._failed_starts = 0
        self._stale_snapshot = False
        self._workers: set[Worker] = set()
        self._idle: deque[Worker] = deque()
        self._waiters: deque[asyncio.Future[Worker]] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._writer: asyncio.Lock | None = None
        self._next_job = 0
        self._closed = False
        self._snapshots: Path | None = None
        self._snapshot: Path | None = None
        #: the next check of the idle workers' memory (a timer, not a task that sleeps: a
        #: sleeping task left on a loop that closed was reported destroyed while pending)
        self._memory_check: asyncio.TimerHandle | None = None
        if on_disk:
            self._snapshots = Path(tempfile.mkdtemp(prefix="sovkg-snapshots-"))
            self._publish()
        # the first workers start now, before the server's threads and event loop exist
        for _ in range(workers):
            self._workers.add(self._start_worker())
        atexit.register(self.close)

    # -- data for the workers ----------------------------------------------------------------

    def _publish(self) -> None:
        """A new read-only snapshot of the store for the workers (RocksDB stores only)."""
        assert self._snapshots is not None
        path = self._snapshots / f"v{self.version}"
        shutil.rmtree(path, ignore_errors=True)
        self.store.backup(str(path))
        self._snapshot = path
        for old in self._snapshots.glob("v*"):
            n = int(old.name[1:]) if old.name[1:].isdigit() else -1
            if n < self.version - _KEEP_SNAPSHOTS:
                shutil.rmtree(old, ignore_errors=True)

    def _start_worker(self) -> Worker:
        ours, theirs = socket.socketpair()
        if not self.on_disk:
            err_read, err_write = os.pipe()
            pid = os.fork()
            if pid == 0:  # the worker; serve_forked never returns
                serve_forked(theirs, self.store, os.getppid(), self.memory_mib, err_write)
            theirs.close()
            os.close(err_write)
            worker = Worker(pid, ours, self.version, self._lost)
            worker.stderr = StderrTail(os.fdopen(err_read, "rb"))
            return worker
        if self._stale_snapshot:  # an update since the last snapshot: this worker sees it
            self._stale_snapshot = False
            self._publish()
        assert self._snapshot is not None
        proc = subprocess.Popen(
            [sys.executable, "-P", "-m", WORKER_MODULE, str(theirs.fileno())]
            + [str(self._snapshot), str(os.getpid())],
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,  # kept, to tell why a worker died (bounds.StderrTail)
            env={**os.environ, MEMORY_ENV: str(self.memory_mib or 0)},
            cwd="/",
            close_fds=True,
        )
        theirs.close()
        worker = Worker(proc.pid, ours, self.version, self._lost)
        worker.proc = proc
        assert proc.stderr is not None
        worker.stderr = StderrTail(proc.stderr)
        return worker

    # -- the pool ----------------------------------------------------------------------------

    def pids(self) -> list[int]:
        """The process ids of the current workers."""
        return sorted(w.pid for w in self._workers)

    async def _bind(self) -> None:
        """Attach the workers to the running event loop (the first time, or a new loop)."""
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        self._stop_memory_check()
        self._loop = loop
        self._writer = asyncio.Lock()
        self._idle.clear()
        self._waiters.clear()
        for w in list(self._workers):
            if w.conn is not None:  # bound to a loop that is gone: start afresh
                self._discard(w)
                w = self._start_worker()
                self._workers.add(w)
            loop.create_task(self._admit(w))
        self._arm_memory_check()

    async def _admit(self, worker: Worker) -> None:
        """Wait until a new worker is ready, then give it work (or replace it if it failed)."""
        try:
            await asyncio.wait_for(worker.attach(asyncio.get_running_loop()), START_SECONDS)
        except WorkerFailed:
            if self.on_disk and not self._closed:  # the snapshot went missing: publish anew
                self.republished += 1
                await asyncio.to_thread(self._publish)
            await self._replace_later(worker)
            return
        except (TimeoutError, EOFError, OSError):
            await self._replace_later(worker)
            return
        self._failed_starts = 0
        self._release(worker)

    async def _replace_later(self, worker: Worker) -> None:
        """Replace a worker that failed to start; after several failures in a row, wait a
        little first, so that a cause that persists does not become a loop of restarts."""
        self._failed_starts += 1
        if self._failed_starts > 2:
            self._discard(worker)
            await asyncio.sleep(min(5.0, 0.5 * self._failed_starts))
            self._replace_started()
            return
        self._replace(worker)

    def _release(self, worker: Worker) -> None:
        """A worker is free: retire it if it must go, else hand it to a waiting job."""
        stale = worker.version != self.version and not self.on_disk  # on disk: reopened
        if self._closed or worker.dead or worker.retire or stale:
            self._replace(worker)
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(worker)
                return
        self._idle.append(worker)

    def _discard(self, worker: Worker) -> int | None:
        """Kill a worker and forget it; its exit status if known."""
        worker.kill()
        self._workers.discard(worker)
        with contextlib.suppress(ValueError):
            self._idle.remove(worker)
        return worker.reap(block=True)

    def _replace(self, worker: Worker) -> None:
        """Kill a worker and start another in its place (unless the pool is closing)."""
        self._discard(worker)
        if self._closed:
            return
        new = self._start_worker()
        self._workers.add(new)
        assert self._loop is not None
        self._loop.create_task(self._admit(new))

    def _lost(self, worker: Worker) -> None:
        """A worker's socket closed. An idle one is replaced now (a busy one by its job)."""
        if worker in self._idle:
            self._idle.remove(worker)
            self._replace(worker)

    async def _acquire(self, deadline: float) -> Worker:
        while self._idle:
            worker = self._idle.popleft()
            if not worker.dead and worker.reap() is None:
                return worker
            self._replace(worker)  # died while idle, before its socket said so
        assert self._loop is not None
        waiter: asyncio.Future[Worker] = self._loop.create_future()
        self._waiters.append(waiter)

        def give_up() -> None:
            if not waiter.done():
                waiter.set_exception(
                    WorkersBusy(
                        f"all {self.size} query workers stayed busy for {self.timeout:g} s; "
                        "try again later"
                    )
                )

        timer = self._loop.call_later(max(0.0, deadline - time.monotonic()), give_up)
        try:
            return await waiter
        except asyncio.CancelledError:  # the client left; a worker handed over meanwhile goes back
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._release(waiter.result())
            raise
        finally:
            timer.cancel()

    def _why_dead(
        self, worker: Worker, status: int | None, kind: str, payload: object
    ) -> Exception:
        tail = worker.stderr.text() if worker.stderr is not None else b""
        what = f"this {kind}" + (f": {_shown(payload)}" if kind in ("query", "update") else "")
        return death_error(status, tail, self.memory_mib, what)

    async def run(self, kind: str, payload: object, *, timeout: float | None = None) -> object:
        """Run one job on a worker within ``timeout`` seconds (default: the pool's), waiting
        for a free worker meanwhile; the worker is killed if the job runs past it."""
        if self._closed:
            raise WorkersBusy("the server is shutting down")
        await self._bind()
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        worker = await self._acquire(deadline)
        assert self._loop is not None
        if worker.version != self.version:  # a snapshot worker behind an update: reopen first
            version = self.version
            if self._stale_snapshot:
                self._stale_snapshot = False
                await asyncio.to_thread(self._publish)
            await self._job(worker, "open", str(self._snapshot), deadline, limit, keep=True)
            worker.version = version
        return await self._job(worker, kind, payload, deadline, limit)

    async def _job(
        self,
        worker: Worker,
        kind: str,
        payload: object,
        deadline: float,
        limit: float,
        keep: bool = False,
    ) -> object:
        """Send one job to ``worker`` and wait for its answer, killing it past ``deadline``
        (``keep``: the caller has another job for the same worker)."""
        assert self._loop is not None
        self._next_job += 1
        job_id = self._next_job
        worker.reply = self._loop.create_future()
        started = time.monotonic()
        timer = self._loop.call_later(max(0.0, deadline - started), worker.expire)
        worker.jobs += 1
        try:
            worker.send((job_id, kind, payload))
            reply = await worker.reply
        except EOFError:
            timer.cancel()
            if worker.timed_out:
                self.killed.append(worker.pid)
                self._replace(worker)
                raise QueryTimeout(
                    f"the {'update' if kind.startswith('update') else 'query'} ran longer "
                    f"than the server's limit of {limit:g} s and was stopped"
                ) from None
            status = self._discard(worker)
            error = self._why_dead(worker, status, kind, payload)
            self._replace_started()
            raise error from None
        except BaseException:  # cancelled (the client left): the job may still run; stop it
            timer.cancel()
            self._replace(worker)
            raise
        timer.cancel()
        worker.reply = None
        if time.monotonic() - started > SLOW_JOB_SECONDS and not keep:
            # a long job may have read much of the store, whose pages it then holds privately
            # (oxigraph's memory store writes to what it reads): look now, not at the next tick
            self._look_at(worker)
        if kind == "update":
            worker.retire = True  # its copy now holds a trial of the update
        if reply[1] == "error" and keep:  # it could not get ready for the next job
            self._replace(worker)
        elif not keep:
            self._release(worker)
        if reply[1] == "error":
            raise rebuild_error(reply[2], reply[3])
        return reply[2]

    def _replace_started(self) -> None:
        """Start a worker for one that was discarded already."""
        if self._closed:
            return
        new = self._start_worker()
        self._workers.add(new)
        assert self._loop is not None
        self._loop.create_task(self._admit(new))

    def _arm_memory_check(self) -> None:
        """Check the idle forked workers' memory in ``MEMORY_CHECK_SECONDS`` (see below)."""
        if self.on_disk or not self.recycle_bytes or self._closed or self._loop is None:
            return
        self._memory_check = self._loop.call_later(MEMORY_CHECK_SECONDS, self._check_memory)

    def _stop_memory_check(self) -> None:
        if self._memory_check is not None:
            self._memory_check.cancel()
            self._memory_check = None

    def _check_memory(self) -> None:
        """Recycle forked workers whose private memory passed the budget (checked when idle),
        one after another, then check again later."""
        self._memory_check = None
        if self._closed or self._loop is None:
            return
        waiting = list(self._idle)

        def next_one() -> None:
            if waiting and not self._closed:
                self._look_at(waiting.pop(), then=next_one)
            else:
                self._arm_memory_check()

        next_one()

    def _look_at(self, worker: Worker, then: Callable[[], None] | None = None) -> None:
        """Fork an idle worker anew if its private memory passed the budget, then call
        ``then``. The kernel walks the whole mapping to answer (about 0.1 s at 10^7 quads), so
        the reading runs in a thread, never on the event loop. It is a future with a callback,
        not a task: a loop closed while it reads leaves no task behind to be reported."""
        if self.on_disk or not self.recycle_bytes or worker.dead or self._loop is None:
            if then is not None:
                then()
            return
        budget = self.recycle_bytes
        reading = self._loop.run_in_executor(None, private_bytes, worker.pid)

        def measured(done: asyncio.Future[int]) -> None:
            try:
                if done.cancelled() or done.exception() is not None:
                    return
                if done.result() > budget and worker in self._idle:
                    self._idle.remove(worker)  # still idle: nobody waits for it
                    self.recycled += 1
                    self._replace(worker)
            finally:
                if then is not None:
                    then()

        reading.add_done_callback(measured)

    # -- the Runner protocol -----------------------------------------------------------------

    async def query(self, job: QueryJob) -> QueryOutput:
        """Run a query on a worker; QueryTimeout past the limit (the worker is killed)."""
        out = await self.run("query", job.wire())
        assert isinstance(out, tuple)
        return QueryOutput.from_wire(out)

    async def update(self, job: UpdateJob) -> None:
        """Try the update on a worker, apply it to the store, then move the workers on."""
        await self._bind()
        assert self._writer is not None
        async with self._writer:
            await self._trial(job)
            await asyncio.to_thread(self._apply, job)
            self.version += 1
            self._stale_snapshot = self.on_disk  # published when a query next needs it
            if not self.on_disk:  # forked workers saw the old data: fork anew (busy ones later)
                for w in list(self._idle):
                    self._idle.remove(w)
                    self._replace(w)

    async def _trial(self, job: UpdateJob) -> None:
        """Run the update in a worker first, under the time limit: a runaway dies there."""
        if not self.on_disk:
            await self.run("update", job)  # on the worker's copy-on-write view
            return
        if not _WHERE.search(job.update):
            # no pattern to evaluate (INSERT DATA, DELETE DATA, CLEAR, DROP, ...): its work is
            # linear in its own size or the data's, nothing can run away; a trial on a copy
            # of a RocksDB store would only cost time
            return
        assert self._snapshots is not None
        copy = self._snapshots / f"trial-{self.version}"
        await asyncio.to_thread(self.store.backup, str(copy))  # hard links: cheap
        try:
            await self.run("update_on_copy", (job, str(copy)))
        finally:
            await asyncio.to_thread(shutil.rmtree, copy, True)

    def _apply(self, job: UpdateJob) -> None:
        execute_update(self.store, job)
        self.store.flush()  # durable before it is acknowledged

    def can_answer(self) -> bool:
        """Whether a job given now will be answered within its time limit: the pool is open and
        some worker is up, idle or busy with a job that the supervisor ends by its deadline
        (False while every worker is dead or still failing to start; for ``/health``)."""
        if self._closed:
            return False
        return bool(self._idle) or any(w.reply is not None and not w.dead for w in self._workers)

    async def ping(self, timeout: float) -> None:
        """Raise unless a worker answers a trivial job within ``timeout`` seconds."""
        await self.run("ping", None, timeout=min(timeout, self.timeout))

    def close(self) -> None:
        """Kill the workers and remove the snapshots."""
        if self._closed:
            return
        self._closed = True
        self._stop_memory_check()
        for w in list(self._workers):
            self._discard(w)
        for waiter in self._waiters:
            if not waiter.done():
                waiter.cancel()
        if self._snapshots is not None:
            shutil.rmtree(self._snapshots, ignore_errors=True)


#: the pool under the name the runner builder uses
ProcessRunner = WorkerPool


def default_workers() -> int:
    """The default number of query workers: one per core the process may use (at least 1)."""
    return max(1, len(os.sched_getaffinity(0)))
