"""``InlineRunner``: plain lookups answered on this process's own store, without the trip to
a query worker; everything else goes on to the runner behind it.

A query worker exists because pyoxigraph cannot cancel a query: a query that runs away must be
ended with its process. A plain lookup (``sovkg.sparql.lookup``: one triple pattern, or a
DESCRIBE of IRIs) cannot run away. Oxigraph reads it off one index range, one row per step,
and nothing makes a step skip rows. So it runs here, on the event loop, with a budget: at most
:data:`ROWS` rows and :data:`BYTES` bytes of its serialized result (and no more rows than the
server's row limit). Past either, it is dropped and runs on a worker like any other query. The
most it can cost this process is the budget plus one chunk of pyoxigraph's writer (8 KiB):
0.2-0.4 ms of the event loop, 1.5 ms at worst, with the most compact rows there are
(``benchmarks/bounds/INLINE.md``). Its memory is that too. Any error
(a syntax error the worker would report the same way, a panic the parser raised) also sends
the query on, so the client always gets the worker's answer or the worker's error.

For a cheap query, the trip is most of the cost: a fresh point lookup took a query worker about
150 µs of CPU and the server's side of the trip about 40, against about 40 for the engine in
process (``benchmarks/CEILING.md``).
"""

from __future__ import annotations

import dataclasses

from pyoxigraph import Store

from sovkg.engine.execute import evaluate
from sovkg.engine.jobs import QueryJob, QueryOutput, QueryStream, Runner, StreamingRunner, UpdateJob
from sovkg.engine.serialize import within_budget
from sovkg.sparql.lookup import lookup_text

#: most rows of a result answered here (in a syntax that marks its rows)
ROWS = 500
#: most bytes of a result answered here (every DESCRIBE of the shipped graph has fewer)
BYTES = 8 * 1024


def answer_here(
    store: Store, job: QueryJob, rows: int = ROWS, size: int = BYTES
) -> QueryOutput | None:
    """The job's result when it is a plain lookup within the budget; None otherwise (then it
    is for a worker)."""
    if job.default_graphs is not None or job.named_graphs is not None:
        return None  # a dataset of the protocol's: not one index range
    text = lookup_text(job.query, max_offset=rows)
    if text is None:
        return None
    try:
        result = evaluate(store, job if text is job.query else dataclasses.replace(job, query=text))
        return within_budget(result, job, rows, size)
    except Exception:  # noqa: BLE001 - the worker gives the answer or the error
        return None
    except BaseException as e:  # pyo3's PanicException is one, and cannot be imported by name
        if type(e).__name__ == "PanicException":
            return None
        raise


class InlineRunner:
    """Plain lookups on ``store`` here, every other operation on ``inner``."""

    def __init__(self, inner: Runner, store: Store) -> None:
        self.inner = inner
        self.store = store
        #: how many queries were answered here (for tests and the curious)
        self.answered = 0

    async def query(self, job: QueryJob) -> QueryOutput:
        """Answer a plain lookup here, else run the query on the inner runner."""
        out = answer_here(self.store, job)
        if out is not None:
            self.answered += 1
            return out
        return await self.inner.query(job)

    async def query_stream(self, job: QueryJob) -> QueryStream:
        """As :meth:`query`, streaming from the inner runner when it can."""
        out = answer_here(self.store, job)
        if out is not None:
            self.answered += 1
            return QueryStream.whole(out, job.max_rows)
        if isinstance(self.inner, StreamingRunner):
            return await self.inner.query_stream(job)
        return QueryStream.whole(await self.inner.query(job), job.max_rows)

    async def update(self, job: UpdateJob) -> None:
        """Updates are the inner runner's."""
        await self.inner.update(job)

    def close(self) -> None:
        """Close the inner runner."""
        self.inner.close()
