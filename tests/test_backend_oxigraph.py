"""``sovkg serve --backend``: what is particular to serving in front of the native Oxigraph
server: the W3C protocol query cases, pages and dumps equal to the local server's, updates
forwarded with the token, time limits, row limits, an unreachable backend, usage errors."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from sovkg.linkeddata.home import teams

from tests.support.ld import local_path
from tests.support.oxigraph import OxigraphServer, dataset_nquads
from tests.support.server import LiveServer, free_port, run_sovkg
from tests.support.w3c import CASES, W3C, check_expected, is_update, new_client, send

pytestmark = [pytest.mark.live, pytest.mark.backend]

TOKEN = "backend-test-token"
QUERY_CASES = [c for c in CASES if not is_update(c)]
#: a query that runs for minutes on any store (a triple cross product)
ENDLESS = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"


def _serve(backend: OxigraphServer, *args: str, env: dict[str, str] | None = None) -> LiveServer:
    server = LiveServer("--backend", backend.query_url, "--no-access-log", *args, env=env)
    server.wait_ready()
    return server


@pytest.fixture(scope="module")
def w3c_server() -> Iterator[LiveServer]:
    """The endpoint in front of an Oxigraph holding the shipped graph plus the W3C data."""
    oxigraph = OxigraphServer()
    server = None
    try:
        oxigraph.load(dataset_nquads(W3C / "data" / "kasei.trig"))
        server = _serve(oxigraph, "--no-validate")
        yield server
    finally:
        if server is not None:
            server.stop()
        oxigraph.stop()


@pytest.mark.parametrize("accept", [None, "*/*"], ids=["no-accept", "accept-any"])
@pytest.mark.parametrize("case", QUERY_CASES, ids=[c.local for c in QUERY_CASES])
def test_w3c_protocol_query_case(case, accept, w3c_server: LiveServer) -> None:
    """The W3C protocol query cases, replayed as in test_sparql_w3c_protocol."""
    with new_client(accept) as client:
        for step in case.steps:
            response = send(client, w3c_server, case, step)
            if step.status == "4xx":
                assert 400 <= response.status_code < 500, response.text
                assert response.headers["content-type"].startswith("text/plain")
                assert response.text.strip()
                continue
            assert 200 <= response.status_code < 400, response.text
            if step.content_types:
                media = response.headers["content-type"].split(";")[0].strip()
                assert media in step.content_types
            check_expected(case, step, response, w3c_server)


def _get(url: str, accept: str) -> httpx.Response:
    r = httpx.get(url, headers={"Accept": accept}, timeout=30)
    assert r.status_code == 200, (url, r.text)
    return r


@pytest.mark.parametrize("accept", ["text/html", "text/turtle"])
def test_pages_equal_the_local_servers(live_server, backend_server, store, accept) -> None:
    """The home page, a team page and an organisation page, byte for byte as served locally."""
    team = teams(store)[0]
    org = next(
        iter(
            store.query(
                "SELECT ?o WHERE { ?m <http://www.w3.org/ns/org#member> ?o } ORDER BY ?o LIMIT 1",
                use_default_graph_as_union=True,
            )
        )
    )["o"]
    paths = [local_path(team.value), local_path(org.value)]
    if accept == "text/html":
        paths.append("/")
    for path in paths:
        local = _get(live_server.url + path, accept)
        remote = _get(backend_server.url + path, accept)
        assert remote.headers["content-type"] == local.headers["content-type"]
        assert remote.content == local.content, path


def test_dumps_equal_the_local_servers(live_server, backend_server) -> None:
    """Every dump has the same bytes (and so the same checksum) as the local server's."""
    listing = _get(live_server.url + "/dumps", "application/json").json()["dumps"]
    assert listing
    for entry in listing:
        path = "/dumps/" + entry["url"].rsplit("/", 1)[1]
        remote = httpx.get(backend_server.url + path, timeout=60)
        assert remote.status_code == 200
        assert remote.content == httpx.get(live_server.url + path, timeout=60).content, path


def test_syntax_errors_are_400_with_the_backends_message(backend_server) -> None:
    r = httpx.post(backend_server.url + "/sparql", data={"query": "SELECT ?s WHERE {\n  ?s ?p"})
    assert r.status_code == 400
    assert r.text.startswith("SPARQL syntax error:")
    assert "error at 2:" in r.text  # the line of the client's text, not of what we sent


def test_health_shows_the_backend_answers(backend_server) -> None:
    r = httpx.get(backend_server.url + "/health")
    assert r.status_code == 200 and r.json() == {"status": "ok", "data": True}


@pytest.fixture(scope="module")
def writable() -> Iterator[tuple[OxigraphServer, LiveServer]]:
    """An Oxigraph of its own (the updates write to it) and the endpoint taking updates."""
    oxigraph = OxigraphServer()
    server = None
    try:
        oxigraph.load(dataset_nquads())
        server = _serve(
            oxigraph,
            "--allow-updates",
            "--backend-update",
            oxigraph.update_url,
            env={"SOVKG_TOKEN": TOKEN},
        )
        yield oxigraph, server
    finally:
        if server is not None:
            server.stop()
        oxigraph.stop()


