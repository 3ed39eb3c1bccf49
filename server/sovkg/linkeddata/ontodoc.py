"""The model of the ontology documentation page and of the shapes page.

Terms are read from the store (ontology graphs are part of it); examples come from the data:
instances of a class, triples using a property, things that use a concept.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from pyoxigraph import Literal, NamedNode, Quad, Store

from sovkg.linkeddata.entity import PageBuilder, PropertyRow, Term
from sovkg.linkeddata.terms import (
    OWL_CLASS,
    OWL_PROPERTY_TYPES,
    RDF_PROPERTY,
    RDF_TYPE,
    RDFS_CLASS,
    RDFS_COMMENT,
    SH_NODE_SHAPE,
    SKOS_CONCEPT_SCHEME,
    SKOS_DEFINITION,
    SKOS_EXAMPLE,
    SKOS_IN_SCHEME,
    local_name,
)

_EXAMPLES = 3
_SKIP_IN_DETAILS = frozenset({RDFS_COMMENT, SKOS_DEFINITION, SKOS_IN_SCHEME, SKOS_EXAMPLE})
_SKOS_SCOPE_NOTE = NamedNode("http://www.w3.org/2004/02/skos/core#scopeNote")


@dataclass
class TermDoc:
    """One documented term: anchor, labels, definition, its axioms, examples of its use."""

    anchor: str
    term: Term
    labels: dict[str, list[str]]
    definition: str | None
    comment: str | None
    details: list[PropertyRow]
    examples: list[tuple[Term, Term | None, Term | None]]  # subject, predicate, object
    uses: int
    #: Turtle or SPARQL text given as skos:example (a triple of the data, a query)
    code: list[str] = field(default_factory=list)


@dataclass
class SchemeDoc:
    """A concept scheme and its concepts."""

    scheme: TermDoc
    concepts: list[TermDoc]


@dataclass
class OntologyPage:
    """The ontology's header and its terms."""

    iri: str
    title: str
    header: list[PropertyRow]
    classes: list[TermDoc]
    properties: list[TermDoc]
    schemes: list[SchemeDoc]
    #: the reused terms (ORG, schema.org, PROV-O ...) as this graph uses them
    reused: list[TermDoc] = field(default_factory=list)
    #: rules of the ontology (skos:scopeNote on its header) and the queries that apply them
    rules: list[str] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)


def _subjects_of_types(store: Store, types: tuple[NamedNode, ...]) -> list[NamedNode]:
    found: dict[str, NamedNode] = {}
    for t in types:
        for q in store.quads_for_pattern(None, RDF_TYPE, t):
            if isinstance(q.subject, NamedNode):
                found.setdefault(q.subject.value, q.subject)
    return list(found.values())


def _code(store: Store, node: NamedNode) -> list[str]:
    return sorted(
        q.object.value
        for q in store.quads_for_pattern(node, SKOS_EXAMPLE, None)
        if isinstance(q.object, Literal)
    )


def _doc(b: PageBuilder, node: NamedNode, examples: list, uses: int) -> TermDoc:
    return TermDoc(
        anchor=local_name(node.value),
        term=b.term(node),
        labels=b.labels.labels_by_language(node),
        definition=b.labels.text(node, (SKOS_DEFINITION,)),
        comment=b.labels.text(node, (RDFS_COMMENT, _SKOS_SCOPE_NOTE)),
        code=_code(b.store, node),
        details=[
            r for r in b.rows(node) if r.predicate.iri not in {p.value for p in _SKIP_IN_DETAILS}
        ],
        examples=examples,
        uses=uses,
    )


def _class_examples(b: PageBuilder, cls: NamedNode) -> tuple[list, int]:
    instances = sorted({str(s): s for s in b.subjects(RDF_TYPE, cls)}.values(), key=str)
    return [(b.term(s), None, None) for s in instances[:_EXAMPLES]], len(instances)


def _in_order(quads: Iterable[Quad]) -> list[Quad]:
    """``quads`` by subject, predicate, object and graph: the examples a page shows must not
    depend on the order a store (local, or a SPARQL backend) happens to give them in."""
    return sorted(
        quads, key=lambda q: (str(q.subject), str(q.predicate), str(q.object), str(q.graph_name))
    )


