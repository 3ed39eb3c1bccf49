"""The questions the graph answers, as SPARQL on Oxigraph, and its integrity checks.

The questions are the query UI's examples (``sovkg/queries/NN-slug.rq``, shipped in the
package): each is run exactly as the UI shows it, and its answer must be the one in
``tests/queries/NN-slug.expected.tsv``, worked out by reading the article: a header of variable
names, then one row per answer (IRIs in <>, literals by their lexical form, unbound as empty).
Rows are compared as multisets; a ``GROUP_CONCAT`` cell as the multiset of its parts. Each
``tests/queries/*-violation.rq`` must return no rows on the shipped graph, and is shown to catch
a broken example.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pyoxigraph import Literal, NamedNode, Quad, QuerySolutions, RdfFormat, Store, parse
from sovkg.dataset import open_store
from sovkg.queries import ExampleQuery, load_examples, with_prologue

QUERIES = Path(__file__).resolve().parent / "queries"
EXAMPLES = load_examples()
VIOLATIONS = sorted(QUERIES.glob("*-violation.rq"))
ID = "https://w3id.org/ksai/id/"

#: ``GROUP_CONCAT(...; separator="s") AS ?name``: the separator of each aggregated column
_CONCAT = re.compile(r'GROUP_CONCAT\([^;]*;\s*separator\s*=\s*"([^"]*)"\s*\)\s*AS\s+\?(\w+)', re.I)

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


def _rows(
    store: Store, query: str, concat: dict[str, str] | None = None
) -> tuple[list[str], list[tuple[str, ...]]]:
    """Variable names and rows; the cells of ``concat``'s columns have their parts sorted."""
    result = store.query(query, use_default_graph_as_union=True)
    assert isinstance(result, QuerySolutions), "a question is a SELECT"
    names = [v.value for v in result.variables]
    rows = [tuple(_cell(solution[n]) for n in names) for solution in result]
    return names, [_sorted_parts(names, row, concat or {}) for row in rows]


def _sorted_parts(
    names: list[str], row: tuple[str, ...], concat: dict[str, str]
) -> tuple[str, ...]:
    return tuple(
        concat[name].join(sorted(cell.split(concat[name]))) if name in concat and cell else cell
        for name, cell in zip(names, row, strict=True)
    )


def _expected(example: ExampleQuery) -> tuple[list[str], list[tuple[str, ...]]]:
    header, *lines = (QUERIES / f"{example.slug}.expected.tsv").read_text("utf-8").splitlines()
    return header.split("\t"), [tuple(line.split("\t")) for line in lines if line]


def test_every_question_has_its_answer_and_no_answer_lacks_a_question() -> None:
    assert len(EXAMPLES) == 7
    answers = {p.name.removesuffix(".expected.tsv") for p in QUERIES.glob("*.expected.tsv")}
    assert answers == {e.slug for e in EXAMPLES}
    # one copy of each question: the tests hold no SPARQL of their own besides the checks
    assert {p.name for p in QUERIES.glob("*.rq")} == {p.name for p in VIOLATIONS}


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.slug for e in EXAMPLES])
def test_question_gets_the_articles_answer(example: ExampleQuery, store: Store) -> None:
    """The query as the UI sends it (with its PREFIX lines) answers what the article says."""
    query = with_prologue(example)
    concat = {name: sep for sep, name in _CONCAT.findall(example.body)}
    names, rows = _rows(store, query, concat)
    want_names, want_rows = _expected(example)
    assert names == want_names
    assert sorted(rows) == sorted(_sorted_parts(want_names, r, concat) for r in want_rows)


@pytest.mark.parametrize("query", VIOLATIONS, ids=[q.stem for q in VIOLATIONS])
def test_integrity_check_passes_on_shipped_graph(query: Path, store: Store) -> None:
    _, rows = _rows(store, query.read_text(encoding="utf-8"))
    assert rows == []


@pytest.mark.parametrize("query", VIOLATIONS, ids=[q.stem for q in VIOLATIONS])
def test_integrity_check_catches_a_broken_example(query: Path, store: Store) -> None:
    broken = Store()
    broken.extend(store.quads_for_pattern(None, None, None, None))
    graph = NamedNode("https://w3id.org/ksai/graph/extra/broken")
    for q in parse((PREFIXES + BROKEN[query.stem]).encode(), format=RdfFormat.TURTLE):
        broken.add(Quad(q.subject, q.predicate, q.object, graph))
    _, rows = _rows(broken, query.read_text(encoding="utf-8"))
    assert rows, f"{query.name} did not catch: {BROKEN[query.stem]}"
