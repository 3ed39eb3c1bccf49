"""Dereferencing every thing of the graph: each RDF syntax parses and holds the thing's triples,
the page renders and shows its Korean label. The exhaustive loop runs in process (httpx over
ASGI); the live-server tests check the same surface over real HTTP."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import rdflib
from markupsafe import escape
from sovkg.app import create_app
from sovkg.config import Settings

from tests.support.ld import RDF_FORMATS, korean_labels, local_path, own_triples, resources
from tests.support.server import CLIENT_TIMEOUT
from tests.support.setups import every_setup

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def app(store):
    application = create_app(Settings(), store)
    yield application
    application.state.engine.close()


def _fetch_all(app, paths_and_accepts):
    """Run the requests on an event loop of their own thread: the session's Playwright keeps a
    loop running in the main thread, where asyncio.run() is not allowed."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, _fetch_all_async(app, paths_and_accepts)).result()


async def _fetch_all_async(app, paths_and_accepts):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        sem = asyncio.Semaphore(8)

        async def one(path, accept):
            async with sem:
                return await client.get(path, headers={"Accept": accept})

        return await asyncio.gather(*(one(p, a) for p, a in paths_and_accepts))


def test_every_resource_in_every_rdf_syntax_holds_its_triples(app, store):
    iris = resources(store)
    assert len(iris) > 50  # the graph is not a placeholder
    requests = [(local_path(i), media) for i in iris for media, _ in RDF_FORMATS.values()]
    responses = _fetch_all(app, requests)
    failures = []
    for iri, (path, media), response in zip(
        [i for i in iris for _ in RDF_FORMATS], requests, responses, strict=True
    ):
        if response.status_code != 200:
            failures.append(f"{path} {media}: {response.status_code}")
            continue
        assert response.headers["content-type"].startswith(media)
        parser = next(p for m, p in RDF_FORMATS.values() if m == media)
        got = rdflib.Graph().parse(data=response.content, format=parser)
        missing = [t for t in own_triples(store, iri) if t not in got]
        if missing:
            failures.append(f"{path} {media}: missing {missing[:2]}")
    assert not failures, failures[:10]


def test_every_resource_has_a_page_with_its_korean_label(app, store):
    iris = resources(store)
    responses = _fetch_all(app, [(local_path(i), "text/html") for i in iris])
    failures = []
    for iri, response in zip(iris, responses, strict=True):
        if response.status_code != 200 or not response.headers["content-type"].startswith(
            "text/html"
        ):
            failures.append(f"{iri}: {response.status_code}")
            continue
        labels = korean_labels(store, iri)
        if not labels:
            failures.append(f"{iri}: no Korean label in the graph")
        for label in labels:
            if str(escape(label)) not in response.text:
                failures.append(f"{iri}: Korean label {label!r} not on the page")
    assert not failures, failures[:10]


# --- over real HTTP -------------------------------------------------------------------------


def _a_team(store) -> str:
    rows = store.query(
        "SELECT ?t WHERE { ?t a <https://w3id.org/ksai/ontology#Consortium> } ORDER BY ?t LIMIT 1",
        use_default_graph_as_union=True,
    )
    return next(iter(rows))["t"].value


@every_setup
def test_live_negotiation_headers_and_format_override(live_server, store):
    team = _a_team(store)
    url = live_server.url + local_path(team)
    page = httpx.get(
        url, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}, timeout=CLIENT_TIMEOUT
    )
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Accept" in page.headers["vary"]
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    links = page.headers["link"]
    for media, _ in RDF_FORMATS.values():
        assert f'type="{media}"' in links
    assert 'rel="alternate"' in links

    curl_like = httpx.get(url, headers={"Accept": "*/*"}, timeout=CLIENT_TIMEOUT)
    assert curl_like.headers["content-type"].startswith("text/turtle")
    assert 'type="text/html"' in curl_like.headers["link"]
    assert (rdflib.URIRef(team), None, None) in rdflib.Graph().parse(
        data=curl_like.text, format="turtle"
    )

    for key, (media, parser) in RDF_FORMATS.items():
        r = httpx.get(
            url, params={"format": key}, headers={"Accept": "text/html"}, timeout=CLIENT_TIMEOUT
        )
        assert r.status_code == 200
        assert r.headers["content-type"].startswith(media)
        got = rdflib.Graph().parse(data=r.content, format=parser)
        assert all(t in got for t in own_triples(store, team))
    assert (
        httpx.get(
            url,
            params={"format": "html"},
            headers={"Accept": "text/turtle"},
            timeout=CLIENT_TIMEOUT,
        )
        .headers["content-type"]
        .startswith("text/html")
    )
    assert httpx.get(url, params={"format": "bogus"}, timeout=CLIENT_TIMEOUT).status_code == 400
    assert (
        httpx.get(url, headers={"Accept": "image/png"}, timeout=CLIENT_TIMEOUT).status_code == 406
    )


