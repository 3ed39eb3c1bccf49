"""Dumps of the whole dataset, byte-for-byte the same on every run.

Triple syntaxes (Turtle, N-Triples, RDF/XML) get the union of all graphs; dataset syntaxes
(N-Quads, TriG, JSON-LD) keep the named graphs. Statements are sorted and blank nodes get
their RDFC-1.0 canonical labels, so two exports of the same content are identical.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import IO

from pyoxigraph import (
    CanonicalizationAlgorithm,
    Dataset,
    DefaultGraph,
    NamedNode,
    Quad,
    RdfFormat,
    Store,
    Triple,
    serialize,
)

from sovkg.namespaces import prefixes_for

_PREFIXED = (RdfFormat.TURTLE, RdfFormat.TRIG, RdfFormat.RDF_XML, RdfFormat.JSON_LD)


def _sort_key(q: Quad) -> tuple[str, str, str, str]:
    graph = "" if isinstance(q.graph_name, DefaultGraph) else str(q.graph_name)
    return (graph, str(q.subject), str(q.predicate), str(q.object))


def canonical_quads(quads: Iterable[Quad], as_triples: bool) -> list[Quad]:
    """Quads with RDFC-1.0 blank node labels, deduplicated and sorted (graph, subject, …).

    With ``as_triples`` every quad is moved to the default graph first (the union view).
    """
    if as_triples:
        quads = (Quad(q.subject, q.predicate, q.object, DefaultGraph()) for q in quads)
    dataset = Dataset(quads)
    dataset.canonicalize(CanonicalizationAlgorithm.RDFC_1_0)
    return sorted(dataset, key=_sort_key)


def export_dataset(
    store: Store | Iterable[Quad], fmt: RdfFormat, output: IO[bytes] | None = None
) -> bytes | None:
    """Serialize the whole store (or the quads given) in ``fmt``; returns bytes when ``output``
    is None."""
    quads = canonical_quads(store, as_triples=not fmt.supports_datasets)
    return serialize_canonical(quads, fmt, output)


def serialize_canonical(
    quads: list[Quad], fmt: RdfFormat, output: IO[bytes] | None = None
) -> bytes | None:
    """Serialize quads that :func:`canonical_quads` gave (``as_triples`` exactly when ``fmt``
    keeps no named graphs) in ``fmt``: several syntaxes can share one canonicalisation."""
    items: list[Quad] | list[Triple]
    if fmt.supports_datasets:
        items = quads
    else:
        items = [Triple(q.subject, q.predicate, q.object) for q in quads]
    prefixes = None
    if fmt in _PREFIXED:
        prefixes = prefixes_for(
            t.value for q in quads for t in (q.subject, q.object) if isinstance(t, NamedNode)
        )
    return serialize(items, output, format=fmt, prefixes=prefixes)
