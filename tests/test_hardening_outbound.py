"""No outbound requests by default: SERVICE and LOAD against a listener on loopback are
refused with 400 and the listener sees no connection; an allowed endpoint (a second sovkg
server) answers a federated query.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import httpx
import pytest

from tests.support.server import LiveServer
from tests.support.setups import every_setup

pytestmark = pytest.mark.live

TOKEN = "outbound-test-token"


class Listener:
    """A TCP listener on loopback that counts the connections it is offered."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self) -> None:
        """Stop listening."""
        self.sock.close()


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    """A bystander on loopback that nobody should call."""
    it = Listener()
    yield it
    it.close()


@pytest.fixture(scope="module")
def federating(live_server) -> Iterator[LiveServer]:
    """A server that may call the session's live server (and nothing else), with updates on."""
    server = LiveServer(
        "--allow-service",
        f"{live_server.url}/sparql",
        "--allow-updates",
        "--no-access-log",
        env={"SOVKG_TOKEN": TOKEN},
    )
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def _query(server: LiveServer, query: str) -> httpx.Response:
    return httpx.post(f"{server.url}/sparql", data={"query": query}, timeout=30)


def _update(server: LiveServer, update: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}/sparql",
        data={"update": update},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=30,
    )


@every_setup
def test_service_to_an_unlisted_endpoint_is_refused_without_a_connection(
    live_server, listener
) -> None:
    r = httpx.post(
        f"{live_server.url}/sparql",
        data={"query": f"SELECT * WHERE {{ SERVICE <{listener.url}/sparql> {{ ?s ?p ?o }} }}"},
    )
    assert r.status_code == 400
    assert "SERVICE" in r.text and "outbound" in r.text
    assert listener.connections == 0


def test_service_refusal_names_the_allowed_prefix(federating, listener) -> None:
    r = _query(federating, f"SELECT * WHERE {{ SERVICE <{listener.url}/sparql> {{ ?s ?p ?o }} }}")
    assert r.status_code == 400
    assert "allows only" in r.text
    r = _query(federating, "SELECT * WHERE { SERVICE ?e { ?s ?p ?o } }")
    assert r.status_code == 400
    assert "variable" in r.text
    assert listener.connections == 0


def test_load_is_refused_without_a_connection(federating, listener) -> None:
    r = _update(federating, f"LOAD <{listener.url}/data.ttl> INTO GRAPH <urn:x:loaded>")
    assert r.status_code == 400
    assert "LOAD" in r.text
    assert listener.connections == 0


@every_setup
def test_service_inside_a_string_is_not_a_call(live_server, listener) -> None:
    q = (
        f'SELECT ?x WHERE {{ BIND("SERVICE <{listener.url}/> {{ }}" AS ?x) }}'
        f" # SERVICE <{listener.url}/>"
    )
    r = httpx.post(f"{live_server.url}/sparql", data={"query": q})
    assert r.status_code == 200
    assert r.json()["results"]["bindings"][0]["x"]["value"].startswith("SERVICE")
    assert listener.connections == 0


def test_allowed_endpoint_answers_a_federated_query(federating, live_server) -> None:
    local = _query(federating, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }").json()
    remote = _query(
        federating,
        f"SELECT ?n WHERE {{ SERVICE <{live_server.url}/sparql> "
        "{ SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o } } }",
    )
    assert remote.status_code == 200, remote.text
    rows = remote.json()["results"]["bindings"]
    assert rows[0]["n"]["value"] == local["results"]["bindings"][0]["n"]["value"]


def test_allowed_load_copies_remote_data(federating, live_server) -> None:
    construct = "CONSTRUCT { ?s a ?c } WHERE { ?s a ?c } LIMIT 10"
    source = httpx.URL(f"{live_server.url}/sparql", params={"query": construct})
    r = _update(federating, f"LOAD <{source}> INTO GRAPH <urn:x:loaded>")
    assert r.status_code == 204, r.text
    r = _query(federating, "SELECT (COUNT(*) AS ?n) WHERE { GRAPH <urn:x:loaded> { ?s ?p ?o } }")
    assert int(r.json()["results"]["bindings"][0]["n"]["value"]) == 10


@pytest.mark.parametrize(
    "update",
    [
        "LOAD <{listener}/data.ttl>",
        "PREFIX ex: <http://example.org/> INSERT DATA { ex:s ex:p ex:o }",
        "CLEAR ALL",
    ],
)
def test_an_update_sent_as_a_query_is_told_where_to_go(live_server, listener, update) -> None:
    update = update.replace("{listener}", listener.url)
    for r in (
        httpx.get(f"{live_server.url}/sparql", params={"query": update}),
        httpx.post(f"{live_server.url}/sparql", data={"query": update}),
    ):
        assert r.status_code == 400
        assert "is a SPARQL update" in r.text and "send it to /update with POST" in r.text
    assert listener.connections == 0
