"""Request limits, safety headers, the access log and the result row limit.

The middleware is driven both as raw ASGI (to see exactly what it reads) and inside the real
application, in process.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyoxigraph import (
    BaseDirection,
    BlankNode,
    Literal,
    NamedNode,
    Quad,
    QueryResultsFormat,
    Store,
    Triple,
    parse_query_results,
)
from sovkg.app import create_app
from sovkg.config import Settings
from sovkg.engine import QueryJob, execute_query
from sovkg.engine.serialize import within_row_limit
from sovkg.http import accesslog
from sovkg.http.accesslog import ACCESS_LOGGER, redact_query_string
from sovkg.http.compress import GZIP_ABOVE
from sovkg.http.front import Front
from sovkg.http.limits import Limits

from tests.support.asgi import InProcessClient


def hardened(app, *, access_log: bool = True, **limits):
    """``app`` behind the HTTP front, with these limits and no cache."""
    return Front(app, limits=Limits(**limits), access_log=access_log)


RESULT_FORMATS = [
    "application/sparql-results+json",
    "application/sparql-results+xml",
    "text/tab-separated-values",
]


async def _echo_app(scope, receive, send) -> None:
    """A tiny ASGI app: reads the whole body, answers with its length as HTML."""
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/html; charset=utf-8")],
        }
    )
    await send({"type": "http.response.body", "body": f"<p>{size}</p>".encode()})


def _scope(path: str = "/x", query: bytes = b"", headers=()) -> dict:
    return {
        "type": "http",
        "method": "POST",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "headers": list(headers),
        "client": ("127.0.0.1", 1234),
    }


def _call(app, scope, receive) -> tuple[int, dict[bytes, bytes], bytes]:
    sent: list[dict] = []

    async def send(message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], dict(start["headers"]), body


def test_declared_body_over_the_limit_is_413_before_reading_it() -> None:
    reads = []

    async def receive():
        reads.append(1)
        return {"type": "http.request", "body": b"x" * 10, "more_body": True}

    app = hardened(_echo_app, max_body=1000, access_log=False)
    status, _, body = _call(app, _scope(headers=[(b"content-length", b"5000")]), receive)
    assert status == 413
    assert b"1000 bytes" in body
    assert reads == []


def test_chunked_body_over_the_limit_is_413_as_soon_as_it_passes() -> None:
    reads = []

    async def receive():
        reads.append(1)
        return {"type": "http.request", "body": b"x" * 100, "more_body": True}  # endless

    app = hardened(_echo_app, max_body=1000, access_log=False)
    status, _, _ = _call(app, _scope(headers=[(b"transfer-encoding", b"chunked")]), receive)
    assert status == 413
    assert len(reads) == 11  # stopped at the first chunk past 1000 bytes


def test_body_within_the_limit_reaches_the_app_whole() -> None:
    chunks = [b"a" * 300, b"b" * 300, b"c" * 300]

    async def receive():
        return {"type": "http.request", "body": chunks.pop(0), "more_body": bool(chunks)}

    app = hardened(_echo_app, max_body=1000, access_log=False)
    status, headers, body = _call(app, _scope(), receive)
    assert (status, body) == (200, b"<p>900</p>")
    assert headers[b"x-content-type-options"] == b"nosniff"
    assert b"default-src 'self'" in headers[b"content-security-policy"]


def test_a_body_that_never_finishes_is_408() -> None:
    async def receive():
        await asyncio.sleep(3600)

    app = hardened(_echo_app, body_timeout=0.3, access_log=False)
    status, _, body = _call(app, _scope(), receive)
    assert status == 408
    assert b"did not arrive" in body


def test_unparsable_content_length_is_400() -> None:
    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    app = hardened(_echo_app, access_log=False)
    status, _, _ = _call(app, _scope(headers=[(b"content-length", b"12x")]), receive)
    assert status == 400


@pytest.fixture(scope="module")
def client(store: Store):
    """The real application (one query worker process, small limits), in process."""
    settings = Settings(
        query_workers=1, max_rows=5, max_url_bytes=2048, max_body_bytes=64 * 1024, access_log=False
    )
    app = create_app(settings, store)
    try:
        c = InProcessClient(app, base_url="http://t")
        yield c
        c.close()
    finally:
        app.state.engine.close()


def test_long_url_is_414(client) -> None:
    r = client.get("/sparql", params={"query": "ASK {}" + " " * 3000})
    assert r.status_code == 414
    assert "2048" in r.text


def test_large_post_is_413(client) -> None:
    r = client.post(
        "/sparql",
        content=b"ASK {}" + b" " * 70_000,
        headers={"content-type": "application/sparql-query"},
    )
    assert r.status_code == 413


def test_cut_results_carry_x_sparql_maxrows(client) -> None:
    r = client.get("/sparql", params={"query": "SELECT * WHERE { ?s ?p ?o }"})
    assert r.status_code == 200
    assert len(r.json()["results"]["bindings"]) == 5
    assert r.headers["x-sparql-maxrows"] == "5"
    r = client.get(
        "/sparql",
        params={"query": "CONSTRUCT WHERE { ?s ?p ?o }"},
        headers={"accept": "application/n-triples"},
    )
    assert r.status_code == 200
    assert len(r.text.strip().splitlines()) == 5
    assert r.headers["x-sparql-maxrows"] == "5"


def test_whole_results_carry_no_maxrows_header(client) -> None:
    r = client.get("/sparql", params={"query": "SELECT * WHERE { ?s ?p ?o } LIMIT 3"})
    assert len(r.json()["results"]["bindings"]) == 3
    assert "x-sparql-maxrows" not in r.headers


def test_html_pages_get_csp_and_nosniff(client) -> None:
    r = client.get("/sparql", headers={"accept": "text/html"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "default-src" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"


def test_every_response_gets_nosniff(client) -> None:
    for path in ("/health", "/no-such-page", "/sparql?query=ASK%7B%7D"):
        assert client.get(path).headers["x-content-type-options"] == "nosniff"


def _store_with_every_kind_of_term() -> Store:
    s = Store()
    a, p = NamedNode("http://example.org/a"), NamedNode("http://example.org/p")
    objects = [
        Literal("plain"),
        Literal("한국어", language="ko"),
        Literal("rtl", language="ar", direction=BaseDirection.RTL),
        Literal("42", datatype=NamedNode("http://www.w3.org/2001/XMLSchema#integer")),
        Literal('tab\tnewline\n"quote"'),
        BlankNode("b1"),
        Triple(a, p, NamedNode("http://example.org/c")),
        NamedNode("http://example.org/c?q=1#f"),
    ]
    s.extend(Quad(a, p, o) for o in objects)
    return s


def _rows(body: bytes, fmt: str) -> list[list[str]]:
    parsed = parse_query_results(body, format=QueryResultsFormat.from_media_type(fmt))
    return sorted([str(v) for v in row] for row in parsed)


@pytest.mark.parametrize("fmt", RESULT_FORMATS)
def test_limited_results_equal_the_full_serialization(fmt: str) -> None:
    s = _store_with_every_kind_of_term()
    q = "SELECT ?s ?o ?missing WHERE { ?s ?p ?o OPTIONAL { ?o ?x ?missing } }"
    full = execute_query(s, QueryJob(q, result_format=fmt))
    cut = execute_query(s, QueryJob(q, result_format=fmt, max_rows=100))
    assert not cut.truncated
    assert _rows(cut.body, fmt) == _rows(full.body, fmt)
    assert len(_rows(full.body, fmt)) == 8


def test_limited_results_keep_the_first_rows_in_order() -> None:
    s = _store_with_every_kind_of_term()
    q = "SELECT ?o WHERE { ?s ?p ?o } ORDER BY STR(?o)"
    full = json.loads(execute_query(s, QueryJob(q)).body)["results"]["bindings"]
    cut = execute_query(s, QueryJob(q, max_rows=3))
    assert cut.truncated
    assert json.loads(cut.body)["results"]["bindings"] == full[:3]


def test_redaction_blanks_token_like_parameters() -> None:
    redacted = redact_query_string(b"query=ASK%7B%7D&access_token=s3cret&API_KEY=k&x=1")
    assert "s3cret" not in redacted and "=k&" not in redacted
    assert "query=ASK" in redacted and "x=1" in redacted


def test_a_logged_request_is_remembered_redacted_and_bounded() -> None:
    """A repeated request's logged method, path and query string are formatted once and kept
    redacted; the memory of them never holds more than its bound, however many differ."""

    def members(raw: bytes) -> dict:
        return json.loads("{" + accesslog._logged_request("GET", "/sparql", raw) + '"end": 1}')

    raw = b"query=ASK&session_id=hunter2"
    first = accesslog._logged_request("GET", "/sparql", raw)
    assert "hunter2" not in first and members(raw)["query"].startswith("query=ASK")
    assert accesslog._logged_request("GET", "/sparql", raw) is first  # not formatted again
    assert members(raw)["path"] == "/sparql" and members(raw)["method"] == "GET"
    for i in range(accesslog._REMEMBERED * 2 + 5):
        assert members(b"query=ASK&x=%d" % i)["query"].endswith(f"x={i}")
        assert len(accesslog._requests) <= accesslog._REMEMBERED
    assert "hunter2" not in accesslog._logged_request("GET", "/sparql", raw)
    long = b"query=" + b"A" * accesslog._REMEMBERED_QUERY_BYTES + b"&token=hunter2"
    assert "hunter2" not in accesslog._logged_request("GET", "/sparql", long)
    assert ("GET", "/sparql", long) not in accesslog._requests  # too long to keep


def test_a_log_line_is_json_for_any_client_and_duration() -> None:
    scope = {"method": "GET", "path": '/a"b', "query_string": b"q=%22", "client": ('::1"', 1)}
    line = json.loads(accesslog.log_line(scope, 200, 5, time.perf_counter() - 12.34567))
    assert line["client"] == '::1"' and line["path"] == '/a"b' and line["bytes"] == 5
    assert isinstance(line["ms"], float) and abs(line["ms"] - 12345.7) < 1000
    assert json.loads(accesslog.log_line({}, 0, 0, time.perf_counter()))["client"] is None


def test_access_log_is_one_json_object_per_request_without_secrets(caplog) -> None:
    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    app = hardened(_echo_app)
    scope = _scope(
        "/sparql",
        b"query=ASK&token=hunter2",
        headers=[(b"authorization", b"Bearer hunter2"), (b"cookie", b"hunter2")],
    )
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
        _call(app, scope, receive)
    records = [json.loads(r.getMessage()) for r in caplog.records if r.name == ACCESS_LOGGER]
    assert len(records) == 1
    record = records[0]
    assert (record["method"], record["path"], record["status"]) == ("POST", "/sparql", 200)
    assert isinstance(record["ms"], float)
    assert "hunter2" not in caplog.text


def test_a_top_level_limit_within_the_row_limit_is_sent_whole(client) -> None:
    """A SELECT whose own LIMIT is within the row limit skips the row counting; one whose LIMIT
    is larger, or whose LIMIT is only inside a subquery or a comment, is still cut."""
    whole = client.get("/sparql", params={"query": "SELECT * WHERE { ?s ?p ?o } LIMIT 5"})
    assert len(whole.json()["results"]["bindings"]) == 5
    assert "x-sparql-maxrows" not in whole.headers
    for query in (
        "SELECT * WHERE { ?s ?p ?o } LIMIT 50",
        "SELECT * WHERE { { SELECT * WHERE { ?s ?p ?o } LIMIT 3 } ?s ?q ?v }",
        "SELECT * WHERE { ?s ?p ?o } # LIMIT 2",
    ):
        r = client.get("/sparql", params={"query": query})
        assert r.status_code == 200, query
        assert len(r.json()["results"]["bindings"]) == 5, query
        assert r.headers["x-sparql-maxrows"] == "5", query


def test_the_etag_of_a_result_is_the_digest_the_worker_made(client) -> None:
    """The query worker hashes the result (the server's event loop does not); the ETag is that
    digest, a conditional request gets 304, and the gzip variant has an ETag of its own."""
    params = {"query": "SELECT ?p (COUNT(*) AS ?n) WHERE { ?s ?p ?o } GROUP BY ?p ORDER BY ?p"}
    r = client.get("/sparql", params=params, headers={"accept-encoding": "identity"})
    assert r.status_code == 200
    assert r.headers["etag"] == f'"{hashlib.sha256(r.content).hexdigest()[:32]}"'
    again = client.get(
        "/sparql",
        params=params,
        headers={"accept-encoding": "identity", "if-none-match": r.headers["etag"]},
    )
    assert again.status_code == 304
    gz = client.get("/sparql", params=params, headers={"accept-encoding": "gzip"})
    assert gz.status_code == 200 and len(r.content) >= GZIP_ABOVE
    assert gz.headers["content-encoding"] == "gzip"
    assert gz.headers["etag"] == r.headers["etag"][:-1] + '-gzip"'
    assert gz.content == r.content  # decoded by the client


_TRICKY_TEXT = st.text(alphabet=st.sampled_from(list('ab},{"\\\n\r\t<>/&;result')), max_size=12)


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.one_of(st.none(), _TRICKY_TEXT), min_size=0, max_size=12),
    max_rows=st.integers(min_value=1, max_value=14),
    fmt=st.sampled_from(RESULT_FORMATS),
)
def test_rows_counted_while_serializing_are_never_fewer_than_there_are(
    values: list[str | None], max_rows: int, fmt: str
) -> None:
    """The native serialization is kept only when the rows counted in its bytes prove the
    result within the limit; literals made of the marks themselves (``},{``, line breaks,
    ``<result>``) and empty bindings can only make it count more. Whatever it decides, the
    answer is the result cut at the limit, the same as the row-by-row path gives."""
    s = Store()
    p, unbound = NamedNode("http://example.org/p"), NamedNode("http://example.org/none")
    for i, v in enumerate(values):
        if v is not None:
            s.add(Quad(NamedNode(f"http://example.org/s{i}"), p, Literal(v)))
        else:  # a row whose only variable stays unbound: {} in JSON
            s.add(Quad(NamedNode(f"http://example.org/s{i}"), unbound, unbound))
    q = "SELECT ?o WHERE { ?s ?q ?x OPTIONAL { ?s <http://example.org/p> ?o } } ORDER BY ?s"
    rows = len(values)
    job = QueryJob(q, result_format=fmt, max_rows=max_rows)
    kept = within_row_limit(s.query(q), job, max_rows)
    if kept is not None:  # only when it truly fits, and then byte for byte the native answer
        assert rows <= max_rows
        assert kept.body == s.query(q).serialize(format=QueryResultsFormat.from_media_type(fmt))
    out = execute_query(s, job)
    assert out.truncated == (rows > max_rows)
    assert len(_rows(out.body, fmt)) == min(rows, max_rows)


def test_a_large_result_within_the_row_limit_is_evaluated_once() -> None:
    """A result far larger in bytes than the row limit, but with fewer rows, is the native
    serialization (counted as written), not evaluated again row by row."""
    s = Store()
    big = "x" * 5000
    s.extend(
        Quad(NamedNode(f"http://example.org/s{i}"), NamedNode("http://example.org/p"), Literal(big))
        for i in range(50)
    )
    q = "SELECT ?s ?o WHERE { ?s ?p ?o }"
    for fmt in RESULT_FORMATS:
        job = QueryJob(q, result_format=fmt, max_rows=60)
        kept = within_row_limit(s.query(q), job, 60)
        assert kept is not None and len(kept.body) > 60 * 5000 // 2, fmt
        assert kept.body == s.query(q).serialize(format=QueryResultsFormat.from_media_type(fmt))
    triples = QueryJob("CONSTRUCT WHERE { ?s ?p ?o }", graph_format="application/n-triples")
    kept = within_row_limit(s.query(triples.query), triples, 60)
    assert kept is not None and kept.body.count(b"\n") == 50
