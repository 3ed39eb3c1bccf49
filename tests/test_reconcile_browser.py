"""The search box in real headless Chromium: typing shows suggestions from
/reconcile/suggest/entity, a suggestion leads to the entity page, and nothing breaks the
pages' Content-Security-Policy or leaves the server."""

from __future__ import annotations

import re

import pytest

pytestmark = [pytest.mark.live, pytest.mark.browser]


def test_typing_korean_and_following_a_suggestion_opens_the_entity_page(browser_page, live_server):
    page = browser_page.goto(f"{live_server.url}/?lang=en")
    box = page.locator("form.search input[type=search]")
    box.click()
    box.press_sequentially("포티", delay=60)
    first = page.locator("ul.suggestions li a").first
    first.wait_for(state="visible")
    assert first.inner_text().startswith("포티투닷")
    assert box.get_attribute("aria-expanded") == "true"
    first.click()
    page.wait_for_url(re.compile(r"/id/organization/42dot$"))
    page.wait_for_load_state("networkidle")
    assert "42dot" in page.locator("h1").inner_text()
    browser_page.assert_clean()


def test_the_keyboard_picks_a_suggestion_on_any_page(browser_page, live_server):
    page = browser_page.goto(f"{live_server.url}/id/team/upstage")
    box = page.locator("form.search input[type=search]")
    box.click()
    box.press_sequentially("seoul nat", delay=40)
    page.locator("ul.suggestions li a").first.wait_for(state="visible")
    box.press("ArrowDown")
    assert page.locator('ul.suggestions li[aria-selected="true"]').count() == 1
    box.press("Enter")
    page.wait_for_url(re.compile(r"/id/organization/seoul-national-university$"))
    assert "Seoul National University" in page.locator("h1").inner_text()
    browser_page.assert_clean()


def test_enter_without_a_suggestion_opens_the_search_page(browser_page, live_server):
    page = browser_page.goto(f"{live_server.url}/dumps")
    box = page.locator("form.search input[type=search]")
    box.fill("upstage")
    box.press("Enter")  # no suggestion chosen: the form's own GET
    page.wait_for_url(re.compile(r"/search\?q=upstage"))
    page.wait_for_load_state("networkidle")
    link = page.locator("ol.candidates li a").first
    assert link.get_attribute("href") == "/id/organization/upstage"
    browser_page.assert_clean()
