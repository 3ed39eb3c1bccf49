"""Runs SPARQL operations away from the event loop: the execution layer.

The seam: an *operation* (``QueryJob``/``UpdateJob``, in ``jobs``) is a plain, picklable
description of what to run, and ``execute_query``/``execute_update`` (in ``execute``) are pure
functions from a store and a job to serialized bytes (``serialize`` writes them, with the row
limit). A *runner* decides where they run:

- ``threads.ThreadRunner``: a thread pool of this process (pyoxigraph releases the GIL);
- ``pool.ProcessRunner``: worker processes (``worker``) that are killed at the time limit;
- ``remote.RemoteRunner``: another SPARQL store over HTTP (``sovkg serve --backend``);
- ``inline.InlineRunner``: in front of a local pool, plain lookups answered on this process's
  own store within a small budget (``sovkg.sparql.lookup`` says which queries those are);
- ``guarded.GuardedRunner``: in front of any of them, the SERVICE/LOAD guard and the row limit.

``build`` assembles the runner a server's settings ask for; :class:`Engine` is what the HTTP
layer talks to. This module imports only what a worker process needs as well (the worker runs
as ``sovkg.engine.worker``, so this package is imported first).
"""

from __future__ import annotations

from pyoxigraph import Store

from sovkg.engine.execute import evaluate, execute_query, execute_update
from sovkg.engine.jobs import (
    QueryJob,
    QueryOutput,
    QueryStream,
    ResultKind,
    Runner,
    StreamingRunner,
    UpdateJob,
)
from sovkg.engine.threads import ThreadRunner

__all__ = [
    "Engine",
    "QueryJob",
    "QueryOutput",
    "QueryStream",
    "ResultKind",
    "Runner",
    "StreamingRunner",
    "ThreadRunner",
    "UpdateJob",
    "evaluate",
    "execute_query",
    "execute_update",
]


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
        if isinstance(self.runner, StreamingRunner):
            return await self.runner.query_stream(job)
        return QueryStream.whole(await self.runner.query(job), job.max_rows)

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
