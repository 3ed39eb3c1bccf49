"""/sparql over real HTTP on loopback: real clients, every format, the service description,
CORS, updates with their token, and queries that do not block each other."""

from __future__ import annotations

import csv
import io
import json
import threading
from collections.abc import Iterator

import httpx
import pytest
import rdflib
from pyoxigraph import (
    Literal,
    NamedNode,
    QueryResultsFormat,
    RdfFormat,
    parse,
    parse_query_results,
)
from rdflib.compare import isomorphic
from rdflib.plugins.stores.sparqlstore import SPARQLStore
from SPARQLWrapper import JSON, XML, SPARQLWrapper

from tests.support.server import LiveServer, run_sovkg
from tests.support.setups import every_setup

pytestmark = pytest.mark.live

TOKEN = "endpoint-test-token"
BASE_URL = "https://kg.example.org/ksai"
SD = rdflib.Namespace("http://www.w3.org/ns/sparql-service-description#")
VOID = rdflib.Namespace("http://rdfs.org/ns/void#")
BROWSER_ACCEPT = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
)

#: query independent of the article's facts: every named graph and its size
GRAPHS = "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g ORDER BY ?g"
#: labels with language tags and datatypes (whatever the graph holds)
LABELS = (
    "SELECT ?s ?label WHERE { ?s <http://www.w3.org/2000/01/rdf-schema#label> ?label } "
    "ORDER BY ?s ?label LIMIT 40"
)
CONSTRUCT = (
    "CONSTRUCT { ?s a ?c } WHERE { GRAPH ?g { ?s a ?c } "
    "FILTER(STRSTARTS(STR(?g), 'https://w3id.org/ksai/graph/ontology/')) } LIMIT 200"
)


@pytest.fixture(scope="module")
def update_server() -> Iterator[LiveServer]:
    """Updates enabled (token), no standing worker pool (--query-workers 0: a child forked per
    query), a public --base-url, the same data as the shared server."""
    server = LiveServer(
        "--no-validate",
        "--allow-updates",
        "--query-workers",
        "0",
        "--base-url",
        BASE_URL,
        env={"SOVKG_TOKEN": TOKEN},
    )
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def _json_rows(body: bytes) -> set[tuple[tuple[str, str], ...]]:
    data = json.loads(body)
    return {
        tuple(sorted((k, v["value"]) for k, v in b.items())) for b in data["results"]["bindings"]
    }


def _sovkg_rows(query: str) -> set[tuple[tuple[str, str], ...]]:
    done = run_sovkg("query", query, "--format", "json")
    assert done.returncode == 0, done.stderr
    return _json_rows(done.stdout)


@every_setup
@pytest.mark.parametrize("query", [GRAPHS, LABELS], ids=["graphs", "labels"])
def test_real_clients_agree_with_sovkg_query(live_server: LiveServer, query: str) -> None:
    expected = _sovkg_rows(query)
    assert expected
    url = live_server.url + "/sparql"

    r = httpx.get(url, params={"query": query})
    assert r.status_code == 200
    assert _json_rows(r.content) == expected

    sw = SPARQLWrapper(url)
    sw.setQuery(query)
    sw.setReturnFormat(JSON)
    got = sw.queryAndConvert()
    assert {
        tuple(sorted((k, v["value"]) for k, v in b.items())) for b in got["results"]["bindings"]
    } == expected

    sw.setReturnFormat(XML)
    doc = sw.queryAndConvert()
    rows = set()
    for result in doc.getElementsByTagName("result"):
        row = []
        for binding in result.getElementsByTagName("binding"):
            value = binding.firstChild
            while value is not None and value.nodeType != value.ELEMENT_NODE:
                value = value.nextSibling
            text = "".join(n.data for n in value.childNodes if n.nodeType == n.TEXT_NODE)
            row.append((binding.getAttribute("name"), text))
        rows.add(tuple(sorted(row)))
    assert rows == expected

    store = SPARQLStore(query_endpoint=url)
    result = store.query(query)
    assert {
        tuple(sorted((str(v), str(row[v])) for v in result.vars if row[v] is not None))
        for row in result
    } == expected


