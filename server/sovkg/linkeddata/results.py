"""Typed access to pyoxigraph answers: SELECT results and the subjects of quads.

pyoxigraph types every query answer as solutions, boolean or triples, and every subject as an
IRI, a blank node or a triple term; the pages ask only SELECT queries of the shipped data, which
holds no triple terms, so these helpers narrow once and fail loudly if that ever changes.
"""

from __future__ import annotations

from collections.abc import Iterable

from pyoxigraph import BlankNode, NamedNode, Quad, QuerySolutions, Store

Resource = NamedNode | BlankNode


def select(store: Store, query: str) -> QuerySolutions:
    """The solutions of a SELECT over the union of all graphs."""
    answer = store.query(query, use_default_graph_as_union=True)
    if not isinstance(answer, QuerySolutions):
        raise TypeError(f"expected a SELECT query, got {type(answer).__name__}")
    return answer


def resources(terms: Iterable[object]) -> list[Resource]:
    """The IRIs and blank nodes among ``terms`` (triple terms and literals left out), in order."""
    return [t for t in terms if isinstance(t, NamedNode | BlankNode)]


def subjects(quads: Iterable[Quad]) -> list[Resource]:
    """The subjects of ``quads`` that are IRIs or blank nodes, without repeats, sorted."""
    return sorted({str(r): r for r in resources(q.subject for q in quads)}.values(), key=str)
