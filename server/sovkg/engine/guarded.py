"""``GuardedRunner``: a runner in front of another, which refuses operations structured too
deeply for the engine (``sovkg.sparql.lexer.check_depth``) and outbound operations the
operator did not allow (``sovkg.sparql.guard``), applies the result row limit, and gives
pyoxigraph's evaluation errors the meaning they have for the client."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace

from sovkg.engine.jobs import QueryJob, QueryOutput, QueryStream, Runner, StreamingRunner, UpdateJob
from sovkg.errors import OperationFailed, ProtocolError, UpstreamFailed
from sovkg.sparql.guard import check, may_call_out
from sovkg.sparql.lexer import MAX_DEPTH, check_depth, update_sent_as_query


def translate_error(e: Exception) -> Exception:
    """pyoxigraph's evaluation errors as what they mean for the client; others unchanged."""
    if isinstance(e, RuntimeError):
        return OperationFailed(f"the operation failed: {e}")
    if isinstance(e, OSError) and not isinstance(e, TimeoutError):
        return UpstreamFailed(f"a remote endpoint failed: {e}")
    return e


def check_query(job: QueryJob, allow: tuple[str, ...] = ()) -> None:
    """Raise OutboundRefused if the query has a SERVICE call that is not allowed (and a plain
    400 for an update such as LOAD sent as a query, which is no call at all)."""
    wrong_place = update_sent_as_query(job.query)
    if wrong_place is not None:
        raise ProtocolError(400, wrong_place)
    check(job.query, update=False, allow=allow, prefixes=job.prefixes)


def check_update(job: UpdateJob, allow: tuple[str, ...] = ()) -> None:
    """Raise OutboundRefused if the update has a LOAD (or a SERVICE) that is not allowed."""
    check(job.update, update=True, allow=allow)


async def _check_depth(text: str, what: str) -> None:
    """Refuse an operation too deep for the store behind us (local runners measure it where
    they parse, ``sovkg.engine.execute``). In a thread: measuring takes about 1 µs a byte."""
    if len(text) > MAX_DEPTH:
        await asyncio.to_thread(check_depth, text, what)


@dataclass
class GuardedRunner:
    """A runner in front of another: refuses operations too deep for the engine and outbound
    operations the operator did not allow, and applies the result row limit (a cut result
    says so in ``QueryOutput.truncated`` and, when sent whole, ``QueryStream.cut_at``)."""

    inner: Runner
    allow_service: tuple[str, ...] = ()
    max_rows: int | None = None
    #: measure the depth of operations here, before they are sent (a store over HTTP); local
    #: runners measure it in the process that parses, under its time and memory limits
    check_depth: bool = False

    async def _prepare(self, job: QueryJob) -> QueryJob:
        if self.check_depth:
            await _check_depth(job.query, "query")
        if may_call_out(job.query):  # parsing can take a while: not on the event loop
            await asyncio.to_thread(check_query, job, self.allow_service)
        if self.max_rows is not None and job.max_rows is None:
            job = replace(job, max_rows=self.max_rows)
        return job

    async def _run(self, job: QueryJob) -> QueryOutput:
        try:
            return await self.inner.query(job)
        except (RuntimeError, OSError) as e:
            raise translate_error(e) from None

    async def query(self, job: QueryJob) -> QueryOutput:
        """Check, then run the query on the inner runner."""
        return await self._run(await self._prepare(job))

    async def query_stream(self, job: QueryJob) -> QueryStream:
        """Stream when the inner runner can (no cut is reported then: the headers are gone
        before the last row), else run the query whole."""
        job = await self._prepare(job)
        if isinstance(self.inner, StreamingRunner):
            try:
                return await self.inner.query_stream(job)
            except (RuntimeError, OSError) as e:
                raise translate_error(e) from None
        return QueryStream.whole(await self._run(job), job.max_rows)

    async def update(self, job: UpdateJob) -> None:
        """Check, then apply the update on the inner runner."""
        if self.check_depth:
            await _check_depth(job.update, "update")
        if may_call_out(job.update):
            await asyncio.to_thread(check_update, job, self.allow_service)
        try:
            await self.inner.update(job)
        except (RuntimeError, OSError) as e:
            raise translate_error(e) from None

    def close(self) -> None:
        """Close the inner runner."""
        self.inner.close()