@pytest.mark.parametrize(
    "media",
    [
        "application/sparql-results+json",
        "application/sparql-results+xml",
        "text/tab-separated-values",
        "application/json",
    ],
)
@every_setup
def test_select_formats_parse_back_to_the_same_result(live_server: LiveServer, media: str) -> None:
    url = live_server.url + "/sparql"
    reference = list(
        parse_query_results(
            httpx.get(url, params={"query": LABELS}).content, format=QueryResultsFormat.JSON
        )
    )
    r = httpx.get(url, params={"query": LABELS}, headers={"Accept": media})
    assert r.status_code == 200
    assert r.headers["content-type"].split(";")[0] == media
    assert r.headers["vary"] in ("Accept", "Accept, Accept-Encoding")  # gzip when accepted
    fmt = QueryResultsFormat.from_media_type(media)
    got = list(parse_query_results(r.content, format=fmt))
    assert [tuple(s) for s in got] == [tuple(s) for s in reference]


@every_setup
def test_csv_results(live_server: LiveServer) -> None:
    url = live_server.url + "/sparql"
    r = httpx.get(url, params={"query": GRAPHS}, headers={"Accept": "text/csv"})
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert {(("g", x["g"]), ("n", x["n"])) for x in rows} == _json_rows(
        httpx.get(url, params={"query": GRAPHS}).content
    )


@every_setup
def test_ask_formats(live_server: LiveServer) -> None:
    for media in ("application/sparql-results+json", "application/sparql-results+xml"):
        r = httpx.post(
            live_server.url + "/sparql",
            content="ASK { ?s ?p ?o }",
            headers={"Content-Type": "application/sparql-query", "Accept": media},
        )
        result = parse_query_results(r.content, format=QueryResultsFormat.from_media_type(media))
        assert bool(result) is True


@pytest.mark.parametrize(
    "media",
    [
        "text/turtle",
        "application/n-triples",
        "application/n-quads",
        "application/trig",
        "application/ld+json",
        "application/rdf+xml",
    ],
)
@every_setup
def test_graph_formats_parse_back_to_the_same_graph(live_server: LiveServer, media: str) -> None:
    url = live_server.url + "/sparql"
    turtle = httpx.get(url, params={"query": CONSTRUCT})  # no preference: Turtle
    assert turtle.headers["content-type"] == "text/turtle; charset=utf-8"
    reference = rdflib.Graph().parse(data=turtle.content, format="turtle")
    assert len(reference) > 0
    r = httpx.get(url, params={"query": CONSTRUCT}, headers={"Accept": media})
    assert r.status_code == 200
    assert r.headers["content-type"].split(";")[0] == media
    quads = list(parse(r.content, format=RdfFormat.from_media_type(media)))
    got = rdflib.Graph()
    for q in quads:
        got.add(tuple(_to_rdflib(t) for t in (q.subject, q.predicate, q.object)))
    assert isomorphic(got, reference)


def _to_rdflib(term: object) -> rdflib.term.Node:
    if isinstance(term, NamedNode):
        return rdflib.URIRef(term.value)
    if isinstance(term, Literal):
        return rdflib.Literal(
            term.value,
            lang=term.language,
            datatype=None if term.language else rdflib.URIRef(term.datatype.value),
        )
    return rdflib.BNode(str(term))


@every_setup
def test_406_lists_what_is_available(live_server: LiveServer) -> None:
    url = live_server.url + "/sparql"
    r = httpx.get(
        url, params={"query": CONSTRUCT}, headers={"Accept": "application/sparql-results+json"}
    )
    assert r.status_code == 406
    assert r.headers["vary"] == "Accept"
    assert "text/turtle" in r.text and "application/rdf+xml" in r.text
    r = httpx.get(url, params={"query": GRAPHS}, headers={"Accept": "text/turtle"})
    assert r.status_code == 406
    assert "application/sparql-results+json" in r.text and "text/csv" in r.text
    r = httpx.get(url, headers={"Accept": "image/png"})  # the service description too
    assert r.status_code == 406


