"""The query UI in real headless Chromium against a live server (see tests/support/browser.py)."""

from __future__ import annotations

import pytest
from sovkg.queries import load_examples, with_prologue

pytestmark = [pytest.mark.live, pytest.mark.browser]

EXAMPLES = load_examples()

#: YASR's table shows this many rows per page by default
PAGE_SIZE = 50


def _open_ui(browser_page, live_server, path: str = "/sparql"):
    # a browser asking for /sparql gets the UI (Chromium's Accept header prefers text/html)
    page = browser_page.goto(f"{live_server.url}{path}")
    page.wait_for_selector(".yasqe .CodeMirror")
    return page


def test_ui_loads_with_no_outside_request_and_no_error(browser_page, live_server) -> None:
    page = _open_ui(browser_page, live_server)
    assert page.title().startswith("SPARQL query")
    browser_page.assert_clean()
    # the recorder saw the page and its bundle: the check above is not vacuous
    assert any(u.endswith("/static/yasgui/yasgui.min.js") for u in browser_page.log.requests)


def test_one_tab_per_question_with_its_query(browser_page, live_server) -> None:
    page = _open_ui(browser_page, live_server)
    names = page.locator(".tabsList .tab a[role=tab] > span").all_inner_texts()
    assert names == [e.title for e in EXAMPLES]
    editor_text = page.evaluate("window.sovkgYasgui.getTab().getYasqe().getValue()")
    assert editor_text == with_prologue(EXAMPLES[0])
    endpoint = page.evaluate("window.sovkgYasgui.getTab().getEndpoint()")
    assert endpoint == f"{live_server.url}/sparql"


def test_also_at_sparql_ui(browser_page, live_server) -> None:
    page = _open_ui(browser_page, live_server, "/sparql/ui")
    assert page.locator(".tabsList .tab a[role=tab] > span").count() == len(EXAMPLES)
    browser_page.assert_clean()


def test_a_shared_link_opens_next_to_the_questions(browser_page, live_server) -> None:
    # YASGUI's share links carry the query in the fragment, which the server never sees
    page = _open_ui(browser_page, live_server, "/sparql#query=ASK%7B%7D&tabTitle=Shared")
    names = page.locator(".tabsList .tab a[role=tab] > span").all_inner_texts()
    assert names == [e.title for e in EXAMPLES] + ["Shared"]
    assert page.evaluate("window.sovkgYasgui.getTab().getQuery()") == "ASK{}"
    browser_page.assert_clean()


def test_running_the_first_example_shows_result_rows(browser_page, live_server, store) -> None:
    page = _open_ui(browser_page, live_server)
    page.click(".yasqe_queryButton")
    page.wait_for_selector(".yasr table.dataTable tbody tr td")
    rows = page.locator(".yasr table.dataTable tbody tr").count()
    expected = list(store.query(with_prologue(EXAMPLES[0]), use_default_graph_as_union=True))
    assert rows == min(len(expected), PAGE_SIZE) > 0
    # the query went to this server's endpoint, and nowhere else
    assert f"{live_server.url}/sparql" in browser_page.log.requests
    browser_page.assert_clean()


def test_recorder_catches_and_blocks_an_outside_request(browser_page, live_server) -> None:
    # The recorder itself must not be vacuous: from a page of the server without a CSP (a
    # static text file), a request to another origin is recorded, and aborted, not sent.
    page = browser_page.goto(f"{live_server.url}/static/yasgui/LICENSE.txt")
    page.evaluate("fetch('https://example.org/x').catch(() => null)")
    page.wait_for_function("performance.getEntriesByType('resource').length > 0")
    assert browser_page.log.outside_requests() == ["https://example.org/x"]
    assert any(f.startswith("https://example.org/x") for f in browser_page.log.failed_requests)


def test_csp_stops_the_ui_page_reaching_out(browser_page, live_server) -> None:
    page = _open_ui(browser_page, live_server)
    blocked = page.evaluate("fetch('https://example.org/x').then(() => false, () => true)")
    assert blocked
    assert browser_page.log.outside_requests() == []
    assert any("Content Security Policy" in e for e in browser_page.log.console_errors)
