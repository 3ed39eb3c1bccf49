"""The query UI over plain HTTP: the page, its headers, its static files, its example queries."""

from __future__ import annotations

import html
import json
import re
import zipfile
from pathlib import Path

import httpx
import pytest
from sovkg.namespaces import PREFIXES
from sovkg.queries import (
    ExampleQueryError,
    load_examples,
    parse_example,
    used_prefixes,
    with_prologue,
)
from sovkg.routes.ui import STATIC_DIR

pytestmark = pytest.mark.live

EXAMPLES = load_examples()


def _config(page: str) -> dict:
    m = re.search(
        r'<script id="sovkg-query-ui-config" type="application/json">(.*?)</script>', page, re.S
    )
    assert m, "no configuration data island in the page"
    return json.loads(m.group(1))


@pytest.fixture(scope="module")
def ui(live_server) -> httpx.Response:
    return httpx.get(f"{live_server.url}/sparql/ui", headers={"Accept": "text/html"})


def test_seven_questions_one_file_each() -> None:
    assert len(EXAMPLES) == 7
    assert [e.slug[:2] for e in EXAMPLES] == [f"{i:02d}" for i in range(1, 8)]
    assert len({e.title for e in EXAMPLES}) == 7


#: what Chromium sends for a top-level navigation
BROWSER_ACCEPT = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
)


def test_sparql_answers_a_browser_with_the_ui(live_server, ui: httpx.Response) -> None:
    r = httpx.get(f"{live_server.url}/sparql", headers={"Accept": BROWSER_ACCEPT})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "Accept" in r.headers["vary"]
    assert r.headers["content-security-policy"] == ui.headers["content-security-policy"]
    assert _config(r.text) == _config(ui.text)


def test_sparql_still_describes_itself_to_rdf_clients(live_server) -> None:
    r = httpx.get(f"{live_server.url}/sparql", headers={"Accept": "text/turtle"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/turtle")


def test_page_is_html_with_security_headers(ui: httpx.Response) -> None:
    assert ui.status_code == 200
    assert ui.headers["content-type"].startswith("text/html")
    csp = ui.headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert (
        "script-src 'self'" in csp
        and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    )
    assert "connect-src 'self'" in csp
    assert ui.headers["x-content-type-options"] == "nosniff"


def test_page_names_every_tab_and_links_home(ui: httpx.Response) -> None:
    text = html.unescape(re.sub(r"<script.*?</script>", "", ui.text, flags=re.S))
    for ex in EXAMPLES:
        assert ex.title in text, ex.title
        assert ex.question in text, ex.question
    page = ui.text
    assert re.search(r'<a href="/">', page)


def test_page_has_no_inline_script_and_only_local_assets(ui: httpx.Response) -> None:
    page = ui.text
    for attrs, body in re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S):
        if body.strip():
            assert 'type="application/json"' in attrs, "inline script would break the CSP"
    for url in re.findall(r'(?:src|href)="([^"]*)"', page):
        assert url.startswith("/") or url.startswith("data:"), url


def test_config_island_carries_endpoint_tabs_and_prefixes(ui: httpx.Response) -> None:
    config = _config(ui.text)
    assert config["endpoint"] == "/sparql"
    assert [t["name"] for t in config["tabs"]] == [e.title for e in EXAMPLES]
    assert config["prefixes"] == PREFIXES
    for tab, ex in zip(config["tabs"], EXAMPLES, strict=True):
        assert tab["query"] == with_prologue(ex)


@pytest.mark.parametrize(
    ("path", "media_type"),
    [
        ("/static/yasgui/yasgui.min.js", "text/javascript"),
        ("/static/yasgui/yasgui.min.css", "text/css"),
        ("/static/query-ui.js", "text/javascript"),
        ("/static/query-ui.css", "text/css"),
        ("/static/yasgui/LICENSE.txt", "text/plain"),
    ],
)
def test_static_assets_have_their_content_type(live_server, path: str, media_type: str) -> None:
    r = httpx.get(f"{live_server.url}{path}")
    assert r.status_code == 200
    assert r.headers["content-type"].split(";")[0] == media_type
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.content == (STATIC_DIR / path.removeprefix("/static/")).read_bytes()


def test_missing_static_file_is_a_404(live_server) -> None:
    r = httpx.get(f"{live_server.url}/static/yasgui/nope.js")
    assert r.status_code == 404


def test_bundle_names_no_remote_stylesheet_or_font() -> None:
    css = (STATIC_DIR / "yasgui" / "yasgui.min.css").read_text(encoding="utf-8")
    assert "@import" not in css
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", css)


def test_first_example_through_the_endpoint(live_server, store) -> None:
    query = with_prologue(EXAMPLES[0])
    r = httpx.post(
        f"{live_server.url}/sparql",
        data={"query": query},
        headers={"Accept": "application/sparql-results+json"},
    )
    assert r.status_code == 200
    expected = list(store.query(query, use_default_graph_as_union=True))
    assert len(r.json()["results"]["bindings"]) == len(expected) > 0


def test_header_lines_are_required() -> None:
    with pytest.raises(ExampleQueryError, match="question"):
        parse_example("x", "# title: T\nSELECT * {}\n")
    ex = parse_example("x", "# title: T\n# question: Q?\nSELECT * {}\n")
    assert (ex.title, ex.question, ex.body) == ("T", "Q?", "SELECT * {}\n")


def test_prologue_declares_used_prefixes_only() -> None:
    q = 'SELECT ?s { ?s a org:Membership ; skos:note "rdfs:x" ; <https://schema.org/x> 1 } # owl:'
    assert used_prefixes(q) == ["skos", "org"]
    ex = parse_example("x", f"# title: T\n# question: Q?\n{q}\n")
    text = with_prologue(ex)
    assert text.startswith("# Q?\nPREFIX skos: <")
    assert "PREFIX rdfs:" not in text and "PREFIX owl:" not in text


def test_wheel_ships_the_ui(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for rel in ["yasgui/yasgui.min.js", "yasgui/yasgui.min.css", "yasgui/LICENSE.txt"]:
        assert f"sovkg/static/{rel}" in names
    assert "sovkg/static/query-ui.js" in names
    assert "sovkg/templates/query_ui.html" in names
    assert {f"sovkg/queries/{e.slug}.rq" for e in EXAMPLES} <= names
