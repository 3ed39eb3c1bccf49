"""The HTTP front (``sovkg.http.front``): the one path every request takes. Limits, cache,
safety headers and access log apply in order to the direct routes (the SPARQL endpoints) as to
the framework's; a handler that fails still gets the client an answer, and the log a line."""

from __future__ import annotations

import asyncio
import gc
import json
import logging

import httpx
import pytest
from fastapi import FastAPI
from sovkg.app import create_app, serving_app
from sovkg.config import Settings
from sovkg.http.accesslog import ACCESS_LOGGER
from sovkg.http.cache import Cache
from sovkg.http.front import Front
from sovkg.http.limits import Limits

from tests.support.asgi import InProcessClient
from tests.support.server import LiveServer


class Handler:
    """An ASGI handler that counts its calls and answers ``body`` as ``content_type``."""

    def __init__(self, body: bytes = b"ok", content_type: bytes = b"text/plain") -> None:
        self.calls = 0
        self.body = body
        self.content_type = content_type

    async def __call__(self, scope, receive, send) -> None:
        self.calls += 1
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", self.content_type)],
            }
        )
        await send({"type": "http.response.body", "body": self.body})


async def _broken(scope, receive, send) -> None:
    raise RuntimeError("the handler broke")


def _scope(path: str, method: str = "GET", query: bytes = b"", headers=()) -> dict:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "headers": [(b"host", b"test"), *headers],
        "client": ("127.0.0.1", 1234),
    }


async def _empty():
    return {"type": "http.request", "body": b"", "more_body": False}


def _call(app, scope, receive=_empty) -> tuple[list[dict], BaseException | None]:
    """The messages sent, and what the app raised."""
    sent: list[dict] = []

    async def send(message) -> None:
        sent.append(message)

    try:
        asyncio.run(app(scope, receive, send))
    except Exception as e:  # noqa: BLE001 - returned for the test to look at
        return sent, e
    return sent, None


def _start(sent: list[dict]) -> tuple[int, dict[bytes, bytes]]:
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], dict(start["headers"])


def _records(caplog) -> list[dict]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == ACCESS_LOGGER]


def test_direct_paths_skip_the_application_and_others_reach_it() -> None:
    app, direct = Handler(b"app"), Handler(b"direct")
    front = Front(app, direct={"/sparql": direct}, access_log=False)
    _call(front, _scope("/sparql"))
    _call(front, _scope("/other"))
    assert (direct.calls, app.calls) == (1, 1)


def test_lifespan_goes_to_the_application() -> None:
    seen = []

    async def app(scope, receive, send) -> None:
        seen.append(scope["type"])

    _call(Front(app, direct={"/sparql": _broken}), {"type": "lifespan"})
    assert seen == ["lifespan"]


def test_a_failing_handler_gets_the_client_a_500_and_the_log_a_line(caplog) -> None:
    front = Front(Handler(), direct={"/sparql": _broken})
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
        sent, raised = _call(front, _scope("/sparql"))
    assert isinstance(raised, RuntimeError)  # the server logs its traceback
    status, headers = _start(sent)
    assert status == 500 and headers[b"x-content-type-options"] == b"nosniff"
    assert b"Internal Server Error" in b"".join(m.get("body", b"") for m in sent)
    assert [r["status"] for r in _records(caplog)] == [500]


def test_limits_apply_to_direct_routes_before_their_handler() -> None:
    direct = Handler()
    front = Front(Handler(), limits=Limits(max_url=100), direct={"/sparql": direct})
    sent, _ = _call(front, _scope("/sparql", query=b"query=" + b"x" * 200))
    assert _start(sent)[0] == 414 and direct.calls == 0
    sent, _ = _call(front, _scope("/sparql", "POST", headers=[(b"content-length", b"12x")]))
    assert _start(sent)[0] == 400 and direct.calls == 0


def test_a_client_that_leaves_mid_body_is_logged_without_an_answer(caplog) -> None:
    direct = Handler()
    front = Front(Handler(), direct={"/sparql": direct})

    async def leaves():
        return {"type": "http.disconnect"}

    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
        sent, raised = _call(
            front, _scope("/sparql", "POST", headers=[(b"content-length", b"5")]), leaves
        )
    assert sent == [] and raised is None and direct.calls == 0
    assert [r["status"] for r in _records(caplog)] == [0]


@pytest.mark.parametrize(
    ("content_type", "has_csp"), [(b"text/html; charset=utf-8", True), (b"text/plain", False)]
)
def test_cache_hits_on_direct_routes_carry_the_safety_headers(content_type, has_csp) -> None:
    direct = Handler(b"<p>hi</p>", content_type)
    cache = Cache(lambda: 0)
    front = Front(Handler(), cache=cache, direct={"/sparql": direct}, access_log=False)
    seen, _ = _call(front, _scope("/sparql", query=b"query=ASK{}"))  # a first sighting
    first, _ = _call(front, _scope("/sparql", query=b"query=ASK{}"))  # stored
    again, _ = _call(front, _scope("/sparql", query=b"query=ASK{}"))
    assert direct.calls == 2 and cache.hits == 1
    for sent in (seen, first, again):
        status, headers = _start(sent)
        assert status == 200 and headers[b"x-content-type-options"] == b"nosniff"
        assert (b"content-security-policy" in headers) is has_csp
        # stored with them on, a hit sends each of them once, not once more per replay
        start = next(m for m in sent if m["type"] == "http.response.start")
        names = [k for k, _ in start["headers"]]
        assert names.count(b"x-content-type-options") == 1
        assert names.count(b"content-security-policy") == int(has_csp)
    etag = _start(first)[1][b"etag"]
    not_modified, _ = _call(
        front, _scope("/sparql", query=b"query=ASK{}", headers=[(b"if-none-match", etag)])
    )
    status, headers = _start(not_modified)
    assert status == 304 and headers[b"x-content-type-options"] == b"nosniff"
    assert direct.calls == 2


