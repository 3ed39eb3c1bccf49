"""The VoID/DCAT description at /.well-known/void, over real HTTP."""

from __future__ import annotations

import hashlib

import httpx
import pytest
import rdflib
from rdflib import RDF, Literal, Namespace, URIRef

from tests.support.server import LiveServer
from tests.support.setups import every_setup

pytestmark = pytest.mark.live

VOID = Namespace("http://rdfs.org/ns/void#")
DCAT = Namespace("http://www.w3.org/ns/dcat#")
DCTERMS = Namespace("http://purl.org/dc/terms/")
SPDX = Namespace("http://spdx.org/rdf/terms#")
OWL = rdflib.OWL


@pytest.fixture(scope="module")
def void(live_server) -> rdflib.Graph:
    r = httpx.get(f"{live_server.url}/.well-known/void")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/turtle")
    return rdflib.Graph().parse(data=r.text, format="turtle")


def _dataset(void: rdflib.Graph) -> URIRef:
    (ds,) = set(void.subjects(RDF.type, VOID.Dataset))
    assert (ds, RDF.type, DCAT.Dataset) in void
    return ds


@every_setup
def test_void_names_endpoint_space_vocabularies_and_size(void, live_server, store):
    ds = _dataset(void)
    assert void.value(ds, VOID.sparqlEndpoint) == URIRef(f"{live_server.url}/sparql")
    assert str(void.value(ds, VOID.uriSpace)) == "https://w3id.org/ksai/id/"
    vocabularies = {str(v) for v in void.objects(ds, VOID.vocabulary)}
    assert {"http://www.w3.org/ns/org#", "https://w3id.org/ksai/ontology#"} <= vocabularies
    nt = httpx.get(f"{live_server.url}/dumps/sovereign-ai-kg.nt").content
    assert int(void.value(ds, VOID.triples)) == len([x for x in nt.splitlines() if x.strip()])


@every_setup
def test_void_licence_version_and_source_come_from_the_graph(void, store):
    ds = _dataset(void)
    header = store.query(
        "SELECT ?v ?l WHERE { ?o a <http://www.w3.org/2002/07/owl#Ontology> ; "
        "<http://www.w3.org/2002/07/owl#versionInfo> ?v ; <http://purl.org/dc/terms/license> ?l }",
        use_default_graph_as_union=True,
    )
    row = next(iter(header))
    assert str(void.value(ds, OWL.versionInfo)) == row["v"].value
    assert str(void.value(ds, DCAT.version)) == row["v"].value
    assert str(void.value(ds, DCTERMS.license)) == row["l"].value
    articles = {
        sol["a"].value
        for sol in store.query(
            "SELECT ?a WHERE { ?a a <https://schema.org/NewsArticle> }",
            use_default_graph_as_union=True,
        )
    }
    assert articles and {str(s) for s in void.objects(ds, DCTERMS.source)} == articles


@every_setup
def test_void_dumps_match_the_served_bytes(void, live_server):
    ds = _dataset(void)
    dumps = set(void.objects(ds, VOID.dataDump))
    assert len(dumps) == 6
    distributions = list(void.objects(ds, DCAT.distribution))
    checked = 0
    for dist in distributions:
        url = void.value(dist, DCAT.downloadURL)
        if url is None:
            continue
        assert url in dumps
        body = httpx.get(str(url)).content
        assert int(void.value(dist, DCAT.byteSize)) == len(body)
        media = str(void.value(dist, DCAT.mediaType))
        served = httpx.get(str(url)).headers["content-type"].split(";")[0]
        assert media.endswith("/media-types/" + served)
        checksum = void.value(dist, SPDX.checksum)
        assert void.value(checksum, SPDX.algorithm) == SPDX.checksumAlgorithm_sha256
        value = void.value(checksum, SPDX.checksumValue)
        assert isinstance(value, Literal)
        assert str(value).lower() == hashlib.sha256(body).hexdigest()
        checked += 1
    assert checked == 6


@every_setup
def test_void_negotiates_other_syntaxes(live_server):
    for media, parser in (
        ("application/ld+json", "json-ld"),
        ("application/n-triples", "nt"),
        ("application/rdf+xml", "xml"),
    ):
        r = httpx.get(f"{live_server.url}/.well-known/void", headers={"Accept": media})
        assert r.headers["content-type"].startswith(media)
        g = rdflib.Graph().parse(data=r.content, format=parser)
        assert any(g.subjects(RDF.type, VOID.Dataset))
    assert (
        httpx.get(f"{live_server.url}/.well-known/void?format=nt")
        .headers["content-type"]
        .startswith("application/n-triples")
    )


def test_base_url_sets_the_public_urls(tmp_path):
    server = LiveServer("--base-url", "https://kg.example.org/", "--no-validate")
    try:
        server.wait_ready()
        g = rdflib.Graph().parse(
            data=httpx.get(f"{server.url}/.well-known/void").text, format="turtle"
        )
        ds = _dataset(g)
        assert g.value(ds, VOID.sparqlEndpoint) == URIRef("https://kg.example.org/sparql")
        assert all(
            str(d).startswith("https://kg.example.org/dumps/") for d in g.objects(ds, VOID.dataDump)
        )
        # pages keep linking to this server's own paths
        page = httpx.get(f"{server.url}/", headers={"Accept": "text/html"}).text
        assert 'href="/id/team/' in page
    finally:
        server.stop()
