"""SPARQL 1.1 Graph Store HTTP Protocol (https://www.w3.org/TR/sparql11-http-rdf-update/)
request rules, as plain functions: which graph a request names, what its method means, and the
SPARQL update a write becomes.

- **Identification.** Indirect: ``/store?graph=IRI`` or ``/store?default``. Direct:
  ``/store/<path>`` names the graph whose IRI is that URL. ``/store`` with neither is the whole
  graph store (GET: every graph, in a quad syntax; POST: a new graph).
- **``?default`` is the store's own default graph**, not the union of all graphs that SPARQL
  queries see as their default graph (the shipped data is all in named graphs, so it starts
  empty).
- **A graph exists when it holds a triple**: a PUT of an empty body leaves no graph behind.
- **Writes** become one SPARQL update each (``DROP`` + ``INSERT DATA``), so they take the path
  every update takes: the engine's one writer, atomic, durable with ``--store``, time- and
  memory-bounded in a worker first, and followed by the refresh of caches, dumps and VoID.
- **The body** is read behind the RDF input guard (:mod:`sovkg.rdfinput`: entity expansion,
  nesting, prefixes, term sizes), and the triples it expands to may take at most
  ``entity_factor`` times its size (prefixed names and object lists can multiply a small body).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl

from pyoxigraph import (
    DefaultGraph,
    NamedNode,
    RdfFormat,
    Triple,
    parse,
    serialize,
)

from sovkg.errors import ProtocolError
from sovkg.formats import RDF_MEDIA_TYPES, rdf_syntax
from sovkg.rdfinput import DEFAULT_LIMITS, InputLimits, InputRefused, check_bytes, check_quads
from sovkg.sparql.protocol import parse_media_type

#: where the graph store is served
STORE_PATH = "/store"

#: the methods the graph store answers
ALLOWED = "GET, HEAD, PUT, POST, DELETE, OPTIONS"
READS = frozenset({"GET", "HEAD"})
WRITES = frozenset({"PUT", "POST", "DELETE"})

TargetKind = Literal["default", "named", "store"]


@dataclass(frozen=True)
class Target:
    """The graph a request names: the default graph, a named graph (``iri``), or the whole
    store (neither parameter nor path)."""

    kind: TargetKind
    iri: str | None = None
    direct: bool = False

    @property
    def label(self) -> str:
        """The graph as a message names it."""
        if self.kind == "named":
            return f"<{self.iri}>"
        return "the default graph" if self.kind == "default" else "the graph store"


def identify(store_url: str, subpath: str, query_string: str) -> Target:
    """The graph named by a request to ``store_url`` + ``subpath`` (as sent, percent-encoding
    kept) with ``query_string``; ProtocolError 400 when it names none or two."""
    try:
        pairs = parse_qsl(query_string, keep_blank_values=True, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise ProtocolError(400, "the query string is not percent-encoded UTF-8") from None
    graphs = [v for k, v in pairs if k == "graph"]
    default = any(k == "default" for k, _ in pairs)
    if subpath not in ("", "/"):
        if graphs or default:
            raise ProtocolError(
                400,
                "a request to a graph's own URL (direct identification) takes neither "
                "'graph' nor 'default'",
            )
        return Target("named", _iri(store_url + subpath, "the request URL"), direct=True)
    if default and graphs:
        raise ProtocolError(400, "name either '?default' or '?graph=IRI', not both")
    if default:
        return Target("default")
    if len(graphs) > 1:
        raise ProtocolError(400, f"exactly one 'graph' parameter is allowed, got {len(graphs)}")
    if graphs:
        if not graphs[0].strip():
            raise ProtocolError(400, "the 'graph' parameter is empty")
        return Target("named", _iri(graphs[0], f"graph={graphs[0]!r}"))
    return Target("store")


def _iri(value: str, what: str) -> str:
    try:
        NamedNode(value)
    except ValueError:
        raise ProtocolError(400, f"{what} is not an absolute IRI") from None
    return value


def check_method(method: str, target: Target) -> None:
    """405 for a method the store does not answer; 400 for PUT or DELETE without a graph."""
    if method not in READS | WRITES | {"OPTIONS"}:
        raise ProtocolError(
            405, f"{method} is not allowed on the graph store; use {ALLOWED}", {"Allow": ALLOWED}
        )
    if target.kind == "store" and method in ("PUT", "DELETE"):
        raise ProtocolError(
            400,
            f"{method} needs a graph: add '?graph=IRI' or '?default' (or use the graph's own "
            f"URL under {STORE_PATH}/)",
        )


def graph_term(target: Target) -> NamedNode | DefaultGraph:
    """The store's name for the target graph."""
    if target.kind == "named":
        assert target.iri is not None
        return NamedNode(target.iri)
    return DefaultGraph()