def _ask(url: str, query: str) -> bool:
    r = httpx.post(url, data={"query": query}, headers={"Accept": "application/json"})
    assert r.status_code == 200, r.text
    return r.json()["boolean"]


def test_updates_are_forwarded_with_the_token(writable) -> None:
    oxigraph, server = writable
    insert = "INSERT DATA { GRAPH <urn:g> { <urn:a> <urn:p> 'forwarded' } }"
    probe = "ASK { <urn:a> <urn:p> 'forwarded' }"
    url = server.url + "/sparql"
    assert httpx.post(url, data={"update": insert}).status_code == 401
    assert not _ask(oxigraph.query_url, probe)
    ok = httpx.post(url, data={"update": insert}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 204, ok.text
    assert _ask(oxigraph.query_url, probe)  # in the backend itself
    assert _ask(url, probe)  # and through us (the response cache was emptied)
    bad = httpx.post(
        url, data={"update": "INSERT DATA { <urn:a> "}, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert bad.status_code == 400 and "syntax" in bad.text.lower()
    load = httpx.post(
        url,
        data={"update": "LOAD <http://127.0.0.1:9/x.ttl>"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert load.status_code == 400 and "LOAD" in load.text


@pytest.fixture(scope="module")
def slow_backend() -> Iterator[OxigraphServer]:
    """An Oxigraph that stops queries itself after 3 s."""
    oxigraph = OxigraphServer("--timeout-s", "3")
    try:
        oxigraph.load(dataset_nquads())
        yield oxigraph
    finally:
        oxigraph.stop()


def test_our_time_limit_answers_503(slow_backend) -> None:
    server = _serve(slow_backend, "--no-validate", "--query-timeout", "0.5")
    try:
        r = httpx.post(server.url + "/sparql", data={"query": ENDLESS}, timeout=30)
        assert r.status_code == 503
        assert "within 0.5 s" in r.text and "backend" in r.text
    finally:
        server.stop()


def test_the_backends_time_limit_answers_503(slow_backend) -> None:
    server = _serve(slow_backend, "--no-validate", "--query-timeout", "20")
    try:
        r = httpx.post(server.url + "/sparql", data={"query": ENDLESS}, timeout=30)
        assert r.status_code == 503
        assert "own time limit" in r.text
    finally:
        server.stop()


def test_row_limit_applies_to_backend_results(slow_backend) -> None:
    server = _serve(slow_backend, "--no-validate", "--max-rows", "5")
    try:
        r = httpx.post(
            server.url + "/sparql",
            data={"query": "SELECT * WHERE { ?s ?p ?o }"},
            headers={"Accept": "application/sparql-results+json"},
        )
        assert r.status_code == 200
        assert r.headers["x-sparql-maxrows"] == "5"
        assert len(r.json()["results"]["bindings"]) == 5
        triples = httpx.post(
            server.url + "/sparql",
            data={"query": "CONSTRUCT WHERE { ?s ?p ?o }"},
            headers={"Accept": "application/n-triples"},
        )
        assert triples.headers["x-sparql-maxrows"] == "5"
        assert len(triples.text.strip().splitlines()) == 5
    finally:
        server.stop()


def test_unreachable_backend_is_502_and_unhealthy() -> None:
    """Nothing listens on the backend's port: queries get 502, /health 503, both saying why."""
    nowhere = f"http://127.0.0.1:{free_port()}/query"
    server = LiveServer("--backend", nowhere, "--no-validate", "--no-access-log")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(server.url + "/health", timeout=10)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and server.proc.poll() is None
                time.sleep(0.1)
        assert health.status_code == 503
        assert "cannot be reached" in health.json()["error"]
        r = httpx.post(server.url + "/sparql", data={"query": "ASK {}"})
        assert r.status_code == 502 and nowhere in r.text
        page = httpx.get(server.url + "/", headers={"Accept": "text/html"})
        assert page.status_code == 502 and "cannot be reached" in page.text
    finally:
        server.stop()


def test_validation_needs_a_reachable_backend() -> None:
    nowhere = f"http://127.0.0.1:{free_port()}/query"
    r = run_sovkg("serve", "--backend", nowhere, timeout=60)
    assert r.returncode == 1
    assert b"--no-validate" in r.stderr and b"cannot be reached" in r.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--backend", "http://127.0.0.1:9/query", "--data", "x.ttl"],
        ["--backend", "http://127.0.0.1:9/query", "--store", "somewhere"],
        ["--backend-update", "http://127.0.0.1:9/update"],
        ["--backend", "ftp://127.0.0.1/query"],
    ],
    ids=["with-data", "with-store", "update-only", "not-http"],
)
def test_backend_usage_errors_exit_2(args: list[str]) -> None:
    r = run_sovkg("serve", *args)
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith(b"sovkg: ") and b"Traceback" not in r.stderr
