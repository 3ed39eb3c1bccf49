"""The reconciliation index on the shipped graph, without HTTP: names, types, properties, the
match decision, suggestions (the live-server tests in test_reconcile_service.py ask the same
questions over the API)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyoxigraph import Store
from sovkg.linkeddata.namekeys import name_key, query_variants
from sovkg.linkeddata.reconcile import PropertyQuery, Query, ReconcileIndex, build_index
from sovkg.linkeddata.reconcile_api import Limits, ReconcileError, parse_batch, run_batch

from tests.reconcile.spec import surface_forms

THING_BASE = "https://w3id.org/ksai/"
ORG = "http://www.w3.org/ns/org#"
KSAI = "https://w3id.org/ksai/ontology#"


@pytest.fixture(scope="module")
def index(store: Store) -> ReconcileIndex:
    return build_index(store, THING_BASE)


def top(index: ReconcileIndex, text: str, **kw: object) -> tuple[str, float, bool]:
    cands = index.reconcile(Query(text, **kw))  # type: ignore[arg-type]
    assert cands, f"no candidate for {text!r}"
    return cands[0].entry.id, cands[0].score, cands[0].match


# normalisation


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("㈜업스테이지", "업스테이지"),
        ("주식회사 업스테이지", "업스테이지"),
        ("업스테이지(주)", "업스테이지"),
        ("Upstage Co., Ltd.", "upstage"),
        ("ＵＰＳＴＡＧＥ", "upstage"),
        ("LG 유플러스", "LG유플러스"),
        ("Law & Company", "Law&Company"),
        ("Seoul National Univ.", "seoul national university"),
        ("‘Solar WBL’", "Solar WBL"),
    ],
)
def test_names_written_differently_have_one_key(a: str, b: str) -> None:
    assert name_key(a).key == name_key(b).key


def test_the_foundation_word_is_a_unit_not_part_of_the_name() -> None:
    foundation, university = name_key("서울대 산학협력단"), name_key("서울대")
    assert foundation.key == university.key == "서울대"
    assert (foundation.unit, university.unit) == ("iacf", None)
    english = name_key("Seoul National University Industry-Academic Cooperation Foundation")
    assert english.unit == "iacf"
    assert name_key("Naver Cloud team").unit == "team"


def test_a_particle_after_a_latin_name_is_tried_without_it() -> None:
    keys = [k.key for k, _ in query_variants("KAIST이")]
    assert keys == ["kaist이", "kaist"]
    assert [k.key for k, _ in query_variants("네이버")] == ["네이버"]


# the article's surface forms


def test_every_surface_form_is_printed_in_the_graphs_sentences(store: Store) -> None:
    sentences = " ".join(
        sol["t"].value
        for sol in store.query(
            "SELECT ?t { ?s <http://www.w3.org/ns/oa#exact> ?t }", use_default_graph_as_union=True
        )
    )
    missing = [form for form, _ in surface_forms() if form not in sentences]
    assert not missing


@pytest.mark.parametrize(("form", "ident"), surface_forms())
def test_every_surface_form_in_the_article_is_a_match(
    index: ReconcileIndex, form: str, ident: str
) -> None:
    found, _, match = top(index, form)
    assert (found, match) == (ident, True)


def test_every_organisation_of_the_graph_has_a_surface_form(index: ReconcileIndex) -> None:
    orgs = {e.id for e in index.entries if e.id.startswith("organization/")}
    assert orgs <= {ident for _, ident in surface_forms()}


# what integrators write


@pytest.mark.parametrize(
    ("text", "ident"),
    [
        ("seoul national university", "organization/seoul-national-university"),
        ("Seoul National Univ.", "organization/seoul-national-university"),
        ("SNU", "organization/seoul-national-university"),
        ("upstage", "organization/upstage"),
        ("upstag", "organization/upstage"),
        ("Seoul Natoinal University", "organization/seoul-national-university"),
        ("korea univeristy", "organization/korea-university"),
        ("twelvelabs", "organization/twelve-labs"),
        ("Rebelions", "organization/rebellions"),
        ("friendli ai", "organization/friendliai"),
        ("42 dot", "organization/42dot"),
        ("postech", "organization/postech"),
        ("etri", "organization/etri"),
        ("Krafton Inc.", "organization/krafton"),
        ("㈜업스테이지", "organization/upstage"),
        ("연세대", "organization/yonsei-university"),
        ("업스테지", "organization/upstage"),
    ],
)
def test_lower_cased_and_misspelt_names_find_the_right_one(
    index: ReconcileIndex, text: str, ident: str
) -> None:
    assert top(index, text)[0] == ident


def test_the_foundation_and_the_university_each_come_first_for_their_own_name(
    index: ReconcileIndex,
) -> None:
    foundation = index.reconcile(Query("서울대 산학협력단"))
    university = index.reconcile(Query("서울대"))
    assert [c.entry.id for c in foundation[:2]] == [
        "organization/snu-iacf",
        "organization/seoul-national-university",
    ]
    assert [c.entry.id for c in university[:2]] == [
        "organization/seoul-national-university",
        "organization/snu-iacf",
    ]
    assert foundation[1].match is False and university[1].match is False


@pytest.mark.parametrize(
    "text", ["Samsung Electronics", "Kakao", "서울대학교병원", "Seoul University", "Mistral", "LG"]
)
def test_a_name_not_in_the_graph_is_no_match(index: ReconcileIndex, text: str) -> None:
    assert not any(c.match for c in index.reconcile(Query(text, limit=10)))


def test_an_identifier_or_iri_as_query_finds_that_entity(index: ReconcileIndex) -> None:
    assert top(index, "organization/kaist") == ("organization/kaist", 100.0, True)
    assert top(index, THING_BASE + "id/team/upstage")[0] == "team/upstage"


# types and properties


def test_a_type_restricts_the_candidates(index: ReconcileIndex) -> None:
    teams = index.reconcile(Query("업스테이지", types=(KSAI + "Consortium",), limit=10))
    assert [c.entry.id for c in teams] == ["team/upstage"]
    orgs = index.reconcile(Query("업스테이지 정예팀", types=(ORG + "Organization",), limit=10))
    # a consortium is an org:OrganizationalCollaboration, hence an org:Organization
    assert orgs[0].entry.id == "team/upstage"
    people = index.reconcile(Query("Park Ji-hwan", types=("http://xmlns.com/foaf/0.1/Person",)))
    assert [c.entry.id for c in people] == ["person/park-ji-hwan"]
    assert index.reconcile(Query("업스테이지", types=(KSAI + "FoundationModel",))) == []


def test_concepts_are_found_only_when_their_type_is_asked_for(index: ReconcileIndex) -> None:
    assert all(not c.entry.id.startswith("concept/") for c in index.reconcile(Query("기업")))
    concept = index.reconcile(Query("기업", types=("http://www.w3.org/2004/02/skos/core#Concept",)))
    assert concept[0].entry.id == "concept/orgkind-company"


def test_a_team_property_raises_the_member(index: ReconcileIndex) -> None:
    plain = index.reconcile(Query("고려대", limit=5))
    assert plain[0].entry.id == "organization/korea-university"
    team = PropertyQuery(ORG + "memberOf", (THING_BASE + "id/team/naver-cloud",), (True,))
    raised = index.reconcile(Query("고려대", limit=5, properties=(team,)))
    iacf = next(c for c in raised if c.entry.id == "organization/korea-university-iacf")
    old = next(c for c in plain if c.entry.id == "organization/korea-university-iacf")
    assert iacf.score == old.score + 10
    # a team given by its name works as well as by its IRI
    by_name = PropertyQuery(ORG + "memberOf", ("네이버클라우드 정예팀",), (False,))
    again = index.reconcile(Query("고려대", limit=5, properties=(by_name,)))
    assert next(c for c in again if c.entry.id == iacf.entry.id).score == iacf.score


def test_properties_alone_find_the_entities_that_have_them(index: ReconcileIndex) -> None:
    team = PropertyQuery(ORG + "memberOf", ("team/sk-telecom",), (True,))
    found = {c.entry.id for c in index.reconcile(Query(None, limit=50, properties=(team,)))}
    assert {"organization/42dot", "organization/krafton", "organization/snu-iacf"} <= found
    assert "organization/naver" not in found


# suggest


def test_suggest_completes_korean_and_latin_prefixes(index: ReconcileIndex) -> None:
    ko = [e.id for e, _ in index.suggest("업스")]
    assert ko[:2] == ["organization/upstage", "team/upstage"]
    en = index.suggest("seoul nat", lang="en")
    assert en[0][0].id == "organization/seoul-national-university"
    assert en[0][1] == "Seoul National University"
    assert index.suggest("서울대")[0][1] == "서울대학교"


def test_suggest_pages_with_a_cursor(index: ReconcileIndex) -> None:
    first = [e.id for e, _ in index.suggest("LG", limit=2)]
    second = [e.id for e, _ in index.suggest("LG", cursor=2, limit=2)]
    assert len(first) == 2 and second and not set(first) & set(second)


def test_a_value_that_is_no_iri_matches_nothing(index: ReconcileIndex) -> None:
    odd = PropertyQuery(ORG + "memberOf", ("not an iri>",), (True,))
    assert index.reconcile(Query(None, properties=(odd,))) == []


# anything a client sends


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(batch=st.dictionaries(st.text(max_size=5), _JSON, max_size=3) | _JSON)
def test_any_json_batch_is_read_or_refused_with_a_reason(batch: object) -> None:
    try:
        parse_batch(json.dumps(batch))
    except ReconcileError as e:
        assert str(e) and 400 <= e.status < 500


@settings(max_examples=200, deadline=None)
@given(text=st.text(min_size=1, max_size=60))
def test_any_text_is_a_query(index: ReconcileIndex, text: str) -> None:
    cands = index.reconcile(Query(text, limit=3))
    assert len(cands) <= 3
    assert sum(c.match for c in cands) <= 1
    assert all(isinstance(e.id, str) for e, _ in index.suggest(text))


def test_a_batch_past_its_time_limit_is_a_503(index: ReconcileIndex) -> None:
    queries = parse_batch(json.dumps({"q0": {"query": "서울대"}, "q1": {"query": "KAIST"}}))
    with pytest.raises(ReconcileError) as caught:
        run_batch(index, queries, "en", Limits(seconds=-1.0))
    assert caught.value.status == 503 and "longer than" in str(caught.value)
    assert set(run_batch(index, queries, "en")) == {"q0", "q1"}
