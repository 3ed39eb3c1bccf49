"""Run one job in a child process forked for it, so that an engine crash ends the child, not us.

pyoxigraph is built to abort on a panic (one known: an ORDER BY over mixed terms whose
comparison is not a total order, see the README's known issues), and past a memory limit its
allocator aborts too. Three users:

- ``sovkg query`` runs its query through :func:`run_isolated` (blocking);
- ``sovkg serve --query-workers 0`` uses :class:`IsolatedRunner`: no standing pool, every query
  (and every update's trial run) in a child forked from the server for it, which sees the store
  copy-on-write, runs under the memory limit and is SIGKILLed at the time limit. At most
  ``concurrency`` children run at once; a job waits for a slot within its own deadline;
- ``sovkg serve`` builds its dumps through :func:`run_forked`: one child at a time, under the
  dump time and memory limits (``--dump-timeout``, ``--dump-memory``).

The child runs the job under the memory limit and sends the pickled result back; the parent
turns a dead child into :class:`EngineCrashed` or :class:`MemoryLimitReached` with the reason
(:func:`sovkg.engine.bounds.death_error`). The child leaves with ``os._exit``: nothing of the
parent's state (event loop, threads, files) is touched on the way out.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import pickle
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from pyoxigraph import Store

from sovkg.engine.bounds import MEMORY_EXIT_CODE, apply_worker_limits, death_error, watch_parent
from sovkg.engine.cores import unpin_worker
from sovkg.engine.execute import execute_query, execute_update
from sovkg.engine.jobs import QueryJob, QueryOutput, UpdateJob
from sovkg.errors import QueryTimeout, WorkersBusy

T = TypeVar("T")

#: how much of a dead child's stderr is kept to tell why it died
_TAIL = 16 * 1024
#: stderr that is kept but not forwarded: the death is reported as one error instead
_QUIET = (b"panicked at", b"memory allocation of", b"MemoryError")


def _child(job: Callable[[], object], memory_mib: int | None, out: int, err: int) -> None:
    """The forked child's life; never returns."""
    try:
        with contextlib.suppress(ValueError, OSError):
            signal.set_wakeup_fd(-1)  # the parent's event loop listened to signals through it
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.dup2(err, 2)
        # a fresh stderr: another thread of the parent may have held the old one's lock
        sys.stderr = open(2, "w", closefd=False)
        keep = sorted({out, err})
        os.closerange(3, keep[0])  # listening and client sockets, other children's pipes
        for low, high in zip(keep, [*keep[1:], 1 << 16], strict=True):
            os.closerange(low + 1, high)
        unpin_worker()  # the query may run on any core, not only its server's
        watch_parent(os.getppid())
        apply_worker_limits(memory_mib)
        reply: tuple[str, object] = ("ok", job())
    except MemoryError:
        os.write(2, b"MemoryError\n")
        os._exit(MEMORY_EXIT_CODE)
    except Exception as e:  # noqa: BLE001 - the job's own error, raised again in the parent
        reply = ("error", e)
    except BaseException:  # noqa: BLE001 - nothing may escape into the parent's code
        os._exit(1)
    try:
        try:
            data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # noqa: BLE001 - an unpicklable error: its text is enough
            data = pickle.dumps(("error", RuntimeError(str(reply[1]))))
        view = memoryview(data)
        while view:
            view = view[os.write(out, view) :]
        sys.stderr.flush()
    except BaseException:  # noqa: BLE001 - the parent sees no result and says so
        os._exit(1)
    os._exit(0)


def _fork(job: Callable[[], object], memory_mib: int | None) -> tuple[int, int, int]:
    """Fork a child that runs ``job``: its pid, and the read ends of its result and stderr."""
    result_r, result_w = os.pipe()
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(result_r)
        os.close(err_r)
        _child(job, memory_mib, result_w, err_w)
    os.close(result_w)
    os.close(err_w)
    return pid, result_r, err_r


def _forward(tail: bytes) -> None:
    """A child's stderr to ours, unless it is the report of a death told as an error."""
    if tail and not any(m in tail for m in _QUIET):
        sys.stderr.buffer.write(tail)
        sys.stderr.buffer.flush()