def _property_examples(b: PageBuilder, prop: NamedNode) -> tuple[list, int]:
    out: list[tuple[Term, Term | None, Term | None]] = []
    n = 0
    for q in _in_order(b.store.quads_for_pattern(None, prop, None)):
        n += 1
        if len(out) < _EXAMPLES and isinstance(q.subject, NamedNode):
            out.append((b.term(q.subject), b.term(prop), b.term(q.object)))
    return out, n


def _concept_examples(b: PageBuilder, concept: NamedNode) -> tuple[list, int]:
    out: list[tuple[Term, Term | None, Term | None]] = []
    n = 0
    for q in _in_order(b.store.quads_for_pattern(None, None, concept)):
        if q.predicate.value.startswith("http://www.w3.org/2004/02/skos/core#"):
            continue
        n += 1
        if len(out) < _EXAMPLES and isinstance(q.subject, NamedNode):
            out.append((b.term(q.subject), b.term(q.predicate), None))
    return out, n


def _by_label(docs: list[TermDoc]) -> list[TermDoc]:
    return sorted(docs, key=lambda d: (d.term.text.casefold(), d.term.iri or ""))


def build_ontology_page(
    store: Store, b: PageBuilder, ontology_iri: str, namespace: str
) -> OntologyPage:
    """Documentation of the terms in ``namespace`` and of every concept scheme in the store."""
    onto = NamedNode(ontology_iri)
    classes = [
        _doc(b, c, *_class_examples(b, c))
        for c in _subjects_of_types(store, (OWL_CLASS, RDFS_CLASS))
        if c.value.startswith(namespace)
    ]
    props = [
        _doc(b, p, *_property_examples(b, p))
        for p in _subjects_of_types(store, (*OWL_PROPERTY_TYPES, RDF_PROPERTY))
        if p.value.startswith(namespace)
    ]
    schemes = []
    for s in _subjects_of_types(store, (SKOS_CONCEPT_SCHEME,)):
        concepts = sorted({str(c): c for c in b.subjects(SKOS_IN_SCHEME, s)}.values(), key=str)
        schemes.append(
            SchemeDoc(
                _doc(b, s, [], len(concepts)),
                _by_label(
                    [
                        _doc(b, c, *_concept_examples(b, c))
                        for c in concepts
                        if isinstance(c, NamedNode)
                    ]
                ),
            )
        )
    schemes.sort(key=lambda s: s.scheme.term.text.casefold())
    reused = [
        _doc(b, t, *_property_examples(b, t))
        for t in _subjects_of_types(store, (RDF_PROPERTY, RDFS_CLASS))
        if not t.value.startswith(namespace)
        and any(store.quads_for_pattern(t, _SKOS_SCOPE_NOTE, None))
    ]
    rules = [b.labels.text(onto, (_SKOS_SCOPE_NOTE,)) or ""]
    return OntologyPage(
        iri=ontology_iri,
        title=b.labels.label(onto),
        header=[
            r
            for r in b.rows(onto)
            if r.predicate.iri not in {SKOS_EXAMPLE.value, _SKOS_SCOPE_NOTE.value}
        ],
        classes=_by_label(classes),
        properties=_by_label(props),
        schemes=schemes,
        reused=sorted(reused, key=lambda d: d.term.iri or ""),
        rules=[r for r in rules if r],
        queries=_code(store, onto),
    )


@dataclass
class ShapesPage:
    """The shapes, one node shape after another, each with its constraints nested."""

    iri: str
    header: list[PropertyRow]
    shapes: list[TermDoc]


def build_shapes_page(shapes_store: Store, b: PageBuilder, shapes_iri: str) -> ShapesPage:
    """Documentation of every node shape (``b`` must read the shapes store)."""
    docs = [_doc(b, s, [], 0) for s in _subjects_of_types(shapes_store, (SH_NODE_SHAPE,))]
    return ShapesPage(shapes_iri, b.rows(NamedNode(shapes_iri)), _by_label(docs))
