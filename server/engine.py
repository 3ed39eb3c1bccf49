"""Runs SPARQL operations away from the event loop.

The seam: an *operation* (``QueryJob``/``UpdateJob``) is a plain, picklable description of what
to run, and ``execute_query``/``execute_update`` are pure functions from a store and a job to
serialized bytes. A *runner* decides where they run: ``ThreadRunner`` in a thread pool in this
process (pyoxigraph releases the GIL, so threads run queries in parallel); a process-based runner
can run the same functions in worker processes that can be killed at a time limit.
"""

from __future__ import annotations

import asyncio
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

ResultKind = Literal["solutions", "boolean", "graph"]


@dataclass(frozen=True)
class QueryJob:
    """A query to run. ``default_graphs``/``named_graphs`` None mean the protocol defaults
    (the union of all graphs as default graph; every named graph available)."""

    query: str
    base_iri: str | None = None
    default_graphs: tuple[str, ...] | None = None
    named_graphs: tuple[str, ...] | None = None
    result_format: str = "application/sparql-results+json"  # for SELECT and ASK
    graph_format: str = "text/turtle"  # for CONSTRUCT and DESCRIBE
    prefixes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class UpdateJob:
    """An update to apply atomically."""

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


def evaluate(store: Store, job: QueryJob) -> QuerySolutions | QueryBoolean | QueryTriples:
    """Evaluate a query with the job's dataset; raises SyntaxError on a malformed query."""
    kwargs: dict[str, object] = {"base_iri": job.base_iri, "prefixes": job.prefixes or None}
    if job.default_graphs is None:
        kwargs["use_default_graph_as_union"] = True
    else:
        kwargs["default_graph"] = [NamedNode(g) for g in job.default_graphs]
    if job.named_graphs is not None:
        kwargs["named_graphs"] = [NamedNode(g) for g in job.named_graphs]
    return store.query(job.query, **kwargs)


def execute_query(store: Store, job: QueryJob) -> QueryOutput:
    """Evaluate and serialize a query in the job's formats."""
    result = evaluate(store, job)
    if isinstance(result, QueryTriples):
        fmt = RdfFormat.from_media_type(job.graph_format)
        return QueryOutput(result.serialize(format=fmt) or b"", job.graph_format, "graph")
    rfmt = QueryResultsFormat.from_media_type(job.result_format)
    kind: ResultKind = "boolean" if isinstance(result, QueryBoolean) else "solutions"
    return QueryOutput(result.serialize(format=rfmt) or b"", job.result_format, kind)


def execute_update(store: Store, job: UpdateJob) -> None:
    """Apply an update (pyoxigraph applies each update request atomically)."""
    store.update(job.update, base_iri=job.base_iri)


class Runner(Protocol):
    """Where operations run."""

    async def query(self, job: QueryJob) -> QueryOutput: ...

    async def update(self, job: UpdateJob) -> None: ...

    def close(self) -> None: ...


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

    def close(self) -> None:
        """Stop the pool (waits for running operations)."""
        self._pool.shutdown(wait=True)


class Engine:
    """The store and the runner that operations go to; what the HTTP layer talks to."""

    def __init__(self, store: Store, runner: Runner | None = None) -> None:
        self.store = store
        self.runner: Runner = runner if runner is not None else ThreadRunner(store)

    async def query(self, job: QueryJob) -> QueryOutput:
        """Run a query (raises SyntaxError for a malformed one)."""
        return await self.runner.query(job)

    async def update(self, job: UpdateJob) -> None:
        """Apply an update."""
        await self.runner.update(job)

    async def select_json(self, sparql: str, base_iri: str | None = None) -> bytes:
        """SPARQL JSON results of a SELECT/ASK over the union of all graphs."""
        return (await self.query(QueryJob(sparql, base_iri=base_iri))).body

    def close(self) -> None:
        """Release the runner."""
        self.runner.close()
