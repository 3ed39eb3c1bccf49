"""The documentation a consumer reads: /ontology shows the reused terms as this graph uses them
and the 산학협력단 roll-up rule with its query; a passage's page shows the project's English
translation beside the verbatim Korean sentence, marked as not source text."""

from __future__ import annotations

import html
from collections.abc import Iterator

import pytest
from sovkg.app import create_app
from sovkg.config import Settings
from sovkg.dataset import open_store

from tests.support.asgi import InProcessClient


@pytest.fixture(scope="module")
def client() -> Iterator[InProcessClient]:
    app = create_app(Settings(access_log=False, query_workers=0), open_store())
    c = InProcessClient(app)
    yield c
    c.close()


def _page(client: InProcessClient, path: str) -> str:
    r = client.get(path, headers={"Accept": "text/html"})
    assert r.status_code == 200, (path, r.status_code)
    return html.unescape(r.text)


def test_ontology_page_documents_reused_terms(client: InProcessClient):
    page = _page(client, "/ontology")
    assert 'id="reused"' in page
    # schema:agent is the only link from a plan to its team; schema:roleName holds real titles
    for text in ("The only link from a development plan to its team", "real title", "P11M"):
        assert text in page, text


def test_ontology_page_has_the_roll_up_rule_and_its_query(client: InProcessClient):
    page = _page(client, "/ontology")
    assert "Roll-up rule (산학협력단)" in page
    assert "COALESCE(?university, ?member)" in page


def test_passage_page_shows_the_translation_beside_the_korean(client: InProcessClient):
    page = _page(client, "/id/passage/p23-s02")
    korean = "연말 1차 평가를 통해 5개 팀을 4개로 압축하는 평가도 예정돼 있다."
    english = "through a first evaluation at the end of the year"
    assert korean in page and english in page
    assert "not source text" in page
    assert page.index(korean) < page.index(english)
