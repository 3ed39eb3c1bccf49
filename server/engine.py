"""Runs SPARQL queries off the event loop.

pyoxigraph releases the GIL while it evaluates and serializes, so a thread pool gives real
parallelism for reads.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from pyoxigraph import QueryBoolean, QueryResultsFormat, QuerySolutions, Store


@dataclass(frozen=True)
class QueryOutput:
    """A serialized query result: the bytes and whether it was a graph (CONSTRUCT/DESCRIBE)."""

    body: bytes
    is_graph: bool


class Engine:
    """Owns the store and the pool that queries run in."""

    def __init__(self, store: Store, max_workers: int = 4) -> None:
        self.store = store
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="sparql")

    def query_sync(self, sparql: str, base_iri: str | None = None) -> QuerySolutions | QueryBoolean:
        """Evaluate a query against the union of all graphs (raises SyntaxError)."""
        return self.store.query(sparql, base_iri=base_iri, use_default_graph_as_union=True)

    async def select_json(self, sparql: str, base_iri: str | None = None) -> bytes:
        """Run a query in the pool; SPARQL JSON results for SELECT/ASK."""

        def run() -> bytes:
            result = self.query_sync(sparql, base_iri)
            return result.serialize(format=QueryResultsFormat.JSON)

        return await asyncio.get_running_loop().run_in_executor(self._pool, run)

    def close(self) -> None:
        """Stop the pool (waits for running queries)."""
        self._pool.shutdown(wait=True)
