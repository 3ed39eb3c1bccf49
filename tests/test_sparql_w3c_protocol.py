"""The W3C SPARQL 1.1 Protocol test suite (tests/w3c/manifest.ttl), against a live server.

The manifest describes each case in prose: one or more HTTP requests and what the responses must
be. This module reads those descriptions and replays them over loopback, exactly as written (the
Host, User-agent and Content-Length lines are left to the HTTP client), with two additions the
prose implies: a body "encoded in utf-16" is sent so, and update requests carry our bearer token
(updates are refused without one). The data the cases name (kasei.us data1-3) is loaded from
tests/w3c/data/kasei.trig into named graphs with those IRIs.

Every case runs with no Accept header at all, and again with ``Accept: */*``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.server import LiveServer
from tests.support.w3c import CASES, TOKEN, W3C, Case, check_expected, is_update, new_client, send

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def query_server() -> Iterator[LiveServer]:
    """Read-only server with the kasei.us documents as named graphs."""
    server = LiveServer("--no-validate", "--data", str(W3C / "data" / "kasei.trig"))
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def update_server() -> Iterator[LiveServer]:
    """Server that accepts updates (they CLEAR ALL, so it is not shared with query cases)."""
    server = LiveServer(
        "--no-validate",
        "--allow-updates",
        "--data",
        str(W3C / "data" / "kasei.trig"),
        env={"SOVKG_TOKEN": TOKEN},
    )
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def test_manifest_has_all_34_cases() -> None:
    """The copied manifest is complete: 34 protocol cases, each with at least one request."""
    assert len(CASES) == 34
    assert all(case.steps for case in CASES)
    assert sum(is_update(c) for c in CASES) == 14  # and 20 query cases


@pytest.mark.parametrize("accept", [None, "*/*"], ids=["no-accept", "accept-any"])
@pytest.mark.parametrize("case", CASES, ids=[c.local for c in CASES])
def test_w3c_protocol_case(case: Case, accept: str | None, request: pytest.FixtureRequest) -> None:
    """Replay a manifest case; every response has the status, media type and body it names."""
    server = request.getfixturevalue("update_server" if is_update(case) else "query_server")
    with new_client(accept) as client:
        for step in case.steps:
            response = send(client, server, case, step)
            if accept is None and "Accept" not in step.headers:
                assert "accept" not in response.request.headers
            if step.status == "4xx":
                assert 400 <= response.status_code < 500, response.text
                assert response.headers["content-type"].startswith("text/plain")
                assert response.text.strip()  # a message, not an empty error
                continue
            assert 200 <= response.status_code < 400, response.text
            if step.content_types:
                media = response.headers["content-type"].split(";")[0].strip()
                assert media in step.content_types
            check_expected(case, step, response, server)