def _outcome(data: bytes, code: int, tail: bytes, memory_mib: int | None, what: str) -> object:
    """The child's result, or raise its error or the error of its death."""
    if data and code == 0:
        kind, value = pickle.loads(data)
        if kind == "error":
            raise value
        return value
    raise death_error(code, tail, memory_mib, what)


def run_isolated(job: Callable[[], T], *, memory_mib: int | None, what: str) -> T:
    """``job()`` in a child process; raises what it raised, or EngineCrashed /
    MemoryLimitReached (naming ``what``) when the child dies."""
    pid, result_r, err_r = _fork(job, memory_mib)
    head, tail = bytearray(), bytearray()

    def collect() -> None:
        with os.fdopen(err_r, "rb", buffering=0) as f:
            while chunk := f.read(65536):
                if len(head) < _TAIL:  # a panic's message, before its backtrace
                    head.extend(chunk[: _TAIL - len(head)])
                    chunk = chunk[_TAIL:]
                tail.extend(chunk)
                del tail[:-_TAIL]

    reader = threading.Thread(target=collect, name="isolated-stderr", daemon=True)
    reader.start()
    with os.fdopen(result_r, "rb") as f:
        data = f.read()
    _, status = os.waitpid(pid, 0)
    reader.join(timeout=5)
    code = os.waitstatus_to_exitcode(status)
    text = bytes(head + tail)
    _forward(text)
    return _outcome(data, code, text, memory_mib, what)  # type: ignore[return-value]


async def _read_all(fd: int, keep: int | None = None) -> bytes:
    """Everything from a pipe until its end, read on the event loop; closes ``fd``. With
    ``keep``, only the first and the last ``keep`` bytes (a panic's message comes first, then a
    backtrace that may be long when RUST_BACKTRACE is set)."""
    loop = asyncio.get_running_loop()
    os.set_blocking(fd, False)
    head = bytearray()
    buf = bytearray()
    done: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        try:
            chunk = os.read(fd, 1 << 20)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if chunk:
            if keep is not None and len(head) < keep:
                head.extend(chunk[: keep - len(head)])
                chunk = chunk[keep:]
            buf.extend(chunk)
            if keep is not None:
                del buf[:-keep]
            return
        loop.remove_reader(fd)
        if not done.done():
            done.set_result(None)

    loop.add_reader(fd, readable)
    try:
        await done
    finally:
        loop.remove_reader(fd)
        os.close(fd)
    return bytes(head + buf)


async def await_child(
    pid: int,
    result_r: int,
    err_r: int,
    deadline: float,
    *,
    memory_mib: int | None,
    what: str,
    timed_out: str,
) -> object:
    """The result of the child ``pid`` forked by :func:`_fork`, read on the event loop: raises
    its error, the error of its death (naming ``what``), or QueryTimeout(``timed_out``) once
    ``deadline`` passes. A child that is not reaped here (timed out, or the caller was
    cancelled) is SIGKILLed: it never runs on."""
    loop = asyncio.get_running_loop()
    err = loop.create_task(_read_all(err_r, keep=_TAIL))
    reaped = False
    try:
        try:
            data = await asyncio.wait_for(
                _read_all(result_r), max(0.0, deadline - time.monotonic())
            )
        except TimeoutError:
            raise QueryTimeout(timed_out) from None
        _, status = await asyncio.to_thread(os.waitpid, pid, 0)
        reaped = True
        tail = await err
        _forward(tail)
        return _outcome(data, os.waitstatus_to_exitcode(status), tail, memory_mib, what)
    finally:
        if not reaped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            err.cancel()
            loop.run_in_executor(None, os.waitpid, pid, 0)  # reaped when it is gone


async def run_forked(
    job: Callable[[], T], *, timeout: float, memory_mib: int | None, what: str
) -> T:
    """``job()`` in a child forked for it, awaited on the event loop: the child sees this
    process's memory copy-on-write, runs under ``memory_mib`` and is SIGKILLed past
    ``timeout`` seconds (QueryTimeout); its death is EngineCrashed or MemoryLimitReached naming
    ``what``. The caller bounds how many run at once."""
    pid, result_r, err_r = _fork(job, memory_mib)
    out = await await_child(
        pid,
        result_r,
        err_r,
        time.monotonic() + timeout,
        memory_mib=memory_mib,
        what=what,
        timed_out=f"{what} ran longer than the server's limit of {timeout:g} s and was stopped",
    )
    return out  # type: ignore[return-value]