def test_the_application_answers_sparql_through_the_front(caplog) -> None:
    app = create_app(Settings(query_workers=1, workers=1))
    client = InProcessClient(app)
    try:
        with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
            url = "/sparql?query=ASK%7B%3Fs%20%3Fp%20%3Fo%7D"
            first, second, again = (
                client.get(url, headers={"Accept": "application/sparql-results+json"})
                for _ in range(3)
            )
            page = client.get("/")
        assert first.json()["boolean"] is True and again.content == second.content == first.content
        assert app.middleware_stack.cache.hits == 1
        assert first.headers["etag"] == again.headers["etag"]  # the worker's digest, at once
        for r in (first, second, again, page):
            assert r.headers["x-content-type-options"] == "nosniff"
        assert "content-security-policy" in page.headers
        assert [(r["path"], r["status"]) for r in _records(caplog)] == [
            ("/sparql", 200),
            ("/sparql", 200),
            ("/sparql", 200),
            ("/", 200),
        ]
    finally:
        client.close()
        app.state.engine.close()


def test_the_serving_app_freezes_what_it_holds_out_of_the_collector() -> None:
    """``serving_app`` (what ``sovkg serve`` runs) leaves the objects it built at start to the
    collector's permanent generation, so a full collection no longer walks them."""
    gc.unfreeze()
    app = serving_app(Settings(query_workers=1, workers=1, access_log=False))
    try:
        assert gc.get_freeze_count() > 10_000
        started = gc.get_count()
        assert sum(started) < gc.get_freeze_count()
    finally:
        app.state.engine.close()
        gc.unfreeze()


def test_the_access_log_records_what_a_hit_sent(caplog) -> None:
    """A hit leaves past the reply's own ``send`` (its headers were secured when stored), and
    its status and body bytes still reach the log: 200 with the body, 304 and HEAD with none."""
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    body = b"x" * 123
    front = Front(Handler(body), cache=Cache(lambda: 0))
    for _ in range(3):  # a first sighting, the stored answer, a hit
        sent, _ = _call(front, _scope("/page"))
    etag = _start(sent)[1][b"etag"]
    _call(front, _scope("/page", headers=[(b"if-none-match", etag)]))
    _call(front, _scope("/page", method="HEAD"))
    logged = [(r["status"], r["bytes"]) for r in _records(caplog)]
    assert logged == [(200, 123), (200, 123), (200, 123), (304, 0), (200, 0)]


def test_http_requests_enter_the_front_straight_once_it_is_built(monkeypatch) -> None:
    """After the first request has built the stack, an HTTP request goes from the application
    straight to the front (the framework's entry only sets what our app does not use), and
    the routes behind still see their application."""
    app = create_app(Settings(query_workers=1, workers=1, access_log=False))
    client = InProcessClient(app)
    entered: list[str] = []
    framework_entry = FastAPI.__call__

    async def counted(self, scope, receive, send) -> None:
        entered.append(scope["type"])
        await framework_entry(self, scope, receive, send)

    monkeypatch.setattr(FastAPI, "__call__", counted)
    try:
        assert client.get("/").status_code == 200  # builds the stack through the framework
        assert entered == ["http"]
        for path in ("/", "/sparql?query=ASK%7B%7D", "/id/team/naver-cloud"):
            assert client.get(path).status_code in (200, 303)
        assert entered == ["http"]  # none of them entered the framework
        assert client.get("/health").json()  # a route that reads request.app.state
        app.root_path = "/behind"  # a root path: the framework's entry sets it, as before
        client.get("/")
        assert entered == ["http", "http"]
    finally:
        client.close()
        app.state.engine.close()


def test_the_access_log_counts_the_bytes_of_a_static_file_the_server_sends_itself() -> None:
    """granian sends a static file itself (``http.response.pathsend``): the log still records
    its size, as it does for any body."""
    server = LiveServer("--no-validate", "--query-workers", "0")
    try:
        server.wait_ready()
        answers = [httpx.get(f"{server.url}/static/query-ui.js") for _ in range(3)]
        page = httpx.get(f"{server.url}/")
    finally:
        server.stop()
    assert all(r.status_code == 200 and r.content for r in answers)
    log = server.proc.stderr.read().decode() if server.proc.stderr else ""
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    sizes: dict[str, list[int]] = {}
    for e in lines:
        sizes.setdefault(e["path"], []).append(e["bytes"])
    assert sizes.get("/static/query-ui.js") == [len(r.content) for r in answers], sizes
    assert sizes.get("/") == [len(page.content)], sizes