@every_setup
def test_q_values_and_wildcards(live_server: LiveServer) -> None:
    url = live_server.url + "/sparql"

    def media(query: str, accept: str) -> str:
        r = httpx.get(url, params={"query": query}, headers={"Accept": accept})
        assert r.status_code == 200, r.text
        return r.headers["content-type"].split(";")[0]

    assert media(GRAPHS, "application/sparql-results+xml;q=0.9, text/csv") == "text/csv"
    assert media(GRAPHS, "text/csv;q=0.1, application/sparql-results+xml;q=0.2") == (
        "application/sparql-results+xml"
    )
    assert media(GRAPHS, "text/*") == "text/csv"
    assert media(GRAPHS, "*/*") == "application/sparql-results+json"
    assert media(CONSTRUCT, "application/*") == "application/n-triples"
    assert media(CONSTRUCT, "text/turtle;q=0.2, application/ld+json;q=0.8") == (
        "application/ld+json"
    )
    # one header serves both forms
    both = "application/sparql-results+xml, application/rdf+xml;q=0.9"
    assert media(GRAPHS, both) == "application/sparql-results+xml"
    assert media(CONSTRUCT, both) == "application/rdf+xml"


@every_setup
def test_from_uses_its_graph_not_the_union(live_server: LiveServer) -> None:
    url = live_server.url + "/sparql"
    sizes = {
        dict(row)["g"]: int(dict(row)["n"])
        for row in _json_rows(httpx.get(url, params={"query": GRAPHS}).content)
    }
    graph, size = sorted(sizes.items())[0]
    count = f"SELECT (COUNT(*) AS ?n) FROM <{graph}> WHERE {{ ?s ?p ?o }}"
    rows = _json_rows(httpx.get(url, params={"query": count}).content)
    assert rows == {(("n", str(size)),)}
    # the protocol's default-graph-uri overrides FROM; a graph that is not there is empty
    empty = httpx.get(url, params={"query": count, "default-graph-uri": "http://example.org/none"})
    assert _json_rows(empty.content) == {(("n", "0"),)}


def _sd_graph(r: httpx.Response) -> rdflib.Graph:
    assert r.status_code == 200, r.text
    fmt = {"text/turtle": "turtle", "application/ld+json": "json-ld", "application/rdf+xml": "xml"}
    return rdflib.Graph().parse(data=r.content, format=fmt[r.headers["content-type"].split(";")[0]])


@every_setup
def test_service_description(live_server: LiveServer) -> None:
    url = live_server.url + "/sparql"
    r = httpx.get(url)
    assert r.headers["content-type"] == "text/turtle; charset=utf-8"
    g = _sd_graph(r)
    service = g.value(predicate=rdflib.RDF.type, object=SD.Service)
    assert g.value(service, SD.endpoint) == rdflib.URIRef(url)
    assert set(g.objects(service, SD.supportedLanguage)) == {SD.SPARQL11Query}
    assert SD.UnionDefaultGraph in set(g.objects(service, SD.feature))
    assert SD.BasicFederatedQuery not in set(g.objects(service, SD.feature))
    formats = {str(f).rsplit("/", 1)[1] for f in g.objects(service, SD.resultFormat)}
    assert {"SPARQL_Results_JSON", "SPARQL_Results_CSV", "Turtle", "JSON-LD", "RDF_XML"} <= formats
    assert set(g.objects(service, SD.inputFormat))
    dataset = g.value(service, SD.defaultDataset)
    described = {}
    for named in g.objects(dataset, SD.namedGraph):
        described[str(g.value(named, SD.name))] = int(
            g.value(g.value(named, SD.graph), VOID.triples)
        )
    sizes = {
        dict(row)["g"]: int(dict(row)["n"])
        for row in _json_rows(httpx.get(url, params={"query": GRAPHS}).content)
    }
    assert described == sizes
    default = g.value(dataset, SD.defaultGraph)
    assert int(g.value(default, VOID.triples)) > 0
    for media in ("application/ld+json", "application/rdf+xml"):
        other = _sd_graph(httpx.get(url, headers={"Accept": media}))
        assert isomorphic(other, g)


