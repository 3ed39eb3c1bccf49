"""The vocabulary is documented for the people who query it.

Every term used in graph/ is documented in ontology/: minted terms in ksai.ttl, reused terms in
reused.ttl (how this graph uses each, domain and range as used, an example from the data); the
facts that were free text are data; the 산학협력단 roll-up rule comes with a query that works;
every passage carries the project's English translation beside the verbatim Korean.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
import rdflib
from rdflib.namespace import OWL, RDF, RDFS, SKOS, Namespace

ROOT = Path(__file__).resolve().parent.parent
KSAI = Namespace("https://w3id.org/ksai/ontology#")
SCHEMA = Namespace("https://schema.org/")
PROV = Namespace("http://www.w3.org/ns/prov#")
TIME = Namespace("http://www.w3.org/2006/time#")
OA = Namespace("http://www.w3.org/ns/oa#")
ID = Namespace("https://w3id.org/ksai/id/")
ONTOLOGY = rdflib.URIRef("https://w3id.org/ksai/ontology")


def _parse(paths: list[Path]) -> rdflib.Graph:
    g = rdflib.Graph()
    for p in paths:
        g.parse(p, format="turtle")
    return g


@functools.cache
def ontology() -> rdflib.Graph:
    return _parse(sorted((ROOT / "ontology").glob("*.ttl")))


@functools.cache
def data() -> rdflib.Graph:
    return _parse(sorted((ROOT / "graph").glob("*.ttl")))


@functools.cache
def both() -> rdflib.Graph:
    g = rdflib.Graph()
    for t in ontology():
        g.add(t)
    for t in data():
        g.add(t)
    return g


def _used_terms() -> list[rdflib.URIRef]:
    g = data()
    return sorted({p for p in g.predicates()} | set(g.objects(None, RDF.type)))


@pytest.mark.parametrize("term", _used_terms(), ids=lambda t: str(t))
def test_every_term_used_in_the_graph_is_documented(term: rdflib.URIRef):
    o = ontology()
    if str(term).startswith(str(KSAI)):
        for p in (RDFS.label, RDFS.comment, SKOS.definition):
            assert {x.language for x in o.objects(term, p)} >= {"en", "ko"}, (term, p)
        return
    notes = {x.language for x in o.objects(term, SKOS.scopeNote)}
    assert notes >= {"en", "ko"}, f"{term}: no skos:scopeNote in English and Korean"
    examples = [str(x) for x in o.objects(term, SKOS.example)]
    assert examples, f"{term}: no example"
    local = str(term).rsplit("#", 1)[-1].rsplit("/", 1)[-1]
    assert any(local in e for e in examples), (term, examples)
    if term != RDF.type and (None, term, None) in data():
        assert o.value(term, SCHEMA.domainIncludes) is not None, term
        assert o.value(term, SCHEMA.rangeIncludes) is not None, term


def test_reused_terms_are_not_redefined():
    # Domain and range "as used" are schema.org's non-entailing annotations, never RDFS axioms
    # on somebody else's term.
    o = ontology()
    for s in set(o.subjects(SKOS.scopeNote, None)):
        if str(s).startswith("https://w3id.org/ksai/"):
            continue
        assert o.value(s, RDFS.domain) is None and o.value(s, RDFS.range) is None, s


@pytest.mark.parametrize("prop", ["aim", "revisedTerm", "referenceTime"])
def test_minted_properties_have_a_domain(prop: str):
    assert ontology().value(KSAI[prop], RDFS.domain) is not None


def _select(query: str) -> list[tuple]:
    return [tuple(r) for r in both().query(query)]


PREFIXES = """
PREFIX ksai: <https://w3id.org/ksai/ontology#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX time: <http://www.w3.org/2006/time#>
PREFIX schema: <https://schema.org/>
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX concept: <https://w3id.org/ksai/id/concept/>
"""


def test_every_event_has_a_kind_from_the_scheme():
    rows = _select(
        PREFIXES + "SELECT ?e WHERE { ?e a/rdfs:subClassOf* ksai:Event "
        "FILTER NOT EXISTS { ?e ksai:eventKind/skos:inScheme "
        "<https://w3id.org/ksai/id/scheme/eventkind> } }"
    )
    assert rows == []


def test_agreements_are_found_by_kind_not_by_label():
    rows = _select(PREFIXES + "SELECT ?e WHERE { ?e ksai:eventKind concept:eventkind-agreement }")
    assert [r[0] for r in rows] == [ID["event/agreements"]]
    kind = ontology()
    assert {
        x.language for x in kind.objects(ID["concept/eventkind-agreement"], SKOS.prefLabel)
    } == {
        "ko",
        "en",
    }


def test_year_end_differs_from_within_the_year():
    g = both()
    year_end, year = ID["instant/2025-year-end"], ID["instant/2025"]
    assert g.value(ID["event/first-evaluation"], TIME.hasTime) == year_end
    assert g.value(ID["event/development-start"], TIME.hasTime) == year
    # same year, as the article gives no month; only the year-end has a part of the year
    assert g.value(year_end, TIME.inXSDgYear) == g.value(year, TIME.inXSDgYear)
    assert g.value(year_end, KSAI.yearPart) == ID["concept/yearpart-end"]
    assert g.value(year, KSAI.yearPart) is None


def test_each_inference_names_the_property_it_stands_for():
    g = both()
    pub = ID["inference/publication-date"]
    assert g.value(pub, KSAI.inferredProperty) == SCHEMA.datePublished
    article = g.value(pub, SCHEMA.about)
    # read as one triple: the article's schema:datePublished is the inferred value
    assert g.value(article, SCHEMA.datePublished) == g.value(pub, PROV.value)
    for i in g.subjects(RDF.type, KSAI.Inference):
        prop = g.value(i, KSAI.inferredProperty)
        assert prop is not None and (prop, RDF.type, RDF.Property) in g, i


def test_the_roll_up_rule_and_its_query_are_in_the_ontology():
    o = ontology()
    rule = {x.language: str(x) for x in o.objects(ONTOLOGY, SKOS.scopeNote)}
    assert "산학협력단" in rule["en"] and "org:subOrganizationOf" in rule["en"]
    assert "ko" in rule
    query = str(o.value(ONTOLOGY, SKOS.example))
    counts = {str(r[0]).rsplit("/", 1)[1]: int(r[1]) for r in both().query(query)}
    # the article: 서울대 in three teams, 고려대 in two; the data also shows KAIST in four
    assert counts == {"seoul-national-university": 3, "korea-university": 2, "kaist": 4}


def test_every_passage_has_the_projects_english_translation():
    g = data()
    passages = set(g.subjects(RDF.type, KSAI.Passage))
    assert len(passages) == 52
    for p in passages:
        translations = list(g.objects(p, KSAI.projectTranslation))
        assert len(translations) == 1 and translations[0].language == "en", p
        exact = g.value(g.value(p, OA.hasSelector), OA.exact)
        assert exact.language == "ko" and str(exact) != str(translations[0]), p
    # the translation is marked as the project's, never as source text
    definition = {
        x.language: str(x) for x in ontology().objects(KSAI.projectTranslation, SKOS.definition)
    }
    assert "project's own" in definition["en"] and "not part of the article" in definition["en"]
    assert (KSAI.projectTranslation, RDF.type, OWL.DatatypeProperty) in ontology()
