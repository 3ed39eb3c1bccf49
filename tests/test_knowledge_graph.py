"""The facts: every sentence of the article is in the graph verbatim and cited by a fact;
organisations have one IRI per real organisation with every surface form as a label; numbers
and dates are typed; no blank nodes."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyoxigraph import BlankNode, Store
from sovkg.dataset import open_store

ROOT = Path(__file__).resolve().parent.parent
#: verbatim copy of the article (tests/data/article.ko.txt), the only source of facts
ARTICLE = ROOT / "tests" / "data" / "article.ko.txt"
SHARED_ARTICLE = ROOT.parent / "shared" / "source" / "article.ko.txt"
PREFIXES = """
PREFIX ksai: <https://w3id.org/ksai/ontology#>
PREFIX oa: <http://www.w3.org/ns/oa#>
PREFIX org: <http://www.w3.org/ns/org#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX schema: <https://schema.org/>
PREFIX concept: <https://w3id.org/ksai/id/concept/>
"""


@pytest.fixture(scope="module")
def store() -> Store:
    return open_store()


def _select(store: Store, query: str) -> list[tuple]:
    result = store.query(PREFIXES + query, use_default_graph_as_union=True)
    names = [v.value for v in result.variables]
    return [tuple(s[n] for n in names) for s in result]


def _passages(store: Store) -> dict[tuple[int, int], str]:
    rows = _select(
        store,
        "SELECT ?para ?sent ?exact WHERE { ?p a ksai:Passage ; ksai:paragraph ?para ; "
        "ksai:sentence ?sent ; oa:hasSelector/oa:exact ?exact }",
    )
    return {(int(a.value), int(b.value)): c.value for a, b, c in rows}


def test_copy_of_article_matches_shared_source_when_present():
    if SHARED_ARTICLE.is_file():
        assert ARTICLE.read_bytes() == SHARED_ARTICLE.read_bytes()


def test_every_passage_occurs_verbatim_in_its_paragraph(store: Store):
    lines = ARTICLE.read_text(encoding="utf-8").splitlines()
    for (para, _), exact in _passages(store).items():
        assert exact in lines[para - 1], (para, exact)


def test_passages_cover_the_whole_article(store: Store):
    # Joined in order, the sentences of each paragraph give the paragraph back.
    lines = ARTICLE.read_text(encoding="utf-8").splitlines()
    passages = _passages(store)
    for n, line in enumerate(lines, 1):
        sentences = [passages[k] for k in sorted(passages) if k[0] == n]
        assert " ".join(sentences) == line.strip(), n
    assert len(passages) == 52


def test_every_passage_is_cited_by_a_fact(store: Store):
    rows = _select(
        store,
        "SELECT ?p WHERE { ?p a ksai:Passage FILTER NOT EXISTS "
        "{ ?f prov:wasDerivedFrom ?p ; ksai:status ?s } }",
    )
    assert rows == []


def test_no_blank_nodes_in_graph(store: Store):
    for q in store.quads_for_pattern(None, None, None, None):
        assert not isinstance(q.subject, BlankNode), q
        assert not isinstance(q.object, BlankNode), q


@pytest.mark.parametrize(
    ("slug", "surface_form"),
    [
        ("seoul-national-university", "서울대"),
        ("snu-iacf", "서울대 산학협력단"),
        ("korea-university", "고려대"),
        ("korea-university", "고려대학교"),
        ("korea-university-iacf", "고려대 산학협력단"),
        ("lg-ai-research", "LG AI연구원"),
        ("lg-ai-research", "LG경영개발원 AI연구원"),
        ("kaist", "KAIST"),
        ("msit", "과기정통부"),
        ("msit", "과학기술정보통신부"),
    ],
)
def test_surface_forms_are_labels_of_one_organisation(store: Store, slug: str, surface_form: str):
    rows = _select(
        store,
        "SELECT ?o WHERE { ?o a org:FormalOrganization ; "
        f'skos:prefLabel|skos:altLabel "{surface_form}"@ko }}',
    )
    assert [r[0].value for r in rows] == [f"https://w3id.org/ksai/id/organization/{slug}"]


def test_foundations_belong_to_their_universities(store: Store):
    rows = _select(
        store,
        "SELECT ?f ?u WHERE { ?f ksai:organizationKind concept:orgkind-iacf ; "
        "org:subOrganizationOf ?u . ?u ksai:organizationKind concept:orgkind-university }",
    )
    assert len(rows) == 5


def test_each_team_has_exactly_one_lead(store: Store):
    rows = _select(
        store,
        "SELECT ?t (COUNT(?m) AS ?n) WHERE { ?t a ksai:Consortium . "
        "OPTIONAL { ?m org:organization ?t ; org:role concept:role-lead } } GROUP BY ?t",
    )
    assert len(rows) == 5
    assert all(int(n.value) == 1 for _, n in rows)


def test_amounts_are_integers_in_won(store: Store):
    rows = _select(
        store,
        "SELECT ?a ?v ?c WHERE { ?a a schema:MonetaryAmount ; "
        "schema:value ?v ; schema:currency ?c }",
    )
    values = {r[0].value.rsplit("/", 1)[1]: int(r[1].value) for r in rows}
    assert values == {
        "public-data-joint-purchase": 10_000_000_000,
        "broadcast-video-data": 20_000_000_000,
        "team-specific-data-per-team": 2_800_000_000,
        "gpu-lease": 157_600_000_000,
        "national-ai-computing-center": 2_500_000_000_000,
    }
    assert {r[2].value for r in rows} == {"KRW"}
    assert all(r[1].datatype.value.endswith("#integer") for r in rows)


def test_inferred_dates_are_recorded_as_inferences(store: Store):
    rows = _select(
        store,
        "SELECT ?v WHERE { ?i a ksai:Inference ; prov:value ?v ; skos:note ?n ; "
        "ksai:status concept:status-inferred }",
    )
    assert {r[0].value for r in rows} == {"2025-08-04", "2025-07-24"}