def _shown(text: str) -> str:
    """An operation's text on one line, shortened, for an error message."""
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:297] + "..."


class IsolatedRunner:
    """Every operation in a child forked for it (``sovkg serve --query-workers 0``).

    An engine panic or the memory limit ends the child, never the server: the client gets 503
    naming the query. Past ``timeout`` the child is SIGKILLed (503). Updates are tried in a
    child first (a runaway or crashing update never touches the store), then applied here; no
    child is forked while an update is being applied, so none sees the store half-written.
    """

    def __init__(
        self,
        store: Store,
        *,
        timeout: float = 30.0,
        memory_mib: int | None = None,
        concurrency: int = 2,
    ) -> None:
        if concurrency < 1:
            raise ValueError("at least one child at a time")
        self.store = store
        self.timeout = timeout
        self.memory_mib = memory_mib
        self.concurrency = concurrency
        #: pids of children killed at the time limit (for tests and logs)
        self.killed: list[int] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots: asyncio.Semaphore | None = None
        self._applying: asyncio.Lock | None = None
        self._writer: asyncio.Lock | None = None
        self._children: set[int] = set()
        self._closed = False

    def _bind(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # asyncio primitives belong to one loop
            self._loop = loop
            self._slots = asyncio.Semaphore(self.concurrency)
            self._applying = asyncio.Lock()
            self._writer = asyncio.Lock()

    def busy(self) -> int:
        """How many children are running now."""
        return len(self._children)

    def can_answer(self) -> bool:
        """Whether a query given now will be answered within its time limit: always, until
        the runner is closed (a child is forked for it, or a running one ends by its deadline)."""
        return not self._closed

    async def _run(self, job: Callable[[], object], kind: str, text: str) -> object:
        if self._closed:
            raise WorkersBusy("the server is shutting down")
        self._bind()
        assert self._slots is not None and self._applying is not None
        deadline = time.monotonic() + self.timeout
        try:
            await asyncio.wait_for(self._slots.acquire(), self.timeout)
        except TimeoutError:
            raise WorkersBusy(
                f"all {self.concurrency} query processes stayed busy for {self.timeout:g} s; "
                "try again later"
            ) from None
        try:
            async with self._applying:  # never fork while an update is being applied
                pid, result_r, err_r = _fork(job, self.memory_mib)
            return await self._wait(pid, result_r, err_r, deadline, kind, text)
        finally:
            self._slots.release()

    async def _wait(
        self, pid: int, result_r: int, err_r: int, deadline: float, kind: str, text: str
    ) -> object:
        self._children.add(pid)
        try:
            return await await_child(
                pid,
                result_r,
                err_r,
                deadline,
                memory_mib=self.memory_mib,
                what=f"this {kind}: {_shown(text)}",
                timed_out=f"the {kind} ran longer than the server's limit of {self.timeout:g} s "
                "and was stopped",
            )
        except QueryTimeout:
            self.killed.append(pid)
            raise
        finally:
            self._children.discard(pid)

    async def query(self, job: QueryJob) -> QueryOutput:
        """Run a query in a child of its own."""
        out = await self._run(functools.partial(execute_query, self.store, job), "query", job.query)
        assert isinstance(out, QueryOutput)
        return out

    async def update(self, job: UpdateJob) -> None:
        """Try the update in a child (on its copy-on-write view of the store), then apply it
        here, with no child forked meanwhile."""
        self._bind()
        assert self._writer is not None and self._applying is not None
        async with self._writer:
            await self._run(
                functools.partial(execute_update, self.store, job), "update", job.update
            )
            async with self._applying:
                await asyncio.to_thread(self._apply, job)

    def _apply(self, job: UpdateJob) -> None:
        execute_update(self.store, job)
        self.store.flush()  # durable before it is acknowledged (RocksDB)

    def close(self) -> None:
        """Kill the children still running."""
        self._closed = True
        for pid in list(self._children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
