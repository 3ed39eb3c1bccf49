"""``ThreadRunner``: operations in a thread pool of this process, on one shared store
(pyoxigraph releases the GIL, so threads run queries in parallel), with results streamed to the
event loop while they are serialized."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import IO, cast

from pyoxigraph import Store

from sovkg.engine.execute import evaluate, execute_query, execute_update
from sovkg.engine.jobs import QueryJob, QueryOutput, QueryStream, ResultKind, UpdateJob
from sovkg.engine.serialize import describe, write_result


class _Cancelled(Exception):
    """The client went away: stop serializing."""


class _QueueWriter:
    """A file-like object for pyoxigraph's serializers that hands chunks to the event loop,
    waiting while the client is slower than the query (backpressure)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[object]) -> None:
        self.loop, self.queue = loop, queue
        self.cancelled = threading.Event()

    def write(self, data: bytes) -> int:
        if self.cancelled.is_set():
            raise _Cancelled
        asyncio.run_coroutine_threadsafe(self.queue.put(bytes(data)), self.loop).result()
        return len(data)

    def flush(self) -> None:
        """Nothing is buffered here."""


class ThreadRunner:
    """Runs operations in a thread pool of this process, on one shared store."""

    def __init__(self, store: Store, max_workers: int = 4) -> None:
        self.store = store
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="sparql")

    async def query(self, job: QueryJob) -> QueryOutput:
        """Run a query in the pool."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, execute_query, self.store, job)

    async def update(self, job: UpdateJob) -> None:
        """Apply an update in the pool."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._pool, execute_update, self.store, job)

    async def query_stream(self, job: QueryJob) -> QueryStream:
        """Evaluate in the pool; once the form is known (and the query parsed, so syntax errors
        are raised here), return while the pool thread serializes chunk by chunk."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue(maxsize=16)
        writer = _QueueWriter(loop, queue)
        head: asyncio.Future[tuple[str, ResultKind]] = loop.create_future()
        end = object()

        def settle(value: tuple[str, ResultKind] | None, error: BaseException | None) -> None:
            if head.done():
                return
            if error is not None:
                head.set_exception(error)
            elif value is not None:
                head.set_result(value)

        def work() -> None:
            try:
                result = evaluate(self.store, job)
            except BaseException as e:  # noqa: BLE001 - raised again on the event loop
                loop.call_soon_threadsafe(settle, None, e)
                return
            loop.call_soon_threadsafe(settle, describe(result, job), None)
            failure: BaseException | None = None
            try:
                # pyoxigraph's serializers only call write() and flush()
                write_result(result, job, cast(IO[bytes], writer))
            except _Cancelled:
                return
            except BaseException as e:  # noqa: BLE001 - raised again where the chunks are read
                e.__traceback__ = None  # its frames hold the results, which must die here
                failure = e
            finally:
                del result  # pyoxigraph results may only be dropped on the thread that made them
            if not writer.cancelled.is_set():
                item = end if failure is None else failure
                asyncio.run_coroutine_threadsafe(queue.put(item), loop).result()

        def cancel() -> None:
            writer.cancelled.set()
            while not queue.empty():
                queue.get_nowait()

        self._pool.submit(work)
        try:
            media_type, kind = await head
        except asyncio.CancelledError:  # the client left while the query was evaluated
            cancel()
            raise

        async def chunks() -> AsyncIterator[bytes]:
            try:
                while True:
                    item = await queue.get()
                    if item is end:
                        return
                    if isinstance(item, BaseException):
                        raise item
                    assert isinstance(item, bytes)
                    yield item
            finally:
                cancel()  # unblocks a writer waiting for room

        return QueryStream(media_type, kind, chunks(), cancel)

    def close(self) -> None:
        """Stop the pool (waits for running operations)."""
        self._pool.shutdown(wait=True)
