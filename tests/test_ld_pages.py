"""The pages for people over real HTTP: the home page (what, where from, counts, teams, the
overlap drawing, the links), a team's story, the ontology docs, and safe HTML: markup in labels
and IRIs is shown as text."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from markupsafe import escape
from sovkg.linkeddata.home import team_overlap, teams

from tests.support.browser import BrowserPage
from tests.support.ld import korean_labels, local_path
from tests.support.server import CLIENT_TIMEOUT, LiveServer
from tests.support.setups import every_setup

pytestmark = pytest.mark.live

EVIL_LABEL = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">"\'&'
EVIL_ORG = "https://w3id.org/ksai/id/test/evil'org&x=1"


def _html(url: str, **params) -> httpx.Response:
    r = httpx.get(url, params=params, headers={"Accept": "text/html"}, timeout=CLIENT_TIMEOUT)
    assert r.status_code == 200, url
    assert r.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert "'unsafe-inline'" not in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    return r


@every_setup
def test_home_page_tells_what_and_where_from_with_counts_and_links(live_server, store):
    page = _html(live_server.url + "/").text
    for href in ("/sparql", "/dumps", "/.well-known/void", "/ontology", "/shapes"):
        assert f'href="{href}"' in page
    # readable without JavaScript: no inline script, only the search box's own file
    assert re.findall(r"<script\b[^>]*>", page) == ['<script src="/static/site/search.js" defer>']
    triples = int(re.search(r'id="count-triples"><dt>[^<]*</dt><dd>(\d+)</dd>', page).group(1))
    distinct = len({(str(q.subject), str(q.predicate), str(q.object)) for q in store})
    assert triples == distinct
    team_count = int(re.search(r'id="count-teams"><dt>[^<]*</dt><dd>(\d+)</dd>', page).group(1))
    assert team_count == len(teams(store)) >= 5
    for team in teams(store):
        assert f'href="{local_path(team.value)}"' in page
    articles = store.query(
        "SELECT ?a WHERE { ?a a <https://schema.org/NewsArticle> }", use_default_graph_as_union=True
    )
    for sol in articles:
        assert f'href="{local_path(sol["a"].value)}"' in page


@every_setup
def test_home_page_draws_multi_team_organisations_rolled_up(live_server, store):
    page = _html(live_server.url + "/").text
    svg = re.search(r"<svg[^>]*class=\"overlap\".*?</svg>", page, re.S)
    assert svg, "the overlap drawing is inline SVG"
    overlap = team_overlap(store)
    multi = {org for org, per in overlap.items() if len(per) >= 2}
    assert multi, "the graph has organisations in several teams"
    drawn = set(re.findall(r'<a href="([^"]+)" class="org">', svg.group(0)))
    assert drawn == {local_path(o) for o in multi}
    # every membership line of a drawn organisation is there
    edges = len(re.findall(r'class="edge"', svg.group(0)))
    assert edges == sum(len(overlap[o]) for o in multi)
    # sub-organisations (e.g. a 산학협력단) count as their parent: none of them is drawn
    subs = store.query(
        "SELECT ?s WHERE { ?s <http://www.w3.org/ns/org#subOrganizationOf> ?p }",
        use_default_graph_as_union=True,
    )
    for sol in subs:
        assert f'href="{local_path(sol["s"].value)}" class="org"' not in svg.group(0)


@every_setup
def test_team_page_reads_as_the_story(live_server, store):
    team = teams(store)[0]
    rows = store.query(
        f"""SELECT ?org ?role ?rp WHERE {{
              ?m a <http://www.w3.org/ns/org#Membership> ;
                 <http://www.w3.org/ns/org#organization> <{team.value}> ;
                 <http://www.w3.org/ns/org#member> ?org ; <http://www.w3.org/ns/org#role> ?role .
              OPTIONAL {{ ?role <http://www.w3.org/ns/org#roleProperty> ?rp }} }}""",
        use_default_graph_as_union=True,
    )
    rows = list(rows)
    assert rows
    page = _html(live_server.url + local_path(team.value)).text
    members = page[page.index('<table class="members">') :]
    members = members[: members.index("</table>")]
    for sol in rows:
        assert f'href="{local_path(sol["org"].value)}"' in members
    leads = [
        sol["org"].value
        for sol in rows
        if sol["rp"] is not None and not sol["rp"].value.endswith("#memberOf")
    ]
    assert leads
    lead_rows = re.findall(r'<tr class="lead">\s*<td><a href="([^"]+)"', members)
    assert set(lead_rows) == {local_path(o) for o in leads}
    summary = page[page.index('<p class="summary">') :][:2000]
    assert f'href="{local_path(leads[0])}"' in summary
    # the source sentence of a membership is quoted
    quote = store.query(
        f"""SELECT ?exact WHERE {{ ?m <http://www.w3.org/ns/org#organization> <{team.value}> ;
              <http://www.w3.org/ns/prov#wasDerivedFrom>/<http://www.w3.org/ns/oa#hasSelector>/
              <http://www.w3.org/ns/oa#exact> ?exact }} LIMIT 1""",
        use_default_graph_as_union=True,
    )
    exact = next(iter(quote))["exact"].value
    assert str(escape(exact)) in page


@every_setup
def test_entity_page_shows_status_and_source_sentence_of_each_fact(live_server, store):
    rows = store.query(
        """SELECT ?fact ?status ?exact WHERE {
             ?fact <https://w3id.org/ksai/ontology#status> ?status ;
                   <http://www.w3.org/ns/prov#wasDerivedFrom>/<http://www.w3.org/ns/oa#hasSelector>/
                   <http://www.w3.org/ns/oa#exact> ?exact .
             FILTER(STRSTARTS(STR(?fact), "https://w3id.org/ksai/id/")) } ORDER BY ?fact LIMIT 3""",
        use_default_graph_as_union=True,
    )
    rows = list(rows)
    assert rows
    for sol in rows:
        page = _html(live_server.url + local_path(sol["fact"].value)).text
        evidence = page[page.index('<section class="evidence">') :]
        assert f'href="{local_path(sol["status"].value)}"' in evidence
        assert str(escape(sol["exact"].value)) in evidence


@every_setup
def test_ontology_page_documents_classes_properties_and_schemes(live_server, store):
    page = _html(live_server.url + "/ontology").text
    for section in ('id="classes"', 'id="properties"', 'id="schemes"'):
        assert section in page
    definitions = store.query(
        """SELECT ?t ?d WHERE { ?t <http://www.w3.org/2004/02/skos/core#definition> ?d
             FILTER(STRSTARTS(STR(?t), "https://w3id.org/ksai/ontology#") && lang(?d) = "en") }""",
        use_default_graph_as_union=True,
    )
    for sol in definitions:
        assert str(escape(sol["d"].value)) in page
    # examples from the data: an instance of the team class is linked from its entry
    consortium = page[page.index('id="Consortium"') :]
    consortium = consortium[: consortium.index("</section>")]
    assert 'href="/id/team/' in consortium


@pytest.fixture(scope="module")
def evil_server(tmp_path_factory, store):
    two_teams = [t.value for t in teams(store)[:2]]
    ttl = f"""
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix org: <http://www.w3.org/ns/org#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
<{EVIL_ORG}> a org:FormalOrganization ;
    skos:prefLabel {_turtle_string(EVIL_LABEL)}@ko, {_turtle_string(EVIL_LABEL)}@en ;
    rdfs:seeAlso <javascript:alert(1)> .
<https://w3id.org/ksai/id/test/m1> a org:Membership ; org:member <{EVIL_ORG}> ;
    org:organization <{two_teams[0]}> ; skos:prefLabel "m1"@ko .
<https://w3id.org/ksai/id/test/m2> a org:Membership ; org:member <{EVIL_ORG}> ;
    org:organization <{two_teams[1]}> ; skos:prefLabel "m2"@ko .
"""
    path: Path = tmp_path_factory.mktemp("evil") / "evil.ttl"
    path.write_text(ttl, encoding="utf-8")
    server = LiveServer("--data", str(path), "--no-validate")
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def _turtle_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def test_markup_in_labels_and_iris_is_escaped(evil_server, store):
    team = teams(store)[0].value
    pages = [
        _html(evil_server.url + "/id/test/evil'org&x=1").text,
        _html(evil_server.url + local_path(team)).text,
        _html(evil_server.url + "/", lang="ko").text,
    ]
    for page in pages:
        assert "<script>window.__pwned" not in page
        assert "<img src=x" not in page
        assert "&lt;script&gt;window.__pwned" in page or "&lt;script&gt;window.__pwne" in page
    entity = pages[0]
    assert 'href="javascript:' not in entity
    assert "javascript:alert(1)" in entity  # shown, as text
    assert "evil&#39;org&amp;x=1" in entity  # the IRI, escaped
    assert korean_labels(store, team)  # sanity: the team page is a real page


def test_markup_in_the_svg_is_escaped(evil_server):
    page = _html(evil_server.url + "/").text
    svg = re.search(r"<svg.*?</svg>", page, re.S).group(0)
    assert "&lt;script&gt;" in svg
    assert "<script" not in svg


@pytest.mark.browser
def test_markup_in_data_does_not_run(browser, evil_server):
    with BrowserPage(browser, evil_server.url) as bp:
        dialogs: list[str] = []
        bp.page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        for path in ("/id/test/evil'org&x=1", "/"):
            page = bp.goto(f"{evil_server.url}{path}")
            assert page.evaluate("window.__pwned === undefined")
            assert page.locator("img[src=x]").count() == 0
        page = bp.goto(f"{evil_server.url}/id/test/evil'org&x=1")
        assert page.locator("h1").inner_text() == EVIL_LABEL
        assert not dialogs
        bp.assert_clean()