def test_service_description_behind_a_proxy(live_server: LiveServer) -> None:
    r = httpx.get(
        live_server.url + "/sparql",
        headers={"X-Forwarded-Host": "kg.example.net", "X-Forwarded-Proto": "https"},
    )
    g = _sd_graph(r)
    assert set(g.objects(None, SD.endpoint)) == {rdflib.URIRef("https://kg.example.net/sparql")}
    r = httpx.get(live_server.url + "/query")
    assert set(_sd_graph(r).objects(None, SD.endpoint)) == {
        rdflib.URIRef(live_server.url + "/query")
    }


def test_service_description_with_base_url_and_updates(update_server: LiveServer) -> None:
    g = _sd_graph(httpx.get(update_server.url + "/sparql", headers={"X-Forwarded-Host": "x.y"}))
    assert set(g.objects(None, SD.endpoint)) == {rdflib.URIRef(BASE_URL + "/sparql")}
    assert SD.SPARQL11Update in set(g.objects(None, SD.supportedLanguage))


@every_setup
@pytest.mark.parametrize("accept", ["text/html", BROWSER_ACCEPT])
def test_browsers_get_the_query_ui(live_server: LiveServer, accept: str) -> None:
    r = httpx.get(live_server.url + "/sparql", headers={"Accept": accept})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "Accept" in r.headers["vary"]
    assert "<html" in r.text.lower()


