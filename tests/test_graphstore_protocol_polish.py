"""What real clients hit besides the graph store, against a live server: the HTTP QUERY method,
gzip both ways, the Accept aliases, syntax errors that name their cause, ``SELECT *`` columns in
the query's order, entity RDF with its incoming links, the ontology's version IRI, VoID as a
page, and the graph store in the service description and VoID."""

from __future__ import annotations

import csv
import gzip
import io
import json

import httpx
import pytest
import rdflib
from pyoxigraph import RdfFormat, parse

from tests.support.server import LiveServer

pytestmark = pytest.mark.live

NAVER = "https://w3id.org/ksai/id/team/naver-cloud"
ORG_ORGANIZATION = "http://www.w3.org/ns/org#organization"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
SPARQL_QUERY = {"Content-Type": "application/sparql-query"}
CONSTRUCT = "CONSTRUCT WHERE { ?s ?p ?o } LIMIT 5"


# --- the QUERY method ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/sparql", "/query"])
def test_the_query_method_runs_a_query(live_server: LiveServer, path: str) -> None:
    r = httpx.request(
        "QUERY",
        live_server.url + path,
        content=b"ASK { ?s ?p ?o }",
        headers={**SPARQL_QUERY, "Accept": "application/sparql-results+json"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["boolean"] is True


def test_the_query_method_carries_no_update(live_server: LiveServer) -> None:
    r = httpx.request(
        "QUERY",
        f"{live_server.url}/sparql",
        content=b"update=CLEAR ALL",
        headers=FORM,
    )
    assert r.status_code == 400
    assert "QUERY" in r.text


def test_options_lists_query(live_server: LiveServer) -> None:
    assert "QUERY" in httpx.options(f"{live_server.url}/sparql").headers["allow"]


# --- gzip -----------------------------------------------------------------------------------


def test_a_gzip_request_body_is_read(live_server: LiveServer) -> None:
    body = gzip.compress(b"query=" + b"ASK%20%7B%20%3Fs%20%3Fp%20%3Fo%20%7D")
    r = httpx.post(
        f"{live_server.url}/sparql",
        content=body,
        headers={**FORM, "Content-Encoding": "gzip", "Accept": "application/sparql-results+json"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["boolean"] is True


def test_a_zip_bomb_is_413(live_server: LiveServer) -> None:
    """9 MiB of zeros compress to a few KiB; decompressed they pass the 8 MiB limit."""
    bomb = gzip.compress(b"query=" + b"0" * (9 * 1024 * 1024))
    assert len(bomb) < 64 * 1024
    r = httpx.post(
        f"{live_server.url}/sparql", content=bomb, headers={**FORM, "Content-Encoding": "gzip"}
    )
    assert r.status_code == 413
    assert "decompressed" in r.text


@pytest.mark.parametrize(
    ("encoding", "body", "status"),
    [("gzip", b"not gzip at all", 400), ("br", b"whatever", 415)],
)
def test_bad_or_unknown_encodings(
    live_server: LiveServer, encoding: str, body: bytes, status: int
) -> None:
    r = httpx.post(
        f"{live_server.url}/sparql", content=body, headers={**FORM, "Content-Encoding": encoding}
    )
    assert r.status_code == status
    assert r.text.strip()


def test_query_results_are_gzipped_when_accepted(live_server: LiveServer) -> None:
    params = {"query": "SELECT * WHERE { ?s ?p ?o } LIMIT 200"}
    with httpx.Client() as client:
        gz = client.get(
            f"{live_server.url}/sparql", params=params, headers={"Accept-Encoding": "gzip"}
        )
        plain = client.get(
            f"{live_server.url}/sparql", params=params, headers={"Accept-Encoding": "identity"}
        )
    assert gz.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in gz.headers["vary"]
    assert "content-encoding" not in plain.headers
    assert gz.json() == plain.json()  # httpx decoded the gzip


# --- Accept aliases -------------------------------------------------------------------------


def test_construct_as_application_json_is_json_ld(live_server: LiveServer) -> None:
    r = httpx.get(
        f"{live_server.url}/sparql",
        params={"query": CONSTRUCT},
        headers={"Accept": "application/json"},
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    json.loads(r.text)
    assert len(list(parse(r.content, format=RdfFormat.JSON_LD))) == 5


def test_select_as_application_json_stays_sparql_json(live_server: LiveServer) -> None:
    r = httpx.get(
        f"{live_server.url}/sparql",
        params={"query": "SELECT ?s WHERE { ?s ?p ?o } LIMIT 1"},
        headers={"Accept": "application/json"},
    )
    assert r.json()["head"]["vars"] == ["s"]


@pytest.mark.parametrize("accept", ["text/n3", "application/x-turtle"])
def test_turtle_aliases(live_server: LiveServer, accept: str) -> None:
    r = httpx.get(
        f"{live_server.url}/sparql", params={"query": CONSTRUCT}, headers={"Accept": accept}
    )
    assert r.status_code == 200
    assert r.headers["content-type"].split(";")[0] == accept
    assert len(list(parse(r.content, format=RdfFormat.TURTLE))) == 5


@pytest.mark.parametrize("accept", ["application/n-quads", "application/trig"])
@pytest.mark.parametrize("path", ["/.well-known/void", "/id/team/naver-cloud"])
def test_void_and_entities_in_quad_syntaxes(
    live_server: LiveServer, path: str, accept: str
) -> None:
    r = httpx.get(live_server.url + path, headers={"Accept": accept}, timeout=60)
    assert r.status_code == 200
    assert r.headers["content-type"].split(";")[0] == accept
    fmt = RdfFormat.from_media_type(accept)
    assert fmt is not None
    assert len(list(parse(r.content, format=fmt))) > 10


# --- syntax errors --------------------------------------------------------------------------


def test_an_undeclared_prefix_is_named(live_server: LiveServer) -> None:
    r = httpx.get(
        f"{live_server.url}/sparql",
        params={"query": "SELECT ?s WHERE {\n  ?s foo:bar ?o }"},
    )
    assert r.status_code == 400
    first, second = r.text.strip().split("\n")
    assert first.startswith("SPARQL syntax error: line 2, column ")
    assert "'foo:'" in first
    assert "service description" in first and "README" in first
    assert len(first) < 300  # not the parser's Unicode ranges
    assert second.startswith("parser: error at 2:")


def test_a_predeclared_prefix_is_not_blamed(live_server: LiveServer) -> None:
    r = httpx.get(
        f"{live_server.url}/sparql",
        params={"query": "SELECT ?s WHERE { ?s ksai:x ?o . ?s nope:y ?z }"},
    )
    assert r.status_code == 400
    assert "'nope:'" in r.text and "'ksai:'" not in r.text


def test_an_unknown_cause_keeps_the_parsers_message(live_server: LiveServer) -> None:
    r = httpx.get(f"{live_server.url}/sparql", params={"query": "SELEC * WHERE {}"})
    assert r.status_code == 400
    assert r.text.startswith("SPARQL syntax error: error at 1:")  # as the parser says it
    assert "parser:" not in r.text


def test_an_incomplete_triple_is_named(live_server: LiveServer) -> None:
    r = httpx.get(f"{live_server.url}/sparql", params={"query": "SELECT ?s WHERE { ?s ?p }"})
    assert r.status_code == 400
    first, second = r.text.strip().split("\n")
    assert first.startswith("SPARQL syntax error: line 1, column 26: ")
    assert "incomplete" in first
    assert second == "parser: error at 1:26: expected one of LATERAL, SERVICE, [_]"


# --- SELECT * -------------------------------------------------------------------------------


def test_select_star_columns_in_the_querys_order(live_server: LiveServer) -> None:
    query = "SELECT * WHERE { ?team a ksai:Team ; ?p ?o } LIMIT 3"
    r = httpx.get(
        f"{live_server.url}/sparql", params={"query": query}, headers={"Accept": "text/csv"}
    )
    assert r.status_code == 200, r.text
    header = next(csv.reader(io.StringIO(r.text)))
    assert header == ["team", "p", "o"]
    j = httpx.get(f"{live_server.url}/sparql", params={"query": "SELECT * { ?s ?p ?o } LIMIT 2"})
    assert j.json()["head"]["vars"] == ["s", "p", "o"]
    assert len(j.json()["results"]["bindings"]) == 2


# --- Linked Data ----------------------------------------------------------------------------


def test_entity_rdf_has_its_incoming_links(live_server: LiveServer) -> None:
    """The team's Turtle names the memberships that point at it (org:organization), which its
    page lists, so a crawler can walk from the team to its members."""
    r = httpx.get(f"{live_server.url}/id/team/naver-cloud", headers={"Accept": "text/turtle"})
    g = rdflib.Graph().parse(data=r.text, format="turtle")
    incoming = set(g.subjects(rdflib.URIRef(ORG_ORGANIZATION), rdflib.URIRef(NAVER)))
    assert len(incoming) >= 5
    assert all("/id/membership/" in str(s) for s in incoming)


def test_the_ontology_version_iri_dereferences(live_server: LiveServer) -> None:
    r = httpx.get(f"{live_server.url}/ontology/0.1.0", headers={"Accept": "text/turtle"})
    assert r.status_code == 200
    g = rdflib.Graph().parse(data=r.text, format="turtle")
    owl = rdflib.Namespace("http://www.w3.org/2002/07/owl#")
    version = rdflib.URIRef("https://w3id.org/ksai/ontology/0.1.0")
    assert (None, owl.versionIRI, version) in g
    page = httpx.get(f"{live_server.url}/ontology/0.1.0", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "<html" in page.text
    assert httpx.get(f"{live_server.url}/ontology/9.9.9").status_code == 404


def test_void_has_a_page(live_server: LiveServer) -> None:
    r = httpx.get(
        f"{live_server.url}/.well-known/void", headers={"Accept": "text/html"}, timeout=60
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "Graph store" in r.text and "void:sparqlEndpoint" in r.text


def test_void_and_the_service_description_name_the_graph_store(live_server: LiveServer) -> None:
    gsp = rdflib.URIRef("https://www.w3.org/TR/sparql11-http-rdf-update/")
    conforms = rdflib.URIRef("http://purl.org/dc/terms/conformsTo")
    void = rdflib.Graph().parse(
        data=httpx.get(f"{live_server.url}/.well-known/void", timeout=60).text, format="turtle"
    )
    assert [str(s) for s in void.subjects(conforms, gsp)] == [f"{live_server.url}/store"]
    sd = rdflib.Graph().parse(
        data=httpx.get(f"{live_server.url}/sparql", headers={"Accept": "text/turtle"}).text,
        format="turtle",
    )
    assert [str(s) for s in sd.subjects(conforms, gsp)] == [f"{live_server.url}/store"]
    sh = rdflib.Namespace("http://www.w3.org/ns/shacl#")
    declared = {str(p) for p in sd.objects(None, sh.prefix)}
    assert {"ksai", "skos", "org"} <= declared
