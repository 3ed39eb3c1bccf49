"""The W3C SPARQL 1.1 Protocol test suite (tests/w3c/manifest.ttl) read as data: each case's
HTTP requests and the responses they must get, and how to replay one against a live server.

The manifest describes each case in prose. Requests are replayed over loopback exactly as
written (the Host, User-agent and Content-Length lines are left to the HTTP client), with two
additions the prose implies: a body "encoded in utf-16" is sent so, and update requests carry
``TOKEN`` as a bearer token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import rdflib
from pyoxigraph import QueryBoolean, QueryResultsFormat, QuerySolutions, parse_query_results

from tests.support.server import LiveServer

W3C = Path(__file__).resolve().parents[1] / "w3c"
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
    head = g.value(manifest, MF.entries)
    assert head is not None, "the manifest lists no entries"
    entries = rdflib.collection.Collection(g, head)
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


def is_update(case: Case) -> bool:
    return case.local.startswith(("update_", "bad_update", "bad_multiple_updates"))


def new_client(accept: str | None) -> httpx.Client:
    client = httpx.Client(timeout=30)
    if accept is None:
        del client.headers["accept"]  # httpx sends */* unless told not to
    else:
        client.headers["accept"] = accept
    return client


def send(client: httpx.Client, server: LiveServer, case: Case, step: Step) -> httpx.Response:
    headers = dict(step.headers)
    if is_update(case) and (
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


def check_expected(case: Case, step: Step, response: httpx.Response, server: LiveServer) -> None:
    if not step.expected:
        return
    result = _results(response)
    if step.expected in ("true", "false") and isinstance(result, QueryBoolean):
        assert bool(result) is (step.expected == "true")
    elif case.local == "query_dataset_full":
        # "true" under a SELECT: the protocol dataset answers, i.e. rows join the default
        # graph (data3 only) with the named graphs (data1 and data2 only)
        assert isinstance(result, QuerySolutions)
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
        assert isinstance(result, QuerySolutions)
        rows = list(result)
        assert len(rows) == 1
        o = rows[0]["o"]
        assert o.value != "test" and o.value.startswith(server.url + "/")
    else:
        raise AssertionError(f"no rule to check {step.expected!r} of {case.local}")
