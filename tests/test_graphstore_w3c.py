"""The W3C SPARQL 1.1 Graph Store Protocol tests (tests/w3c-gsp/, its direct and indirect
manifests), against a live server.

Each case is a list of HTTP requests (``ht:Request``) with the response each must get
(``mf:expectedStatus``, the Content-Type, a body isomorphic to the expected one). As the
manifest says, ``/gsp`` is replaced by our endpoint, ``/store``, and the ``Location`` of a
response is put where a later request says ``$LOCATION$``. Writes carry our bearer token.
Every case starts from a store without the graphs it names (the cases reuse the same graph
IRIs and expect ``201 Created`` on a first PUT), so a write from an earlier case is deleted
first.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import rdflib
from rdflib.compare import isomorphic
from rdflib.namespace import RDF

from tests.support.server import LiveServer

pytestmark = pytest.mark.live

W3C_GSP = Path(__file__).resolve().parent / "w3c-gsp"
TOKEN = "w3c-gsp-test-token"
MF = rdflib.Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
HT = rdflib.Namespace("http://www.w3.org/2011/http#")
CNT = rdflib.Namespace("http://www.w3.org/2011/content#")
HTS = "http://www.w3.org/2011/http-statusCodes#"
STATUS = {"OK": 200, "Created": 201, "NoContent": 204, "NotFound": 404}


@dataclass(frozen=True)
class Request:
    """One request of a case and what its response must be."""

    method: str
    path: str
    headers: dict[str, str]
    body: str | None
    statuses: frozenset[int]
    content_type: str | None
    expected_body: str | None
    location_variable: str | None


@dataclass(frozen=True)
class Case:
    """One manifest entry."""

    name: str
    local: str
    requests: tuple[Request, ...]


def _headers(g: rdflib.Graph, node: rdflib.term.Node | None) -> dict[str, str]:
    if node is None:
        return {}
    out = {}
    for h in rdflib.collection.Collection(g, node):
        out[str(g.value(h, HT.fieldName)).lower()] = str(g.value(h, HT.fieldValue))
    return out


def _chars(g: rdflib.Graph, node: rdflib.term.Node | None) -> str | None:
    return None if node is None else str(g.value(node, CNT.chars))


def _request(g: rdflib.Graph, node: rdflib.term.Node) -> Request:
    resp = g.value(node, HT.resp)
    statuses = frozenset(
        STATUS[str(s).removeprefix(HTS)] for s in g.objects(resp, MF.expectedStatus)
    )
    response_headers = _headers(g, g.value(resp, HT.headers))
    location = g.value(resp, MF.expectedLocation)
    return Request(
        method=str(g.value(node, HT.methodName)),
        path="/store" + str(g.value(node, HT.absolutePath)).removeprefix("/gsp"),
        headers=_headers(g, g.value(node, HT.headers)),
        body=_chars(g, g.value(node, HT.body)),
        statuses=statuses,
        content_type=response_headers.get("content-type"),
        expected_body=_chars(g, g.value(resp, HT.body)),
        location_variable=None if location is None else str(location),
    )


def load_cases() -> list[Case]:
    """The cases of every manifest mf:include-d by manifest.ttl, in their order."""
    top = rdflib.Graph().parse(W3C_GSP / "manifest.ttl")
    includes = rdflib.collection.Collection(top, next(top.objects(None, MF.include)))
    cases = []
    for included in includes:
        path = W3C_GSP / str(included).rsplit("/", 1)[-1]
        g = rdflib.Graph().parse(path)
        manifest = next(g.subjects(RDF.type, MF.Manifest))
        for entry in rdflib.collection.Collection(g, g.value(manifest, MF.entries)):
            action = g.value(entry, MF.action)
            requests = rdflib.collection.Collection(g, g.value(action, HT.requests))
            cases.append(
                Case(
                    str(g.value(entry, MF.name)),
                    str(entry).rsplit("#", 1)[-1],
                    tuple(_request(g, r) for r in requests),
                )
            )
    return cases


CASES = load_cases()


@pytest.fixture(scope="module")
def gsp_server() -> Iterator[LiveServer]:
    """A server that takes writes with the token, on the shipped data (all in named graphs,
    so the store's own default graph starts empty)."""
    server = LiveServer("--no-validate", "--allow-updates", env={"SOVKG_TOKEN": TOKEN})
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def _auth(method: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"} if method in ("PUT", "POST", "DELETE") else {}


def _clean(client: httpx.Client, server: LiveServer, case: Case) -> None:
    """Delete every graph the case names, so that it starts from a store without them."""
    for path in {r.path for r in case.requests if "$" not in r.path and r.path != "/store"}:
        response = client.delete(server.url + path, headers=_auth("DELETE"))
        assert response.status_code in (204, 404), response.text


def _media(header: str) -> tuple[str, str]:
    """The media type and charset of a Content-Type, lower case."""
    media, _, params = header.partition(";")
    charset = params.split("=", 1)[1].strip().lower() if "charset" in params else ""
    return media.strip().lower(), charset


def test_manifests_have_the_13_cases() -> None:
    """The copied manifests are complete: 4 direct and 9 indirect cases, each with requests."""
    assert len(CASES) == 13
    assert sum(c.local.endswith("_direct") for c in CASES) == 4
    assert all(c.requests and all(r.statuses for r in c.requests) for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.local for c in CASES])
def test_w3c_graph_store_case(case: Case, gsp_server: LiveServer) -> None:
    """Replay a case: every response has a status it allows, the Content-Type and the graph."""
    variables: dict[str, str] = {}
    with httpx.Client(timeout=60) as client:
        _clean(client, gsp_server, case)
        for step in case.requests:
            path = step.path
            body = step.body
            for name, value in variables.items():
                path = path.replace(name, value)
                body = body.replace(name, value) if body is not None else None
            response = client.request(
                step.method,
                gsp_server.url + path,
                headers={**step.headers, **_auth(step.method)},
                content=body.encode("utf-8") if body is not None else None,
            )
            assert response.status_code in step.statuses, (step.method, path, response.text)
            if step.location_variable:
                variables[step.location_variable] = response.headers["location"]
            if step.content_type:
                assert _media(response.headers["content-type"]) == _media(step.content_type)
            if step.expected_body is not None:
                got = rdflib.Graph().parse(data=response.text, format="turtle")
                want = rdflib.Graph().parse(data=step.expected_body, format="turtle")
                assert isomorphic(got, want), response.text


def test_w3c_reads_need_no_token(gsp_server: LiveServer) -> None:
    """A graph a case wrote (with the token) is read by anyone: GET and HEAD without one."""
    put = CASES[0].requests[0]
    url = gsp_server.url + put.path
    assert put.body is not None
    written = httpx.put(url, content=put.body.encode(), headers={**put.headers, **_auth("PUT")})
    assert written.status_code in (201, 204)
    assert httpx.get(url, headers={"Accept": "text/turtle"}).status_code == 200
    assert httpx.head(url, headers={"Accept": "text/turtle"}).status_code == 200


@pytest.mark.parametrize("method", ["PUT", "POST", "DELETE"])
@pytest.mark.parametrize("token", [None, "wrong-token"], ids=["no-token", "wrong-token"])
def test_w3c_writes_without_the_token_are_refused(
    method: str, token: str | None, gsp_server: LiveServer
) -> None:
    """Every write of the suite without the token (or with a wrong one) is a 401 with a Bearer
    challenge, and the graph is unchanged."""
    url = gsp_server.url + "/store?graph=http%3A%2F%2Fwww.example%2Fgsp%2Fperson%2Fx.ttl"
    before = httpx.get(url).status_code
    headers = {"Content-Type": "text/turtle"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = b"<http://www.example/gsp/person/x> a <http://xmlns.com/foaf/0.1/Person> ."
    response = httpx.request(method, url, headers=headers, content=body)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert httpx.get(url).status_code == before == 404
