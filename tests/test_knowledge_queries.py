"""Competency questions (MODELING.md) and integrity checks, as SPARQL on Oxigraph.

Each ``qN-*.rq`` has a ``qN-*.expected.tsv`` written by reading the article: a header of
variable names, then one row per answer (IRIs in <>, literals by their lexical form, unbound
as empty). Rows are compared as multisets. Each ``*-violation.rq`` must return no rows on the
shipped graph, and is shown to catch a broken example.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pyoxigraph import Literal, NamedNode, Quad, RdfFormat, Store, parse
from sovkg.dataset import open_store

QUERIES = Path(__file__).resolve().parent / "queries"
COMPETENCY = sorted(QUERIES.glob("q*.rq"))
VIOLATIONS = sorted(QUERIES.glob("*-violation.rq"))
ID = "https://w3id.org/ksai/id/"

PREFIXES = f"""
@prefix ksai: <https://w3id.org/ksai/ontology#> .
@prefix org: <http://www.w3.org/ns/org#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix prov: <http://www.w3.org/ns/prov#> .
@prefix schema: <https://schema.org/> .
@prefix event: <{ID}event/> .
@prefix organization: <{ID}organization/> .
@prefix passage: <{ID}passage/> .
"""

#: for each integrity check, Turtle that breaks it when added to the shipped graph
BROKEN = {
    "undeclared-term-violation": "event:x ksai:undeclaredProperty 1 .",
    "organisation-without-role-violation": (
        'organization:idle a org:FormalOrganization ; skos:prefLabel "쉬는 기관"@ko .'
    ),
    "duplicate-korean-preflabel-violation": 'organization:copy skos:prefLabel "KAIST"@ko .',
    "dangling-iri-violation": "event:x schema:about <https://w3id.org/ksai/id/team/nowhere> .",
    "uncited-passage-violation": "passage:p99-s01 a ksai:Passage .",
}


@pytest.fixture(scope="module")
def store() -> Store:
    return open_store()


def _cell(term: object) -> str:
    if term is None:
        return ""
    if isinstance(term, NamedNode):
        return f"<{term.value}>"
    if isinstance(term, Literal):
        return term.value
    return str(term)


def _rows(store: Store, query: str) -> tuple[list[str], list[tuple[str, ...]]]:
    result = store.query(query, use_default_graph_as_union=True)
    names = [v.value for v in result.variables]
    return names, [tuple(_cell(solution[n]) for n in names) for solution in result]


def _expected(path: Path) -> tuple[list[str], list[tuple[str, ...]]]:
    header, *lines = path.read_text(encoding="utf-8").splitlines()
    return header.split("\t"), [tuple(line.split("\t")) for line in lines if line]


def test_every_question_has_a_query():
    for n in range(1, 8):
        assert any(p.name.startswith(f"q{n}-") for p in COMPETENCY), n


@pytest.mark.parametrize("query", COMPETENCY, ids=[q.stem for q in COMPETENCY])
def test_competency_question(query: Path, store: Store):
    names, rows = _rows(store, query.read_text(encoding="utf-8"))
    want_names, want_rows = _expected(query.with_suffix(".expected.tsv"))
    assert names == want_names
    assert sorted(rows) == sorted(want_rows)


@pytest.mark.parametrize("query", VIOLATIONS, ids=[q.stem for q in VIOLATIONS])
def test_integrity_check_passes_on_shipped_graph(query: Path, store: Store):
    _, rows = _rows(store, query.read_text(encoding="utf-8"))
    assert rows == []


@pytest.mark.parametrize("query", VIOLATIONS, ids=[q.stem for q in VIOLATIONS])
def test_integrity_check_catches_a_broken_example(query: Path, store: Store):
    broken = Store()
    broken.extend(store.quads_for_pattern(None, None, None, None))
    graph = NamedNode("https://w3id.org/ksai/graph/extra/broken")
    for q in parse((PREFIXES + BROKEN[query.stem]).encode(), format=RdfFormat.TURTLE):
        broken.add(Quad(q.subject, q.predicate, q.object, graph))
    _, rows = _rows(broken, query.read_text(encoding="utf-8"))
    assert rows, f"{query.name} did not catch: {BROKEN[query.stem]}"
