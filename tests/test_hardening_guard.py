"""No outbound requests unless allowed: the SERVICE/LOAD guard decides on the parsed operation."""

from __future__ import annotations

import pytest
from sovkg.errors import OutboundRefused
from sovkg.sparql.guard import allowed, check, outbound_keywords

NOT_CALLS = [
    'SELECT * WHERE { ?s ?p "SERVICE <http://a.example/> { }" }',
    "SELECT * WHERE { ?s ?p '''a\nSERVICE <http://a.example/> {}''' }",
    "SELECT * WHERE { ?s ?p ?o } # SERVICE <http://a.example/> { }",
    "SELECT * WHERE { ?s <http://x.example/SERVICE> ?o }",
    "PREFIX service: <http://x.example/> SELECT ?service WHERE { ?service service:load ?o }",
    'SELECT * WHERE { ?s ?p ?o FILTER(CONTAINS(?o, "LOAD <http://a.example/>")) }',
    "SELECT ?download WHERE { ?s ?p ?download }",
]

CALLS = [
    "SELECT * WHERE { SERVICE <http://a.example/> { ?s ?p ?o } }",
    "SELECT * WHERE { sErViCe<http://a.example/>{ ?s ?p ?o } }",
    "SELECT * WHERE { SERVICE SILENT <http://a.example/> { ?s ?p ?o } }",
    "SELECT * WHERE { OPTIONAL { SERVICE <http://a.example/> { ?s ?p ?o } } }",
    "PREFIX e: <http://a.example/> SELECT * WHERE { SERVICE e:sparql { ?s ?p ?o } }",
    "SELECT * WHERE { ?x ?y ?z } # comment\nSERVICE <http://a.example/> { }",
    # Oxigraph reads this as the number 1 followed by the keyword; rdflib cannot parse it
    "SELECT * WHERE { ?s ?p 1SERVICE <http://a.example/> { ?a ?b ?c } }",
    # RDF 1.2 syntax rdflib does not know: not checkable, so refused
    "SELECT * WHERE { VALUES ?x { <<( <a:b> <a:c> <a:d> )>> } SERVICE <http://a.example/> {} }",
]


@pytest.mark.parametrize("query", NOT_CALLS)
def test_words_in_strings_comments_and_names_are_not_calls(query: str) -> None:
    check(query, update=False)  # no exception


@pytest.mark.parametrize("query", CALLS)
def test_service_calls_are_refused_by_default(query: str) -> None:
    with pytest.raises(OutboundRefused) as e:
        check(query, update=False)
    assert "SERVICE" in str(e.value)
    assert e.value.status == 400


def test_variable_endpoint_is_refused_even_when_endpoints_are_allowed() -> None:
    q = "SELECT * WHERE { VALUES ?e { <http://a.example/> } SERVICE ?e { ?s ?p ?o } }"
    with pytest.raises(OutboundRefused, match="variable"):
        check(q, update=False, allow=("http://a.example/",))


def test_allowed_endpoint_passes_and_others_do_not() -> None:
    allow = ("http://127.0.0.1:8000",)
    check(
        "SELECT * { SERVICE <http://127.0.0.1:8000/sparql> { ?s ?p ?o } }",
        update=False,
        allow=allow,
    )
    with pytest.raises(OutboundRefused, match="allows only"):
        check(
            "SELECT * { SERVICE <http://127.0.0.2:8000/sparql> { ?s ?p ?o } }",
            update=False,
            allow=allow,
        )


def test_prefixes_match_at_a_boundary_only() -> None:
    allow = ("http://127.0.0.1:8000",)
    assert allowed("http://127.0.0.1:8000/sparql", allow)
    assert allowed("http://127.0.0.1:8000", allow)
    assert not allowed("http://127.0.0.1:80001/sparql", allow)
    assert not allowed("http://127.0.0.1:8000.evil.example/sparql", allow)
    assert not allowed("http://127.0.0.1:8000@evil.example/", allow)
    assert allowed("http://h.example/sparql/x", ("http://h.example/sparql/",))
    assert not allowed("http://h.example/sparql2", ("http://h.example/sparql",))


def test_one_allowed_endpoint_does_not_cover_another_in_the_same_query() -> None:
    q = (
        "SELECT * WHERE { SERVICE <http://ok.example/s> { ?s ?p ?o } "
        "SERVICE <http://evil.example/s> { ?s ?p ?o } }"
    )
    with pytest.raises(OutboundRefused, match="evil"):
        check(q, update=False, allow=("http://ok.example/",))


@pytest.mark.parametrize(
    "update",
    [
        "LOAD <http://a.example/data.ttl>",
        "load<http://a.example/data.ttl>",
        "LOAD SILENT <http://a.example/data.ttl> INTO GRAPH <urn:g>",
        "INSERT DATA { <urn:a> <urn:b> <urn:c> } ; LOAD <http://a.example/data.ttl>",
        "INSERT { ?s ?p ?o } WHERE { SERVICE <http://a.example/> { ?s ?p ?o } }",
    ],
)
def test_load_and_service_in_updates_are_refused(update: str) -> None:
    with pytest.raises(OutboundRefused):
        check(update, update=True)


def test_load_in_a_string_is_data() -> None:
    check('INSERT DATA { <urn:a> <urn:b> "LOAD <http://a.example/>" }', update=True)


def test_allowed_load_passes() -> None:
    check("LOAD <http://a.example/d.ttl>", update=True, allow=("http://a.example/",))


def test_keywords_are_found_outside_strings_only() -> None:
    assert outbound_keywords('ASK { ?s ?p "service" }') == set()
    assert outbound_keywords("ASK { SERVICE <x:y> {} }") == {"service"}
    assert outbound_keywords("LOAD <x:y>") == {"load"}


def test_unterminated_strings_do_not_hide_a_keyword_after_them() -> None:
    # an unterminated string is a syntax error for Oxigraph too; what follows must still count
    assert outbound_keywords('ASK { ?s ?p "abc\nSERVICE <x:y> {} }') == {"service"}
