"""Serving fast: the response cache end to end, and several server workers."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sovkg.config import Settings, settings_from_json, settings_to_json

from tests.support.server import LiveServer

pytestmark = pytest.mark.live

TOKEN = "perf-test-token"
COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"


def _count(r: httpx.Response) -> int:
    return int(r.json()["results"]["bindings"][0]["n"]["value"])


def test_repeated_query_is_revalidated_with_304(live_server) -> None:
    url = f"{live_server.url}/sparql"
    first = httpx.get(url, params={"query": COUNT})
    second = httpx.get(url, params={"query": COUNT})
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    etag = second.headers["etag"]
    again = httpx.get(url, params={"query": COUNT}, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.headers["etag"] == etag


def test_cached_answers_keep_the_safety_headers(live_server) -> None:
    for _ in range(2):
        r = httpx.get(f"{live_server.url}/", headers={"Accept": "text/html"})
        assert r.status_code == 200
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "content-security-policy" in r.headers


def test_an_update_invalidates_cached_answers() -> None:
    server = LiveServer("--allow-updates", env={"SOVKG_TOKEN": TOKEN})
    try:
        server.wait_ready()
        url = f"{server.url}/sparql"
        before = httpx.get(url, params={"query": COUNT})
        old_dump = httpx.get(f"{server.url}/dumps/sovereign-ai-kg.nt")
        assert b"<http://example.org/a>" not in old_dump.content
        assert _count(httpx.get(url, params={"query": COUNT})) == _count(before)
        r = httpx.post(
            url,
            data={"update": "INSERT DATA { <http://example.org/a> <http://example.org/p> 1 }"},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert r.status_code == 204
        after = httpx.get(url, params={"query": COUNT})
        assert _count(after) == _count(before) + 1
        stale = httpx.get(
            url, params={"query": COUNT}, headers={"If-None-Match": before.headers["etag"]}
        )
        assert stale.status_code == 200
        dump = httpx.get(f"{server.url}/dumps/sovereign-ai-kg.nt")
        assert dump.status_code == 200
        assert b"<http://example.org/a> <http://example.org/p>" in dump.content
    finally:
        server.stop()


def test_several_workers_answer_and_agree(store) -> None:
    server = LiveServer("--workers", "2", "--query-workers", "1")
    try:
        server.wait_ready()
        expected = next(iter(store.query(COUNT, use_default_graph_as_union=True)))["n"].value
        with httpx.Client() as client:
            for _ in range(20):  # new connections land on either worker
                r = client.get(
                    f"{server.url}/sparql", params={"query": COUNT}, headers={"Connection": "close"}
                )
                assert (
                    r.status_code == 200
                    and r.json()["results"]["bindings"][0]["n"]["value"] == expected
                )
    finally:
        server.stop()


def test_several_workers_serve_a_store_read_only(tmp_path: Path) -> None:
    store = tmp_path / "db"
    first = LiveServer("--store", str(store))
    try:
        first.wait_ready()
    finally:
        first.stop()
    server = LiveServer("--store", str(store), "--workers", "2")
    try:
        server.wait_ready()
        r = httpx.get(f"{server.url}/sparql", params={"query": "ASK { ?s a owl:Ontology }"})
        assert r.status_code == 200 and r.json()["boolean"] is True
    finally:
        server.stop()


def test_settings_travel_to_workers_unchanged() -> None:
    s = Settings(
        store_path=Path("/x"),
        data_files=(Path("a.ttl"),),
        allow_service=("http://h/",),
        workers=3,
        cache_bytes=5,
    )
    assert settings_from_json(settings_to_json(s)) == s
