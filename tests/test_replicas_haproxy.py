"""Read replicas behind a real HAProxy running the shipped ``deploy/haproxy.cfg``: a replica
SIGKILLed under steady load and started again, and a rolling data release, lose no request.

Two ``sovkg serve`` replicas and Debian's ``haproxy`` on free loopback ports; client threads
send a steady mix of reads (GET and POST queries, a page, a dump revalidated with its ETag, VoID)
through HAProxy the whole time, and every answer must be a 200 or 304.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.haproxy import HAProxy, Replica, rolling_release
from tests.support.server import free_port

DUMP = "/dumps/sovereign-ai-kg.ttl"
COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
EXTRA = """\
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
<https://w3id.org/ksai/id/release/second> rdfs:label "second data release"@en .
"""
RELEASED = "ASK { <https://w3id.org/ksai/id/release/second> ?p ?o }"


class Load:
    """Client threads sending reads through HAProxy until stopped; every outcome is kept."""

    def __init__(self, url: str, etag: str, clients: int = 4) -> None:
        self.url = url
        self.etag = etag
        self.ok = 0
        self.failures: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]

    def _requests(self, client: httpx.Client) -> Iterator[httpx.Response]:
        yield client.get("/sparql", params={"query": COUNT}, headers={"Accept": "text/csv"})
        yield client.post(
            "/sparql", data={"query": COUNT}, headers={"Accept": "application/sparql-results+json"}
        )
        yield client.get("/id/team/naver-cloud", headers={"Accept": "text/html"})
        yield client.get(DUMP, headers={"If-None-Match": self.etag})
        yield client.get("/.well-known/void", headers={"Accept": "text/turtle"})

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=60) as client:
            while not self._stop.is_set():
                try:
                    for r in self._requests(client):
                        with self._lock:
                            if r.status_code in (200, 304):
                                self.ok += 1
                            else:
                                self.failures.append(f"{r.request.url}: {r.status_code}")
                except httpx.HTTPError as e:
                    with self._lock:
                        self.failures.append(f"{type(e).__name__}: {e}")

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=120)

    def wait_for(self, n: int) -> None:
        """Block until ``n`` more requests succeeded (or one failed)."""
        target = self.ok + n
        while self.ok < target and not self.failures:
            self._stop.wait(0.05)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[HAProxy, list[Replica]]]:
    replicas = [
        Replica(f"replica{i}", free_port(), tmp_path, "--no-validate", "--query-workers", "1")
        for i in (1, 2)
    ]
    proxy = None
    try:
        for r in replicas:
            r.start()
        for r in replicas:
            r.wait_ready()
        proxy = HAProxy([(r.name, r.port) for r in replicas])
        for r in replicas:
            proxy.wait_status(r.name, "UP")
        yield proxy, replicas
    finally:
        if proxy is not None:
            proxy.stop()
        for r in replicas:
            r.stop()


def _dump(url: str) -> httpx.Response:
    return httpx.get(f"{url}{DUMP}", headers={"Accept-Encoding": "identity"}, timeout=60)


def _etag(url: str) -> str:
    """The ETag of the dump as the load's clients get it (they accept gzip)."""
    return httpx.get(f"{url}{DUMP}", timeout=60).headers["etag"]


def test_etags_and_dump_bytes_agree_so_revalidation_crosses_replicas(cluster):
    proxy, (one, two) = cluster
    a, b = _dump(one.url), _dump(two.url)
    assert a.status_code == b.status_code == 200
    assert a.content == b.content
    assert a.headers["etag"] == b.headers["etag"]
    # a client that fetched from one replica revalidates against the other: 304, no body
    identity = {"If-None-Match": a.headers["etag"], "Accept-Encoding": "identity"}
    again = httpx.get(f"{two.url}{DUMP}", headers=identity)
    assert again.status_code == 304 and again.content == b""
    assert httpx.get(f"{proxy.url}{DUMP}", headers=identity).status_code == 304
    # the gzip variant has its own ETag, the same on both replicas too
    gz = [httpx.get(f"{r.url}{DUMP}", headers={"Accept-Encoding": "gzip"}) for r in (one, two)]
    assert gz[0].headers["etag"] == gz[1].headers["etag"] != a.headers["etag"]
    again = httpx.get(
        f"{one.url}{DUMP}",
        headers={"If-None-Match": gz[1].headers["etag"], "Accept-Encoding": "gzip"},
    )
    assert again.status_code == 304


def test_a_replica_killed_under_load_loses_no_request_and_takes_traffic_again(cluster):
    proxy, (one, two) = cluster
    etag = _etag(one.url)
    with Load(proxy.url, etag) as load:
        load.wait_for(100)
        one.crash()
        load.wait_for(100)  # served by the survivor while HAProxy notices
        proxy.wait_status(one.name, "DOWN")
        load.wait_for(100)
        one.start()
        one.wait_ready()
        proxy.wait_status(one.name, "UP")
        before = proxy.servers()[one.name].total_sessions
        while proxy.servers()[one.name].total_sessions <= before and not load.failures:
            load.wait_for(20)
        load.wait_for(100)
    assert load.failures == []
    assert proxy.servers()[one.name].total_sessions > before
    assert load.ok >= 400
    # the restarted replica serves the same bytes under the same ETag
    assert _etag(one.url) == etag


def test_rolling_data_release_loses_no_request(cluster, tmp_path):
    proxy, replicas = cluster
    extra = tmp_path / "release-2.ttl"
    extra.write_text(EXTRA)
    old_etag = _etag(replicas[0].url)
    by_name = {r.name: r for r in replicas}

    def restart(server: Any) -> None:
        replica = by_name[server.name]
        replica.stop()
        replica.start("--no-validate", "--query-workers", "1", "--data", str(extra))

    with Load(proxy.url, old_etag) as load:
        load.wait_for(100)
        rolling_release.rolling_release(str(proxy.socket), "sovkg", restart)
        load.wait_for(100)
    assert load.failures == []
    assert all(r.starts == 2 for r in replicas)
    # every replica now serves the new graph, with one new ETag for the same new bytes
    for r in replicas:
        answer = httpx.get(
            f"{r.url}/sparql",
            params={"query": RELEASED},
            headers={"Accept": "application/sparql-results+json"},
        )
        assert answer.json()["boolean"] is True
    dumps = [_dump(r.url) for r in replicas]
    assert dumps[0].content == dumps[1].content
    assert dumps[0].headers["etag"] == dumps[1].headers["etag"] != old_etag
