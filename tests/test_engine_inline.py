"""Plain lookups answered in the server process (``sovkg.sparql.lookup``,
``sovkg.engine.inline``): which queries are lookups, that their answers are the workers' to the
byte, that a budget sends every larger result to a worker, and, on a real server, that a lookup
is answered while every worker is held by a runaway query."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from pyoxigraph import (
    BlankNode,
    Literal,
    NamedNode,
    Quad,
    QueryResultsFormat,
    QuerySolutions,
    Store,
    parse_query_results,
)
from sovkg.dataset import open_store
from sovkg.engine import QueryJob, execute_query
from sovkg.engine.inline import BYTES, ROWS, InlineRunner, answer_here
from sovkg.engine.pool import WorkerPool
from sovkg.namespaces import PREFIXES
from sovkg.sparql.lookup import lookup_text

from tests.support.server import LiveServer

TEAM = "https://w3id.org/ksai/id/team/naver-cloud"
S = NamedNode("http://example.org/hub")
SKOS_LABEL = "http://www.w3.org/2004/02/skos/core#prefLabel"

LOOKUPS = [
    f"SELECT ?l WHERE {{ <{TEAM}> skos:prefLabel ?l }}",
    f"SELECT * {{ <{TEAM}> ?p ?o }}",
    f"select * where {{ <{TEAM}> ?p ?o . }} LIMIT 3",
    "SELECT ?s ?t { ?s a ?t } LIMIT 5 OFFSET 2",
    'SELECT ?s { ?s skos:prefLabel "네이버클라우드 컨소시엄"@ko }',
    'SELECT ?s { ?s ?p "x"^^xsd:string }',
    f"ASK {{ <{TEAM}> ?p ?o }}",
    "ASK { ?s <http://example.org/nothing> ?o }",
    f"DESCRIBE <{TEAM}>",
    "PREFIX t: <https://w3id.org/ksai/id/team/>\nDESCRIBE t:naver-cloud t:lg-ai-research # two",
    "PREFIX a: <http://example.org/>\n" * 100 + "SELECT * { ?s a:p ?o }",
    "# a comment first\nBASE <https://w3id.org/ksai/id/>\nSELECT $o { <team/naver-cloud> ?p $o }",
]

NOT_LOOKUPS = [
    "SELECT * { ?s ?p ?s }",  # a repeated variable tests every row
    "SELECT DISTINCT ?p { ?s ?p ?o }",
    "SELECT ?s { ?s ?p ?o } ORDER BY ?s",
    "SELECT ?p (COUNT(*) AS ?n) { ?s ?p ?o } GROUP BY ?p",
    "SELECT * { ?s ?p ?o . ?o ?q ?r }",
    "SELECT * { ?s ?p ?o ; ?q ?r }",
    "SELECT * { ?s skos:prefLabel|rdfs:label ?o }",
    "SELECT * { ?s skos:broader+ ?o }",
    "SELECT * { ?s ?p ?o FILTER(isIRI(?o)) }",
    "SELECT * { OPTIONAL { ?s ?p ?o } }",
    "SELECT * { GRAPH ?g { ?s ?p ?o } }",
    "SELECT * FROM <http://example.org/g> { ?s ?p ?o }",
    "SELECT * { _:b ?p ?o }",
    "SELECT * { ?s ?p 42 }",
    "SELECT * { ?s ?p ?o } OFFSET 1000000",
    "SELECT * { ?s ?p ?o } LIMIT 5 LIMIT 6",
    "SELECT * { SERVICE <http://example.org/> { ?s ?p ?o } }",
    "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }",
    "DESCRIBE ?s WHERE { ?s ?p ?o }",
    "DESCRIBE <http://example.org/a> LIMIT 1",
    "SELECT * { ?s ?p '\\u0041' }",
    "SELECT * { ?s ?p ?o } # " + "x" * 600,  # too long to tokenize after the form
    "PREFIX a: <http://example.org/>\n" * 300 + "SELECT * { ?s ?p ?o }",  # too long
    "SELECT ?x { <http://example.org/s> ?p ?o }",  # ?x is never bound
    "INSERT DATA { <a> <b> <c> }",
]


@pytest.mark.parametrize("query", LOOKUPS)
def test_plain_lookups_are_recognised(query: str) -> None:
    assert lookup_text(query, max_offset=ROWS) is not None


@pytest.mark.parametrize("query", NOT_LOOKUPS)
def test_anything_else_is_not_a_lookup(query: str) -> None:
    assert lookup_text(query, max_offset=ROWS) is None


def test_select_star_gets_its_variables_in_the_order_of_the_triple() -> None:
    assert lookup_text("SELECT * { <s> ?p ?o }") == "SELECT ?p ?o { <s> ?p ?o }"
    assert lookup_text("SELECT * WHERE {?o ?s ?p}") == "SELECT ?o ?s ?p WHERE {?o ?s ?p}"
    assert lookup_text("SELECT * { <s> <p> <o> }") == "SELECT * { <s> <p> <o> }"
    text = "SELECT ?x { <s> ?p ?x }"
    assert lookup_text(text) is text


@pytest.fixture(scope="module")
def graph() -> Store:
    return open_store(None, [])


FORMATS = {
    "solutions": [
        "application/sparql-results+json",
        "application/sparql-results+xml",
        "text/csv",
        "text/tab-separated-values",
    ],
    "graph": ["text/turtle", "application/n-triples", "application/rdf+xml"],
}


def _same_answer(here: bytes, worker: bytes, media_type: str) -> bool:
    """The same bytes, or in JSON and XML results the same solutions in the same order (a
    ``SELECT *`` result written by the worker's own code orders each solution's bindings by
    name, pyoxigraph's by the columns: the same document to every reader)."""
    if here == worker:
        return True
    if media_type not in ("application/sparql-results+json", "application/sparql-results+xml"):
        return False
    fmt = QueryResultsFormat.from_media_type(media_type)
    a, b = (parse_query_results(body, format=fmt) for body in (here, worker))
    assert isinstance(a, QuerySolutions) and isinstance(b, QuerySolutions)
    columns = [v.value for v in a.variables]
    if columns != [v.value for v in b.variables]:
        return False
    return [[r[c] for c in columns] for r in a] == [[r[c] for c in columns] for r in b]


@pytest.mark.parametrize("query", LOOKUPS)
def test_a_lookup_answered_here_is_the_workers_answer(graph: Store, query: str) -> None:
    """Every format, against ``execute_query`` (what a worker runs on the same job)."""
    kind = "graph" if "DESCRIBE" in query else "solutions"
    for media_type in FORMATS[kind]:
        if query.startswith("ASK") and media_type in ("text/csv", "text/tab-separated-values"):
            continue  # no boolean in these syntaxes
        job = QueryJob(
            query,
            prefixes=PREFIXES,
            result_format=media_type if kind == "solutions" else "application/sparql-results+json",
            graph_format=media_type if kind == "graph" else "text/turtle",
            max_rows=100_000,
        )
        here = answer_here(graph, job)
        assert here is not None, (query, media_type)
        worker = execute_query(graph, job)
        assert (here.media_type, here.kind) == (worker.media_type, worker.kind)
        assert _same_answer(here.body, worker.body, media_type), (query, media_type)
        assert not here.truncated and here.digest is not None


def _hub(triples: int, literal: str = "") -> Store:
    store = Store()
    store.extend(
        Quad(S, NamedNode(f"http://example.org/p{i % 7}"), Literal(f"{literal}{i}"))
        for i in range(triples)
    )
    return store


def test_a_result_past_the_row_budget_is_for_a_worker() -> None:
    store = _hub(ROWS + 10)
    select = QueryJob(f"SELECT ?o {{ <{S.value}> ?p ?o }}", max_rows=100_000)
    assert answer_here(store, select) is None
    assert answer_here(store, replace(select, query=select.query + " LIMIT 100")) is not None
    # in a syntax that does not mark its rows, the bytes bound them
    describe = QueryJob(f"DESCRIBE <{S.value}>", graph_format="text/turtle", max_rows=100_000)
    assert answer_here(store, describe) is None
    assert answer_here(_hub(30), describe) is not None


def test_a_result_past_the_byte_budget_is_for_a_worker() -> None:
    store = _hub(3, literal="x" * (BYTES // 2))
    job = QueryJob(f"SELECT ?o {{ <{S.value}> ?p ?o }}", max_rows=100_000)
    assert answer_here(store, job) is None
    assert answer_here(_hub(3, literal="x" * 100), job) is not None


def test_the_row_limit_of_the_server_is_kept() -> None:
    """A lookup with more rows than ``--max-rows`` is for a worker, which cuts it and says so."""
    store = _hub(5)
    job = QueryJob(f"SELECT ?o {{ <{S.value}> ?p ?o }}", max_rows=3)
    assert answer_here(store, job) is None
    turtle = QueryJob(f"DESCRIBE <{S.value}>", max_rows=3)
    assert answer_here(store, turtle) is None

    async def through_a_worker() -> tuple[bool, int]:
        runner = InlineRunner(WorkerPool(store, workers=1, timeout=10.0), store)
        try:
            out = await runner.query(job)
        finally:
            runner.close()
        return out.truncated, runner.answered

    assert asyncio.run(through_a_worker()) == (True, 0)


def test_what_the_parser_refuses_is_for_a_worker() -> None:
    store = _hub(2)
    for text in (
        'SELECT ?p { <http://example.org/hub> ?p "x"@en- }',
        "SELECT ?o { undeclared:x ?p ?o }",
    ):
        assert lookup_text(text) is not None
        assert answer_here(store, QueryJob(text)) is None


def test_a_describe_reaches_the_blank_nodes_as_a_worker_does() -> None:
    store = Store()
    b = BlankNode()
    store.add(Quad(S, NamedNode("http://example.org/p"), b))
    store.add(Quad(b, NamedNode("http://example.org/q"), Literal("inner")))
    job = QueryJob(f"DESCRIBE <{S.value}>", graph_format="application/n-triples")
    here = answer_here(store, job)
    assert here is not None and b"inner" in here.body
    assert here.body == execute_query(store, job).body


def test_the_protocol_dataset_is_for_a_worker(graph: Store) -> None:
    job = QueryJob(f"SELECT * {{ <{TEAM}> ?p ?o }}", default_graphs=("http://example.org/g",))
    assert answer_here(graph, job) is None


RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"


def _while_the_workers_are_held(*args: str) -> tuple[int, list[str]]:
    """Hold the only query worker with a runaway, then ask a lookup: its status, and which
    of the two was answered first."""
    server = LiveServer(
        "--workers", "1", "--query-workers", "1", "--query-timeout", "4", "--no-validate", *args
    )
    order: list[str] = []
    try:
        server.wait_ready()

        def runaway() -> None:
            httpx.get(f"{server.url}/sparql", params={"query": RUNAWAY}, timeout=60)
            order.append("runaway")

        held = threading.Thread(target=runaway)
        held.start()
        time.sleep(0.5)  # the runaway has the worker by now
        r = httpx.get(
            f"{server.url}/sparql",
            params={"query": f"SELECT ?l {{ <{TEAM}> <{SKOS_LABEL}> ?l }}"},
            timeout=60,
        )
        order.append("lookup")
        held.join()
    finally:
        server.stop()
    assert r.json()["results"]["bindings"], "the team has labels"
    return r.status_code, order


@pytest.mark.live
def test_a_lookup_is_answered_while_every_worker_is_held() -> None:
    status, order = _while_the_workers_are_held()
    assert status == 200 and order == ["lookup", "runaway"]


@pytest.mark.live
def test_without_inline_lookups_a_lookup_waits_for_a_worker() -> None:
    status, order = _while_the_workers_are_held("--no-inline-lookups")
    assert status == 200 and order == ["runaway", "lookup"]


@pytest.mark.live
def test_a_large_lookup_over_http_is_the_workers_whole_answer(tmp_path: Path) -> None:
    """A hub with more rows than the budget: answered in full (by a worker), not cut."""
    data = tmp_path / "hub.nt"
    data.write_text(
        "".join(f'<{S.value}> <http://example.org/p> "{i}" .\n' for i in range(ROWS * 3)),
        encoding="utf-8",
    )
    server = LiveServer("--workers", "1", "--no-validate", "--data", str(data))
    try:
        server.wait_ready()
        r = httpx.get(
            f"{server.url}/sparql",
            params={"query": f"SELECT ?o {{ <{S.value}> ?p ?o }}"},
            timeout=60,
        )
    finally:
        server.stop()
    assert r.status_code == 200 and "x-sparql-maxrows" not in r.headers
    assert len(r.json()["results"]["bindings"]) == ROWS * 3
