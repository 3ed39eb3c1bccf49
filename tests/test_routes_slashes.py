"""A trailing slash too many (or too few) is redirected by a relative reference, whatever the
Host header says: the client resolves it against the URL it asked for, prefix included."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urljoin

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sovkg.app import create_app
from sovkg.config import Settings
from sovkg.dataset import open_store
from sovkg.routes.slashes import relative_location

from tests.support.asgi import InProcessClient


@pytest.mark.parametrize(
    ("path", "query", "target"),
    [
        ("/ontology/", "", "/ontology"),
        ("/kg/ontology/", "", "/kg/ontology"),
        ("/a/b/", "x=1", "/a/b?x=1"),
        ("/static", "", "/static/"),
        ("/kg/a:b", "", "/kg/a:b/"),
    ],
)
def test_the_reference_resolves_to_the_other_path(path: str, query: str, target: str) -> None:
    location = relative_location(path, query)
    assert location is not None and "://" not in location
    assert urljoin(f"http://h{path}", location) == f"http://h{target}"


@given(
    segments=st.lists(st.text("abc:%2F.-_", min_size=1, max_size=5), min_size=1, max_size=4),
    slashes=st.integers(0, 1),
)
def test_any_path_resolves_to_itself_with_or_without_its_slashes(segments, slashes) -> None:
    segments = [s for s in segments if s not in (".", "..")] or ["x"]
    bare = "/" + "/".join(segments)
    path = bare + "/" * slashes
    location = relative_location(path, "")
    assert location is not None
    assert urljoin("http://h" + path, location) == "http://h" + (bare if slashes else bare + "/")


def test_a_path_with_no_segment_or_several_slashes_gets_no_reference() -> None:
    assert relative_location("//", "") is None
    assert relative_location("/ontology//", "") is None


@pytest.fixture(scope="module")
def client() -> Iterator[InProcessClient]:
    app = create_app(Settings(access_log=False, query_workers=1), open_store())
    c = InProcessClient(app, base_url="http://kg.example")
    yield c
    c.close()
    app.state.engine.close()


@pytest.mark.parametrize(
    "headers", [{"host": ""}, {}, {"host": "evil.example"}, {"x-forwarded-prefix": "/kg"}]
)
def test_a_trailing_slash_is_redirected_whatever_the_host(client, headers) -> None:
    r = client.request("GET", "/ontology/?lang=en", headers=headers)
    assert r.status_code == 307, r.text
    assert r.headers["location"] == "../ontology?lang=en"
    assert r.headers["x-content-type-options"] == "nosniff"  # through the front, as any answer
    followed = client.request("GET", urljoin("http://kg.example/ontology/", "../ontology"))
    assert followed.status_code == 200


@pytest.mark.parametrize("path", ["/no-such-surface/", "/ontology//"])
def test_a_path_that_names_no_route_is_404(client, path: str) -> None:
    r = client.request("GET", path, headers={"host": ""})
    assert r.status_code == 404
    assert "location" not in r.headers