def test_cors_for_reads_not_for_updates(live_server: LiveServer, update_server: LiveServer) -> None:
    origin = {"Origin": "https://elsewhere.example"}
    r = httpx.get(live_server.url + "/sparql", params={"query": "ASK {}"}, headers=origin)
    assert r.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in r.headers
    pre = httpx.options(
        live_server.url + "/sparql",
        headers={
            **origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert pre.status_code == 204
    assert pre.headers["access-control-allow-origin"] == "*"
    assert "POST" in pre.headers["access-control-allow-methods"]
    assert "content-type" in pre.headers["access-control-allow-headers"].lower()
    assert "authorization" not in pre.headers["access-control-allow-headers"].lower()
    up = httpx.post(
        update_server.url + "/sparql",
        data={"update": "CLEAR SILENT GRAPH <http://example.org/cors>"},
        headers={**origin, "Authorization": f"Bearer {TOKEN}"},
    )
    assert up.status_code == 204
    assert "access-control-allow-origin" not in up.headers


@every_setup
def test_updates_are_refused_on_a_read_only_server(live_server: LiveServer) -> None:
    r = httpx.post(
        live_server.url + "/sparql",
        content="CLEAR ALL",
        headers={"Content-Type": "application/sparql-update", "Authorization": "Bearer x"},
    )
    assert r.status_code == 403
    assert "--allow-updates" in r.text
    assert r.headers["content-type"].startswith("text/plain")


def test_updates_need_the_token(update_server: LiveServer) -> None:
    url = update_server.url + "/update"
    insert = (
        "INSERT DATA { GRAPH <http://example.org/t> "
        "{ <http://example.org/s> <http://example.org/p> <rel> } }"
    )
    headers = {"Content-Type": "application/sparql-update"}
    for auth in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        r = httpx.post(url, content=insert, headers={**headers, **auth})
        assert r.status_code == 401
        assert r.headers["www-authenticate"].startswith("Bearer")
    r = httpx.post(url, content=insert, headers={**headers, "Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 204, r.text
    ask = httpx.get(
        update_server.url + "/sparql",
        params={"query": "SELECT ?o { GRAPH <http://example.org/t> { ?s ?p ?o } }"},
    )
    # relative IRIs resolve against the endpoint (here its public --base-url)
    assert _json_rows(ask.content) == {(("o", BASE_URL + "/rel"),)}
    bad = httpx.post(
        url, content="INSERT DATA {", headers={**headers, "Authorization": f"Bearer {TOKEN}"}
    )
    assert bad.status_code == 400 and "error at 1:" in bad.text


def test_update_dataset_parameters(update_server: LiveServer) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    url = update_server.url + "/sparql"
    setup = (
        "INSERT DATA { GRAPH <http://example.org/src> "
        "{ <http://example.org/a> a <http://example.org/C> } }"
    )
    assert httpx.post(url, data={"update": setup}, headers=auth).status_code == 204
    copy = "INSERT { GRAPH <http://example.org/dst> { ?s a ?c } } WHERE { ?s a ?c }"
    r = httpx.post(
        url, data={"update": copy, "using-graph-uri": "http://example.org/src"}, headers=auth
    )
    assert r.status_code == 204, r.text
    count = "SELECT (COUNT(*) AS ?n) { GRAPH <http://example.org/dst> { ?s ?p ?o } }"
    assert _json_rows(httpx.get(url, params={"query": count}).content) == {(("n", "1"),)}
    conflict = httpx.post(
        url,
        data={
            "update": "WITH <http://example.org/src> DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }",
            "using-graph-uri": "http://example.org/src",
        },
        headers=auth,
    )
    assert conflict.status_code == 400
    assert "WITH" in conflict.text


def test_allow_updates_without_a_token_refuses_to_start() -> None:
    done = run_sovkg("serve", "--allow-updates", "--port", "1", timeout=60)
    assert done.returncode == 2
    assert b"SOVKG_TOKEN" in done.stderr


@pytest.mark.parametrize(
    "server", ["live_server", "update_server"], ids=["pool", "child-per-query"]
)
def test_a_slow_query_does_not_block_others(server: str, request: pytest.FixtureRequest) -> None:
    """While a query that takes seconds runs, /health and a quick query are answered."""
    live: LiveServer = request.getfixturevalue(server)
    numbers = " ".join(str(i) for i in range(100))
    cross = " ".join(f"VALUES ?v{i} {{ {numbers} }}" for i in range(3))
    tens = " ".join(str(i) for i in range(10))
    slow = f"SELECT (COUNT(*) AS ?n) WHERE {{ {cross} VALUES ?x {{ {tens} }} }}"  # 10^7 rows
    outcome: dict[str, object] = {}

    def run_slow() -> None:
        outcome["status"] = httpx.get(
            live.url + "/sparql", params={"query": slow}, timeout=120
        ).status_code

    started = threading.Event()
    thread = threading.Thread(target=lambda: (started.set(), run_slow()))
    thread.start()
    started.wait()
    try:
        for _ in range(3):
            assert httpx.get(live.url + "/health", timeout=30).status_code == 200
            quick = httpx.get(live.url + "/sparql", params={"query": "ASK {}"}, timeout=30)
            assert quick.status_code == 200
        assert thread.is_alive()  # the quick answers came while the slow query still ran
    finally:
        thread.join()
    assert outcome["status"] in (200, 503)  # 503: killed at the server's time limit


def test_results_stream_in_chunks(live_server: LiveServer) -> None:
    """A large result (past the cache's body limit, not gzipped) arrives in several chunks, and
    parses whole. Gzipped, the same answer is small enough to be cached and sent as one body."""
    numbers = " ".join(str(i) for i in range(300))
    query = f"SELECT * WHERE {{ VALUES ?a {{ {numbers} }} VALUES ?b {{ {numbers} }} }}"
    with httpx.stream(
        "GET",
        live_server.url + "/sparql",
        params={"query": query},
        headers={"Accept-Encoding": "identity"},
        timeout=60,
    ) as r:
        assert r.status_code == 200
        assert "content-length" not in r.headers
        chunks = list(r.iter_raw())
    assert len(chunks) > 1
    assert len(json.loads(b"".join(chunks))["results"]["bindings"]) == 300 * 300
