"""Runs SPARQL operations away from the event loop.

The seam: an *operation* (``QueryJob``/``UpdateJob``) is a plain, picklable description of what
to run, and ``execute_query``/``execute_update`` are pure functions from a store and a job to
serialized bytes. A *runner* decides where they run: ``ThreadRunner`` in a thread pool in this
process (pyoxigraph releases the GIL, so threads run queries in parallel); a process-based runner
can run the same functions in worker processes that can be killed at a time limit.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal, Protocol

from pyoxigraph import (
    NamedNode,
    QueryBoolean,
    QueryResultsFormat,
    QuerySolutions,
    QueryTriples,
    RdfFormat,
    Store,
)

from sovkg.sparql.lexer import declares_dataset, rewrite_update

ResultKind = Literal["solutions", "boolean", "graph"]


@dataclass(frozen=True)
class QueryJob:
    """A query to run. ``default_graphs``/``named_graphs`` None mean the protocol defaults:
    the dataset of the query's FROM / FROM NAMED clauses if it has any, otherwise the union of
    all graphs as default graph and every named graph available. Given (even empty), they
    replace the query's own dataset, as the protocol's ``default-graph-uri``/``named-graph-uri``
    do."""

    query: str
    base_iri: str | None = None
    default_graphs: tuple[str, ...] | None = None
    named_graphs: tuple[str, ...] | None = None
    result_format: str = "application/sparql-results+json"  # for SELECT and ASK
    graph_format: str = "text/turtle"  # for CONSTRUCT and DESCRIBE
    prefixes: dict[str, str] = field(default_factory=dict)
    #: serialize at most this many solutions/triples (None: all); see ``sovkg.limits``
    max_rows: int | None = None


@dataclass(frozen=True)
class UpdateJob:
    """An update to apply atomically. ``using_graphs``/``using_named_graphs`` (the protocol's
    ``using-graph-uri``/``using-named-graph-uri``) become the dataset of every DELETE/INSERT
    ... WHERE operation; the update must then have no USING/WITH of its own (see
    ``sovkg.sparql.lexer.apply_using``)."""

    update: str
    base_iri: str | None = None
    using_graphs: tuple[str, ...] | None = None
    using_named_graphs: tuple[str, ...] | None = None


@dataclass(frozen=True)
class QueryOutput:
    """A serialized result: its bytes, media type, and which form of query produced it."""

    body: bytes
    media_type: str
    kind: ResultKind
    #: True when ``max_rows`` cut the result
    truncated: bool = False


def evaluate(store: Store, job: QueryJob) -> QuerySolutions | QueryBoolean | QueryTriples:
    """Evaluate a query with the job's dataset; raises SyntaxError on a malformed query."""
    kwargs: dict[str, object] = {"base_iri": job.base_iri, "prefixes": job.prefixes or None}
    if job.default_graphs is None:
        # pyoxigraph's union flag would silently override FROM / FROM NAMED
        if not declares_dataset(job.query):
            kwargs["use_default_graph_as_union"] = True
    else:
        kwargs["default_graph"] = [NamedNode(g) for g in job.default_graphs]
    if job.named_graphs is not None:
        kwargs["named_graphs"] = [NamedNode(g) for g in job.named_graphs]
    return store.query(job.query, **kwargs)


def execute_query(store: Store, job: QueryJob) -> QueryOutput:
    """Evaluate and serialize a query in the job's formats."""
    result = evaluate(store, job)
    if job.max_rows is not None and not isinstance(result, QueryBoolean):
        from sovkg.limits import limited_result

        return limited_result(result, job, job.max_rows)
    if isinstance(result, QueryTriples):
        fmt = RdfFormat.from_media_type(job.graph_format)
        return QueryOutput(result.serialize(format=fmt) or b"", job.graph_format, "graph")
    rfmt = QueryResultsFormat.from_media_type(job.result_format)
    kind: ResultKind = "boolean" if isinstance(result, QueryBoolean) else "solutions"
    return QueryOutput(result.serialize(format=rfmt) or b"", job.result_format, kind)


_POSITION = re.compile(r"error at (\d+):(\d+)")


def execute_update(store: Store, job: UpdateJob) -> None:
    """Apply an update (pyoxigraph applies each update request atomically).

    ``Store.update`` takes no dataset, so the ``using_*`` graphs are written into the text as
    USING clauses (and CLEAR of a graph never seen succeeds, see ``rewrite_update``); a syntax
    error still reports the line and column of the text as sent.
    """
    using = None
    if job.using_graphs is not None or job.using_named_graphs is not None:
        using = (job.using_graphs or (), job.using_named_graphs or ())
    rewrite = rewrite_update(job.update, using)
    try:
        store.update(rewrite.text, base_iri=job.base_iri)
    except SyntaxError as e:
        message = str(e.msg if e.msg else e)
        m = _POSITION.search(message)
        if m and rewrite.insertions:
            line, column = rewrite.original_position(int(m.group(1)), int(m.group(2)))
            message = message[: m.start()] + f"error at {line}:{column}" + message[m.end() :]
        raise SyntaxError(message) from None