def new_graph_iri(store_url: str) -> str:
    """A fresh graph IRI under the store's URL, for a POST to the store itself."""
    return f"{store_url}/{uuid.uuid4().hex}"


# --- the body -------------------------------------------------------------------------------


def input_format(content_type: str | None) -> RdfFormat:
    """The RDF syntax a Content-Type names; 415 when none or unknown."""
    media, _ = parse_media_type(content_type)
    if not media:
        raise ProtocolError(415, f"a write needs a Content-Type: one of {_accepted()}")
    fmt = RDF_MEDIA_TYPES.get(media)
    if fmt is None:
        raise ProtocolError(415, f"unsupported Content-Type {media!r}; use one of {_accepted()}")
    return fmt


def _accepted() -> str:
    return ", ".join(dict.fromkeys(RDF_MEDIA_TYPES))


def expansion_budget(body_size: int, limits: InputLimits = DEFAULT_LIMITS) -> int:
    """How many characters of terms a body of ``body_size`` bytes may expand to."""
    return max(limits.entity_factor * body_size, limits.entity_floor)


def read_graph(
    body: bytes,
    fmt: RdfFormat,
    base_iri: str | None,
    limits: InputLimits = DEFAULT_LIMITS,
    budget: int | None = None,
) -> list[Triple]:
    """The triples of a posted graph, behind the input guard; ProtocolError 400 naming the
    cause (a syntax error with its position, a guard limit, a named graph in a quad syntax,
    or more expansion than ``budget`` characters of terms)."""
    syntax = rdf_syntax(fmt).label
    try:
        check_bytes(body, fmt, limits)
    except InputRefused as e:
        raise ProtocolError(400, f"refused the {syntax} body: {e}") from None
    most = budget if budget is not None else expansion_budget(len(body), limits)
    out: list[Triple] = []
    size = 0
    try:
        for q in parse(body, format=fmt, base_iri=base_iri):
            if not isinstance(q.graph_name, DefaultGraph):
                raise ProtocolError(
                    400,
                    f"the {syntax} body puts triples in the graph {q.graph_name}; the graph "
                    "store takes one graph per request (send its triples, the request names "
                    "the graph)",
                )
            check_quads([q], limits)
            size += len(str(q.subject)) + len(str(q.predicate)) + len(str(q.object))
            if size > most:
                raise ProtocolError(
                    400,
                    f"refused the {syntax} body: its triples would take more than {most} "
                    f"characters ({limits.entity_factor} times its {len(body)} bytes, at least "
                    f"{limits.entity_floor})",
                )
            out.append(Triple(q.subject, q.predicate, q.object))
    except SyntaxError as e:
        raise ProtocolError(400, f"the body is not valid {syntax}: {e.msg or e}") from None
    except InputRefused as e:
        raise ProtocolError(400, f"refused the {syntax} body: {e}") from None
    return out


# --- writes as SPARQL updates ---------------------------------------------------------------


def _data(triples: Iterable[Triple]) -> str:
    return (serialize(list(triples), format=RdfFormat.N_TRIPLES) or b"").decode("utf-8")


def _graph_ref(target: Target) -> str:
    return f"GRAPH <{target.iri}>" if target.kind == "named" else "DEFAULT"


def _insert(target: Target, triples: list[Triple]) -> str:
    data = _data(triples)
    if target.kind == "named":
        return f"INSERT DATA {{ GRAPH <{target.iri}> {{\n{data}}} }}"
    return f"INSERT DATA {{\n{data}}}"


def write_update(method: str, target: Target, triples: list[Triple] | None = None) -> str:
    """The SPARQL update that does a write: PUT replaces the graph, POST adds to it (blank
    nodes of the body are new ones, as an RDF merge wants), DELETE removes it."""
    if target.kind == "store":
        raise ValueError("a write to the graph store itself needs a new graph IRI first")
    triples = triples or []
    if method == "DELETE":
        return f"DROP SILENT {_graph_ref(target)}"
    if method == "PUT":
        drop = f"DROP SILENT {_graph_ref(target)}"
        return drop if not triples else f"{drop} ;\n{_insert(target, triples)}"
    if method == "POST":
        return _insert(target, triples)
    raise ValueError(f"{method} is not a write")


def write_status(method: str, existed: bool, target: Target) -> int:
    """The status of a successful write: 201 when it created the graph, else 204 (a DELETE
    of a graph that does not exist is a 404, decided before the write)."""
    if method in ("PUT", "POST") and not existed and target.kind == "named":
        return 201
    return 204
