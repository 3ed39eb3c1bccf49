"""Writing results in the job's syntax, and result row limits: at most N solutions or triples
of a query, saying whether it cut.

pyoxigraph serializes a whole ``QuerySolutions``; to stop after N rows we take them from the
lazy iterator (which also stops the evaluation there) and serialize them ourselves as SPARQL
JSON, the one results syntax pyoxigraph can read back into any other (``parse_query_results``).
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterable
from dataclasses import replace
from functools import lru_cache
from itertools import islice
from typing import IO, Any, cast

from pyoxigraph import (
    BlankNode,
    Literal,
    NamedNode,
    QueryBoolean,
    QueryResultsFormat,
    QuerySolutions,
    QueryTriples,
    RdfFormat,
    Triple,
    parse_query_results,
    serialize,
)

from sovkg.engine.jobs import QueryJob, QueryOutput, ResultKind

#: a query's result as pyoxigraph gives it (a graph from a backend comes as a list of triples)
Result = QuerySolutions | QueryBoolean | QueryTriples | list[Triple]

_XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
_RDF_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
_RDF_DIR_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#dirLangString"


def term_json(term: object) -> dict[str, Any]:
    """A term in the SPARQL 1.1 (and 1.2, for triple terms) JSON results syntax."""
    if isinstance(term, NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, BlankNode):
        return {"type": "bnode", "value": term.value}
    if isinstance(term, Literal):
        out: dict[str, Any] = {"type": "literal", "value": term.value}
        if term.language:
            out["xml:lang"] = term.language
            if term.direction is not None:
                out["its:dir"] = str(term.direction.value)
        elif term.datatype.value not in (_XSD_STRING, _RDF_LANG_STRING, _RDF_DIR_LANG_STRING):
            out["datatype"] = term.datatype.value
        return out
    if isinstance(term, Triple):
        return {
            "type": "triple",
            "value": {
                "subject": term_json(term.subject),
                "predicate": term_json(term.predicate),
                "object": term_json(term.object),
            },
        }
    raise TypeError(f"not an RDF term: {term!r}")


def describe(result: Result, job: QueryJob) -> tuple[str, ResultKind]:
    """The media type and kind a result is written as."""
    if isinstance(result, QueryBoolean):
        return job.result_format, "boolean"
    if isinstance(result, QuerySolutions):
        return job.result_format, "solutions"
    return job.graph_format, "graph"


def limited_solutions(
    result: QuerySolutions, job: QueryJob, max_rows: int, order: list[str] | None = None
) -> QueryOutput:
    """At most ``max_rows`` solutions in the job's result format; ``truncated`` if more existed.
    ``order``: the columns in this order (the same names as the result's)."""
    names = [v.value for v in result.variables]
    rows = list(islice(result, max_rows + 1))
    truncated = len(rows) > max_rows
    bindings = [
        {
            name: term_json(value)
            for name, value in zip(names, row, strict=True)
            if value is not None
        }
        for row in rows[:max_rows]
    ]
    body = json.dumps(
        {"head": {"vars": order or names}, "results": {"bindings": bindings}},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode("utf-8")
    fmt = QueryResultsFormat.from_media_type(job.result_format)
    if fmt != QueryResultsFormat.JSON:
        parsed = parse_query_results(body, format=QueryResultsFormat.JSON)
        body = parsed.serialize(format=fmt) or b""
    return QueryOutput(body, job.result_format, "solutions", truncated)


def limited_triples(result: Iterable[Triple], job: QueryJob, max_rows: int) -> QueryOutput:
    """At most ``max_rows`` triples of a CONSTRUCT/DESCRIBE; ``truncated`` if more existed."""
    triples = list(islice(result, max_rows + 1))
    truncated = len(triples) > max_rows
    fmt = RdfFormat.from_media_type(job.graph_format)
    body = serialize(triples[:max_rows], format=fmt) or b""
    return QueryOutput(body, job.graph_format, "graph", truncated)


def limited_result(
    result: QuerySolutions | QueryTriples | list[Triple], job: QueryJob, max_rows: int
) -> QueryOutput:
    """Serialize a SELECT or CONSTRUCT/DESCRIBE result cut at ``max_rows``."""
    if isinstance(result, QuerySolutions):
        return limited_solutions(result, job, max_rows)
    return limited_triples(result, job, max_rows)


@lru_cache(maxsize=64)  # a handful of media types, looked up for every result
def _rdf_format_of(media_type: str) -> RdfFormat:
    fmt = RdfFormat.from_media_type(media_type)
    if fmt is None:
        raise ValueError(f"no RDF syntax has the media type {media_type!r}")
    return fmt


@lru_cache(maxsize=64)
def _results_format_of(media_type: str) -> QueryResultsFormat:
    fmt = QueryResultsFormat.from_media_type(media_type)
    if fmt is None:
        raise ValueError(f"no SPARQL results syntax has the media type {media_type!r}")
    return fmt


def _rdf_format(job: QueryJob) -> RdfFormat:
    return _rdf_format_of(job.graph_format)


def _results_format(job: QueryJob) -> QueryResultsFormat:
    return _results_format_of(job.result_format)


def digest(body: bytes) -> str:
    """A strong validator for ``body``: the first 128 bits of its SHA-256, in hex (what the
    response cache computes for an answer that brings no ETag)."""
    return hashlib.sha256(body).hexdigest()[:32]


def query_output(result: Result, job: QueryJob) -> QueryOutput:
    """The result in the job's format, cut at ``job.max_rows``."""
    if job.max_rows is not None and not isinstance(result, QueryBoolean):
        return limited_result(result, job, job.max_rows)
    return whole_output(result, job)


def whole_output(result: Result, job: QueryJob) -> QueryOutput:
    """The result in the job's format, all of it (the caller knows it is within the limit)."""
    media_type, kind = describe(result, job)
    if isinstance(result, QueryBoolean):
        return QueryOutput(result.serialize(format=_results_format(job)) or b"", media_type, kind)
    if isinstance(result, QuerySolutions):
        body = result.serialize(format=_results_format(job)) or b""
    elif isinstance(result, QueryTriples):
        body = result.serialize(format=_rdf_format(job)) or b""
    else:
        body = serialize(result, format=_rdf_format(job)) or b""
    return QueryOutput(body, media_type, kind)


class _Overflow(Exception):
    """The serialized result might hold more rows than the limit."""


#: how to count, in a serialized result, at least as many rows as it holds (never fewer): a
#: byte sequence that occurs once per row or more (inside a literal too: more is safe), plus a
#: constant. Rows and triples are written one per line in TSV, CSV and N-Triples/N-Quads
#: (terms escape their line breaks; CSV's quoted breaks only add to the count), one
#: ``<result>`` each in XML (text escapes ``<``), and with ``},{`` between two in JSON (an empty
#: binding is ``{}`` too). Other syntaxes have no such mark: there every row takes a byte.
_ROW_MARKS: dict[QueryResultsFormat | RdfFormat, tuple[bytes, int]] = {
    QueryResultsFormat.JSON: (b"},{", 1),
    QueryResultsFormat.XML: (b"<result>", 0),
    QueryResultsFormat.TSV: (b"\n", 0),
    QueryResultsFormat.CSV: (b"\n", 0),
    RdfFormat.N_TRIPLES: (b"\n", 0),
    RdfFormat.N_QUADS: (b"\n", 0),
}


class _Counting:
    """A file-like sink for pyoxigraph's serializers that counts rows by :data:`_ROW_MARKS`
    as the bytes come, and gives up once the count passes ``max_rows`` (or the bytes
    ``max_bytes``)."""

    def __init__(
        self, fmt: QueryResultsFormat | RdfFormat, max_rows: int, max_bytes: int | None = None
    ) -> None:
        self.mark, self.rows = _ROW_MARKS.get(fmt, (b"", 0))
        self.max_rows = max_rows
        self.bytes_left = sys.maxsize if max_bytes is None else max_bytes
        self.tail = b""  # the end of the last chunk: a mark may straddle two writes
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        chunk = bytes(data)
        self.bytes_left -= len(chunk)
        if self.bytes_left < 0:
            raise _Overflow
        if not self.mark:
            self.rows += len(chunk)
        else:
            joined = self.tail + chunk
            # the tail is shorter than the mark, so no mark is counted twice
            self.rows += joined.count(self.mark)
            self.tail = joined[len(joined) - len(self.mark) + 1 :] if len(self.mark) > 1 else b""
        if self.rows > self.max_rows:
            raise _Overflow
        self.parts.append(chunk)
        return len(chunk)

    def flush(self) -> None:
        """Nothing is buffered here."""


def within_budget(
    result: QuerySolutions | QueryTriples | QueryBoolean, job: QueryJob, rows: int, size: int
) -> QueryOutput | None:
    """The result serialized by pyoxigraph, when it has at most ``rows`` rows (by the marks
    of its syntax; in a syntax without them every byte may be a row) and ``size`` bytes, and
    no more rows than ``job.max_rows``; None as soon as it might have more (the rows read until
    then are what was spent: at most one chunk of pyoxigraph's writer past the budget)."""
    if isinstance(result, QueryBoolean):
        body = whole_output(result, job).body
        return QueryOutput(body, job.result_format, "boolean", digest=digest(body))
    fmt = _format_of(result, job)
    most = rows if fmt in _ROW_MARKS else size
    if job.max_rows is not None:
        most = min(most, job.max_rows)
    out = _counted(result, job, fmt, _Counting(fmt, most, size))
    return None if out is None else replace(out, digest=digest(out.body))


def _format_of(
    result: QuerySolutions | QueryTriples, job: QueryJob
) -> QueryResultsFormat | RdfFormat:
    """The syntax the job asks for this kind of result."""
    return _results_format(job) if isinstance(result, QuerySolutions) else _rdf_format(job)


def _counted(
    result: QuerySolutions | QueryTriples,
    job: QueryJob,
    fmt: QueryResultsFormat | RdfFormat,
    sink: _Counting,
) -> QueryOutput | None:
    """The result serialized by pyoxigraph into ``sink``; None when the sink gave up."""
    try:
        result.serialize(cast(IO[bytes], sink), format=fmt)  # type: ignore[arg-type]
    except _Overflow:
        return None
    media_type, kind = describe(result, job)
    return QueryOutput(b"".join(sink.parts), media_type, kind)


def within_row_limit(result: Result, job: QueryJob, max_rows: int) -> QueryOutput | None:
    """The result serialized by pyoxigraph itself, when counting its rows as they are written
    proves it has at most ``max_rows``; None when it might have more (then the caller counts
    them with :func:`limited_result`).

    This skips the row-by-row re-serialization in Python for every result within the limit
    (nearly all of them): in TSV, CSV, XML, JSON and N-Triples/N-Quads whatever their size, in
    the other syntaxes while their bytes are no more than ``max_rows``.
    """
    if not isinstance(result, QuerySolutions | QueryTriples):
        return None
    fmt = _format_of(result, job)
    return _counted(result, job, fmt, _Counting(fmt, max_rows))


def write_result(
    result: QuerySolutions | QueryBoolean | QueryTriples, job: QueryJob, out: IO[bytes]
) -> None:
    """Write the result in the job's format to ``out`` as the serializer produces it (cut at
    ``job.max_rows``, which needs the rows first)."""
    if job.max_rows is not None and not isinstance(result, QueryBoolean):
        out.write(limited_result(result, job, job.max_rows).body)
    elif isinstance(result, QueryTriples):
        result.serialize(out, format=_rdf_format(job))
    else:
        result.serialize(out, format=_results_format(job))
