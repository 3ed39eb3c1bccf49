"""The RDF of one resource: its concise bounded description plus the labels of what it links to.

The concise bounded description (CBD) is every triple with the resource as subject, followed
recursively through blank-node objects, so the description is self-contained. Adding the labels
(skos:prefLabel, rdfs:label) of every IRI it mentions lets a client show the links without
fetching each of them. The links *to* the resource come too (the triples whose object it is,
as DBpedia and Pubby pages give them), at most :data:`MAX_INCOMING`, ordered by property and
subject, so a crawler can walk from a team to its memberships.
"""

from __future__ import annotations

from collections.abc import Iterable

from pyoxigraph import BlankNode, NamedNode, RdfFormat, Store, Triple, serialize

from sovkg.linkeddata.terms import LABEL_PROPERTIES
from sovkg.namespaces import prefixes_for

#: the most triples naming the resource as object that a description carries
MAX_INCOMING = 500

#: the syntaxes a description is offered in, by their ``?format=`` name
DESCRIPTION_FORMATS: dict[str, RdfFormat] = {
    "ttl": RdfFormat.TURTLE,
    "jsonld": RdfFormat.JSON_LD,
    "nt": RdfFormat.N_TRIPLES,
    "rdf": RdfFormat.RDF_XML,
}


def triples_about(store: Store, subject: NamedNode | BlankNode) -> list[Triple]:
    """The distinct triples with ``subject`` as subject, across all graphs."""
    seen: dict[tuple[str, str], Triple] = {}
    for q in store.quads_for_pattern(subject, None, None):
        seen.setdefault((str(q.predicate), str(q.object)), Triple(q.subject, q.predicate, q.object))
    return list(seen.values())


def is_part_of(node: object, document: NamedNode) -> bool:
    """Whether ``node`` is a hash IRI of ``document`` (``…/p01#selector`` of ``…/p01``): a
    client dereferences it by fetching the document, so the document describes it too."""
    return isinstance(node, NamedNode) and node.value.startswith(document.value + "#")


def concise_bounded_description(store: Store, node: NamedNode) -> list[Triple]:
    """The CBD of ``node``: its triples and, recursively, those of its blank-node objects and
    of the hash IRIs of the same document it links to."""
    out: list[Triple] = []
    todo: list[NamedNode | BlankNode] = [node]
    done: set[str] = set()
    while todo:
        s = todo.pop()
        if str(s) in done:
            continue
        done.add(str(s))
        for t in triples_about(store, s):
            out.append(t)
            obj = t.object
            if isinstance(obj, BlankNode) or (isinstance(obj, NamedNode) and is_part_of(obj, node)):
                todo.append(obj)
    return out


def is_known(store: Store, node: NamedNode) -> bool:
    """Whether the graph says anything about ``node`` (as subject or object)."""
    return any(True for _ in store.quads_for_pattern(node, None, None)) or any(
        True for _ in store.quads_for_pattern(None, None, node)
    )


def label_triples(store: Store, nodes: Iterable[NamedNode]) -> list[Triple]:
    """The label triples of ``nodes`` (skos:prefLabel and rdfs:label)."""
    seen: set[tuple[str, str, str]] = set()
    out = []
    for n in nodes:
        for p in LABEL_PROPERTIES:
            for q in store.quads_for_pattern(n, p, None):
                key = (str(q.subject), str(q.predicate), str(q.object))
                if key not in seen:
                    seen.add(key)
                    out.append(Triple(q.subject, q.predicate, q.object))
    return out


def incoming(store: Store, node: NamedNode, limit: int = MAX_INCOMING) -> list[Triple]:
    """The distinct triples with ``node`` as object, across all graphs, ordered by property
    then subject, at most ``limit`` of them."""
    seen: dict[tuple[str, str], Triple] = {}
    for q in store.quads_for_pattern(None, None, node):
        seen.setdefault((str(q.predicate), str(q.subject)), Triple(q.subject, q.predicate, node))
    return [seen[k] for k in sorted(seen)[:limit]]


def describe(store: Store, node: NamedNode) -> list[Triple]:
    """CBD of ``node``, the triples that link to it (bounded, see :func:`incoming`), plus the
    labels of every IRI they mention (subjects, objects, types, properties)."""
    cbd = concise_bounded_description(store, node)
    have_cbd = {(str(t.subject), str(t.predicate), str(t.object)) for t in cbd}
    cbd += [
        t
        for t in incoming(store, node)
        if (str(t.subject), str(t.predicate), str(t.object)) not in have_cbd
    ]
    linked: dict[str, NamedNode] = {}
    for t in cbd:
        for term in (t.subject, t.predicate, t.object):
            if isinstance(term, NamedNode) and term != node:
                linked.setdefault(term.value, term)
    have = {(str(t.subject), str(t.predicate), str(t.object)) for t in cbd}
    extra = [
        t
        for t in label_triples(store, linked.values())
        if (str(t.subject), str(t.predicate), str(t.object)) not in have
    ]
    return cbd + extra


def serialize_triples(triples: list[Triple], fmt: RdfFormat) -> bytes:
    """Triples in ``fmt``, sorted for stable output, with the project's prefixes."""
    items = sorted(triples, key=lambda t: (str(t.subject), str(t.predicate), str(t.object)))
    iris = (
        term.value for t in items for term in (t.subject, t.object) if isinstance(term, NamedNode)
    )
    plain = fmt in (RdfFormat.N_TRIPLES, RdfFormat.N_QUADS)
    prefixes = prefixes_for(iris) if not plain else None
    return serialize(items, format=fmt, prefixes=prefixes) or b""