@every_setup
def test_live_description_includes_labels_of_linked_things(live_server, store):
    team = _a_team(store)
    r = httpx.get(
        live_server.url + local_path(team),
        headers={"Accept": "application/n-triples"},
        timeout=CLIENT_TIMEOUT,
    )
    got = rdflib.Graph().parse(data=r.text, format="nt")
    linked = {o for o in got.objects(rdflib.URIRef(team)) if isinstance(o, rdflib.URIRef)}
    linked_in_graph = [o for o in linked if korean_labels(store, str(o))]
    assert linked_in_graph
    for o in linked_in_graph:
        assert any(True for _ in got.triples((o, None, None))), f"no label triple for {o}"


@every_setup
def test_live_unknown_iri_is_404_for_people_and_programs(live_server):
    url = live_server.url + "/id/team/no-such-team"
    page = httpx.get(url, headers={"Accept": "text/html"}, timeout=CLIENT_TIMEOUT)
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "https://w3id.org/ksai/id/team/no-such-team" in page.text
    assert 'href="/"' in page.text and 'href="/sparql"' in page.text
    plain = httpx.get(url, headers={"Accept": "text/turtle"}, timeout=CLIENT_TIMEOUT)
    assert plain.status_code == 404
    assert plain.headers["content-type"].startswith("text/plain")


@every_setup
def test_live_page_language_from_accept_language_and_lang(live_server, store):
    team = _a_team(store)
    url = live_server.url + local_path(team)
    ko = httpx.get(
        url,
        headers={"Accept": "text/html", "Accept-Language": "ko-KR,ko;q=0.9"},
        timeout=CLIENT_TIMEOUT,
    )
    en = httpx.get(
        url,
        headers={"Accept": "text/html", "Accept-Language": "en-US,en;q=0.9"},
        timeout=CLIENT_TIMEOUT,
    )
    assert '<html lang="ko">' in ko.text and '<html lang="en">' in en.text
    assert "Accept-Language" in ko.headers["vary"]
    forced = httpx.get(
        url, params={"lang": "ko"}, headers={"Accept": "text/html"}, timeout=CLIENT_TIMEOUT
    )
    assert '<html lang="ko">' in forced.text
    korean = korean_labels(store, team)[0]
    assert f"<h1>{str(escape(korean))}</h1>" in ko.text


@every_setup
def test_live_ontology_and_shapes_dereference(live_server, store):
    for path in ("/ontology", "/shapes"):
        page = httpx.get(
            live_server.url + path, headers={"Accept": "text/html"}, timeout=CLIENT_TIMEOUT
        )
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        for key, (media, parser) in RDF_FORMATS.items():
            r = httpx.get(live_server.url + path, headers={"Accept": media}, timeout=CLIENT_TIMEOUT)
            assert r.headers["content-type"].startswith(media), (path, key)
            assert len(rdflib.Graph().parse(data=r.content, format=parser)) > 10
    onto = rdflib.Graph().parse(
        data=httpx.get(
            live_server.url + "/ontology", headers={"Accept": "text/turtle"}, timeout=CLIENT_TIMEOUT
        ).text,
        format="turtle",
    )
    classes = {
        str(c)
        for c in onto.subjects(rdflib.RDF.type, rdflib.OWL.Class)
        if str(c).startswith("https://w3id.org/ksai/ontology#")
    }
    assert classes
    doc = httpx.get(
        live_server.url + "/ontology", headers={"Accept": "text/html"}, timeout=CLIENT_TIMEOUT
    ).text
    for c in classes:
        assert f'id="{c.rsplit("#", 1)[1]}"' in doc  # /ontology#Term lands on the term
    shapes = rdflib.Graph().parse(
        data=httpx.get(
            live_server.url + "/shapes", headers={"Accept": "text/turtle"}, timeout=CLIENT_TIMEOUT
        ).text,
        format="turtle",
    )
    node_shapes = set(shapes.subjects(rdflib.RDF.type, rdflib.SH.NodeShape))
    assert node_shapes
    shapes_doc = httpx.get(
        live_server.url + "/shapes", headers={"Accept": "text/html"}, timeout=CLIENT_TIMEOUT
    ).text
    for s in node_shapes:
        assert f'id="{str(s).rsplit("#", 1)[1]}"' in shapes_doc
