"""The shapes reject every broken graph of two kinds the issue measured, one change at a time.

Starting from the shipped graph (which conforms with no findings):

- **lost provenance**: for each kind of described thing (organisation, team, membership, model,
  amount, person, instant, statement, event, inference ...), the first thing of that kind loses
  all its ``prov:wasDerivedFrom`` triples;
- **a link to the wrong kind of thing**: for each object property and each kind of subject that
  uses it in graph/, the first such triple gets as object an existing thing of a disjoint kind
  (a kind the graph never links to there, and neither a subclass nor a superclass of one).

Each broken graph must not conform. The fast engine runs them all; tests/test_validation_engines.py
checks that pySHACL gives the same report on a sample.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import rdflib
from pyoxigraph import NamedNode, Triple
from sovkg.dataset import open_store
from sovkg.validation import read_shapes, validate_quads

ID = "https://w3id.org/ksai/id/"
KSAI = "https://w3id.org/ksai/ontology#"
RDF_TYPE = NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
SUBCLASS = NamedNode("http://www.w3.org/2000/01/rdf-schema#subClassOf")
DERIVED = NamedNode("http://www.w3.org/ns/prov#wasDerivedFrom")


def _n(curie: str) -> str:
    prefixes = {
        "ksai": KSAI,
        "org": "http://www.w3.org/ns/org#",
        "schema": "https://schema.org/",
        "skos": "http://www.w3.org/2004/02/skos/core#",
        "time": "http://www.w3.org/2006/time#",
        "oa": "http://www.w3.org/ns/oa#",
        "frapo": "http://purl.org/cerif/frapo/",
    }
    p, local = curie.split(":")
    return prefixes[p] + local


#: the kinds of described things, most specific first: a thing's kind is the first it has
KINDS = [
    _n(k)
    for k in (
        "ksai:TenderRound",
        "ksai:Event",
        "ksai:Inference",
        "ksai:Statement",
        "ksai:DevelopmentPlan",
        "ksai:SupportItem",
        "ksai:ProcurementProcedure",
        "frapo:FundingProgramme",
        "schema:Quotation",
        "org:Membership",
        "ksai:Consortium",
        "org:OrganizationalUnit",
        "org:FormalOrganization",
        "schema:Person",
        "ksai:FoundationModel",
        "ksai:Platform",
        "schema:MonetaryAmount",
        "schema:TypeAndQuantityNode",
        "schema:Product",
        "schema:Country",
        "time:Instant",
        "ksai:Passage",
        "oa:TextQuoteSelector",
        "schema:NewsArticle",
        "skos:Concept",
    )
]


@dataclass(frozen=True)
class Broken:
    """One broken copy of the shipped graph and what was broken."""

    name: str
    triples: tuple[Triple, ...]


@functools.cache
def shipped() -> tuple[Triple, ...]:
    """The shipped ontology and graph, as triples (graph names dropped)."""
    return tuple(Triple(q.subject, q.predicate, q.object) for q in open_store())


@functools.cache
def shapes() -> rdflib.Graph:
    return read_shapes()


def _kind_of(types: dict[str, set[str]], iri: str) -> str | None:
    have = types.get(iri, set())
    return next((k for k in KINDS if k in have), None)


def _related(a: str, b: str, supers: dict[str, set[str]]) -> bool:
    return a == b or b in supers.get(a, set()) or a in supers.get(b, set())


def _superclasses(triples: tuple[Triple, ...]) -> dict[str, set[str]]:
    direct: dict[str, set[str]] = {}
    for t in triples:
        if t.predicate == SUBCLASS and isinstance(t.object, NamedNode):
            direct.setdefault(t.subject.value, set()).add(t.object.value)
    closed: dict[str, set[str]] = {}
    for c in direct:
        seen, todo = set(), list(direct[c])
        while todo:
            x = todo.pop()
            if x not in seen:
                seen.add(x)
                todo.extend(direct.get(x, ()))
        closed[c] = seen
    return closed


def lost_provenance() -> Iterator[Broken]:
    """One broken graph per kind: its first thing loses prov:wasDerivedFrom."""
    triples = shipped()
    types: dict[str, set[str]] = {}
    for t in triples:
        if t.predicate == RDF_TYPE:
            types.setdefault(t.subject.value, set()).add(t.object.value)
    cited = sorted({t.subject.value for t in triples if t.predicate == DERIVED})
    by_kind: dict[str, str] = {}
    for s in cited:
        kind = _kind_of(types, s)
        if kind is not None:
            by_kind.setdefault(kind, s)
    for kind, s in sorted(by_kind.items()):
        kept = tuple(t for t in triples if not (t.subject.value == s and t.predicate == DERIVED))
        yield Broken(f"no provenance on {s.removeprefix(ID)} ({kind})", kept)


def wrong_kind_links(per_usage: int = 3) -> Iterator[Broken]:
    """Per (subject kind, object property) used in graph/: up to ``per_usage`` swaps of the
    object for an existing thing of a disjoint kind."""
    triples = shipped()
    supers = _superclasses(triples)
    types: dict[str, set[str]] = {}
    for t in triples:
        if t.predicate == RDF_TYPE:
            types.setdefault(t.subject.value, set()).add(t.object.value)
    things = sorted(s for s in types if s.startswith(ID))
    representative: dict[str, str] = {}
    for s in things:
        kind = _kind_of(types, s)
        if kind is not None:
            representative.setdefault(kind, s)
    usages: dict[tuple[str, str], list[int]] = {}
    allowed: dict[tuple[str, str], set[str]] = {}
    for i, t in enumerate(triples):
        if t.predicate == RDF_TYPE or not isinstance(t.object, NamedNode):
            continue
        if not (t.subject.value.startswith(ID) and t.object.value.startswith(ID)):
            continue
        sk, ok = _kind_of(types, t.subject.value), _kind_of(types, t.object.value)
        if sk is None or ok is None:
            continue
        key = (sk, t.predicate.value)
        usages.setdefault(key, []).append(i)
        allowed.setdefault(key, set()).add(ok)
    for n, (key, indexes) in enumerate(sorted(usages.items())):
        target = triples[min(indexes, key=lambda i: (triples[i].subject.value, str(triples[i])))]
        disjoint = [
            k
            for k in KINDS
            if k in representative and not any(_related(k, a, supers) for a in allowed[key])
        ]
        # rotate through the disjoint kinds so that every kind gets used somewhere
        picks = [disjoint[(n + j) % len(disjoint)] for j in range(min(per_usage, len(disjoint)))]
        for k in picks:
            swapped = Triple(target.subject, target.predicate, NamedNode(representative[k]))
            changed = tuple(swapped if t == target else t for t in triples)
            name = (
                f"{target.subject.value.removeprefix(ID)} {target.predicate.value} "
                f"-> {representative[k].removeprefix(ID)} ({k})"
            )
            yield Broken(name, changed)


LOST = list(lost_provenance())
WRONG = list(wrong_kind_links())


def test_shipped_graph_conforms_without_findings_in_the_fast_engine():
    report = validate_quads(shipped(), shapes())
    assert report.conforms and report.findings == (), report.text()


def test_every_kind_the_issue_lists_is_broken_at_least_once():
    kinds = {b.name.rsplit("(", 1)[1].rstrip(")") for b in LOST}
    for k in (
        "org:FormalOrganization",
        "ksai:Consortium",
        "ksai:FoundationModel",
        "schema:MonetaryAmount",
        "schema:Person",
        "ksai:Platform",
        "schema:Product",
        "schema:TypeAndQuantityNode",
        "time:Instant",
        "schema:Country",
        "org:Membership",
        "ksai:Statement",
        "ksai:SupportItem",
        "ksai:DevelopmentPlan",
        "ksai:Event",
        "ksai:ProcurementProcedure",
        "schema:Quotation",
        "ksai:Inference",
        "frapo:FundingProgramme",
    ):
        assert _n(k) in kinds, k
    assert len(WRONG) > 100


@pytest.mark.parametrize("broken", LOST, ids=[b.name for b in LOST])
def test_lost_provenance_is_rejected(broken: Broken):
    report = validate_quads(broken.triples, shapes())
    assert not report.conforms, broken.name


@pytest.mark.parametrize("broken", WRONG, ids=[b.name for b in WRONG])
def test_link_to_a_thing_of_a_disjoint_kind_is_rejected(broken: Broken):
    report = validate_quads(broken.triples, shapes())
    assert not report.conforms, broken.name
