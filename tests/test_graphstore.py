"""``/store``, the Graph Store HTTP Protocol, against live servers: reads of the shipped graphs
open to anyone, writes with the token through the engine's writer (atomic, durable with
``--store``, bounded, and followed by fresh caches, dumps and VoID), and the protocol's rules."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import rdflib
from pyoxigraph import RdfFormat, parse

from tests.support.server import LiveServer

pytestmark = pytest.mark.live

TOKEN = "graph-store-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TEAMS = "https://w3id.org/ksai/graph/data/teams"
NAVER = "https://w3id.org/ksai/id/team/naver-cloud"
MAX_BODY = 64 * 1024
TURTLE = {"Content-Type": "text/turtle"}


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gsp-store") / "db"


@pytest.fixture(scope="module")
def writable(store_dir: Path) -> Iterator[LiveServer]:
    """A server with updates on, its data in RocksDB, a small body limit."""
    server = LiveServer(
        "--no-validate",
        "--allow-updates",
        "--store",
        str(store_dir),
        "--max-body",
        str(MAX_BODY),
        env={"SOVKG_TOKEN": TOKEN},
    )
    try:
        server.wait_ready(timeout=120)
        yield server
    finally:
        server.stop()


def graph_url(server: LiveServer, iri: str) -> str:
    return f"{server.url}/store?graph={httpx.QueryParams({'g': iri})['g']}"


def put(server: LiveServer, iri: str, body: bytes, headers: dict[str, str] | None = None):
    return httpx.put(
        f"{server.url}/store",
        params={"graph": iri},
        content=body,
        headers={**TURTLE, **AUTH, **(headers or {})},
        timeout=60,
    )


# --- reads -----------------------------------------------------------------------------------


def test_a_shipped_graph_is_read_by_anyone(live_server: LiveServer) -> None:
    """GET ?graph= of a shipped graph, no token: its triples, Turtle, an ETag and Vary."""
    r = httpx.get(f"{live_server.url}/store", params={"graph": TEAMS}, timeout=60)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/turtle; charset=utf-8"
    assert r.headers["etag"].startswith('"')
    assert "Accept" in r.headers["vary"]
    g = rdflib.Graph().parse(data=r.text, format="turtle")
    assert (rdflib.URIRef(NAVER), None, None) in g
    again = httpx.get(
        f"{live_server.url}/store",
        params={"graph": TEAMS},
        headers={"If-None-Match": r.headers["etag"]},
    )
    assert again.status_code == 304


@pytest.mark.parametrize(
    "accept",
    [
        "text/turtle",
        "application/n-triples",
        "application/n-quads",
        "application/trig",
        "application/ld+json",
        "application/rdf+xml",
    ],
)
def test_a_graph_in_each_of_the_six_syntaxes(live_server: LiveServer, accept: str) -> None:
    """Each syntax parses to the same number of triples as the Turtle."""
    url = f"{live_server.url}/store"
    turtle = httpx.get(url, params={"graph": TEAMS}, headers={"Accept": "text/turtle"}).content
    r = httpx.get(url, params={"graph": TEAMS}, headers={"Accept": accept})
    assert r.status_code == 200
    assert r.headers["content-type"].split(";")[0] == accept
    fmt = RdfFormat.from_media_type(accept)
    assert fmt is not None
    want = len(list(parse(turtle, format=RdfFormat.TURTLE)))
    assert len(list(parse(r.content, format=fmt))) == want > 100


def test_head_has_the_headers_and_no_body(live_server: LiveServer) -> None:
    r = httpx.head(f"{live_server.url}/store", params={"graph": TEAMS})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/turtle")
    assert r.content == b""


def test_the_whole_store_in_a_quad_syntax(live_server: LiveServer) -> None:
    """GET /store with neither parameter: every graph, N-Quads by default (the dump's bytes)."""
    r = httpx.get(f"{live_server.url}/store", timeout=60)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/n-quads")
    dump = httpx.get(f"{live_server.url}/dumps/sovereign-ai-kg.nq", timeout=60)
    assert r.content == dump.content
    trig = httpx.get(f"{live_server.url}/store", headers={"Accept": "application/trig"})
    assert trig.headers["content-type"].startswith("application/trig")
    refused = httpx.get(f"{live_server.url}/store", headers={"Accept": "text/turtle"})
    assert refused.status_code == 406
    assert "application/n-quads" in refused.text


def test_the_default_graph_is_the_stores_own_not_the_union(live_server: LiveServer) -> None:
    """?default is the store's own default graph, empty here (all the data is in named graphs),
    while SPARQL queries see the union as their default graph."""
    r = httpx.get(f"{live_server.url}/store?default", headers={"Accept": "application/n-triples"})
    assert r.status_code == 200
    assert r.content.strip() == b""
    q = httpx.get(
        f"{live_server.url}/sparql",
        params={"query": "ASK { ?s ?p ?o }"},
        headers={"Accept": "application/sparql-results+json"},
    )
    assert q.json()["boolean"] is True


def test_gzip_when_accepted(live_server: LiveServer) -> None:
    r = httpx.get(
        f"{live_server.url}/store",
        params={"graph": TEAMS},
        headers={"Accept-Encoding": "gzip"},
    )
    assert r.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in r.headers["vary"]
    assert b"naver-cloud" in r.content  # httpx decoded it


def test_a_graph_that_does_not_exist_is_404(live_server: LiveServer) -> None:
    r = httpx.get(f"{live_server.url}/store", params={"graph": "http://example.org/none"})
    assert r.status_code == 404
    assert "http://example.org/none" in r.text


@pytest.mark.parametrize(
    ("query", "status", "words"),
    [
        ("graph=a&default", 400, "not both"),
        ("graph=http://a/1&graph=http://a/2", 400, "exactly one"),
        ("graph=not-an-iri", 400, "absolute IRI"),
        ("graph=", 400, "empty"),
    ],
)
def test_malformed_identification_is_400(
    live_server: LiveServer, query: str, status: int, words: str
) -> None:
    r = httpx.get(f"{live_server.url}/store?{query}")
    assert r.status_code == status
    assert words in r.text


def test_writes_on_a_read_only_server_are_403(live_server: LiveServer) -> None:
    for method in ("PUT", "POST", "DELETE"):
        r = httpx.request(
            method,
            f"{live_server.url}/store",
            params={"graph": TEAMS},
            content=b"<http://a> <http://b> <http://c> .",
            headers={**TURTLE, **AUTH},
        )
        assert r.status_code == 403, method
        assert "--allow-updates" in r.text
    assert httpx.get(f"{live_server.url}/store", params={"graph": TEAMS}).status_code == 200


def test_other_methods_are_405_with_allow(live_server: LiveServer) -> None:
    r = httpx.request("PATCH", f"{live_server.url}/store", params={"graph": TEAMS})
    assert r.status_code == 405
    assert "PUT" in r.headers["allow"]


# --- writes ----------------------------------------------------------------------------------


def test_put_replaces_post_merges_delete_removes(writable: LiveServer) -> None:
    iri = "http://example.org/graph/cycle"
    url = f"{writable.url}/store"
    assert put(writable, iri, b"<http://a> <http://b> 1 .").status_code == 201
    assert put(writable, iri, b"<http://a> <http://b> 2 .").status_code == 204
    got = httpx.get(url, params={"graph": iri}, headers={"Accept": "application/n-triples"})
    assert b"2" in got.content and b'"1"' not in got.content and b" 1 " not in got.content
    merged = httpx.post(
        url, params={"graph": iri}, content=b"<http://a> <http://b> 3 .", headers={**TURTLE, **AUTH}
    )
    assert merged.status_code == 204
    got = httpx.get(url, params={"graph": iri}, headers={"Accept": "application/n-triples"})
    assert len(got.content.strip().splitlines()) == 2
    assert httpx.delete(url, params={"graph": iri}, headers=AUTH).status_code == 204
    assert httpx.get(url, params={"graph": iri}).status_code == 404
    assert httpx.delete(url, params={"graph": iri}, headers=AUTH).status_code == 404


def test_post_to_the_store_creates_a_graph_at_its_location(writable: LiveServer) -> None:
    r = httpx.post(
        f"{writable.url}/store",
        content=b'[] <http://xmlns.com/foaf/0.1/name> "Alice" .',
        headers={**TURTLE, **AUTH},
    )
    assert r.status_code == 201
    location = r.headers["location"]
    assert location.startswith(f"{writable.url}/store/")
    direct = httpx.get(location)  # the graph's IRI is its URL
    assert direct.status_code == 200 and "Alice" in direct.text
    assert httpx.get(f"{writable.url}/store", params={"graph": location}).text == direct.text


def test_a_write_refreshes_queries_dumps_and_void(writable: LiveServer) -> None:
    iri = "http://example.org/graph/refresh"
    ask = {"query": "ASK { <http://example.org/refresh> ?p ?o }"}
    accept = {"Accept": "application/sparql-results+json"}
    before = httpx.get(f"{writable.url}/sparql", params=ask, headers=accept).json()
    dump_before = httpx.get(f"{writable.url}/dumps/sovereign-ai-kg.nq", timeout=60).content
    void_before = httpx.get(f"{writable.url}/.well-known/void", timeout=60).text
    assert before["boolean"] is False
    body = b"<http://example.org/refresh> <http://example.org/p> <http://example.org/o> ."
    assert put(writable, iri, body).status_code == 201
    after = httpx.get(f"{writable.url}/sparql", params=ask, headers=accept).json()
    assert after["boolean"] is True  # the response cache did not answer with the old one
    dump_after = httpx.get(f"{writable.url}/dumps/sovereign-ai-kg.nq", timeout=60).content
    assert b"<http://example.org/refresh>" in dump_after and dump_after != dump_before
    assert httpx.get(f"{writable.url}/.well-known/void", timeout=60).text != void_before


@pytest.mark.parametrize(
    ("body", "content_type", "words"),
    [
        (b"<http://a> <http://b> ", "text/turtle", "line 1"),
        (b"<http://a> <http://b> <http://c> .", "text/html", "unsupported Content-Type"),
        (b"<http://a> <http://b> <http://c> .", "", "needs a Content-Type"),
        (b"<http://a> <http://b> " + b"(" * 100 + b")" * 100 + b" .", "text/turtle", "nests"),
        (
            b"<http://a> <http://b> <http://c> <http://g> .",
            "application/n-quads",
            "one graph per request",
        ),
    ],
    ids=["syntax", "media-type", "no-type", "nesting", "named-graph"],
)
def test_bad_bodies_are_4xx_with_the_cause(
    writable: LiveServer, body: bytes, content_type: str, words: str
) -> None:
    iri = "http://example.org/graph/bad"
    r = httpx.put(
        f"{writable.url}/store",
        params={"graph": iri},
        content=body,
        headers={"Content-Type": content_type, **AUTH} if content_type else AUTH,
    )
    assert 400 <= r.status_code < 500
    assert words in r.text, r.text
    assert httpx.get(f"{writable.url}/store", params={"graph": iri}).status_code == 404


def test_rdfxml_entity_expansion_is_refused(writable: LiveServer) -> None:
    lol = ['<!ENTITY a0 "lollollollollollollollollollol">']
    lol += [f'<!ENTITY a{i} "{("&a" + str(i - 1) + ";") * 10}">' for i in range(1, 9)]
    doc = (
        '<?xml version="1.0"?><!DOCTYPE r [' + "".join(lol) + "]>"
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="http://a"><rdf:value>&a8;</rdf:value></rdf:Description>'
        "</rdf:RDF>"
    ).encode()
    r = put(writable, "http://example.org/graph/lol", doc, {"Content-Type": "application/rdf+xml"})
    assert r.status_code == 400
    assert "entit" in r.text


def test_a_body_that_expands_past_its_budget_is_refused(writable: LiveServer) -> None:
    """A long prefix used many times: small in Turtle, huge as triples."""
    prefix = "http://example.org/" + "x" * 4000 + "/"
    uses = " , ".join(f"p:o{i}" for i in range(2000))
    body = f"@prefix p: <{prefix}> . p:s p:p {uses} .".encode()
    assert len(body) < MAX_BODY
    r = put(writable, "http://example.org/graph/expands", body)
    assert r.status_code == 400
    assert "times its" in r.text


def test_a_body_over_the_limit_is_413_and_gzip_counts_decompressed(writable: LiveServer) -> None:
    big = b'<http://a> <http://b> "' + b"x" * MAX_BODY + b'" .'
    assert put(writable, "http://example.org/graph/big", big).status_code == 413
    bomb = gzip.compress(b"#" * (MAX_BODY * 4))
    assert len(bomb) < MAX_BODY
    r = put(writable, "http://example.org/graph/big", bomb, {"Content-Encoding": "gzip"})
    assert r.status_code == 413
    small = gzip.compress(b"<http://example.org/gz> <http://b> <http://c> .")
    ok = put(writable, "http://example.org/graph/gz", small, {"Content-Encoding": "gzip"})
    assert ok.status_code == 201
    got = httpx.get(f"{writable.url}/store", params={"graph": "http://example.org/graph/gz"})
    assert "http://example.org/gz" in got.text


def test_multipart_post_adds_every_part(writable: LiveServer) -> None:
    iri = "http://example.org/graph/multipart"
    files = [
        ("a", ("a.ttl", b"<http://example.org/m> <http://example.org/a> 1 .", "text/turtle")),
        (
            "b",
            (
                "b.nt",
                b'<http://example.org/m> <http://example.org/b> "2" .',
                "application/n-triples",
            ),
        ),
    ]
    r = httpx.post(f"{writable.url}/store", params={"graph": iri}, files=files, headers=AUTH)
    assert r.status_code == 201, r.text
    got = httpx.get(
        f"{writable.url}/store", params={"graph": iri}, headers={"Accept": "application/n-triples"}
    )
    assert len(got.content.strip().splitlines()) == 2


def test_writes_are_durable_with_store(writable: LiveServer, store_dir: Path) -> None:
    """A graph written with --store is there after a restart on the same folder."""
    iri = "http://example.org/graph/durable"
    assert put(writable, iri, b"<http://example.org/d> <http://b> <http://c> .").status_code == 201
    writable.stop()
    again = LiveServer("--no-validate", "--store", str(store_dir))
    try:
        again.wait_ready(timeout=120)
        r = httpx.get(f"{again.url}/store", params={"graph": iri})
        assert r.status_code == 200
        assert "http://example.org/d" in r.text
    finally:
        again.stop()