@dataclass(frozen=True)
class QueryStream:
    """A query whose serialization is still running: what it is, and its bytes as they come."""

    media_type: str
    kind: ResultKind
    chunks: AsyncIterator[bytes]
    #: stops the serialization when the chunks will not be read to the end
    cancel: Callable[[], None] = lambda: None


def _describe(result: object, job: QueryJob) -> tuple[str, ResultKind]:
    if isinstance(result, QueryTriples):
        return job.graph_format, "graph"
    kind: ResultKind = "boolean" if isinstance(result, QueryBoolean) else "solutions"
    return job.result_format, kind


def _serialize(result: object, job: QueryJob, out: object) -> None:
    if job.max_rows is not None and not isinstance(result, QueryBoolean):
        from sovkg.limits import limited_result

        out.write(limited_result(result, job, job.max_rows).body)  # type: ignore[attr-defined]
        return
    if isinstance(result, QueryTriples):
        result.serialize(out, format=RdfFormat.from_media_type(job.graph_format))
    else:
        assert isinstance(result, QuerySolutions | QueryBoolean)
        result.serialize(out, format=QueryResultsFormat.from_media_type(job.result_format))


async def _single(body: bytes) -> AsyncIterator[bytes]:
    yield body


class _Cancelled(Exception):
    """The client went away: stop serializing."""


class _QueueWriter:
    """A file-like object for pyoxigraph's serializers that hands chunks to the event loop,
    waiting while the client is slower than the query (backpressure)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue) -> None:
        self.loop, self.queue = loop, queue
        self.cancelled = threading.Event()

    def write(self, data: bytes) -> int:
        if self.cancelled.is_set():
            raise _Cancelled
        asyncio.run_coroutine_threadsafe(self.queue.put(bytes(data)), self.loop).result()
        return len(data)

    def flush(self) -> None:
        """Nothing is buffered here."""


class Runner(Protocol):
    """Where operations run."""

    async def query(self, job: QueryJob) -> QueryOutput: ...

    async def update(self, job: UpdateJob) -> None: ...

    def close(self) -> None: ...


class StreamingRunner(Runner, Protocol):
    """A runner that can also stream a result while it is being serialized (optional: the
    Engine falls back to ``query`` for runners without it)."""

    async def query_stream(self, job: QueryJob) -> QueryStream: ...


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
        queue: asyncio.Queue = asyncio.Queue(maxsize=16)
        writer = _QueueWriter(loop, queue)
        head: asyncio.Future = loop.create_future()
        end = object()

        def settle(value: object, error: BaseException | None) -> None:
            if not head.done():
                head.set_exception(error) if error else head.set_result(value)

        def work() -> None:
            try:
                result = evaluate(self.store, job)
            except BaseException as e:
                loop.call_soon_threadsafe(settle, None, e)
                return
            loop.call_soon_threadsafe(settle, _describe(result, job), None)
            failure: BaseException | None = None
            try:
                _serialize(result, job, writer)
            except _Cancelled:
                return
            except BaseException as e:
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
                    yield item
            finally:
                cancel()  # unblocks a writer waiting for room

        return QueryStream(media_type, kind, chunks(), cancel)

    def close(self) -> None:
        """Stop the pool (waits for running operations)."""
        self._pool.shutdown(wait=True)


class Engine:
    """The store and the runner that operations go to; what the HTTP layer talks to."""

    def __init__(self, store: Store, runner: Runner | None = None) -> None:
        self.store = store
        self.runner: Runner = runner if runner is not None else ThreadRunner(store)
        #: bumped after every update request, so caches of derived answers know to go
        self.generation = 0

    async def query(self, job: QueryJob) -> QueryOutput:
        """Run a query (raises SyntaxError for a malformed one)."""
        return await self.runner.query(job)

    async def query_stream(self, job: QueryJob) -> QueryStream:
        """Run a query and stream its serialization when the runner can, else send it whole
        (raises SyntaxError for a malformed query, before anything is sent)."""
        stream = getattr(self.runner, "query_stream", None)
        if stream is not None:
            return await stream(job)
        out = await self.runner.query(job)
        return QueryStream(out.media_type, out.kind, _single(out.body))

    async def update(self, job: UpdateJob) -> None:
        """Apply an update; the generation moves on whether or not it succeeded (a failed one
        changed nothing, and a needless cache refill is cheap)."""
        try:
            await self.runner.update(job)
        finally:
            self.generation += 1

    async def select_json(self, sparql: str, base_iri: str | None = None) -> bytes:
        """SPARQL JSON results of a SELECT/ASK over the union of all graphs."""
        return (await self.query(QueryJob(sparql, base_iri=base_iri))).body

    def close(self) -> None:
        """Release the runner."""
        self.runner.close()
