"""The Linked Data pages in real headless Chromium: they render with nothing from outside and
no console error, the overlap drawing is there, links lead to working pages, and markup in the
data never runs."""

from __future__ import annotations

import pytest
from sovkg.linkeddata.home import teams

from tests.support.ld import korean_labels, local_path

pytestmark = [pytest.mark.live, pytest.mark.browser]


def test_home_page_renders_clean_with_the_drawing(browser_page, live_server):
    page = browser_page.goto(f"{live_server.url}/?lang=en")
    assert page.locator("h1").first.inner_text()
    svg = page.locator("svg.overlap")
    assert svg.count() == 1
    box = svg.bounding_box()
    assert box and box["width"] > 300 and box["height"] > 100
    assert page.locator("svg.overlap a.org").count() >= 1
    assert page.locator("svg.overlap path.edge").count() >= 2
    browser_page.assert_clean()


def test_following_links_from_home_to_team_to_member(browser_page, live_server, store):
    team = teams(store)[0].value
    page = browser_page.goto(f"{live_server.url}/?lang=ko")
    page.locator(f'ul.teams a[href="{local_path(team)}?lang=ko"]').first.click()
    page.wait_for_load_state("networkidle")
    assert page.url == f"{live_server.url}{local_path(team)}?lang=ko"  # the language stays
    assert page.locator("h1").inner_text() in korean_labels(store, team)
    assert page.locator("table.members tbody tr").count() >= 2
    assert page.locator("table.members tr.lead").count() >= 1
    member = page.locator("table.members tbody tr td:first-child a").first
    href = member.get_attribute("href")
    member.click()
    page.wait_for_load_state("networkidle")
    assert page.url == f"{live_server.url}{href}"
    member_iri = "https://w3id.org/ksai" + href.removesuffix("?lang=ko")
    assert page.locator("h1").inner_text() in korean_labels(store, member_iri)
    browser_page.assert_clean()


def test_entity_page_renders_clean_with_evidence(browser_page, live_server, store):
    fact = store.query(
        "SELECT ?f WHERE { ?f a <http://www.w3.org/ns/org#Membership> ; "
        "<http://www.w3.org/ns/prov#wasDerivedFrom> ?p } ORDER BY ?f LIMIT 1",
        use_default_graph_as_union=True,
    )
    iri = next(iter(fact))["f"].value
    page = browser_page.goto(f"{live_server.url}{local_path(iri)}?lang=ko")
    assert page.locator("h1").inner_text() in korean_labels(store, iri)
    assert page.locator("section.evidence blockquote").count() >= 1
    assert page.locator("section.evidence .status").count() >= 1
    browser_page.assert_clean()
