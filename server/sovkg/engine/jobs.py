"""What the engine runs and what it gives back: plain, picklable descriptions of operations
(``QueryJob``/``UpdateJob``), their results (``QueryOutput``, ``QueryStream``), and the
``Runner`` protocol that says where operations run."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from sovkg.namespaces import PREFIXES

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
    #: serialize at most this many solutions/triples (None: all); see ``sovkg.engine.serialize``
    max_rows: int | None = None

    def wire(self) -> JobWire:
        """The job as a tuple of plain values, the way it travels to a worker process: a
        pickle of it names no class to look up (about a third of a cheap query's cost in the
        worker went to pickling the dataclass and back). The package's own prefix table (what
        the SPARQL routes give) travels as a name, not as its twenty entries."""
        package = self.prefixes is PREFIXES or self.prefixes == PREFIXES
        prefixes = _PACKAGE_PREFIXES if package else self.prefixes
        return (
            self.query,
            self.base_iri,
            self.default_graphs,
            self.named_graphs,
            self.result_format,
            self.graph_format,
            prefixes,
            self.max_rows,
        )

    @classmethod
    def from_wire(cls, fields: JobWire) -> QueryJob:
        """The job :meth:`wire` gave."""
        query, base_iri, default_graphs, named_graphs, result_format, graph_format = fields[:6]
        prefixes, max_rows = fields[6], fields[7]
        table = PREFIXES if prefixes == _PACKAGE_PREFIXES else prefixes
        if not isinstance(table, dict):
            raise TypeError(f"not a prefix table: {table!r}")
        return cls(
            query,
            base_iri,
            default_graphs,
            named_graphs,
            result_format,
            graph_format,
            table,
            max_rows,
        )


#: a QueryJob as the tuple of plain values that crosses to a worker process
JobWire = tuple[
    str,
    str | None,
    tuple[str, ...] | None,
    tuple[str, ...] | None,
    str,
    str,
    dict[str, str] | str,
    int | None,
]
#: a QueryOutput as it crosses back
OutputWire = tuple[bytes, str, ResultKind, bool, str | None]

#: how a QueryJob on the wire names ``sovkg.namespaces.PREFIXES``
_PACKAGE_PREFIXES = "sovkg.namespaces.PREFIXES"


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
    #: a digest of ``body`` (see ``sovkg.engine.serialize.digest``), when the runner made one:
    #: worker processes do, so that the server's one event loop need not hash every result
    digest: str | None = None

    def wire(self) -> OutputWire:
        """The output as a tuple of plain values, the way it travels back from a worker."""
        return (self.body, self.media_type, self.kind, self.truncated, self.digest)

    @classmethod
    def from_wire(cls, fields: OutputWire) -> QueryOutput:
        """The output :meth:`wire` gave."""
        body, media_type, kind, truncated, digest = fields
        if not isinstance(body, bytes) or not isinstance(media_type, str):
            raise TypeError("not a query output")
        return cls(body, media_type, kind, bool(truncated), digest)


async def single(body: bytes) -> AsyncIterator[bytes]:
    """One chunk, as a stream."""
    yield body


def _nothing() -> None:
    """Nothing to stop."""


@dataclass(frozen=True)
class QueryStream:
    """A query whose serialization is still running: what it is, and its bytes as they come."""

    media_type: str
    kind: ResultKind
    chunks: AsyncIterator[bytes]
    #: stops the serialization when the chunks will not be read to the end
    cancel: Callable[[], None] = _nothing
    #: the row limit that cut the result, when that is known before the first byte is sent
    #: (a whole result; a result still being serialized cannot say)
    cut_at: int | None = None

    @classmethod
    def whole(cls, out: QueryOutput, max_rows: int | None = None) -> QueryStream:
        """A result serialized in full, as one chunk (``max_rows``: the limit it ran under)."""
        cut_at = max_rows if out.truncated else None
        return cls(out.media_type, out.kind, single(out.body), cut_at=cut_at)


class Runner(Protocol):
    """Where operations run."""

    async def query(self, job: QueryJob) -> QueryOutput: ...

    async def update(self, job: UpdateJob) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class StreamingRunner(Runner, Protocol):
    """A runner that can also stream a result while it is being serialized (optional: the
    Engine falls back to ``query`` for runners without it)."""

    async def query_stream(self, job: QueryJob) -> QueryStream: ...
