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

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import rdflib
from conftest import LiveServer
from pyoxigraph import QueryBoolean, QueryResultsFormat, QuerySolutions, parse_query_results

W3C = Path(__file__).parent / "w3c"
MANIFEST = W3C / "manifest.ttl"
BASE = "http://www.w3.org/2009/sparql/docs/tests/data-sparql11/protocol/manifest#"
MF = rdflib.Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
TOKEN = "w3c-protocol-test-token"
KASEI = "http://kasei.us/2009/09/sparql/data/"
SKIPPED_HEADERS = {"host", "user-agent", "content-length"}


@dataclass
class Step:
    """One request of a case and the response it must get."""

    method: str
    target: str
    headers: dict[str, str]
    body: str
    status: str  # "2xx or 3xx" or "4xx"
    content_types: list[str] = field(default_factory=list)
    expected: str = ""  # "true", "false", prose, or ""


@dataclass
class Case:
    """One manifest entry: its IRI, name and steps."""

    iri: str
    name: str
    steps: list[Step]
    utf16: bool

    @property
    def local(self) -> str:
        """The name after the manifest's ``#`` (e.g. ``query_get``)."""
        return self.iri.removeprefix(BASE)


def _unindent(lines: list[str]) -> list[str]:
    return [line[4:] if line.startswith("    ") else line.strip() for line in lines]


def _parse_comment(comment: str) -> list[Step]:
    steps: list[Step] = []
    for block in re.split(r"#### Request\n", comment)[1:]:
        request, _, response = block.partition("#### Response\n")
        lines = _unindent(request.strip("\n").split("\n"))
        method, target, *_ = lines[0].split()
        headers: dict[str, str] = {}
        i = 1
        while i < len(lines) and lines[i].strip():
            name, _, value = lines[i].partition(":")
            if name.strip().lower() not in SKIPPED_HEADERS:
                headers[name.strip()] = value.strip()
            i += 1
        body = "\n".join(lines[i + 1 :]).strip()
        response = response.split("followed by")[0]
        rlines = [x.strip() for x in response.strip().split("\n") if x.strip()]
        status = "4xx" if rlines[0].startswith("4xx") else "2xx or 3xx"
        types: list[str] = []
        expected = ""
        for line in rlines[1:]:
            if line.lower().startswith("content-type:"):
                types = re.findall(r"[a-z]+/[a-z0-9.+-]+", line.split(":", 1)[1])
            else:
                expected = (expected + " " + line).strip()
        steps.append(Step(method, target, headers, body, status, types, expected))
    return steps


def load_cases() -> list[Case]:
    """The manifest's cases in its own order (mf:entries)."""
    g = rdflib.Graph().parse(MANIFEST)
    manifest = next(g.subjects(rdflib.RDF.type, MF.Manifest))
    entries = rdflib.collection.Collection(g, g.value(manifest, MF.entries))
    cases = []
    for entry in entries:
        comment = str(g.value(entry, rdflib.RDFS.comment))
        cases.append(
            Case(
                str(entry),
                str(g.value(entry, MF.name)),
                _parse_comment(comment),
                "encoded in utf-16" in comment,
            )
        )
    return cases


CASES = load_cases()


def _is_update(case: Case) -> bool:
    return case.local.startswith(("update_", "bad_update", "bad_multiple_updates"))


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


def _client(accept: str | None) -> httpx.Client:
    client = httpx.Client(timeout=30)
    if accept is None:
        del client.headers["accept"]  # httpx sends */* unless told not to
    else:
        client.headers["accept"] = accept
    return client


def _send(client: httpx.Client, server: LiveServer, case: Case, step: Step) -> httpx.Response:
    headers = dict(step.headers)
    if _is_update(case) and (
        "sparql-update" in headers.get("Content-Type", "") or "update=" in step.body
    ):
        headers["Authorization"] = f"Bearer {TOKEN}"
    body = step.body.encode("utf-16" if case.utf16 else "utf-8")
    return client.request(
        step.method, server.url + step.target, headers=headers, content=body or None
    )


def _results(response: httpx.Response) -> QueryBoolean | QuerySolutions:
    media = response.headers["content-type"].split(";")[0].strip()
    return parse_query_results(response.content, format=QueryResultsFormat.from_media_type(media))


def _check_expected(case: Case, step: Step, response: httpx.Response, server: LiveServer) -> None:
    if not step.expected:
        return
    result = _results(response)
    if step.expected in ("true", "false") and isinstance(result, QueryBoolean):
        assert bool(result) is (step.expected == "true")
    elif case.local == "query_dataset_full":
        # "true" under a SELECT: the protocol dataset answers, i.e. rows join the default
        # graph (data3 only) with the named graphs (data1 and data2 only)
        rows = list(result)
        assert rows
        assert {r["g"].value for r in rows} <= {KASEI + "data1.rdf", KASEI + "data2.rdf"}
        assert {r["x"].value for r in rows} <= {
            KASEI + "data3.rdf",
            "http://example.org/protocol-test/carol",
        }
    elif case.local == "update_base_uri":
        # "one result with ?o bound to an IRI that is not <test>": resolved against the
        # endpoint URL, our base IRI
        rows = list(result)
        assert len(rows) == 1
        o = rows[0]["o"]
        assert o.value != "test" and o.value.startswith(server.url + "/")
    else:
        raise AssertionError(f"no rule to check {step.expected!r} of {case.local}")


def test_manifest_has_all_34_cases() -> None:
    """The copied manifest is complete: 34 protocol cases, each with at least one request."""
    assert len(CASES) == 34
    assert all(case.steps for case in CASES)
    assert sum(_is_update(c) for c in CASES) == 14  # and 20 query cases


@pytest.mark.parametrize("accept", [None, "*/*"], ids=["no-accept", "accept-any"])
@pytest.mark.parametrize("case", CASES, ids=[c.local for c in CASES])
def test_w3c_protocol_case(case: Case, accept: str | None, request: pytest.FixtureRequest) -> None:
    """Replay a manifest case; every response has the status, media type and body it names."""
    server = request.getfixturevalue("update_server" if _is_update(case) else "query_server")
    with _client(accept) as client:
        for step in case.steps:
            response = _send(client, server, case, step)
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
            _check_expected(case, step, response, server)
