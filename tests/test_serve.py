"""``sovkg serve`` starts on the embedded store and answers /health and /sparql over HTTP."""

from __future__ import annotations

import httpx
import pytest

from tests.support.server import LiveServer

pytestmark = pytest.mark.live


def test_health(live_server) -> None:
    r = httpx.get(f"{live_server.url}/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"


def test_sparql_get_answers(live_server, store) -> None:
    q = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    r = httpx.get(f"{live_server.url}/sparql", params={"query": q})
    assert r.status_code == 200
    expected = next(iter(store.query(q, use_default_graph_as_union=True)))["n"].value
    assert r.json()["results"]["bindings"][0]["n"]["value"] == expected


def test_refuses_to_start_on_a_violation(tmp_path) -> None:
    bad = tmp_path / "bad.ttl"
    bad.write_text(
        "<http://example.org/t> a <https://w3id.org/ksai/ontology#Consortium> .\n", encoding="utf-8"
    )
    server = LiveServer("--data", str(bad))
    try:
        assert server.proc.wait(timeout=60) == 1
        assert "violates the shapes" in server.proc.stderr.read().decode()
    finally:
        server.stop()
