"""The response cache: repeated reads skip the application; updates and variants are respected."""

from __future__ import annotations

import asyncio

import httpx
from sovkg.http.cache import KEY_HEADERS, Cache, etag_matches, request_key
from sovkg.http.front import Front
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route


class Backend:
    """A small app that counts how often it is really asked."""

    def __init__(self) -> None:
        self.calls = 0
        self.generation = 0
        self.app = Starlette(
            routes=[
                Route("/q", self.q),
                Route("/big", self.big),
                Route("/missing", self.missing),
                Route("/private", self.private),
                Route("/tagged", self.tagged),
            ]
        )

    async def q(self, request: Request) -> Response:
        self.calls += 1
        accept = request.headers.get("accept", "")
        return PlainTextResponse(f"{request.url.query}|{accept}|{self.generation}")

    async def big(self, request: Request) -> Response:
        self.calls += 1

        async def chunks():
            for _ in range(4):
                yield b"x" * 1000

        return StreamingResponse(chunks(), media_type="text/plain")

    async def missing(self, request: Request) -> Response:
        self.calls += 1
        return PlainTextResponse("no", status_code=404)

    async def private(self, request: Request) -> Response:
        self.calls += 1
        return PlainTextResponse("p", headers={"Cache-Control": "no-store"})

    async def tagged(self, request: Request) -> Response:
        self.calls += 1
        return PlainTextResponse("t", headers={"ETag": '"app-tag"'})


def _client(
    max_entry: int = 1 << 20, max_bytes: int = 1 << 24
) -> tuple[Backend, Cache, httpx.AsyncClient]:
    backend = Backend()
    cache = Cache(lambda: backend.generation, max_bytes, max_entry)
    transport = httpx.ASGITransport(app=Front(backend.app, cache=cache, access_log=False))
    return backend, cache, httpx.AsyncClient(transport=transport, base_url="http://test")


def run(coro):
    return asyncio.run(coro)


def test_repeated_get_is_answered_from_memory() -> None:
    """The first answer goes out as it is, the second is stored, the third is a hit."""

    async def go():
        backend, cache, client = _client()
        first = await client.get("/q?query=a")
        assert "etag" not in first.headers  # not held back to be hashed: not stored
        second = await client.get("/q?query=a")
        third = await client.get("/q?query=a")
        assert first.text == second.text == third.text == "query=a|*/*|0"
        assert backend.calls == 2 and cache.hits == 1 and cache.misses == 2
        assert second.headers["etag"] == third.headers["etag"]

    run(go())


def test_one_off_requests_do_not_push_out_repeated_ones() -> None:
    """A flood of questions asked once stores nothing, so the entry asked again stays; the
    first sightings remembered are bounded, oldest forgotten first."""

    async def go():
        backend = Backend()
        cache = Cache(lambda: backend.generation, max_bytes=200, max_seen=50)
        front = Front(backend.app, cache=cache, access_log=False)
        transport = httpx.ASGITransport(app=front)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            for _ in range(2):
                await client.get("/q?query=popular")
            for i in range(500):
                await client.get(f"/q?query=once-{i}")
            assert len(cache._entries) == 1 and cache._size < 200
            assert len(cache._seen) == 50
            calls = backend.calls
            await client.get("/q?query=popular")
            assert backend.calls == calls and cache.hits == 1
            await client.get("/q?query=once-0")  # forgotten: a first sighting again
            await client.get("/q?query=once-499")  # remembered: stored now
            assert len(cache._entries) == 2

    run(go())


def test_negotiation_headers_and_query_are_part_of_the_key() -> None:
    async def go():
        backend, _, client = _client()
        for _ in range(2):  # every one stored
            for accept, query in (("text/csv", "a"), ("application/json", "a"), ("text/csv", "b")):
                await client.get(f"/q?query={query}", headers={"Accept": accept})
        backend.calls = 0
        a = await client.get("/q?query=a", headers={"Accept": "text/csv"})
        b = await client.get("/q?query=a", headers={"Accept": "application/json"})
        c = await client.get("/q?query=b", headers={"Accept": "text/csv"})
        assert len({a.text, b.text, c.text}) == 3  # each from its own entry
        assert backend.calls == 0

    run(go())


def test_if_none_match_gets_304() -> None:
    async def go():
        _, _, client = _client()
        await client.get("/q?query=a")
        first = await client.get("/q?query=a")
        again = await client.get("/q?query=a", headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
        other = await client.get("/q?query=a", headers={"If-None-Match": '"nope"'})
        assert other.status_code == 200

    run(go())


def test_new_generation_empties_the_cache() -> None:
    async def go():
        backend, _, client = _client()
        await client.get("/q?query=a")
        await client.get("/q?query=a")  # stored
        backend.generation = 1
        after = await client.get("/q?query=a")
        assert after.text.endswith("|1") and backend.calls == 3

    run(go())


def test_errors_no_store_and_large_bodies_are_not_cached() -> None:
    async def go():
        backend, _, client = _client(max_entry=2000)
        for path in ("/missing", "/private", "/big"):
            r1 = await client.get(path)
            r2 = await client.get(path)
            r3 = await client.get(path)
            assert r1.content == r2.content == r3.content
        assert (await client.get("/big")).content == b"x" * 4000
        assert backend.calls == 10

    run(go())


def test_head_uses_the_get_entry_without_body() -> None:
    async def go():
        backend, _, client = _client()
        await client.get("/q?query=a")
        await client.get("/q?query=a")
        head = await client.head("/q?query=a")
        assert head.status_code == 200 and head.content == b"" and backend.calls == 2

    run(go())


def test_the_apps_own_etag_is_kept() -> None:
    async def go():
        _, _, client = _client()
        first = await client.get("/tagged")  # a first answer keeps the ETag it brings
        assert first.headers["etag"] == '"app-tag"'
        await client.get("/tagged")
        r = await client.get("/tagged", headers={"If-None-Match": '"app-tag"'})
        assert r.status_code == 304

    run(go())


def test_total_size_is_bounded() -> None:
    async def go():
        backend, cache, client = _client(max_bytes=30)
        for i in range(10):
            await client.get(f"/q?query={i}")
            await client.get(f"/q?query={i}")
        assert cache._size <= 30
        await client.get("/q?query=0")  # evicted long ago
        assert backend.calls == 21

    run(go())


def test_etag_comparison_is_weak() -> None:
    assert etag_matches(b'W/"x", "y"', b'"x"')
    assert etag_matches(b"*", b'"x"')
    assert not etag_matches(b'"z"', b'"x"')


def test_every_negotiation_header_is_part_of_the_key() -> None:
    """Each of ``KEY_HEADERS`` changes the key, in any case of its value, and a header
    outside them does not."""

    def key(*headers: tuple[bytes, bytes]) -> tuple[bytes, ...]:
        scope = {"path": "/q", "raw_path": b"/q", "query_string": b"a=1", "headers": headers}
        return request_key(scope)

    plain = key()
    for name in KEY_HEADERS:
        assert key((name, b"X")) != plain, name
        assert key((name, b"X")) == key((name, b"x")), name
    assert key((b"user-agent", b"wrk")) == plain
    assert key((b"accept-encoding", b"gzip, br")) != plain


def test_a_conditional_request_gets_its_304_on_a_first_sighting() -> None:
    """A validator from another server process (or from before a restart) meets a cache that
    never saw the request: it is still compared, and a match is a 304."""

    async def go():
        backend, cache, client = _client()
        r = await client.get("/tagged", headers={"If-None-Match": '"app-tag"'})
        assert r.status_code == 304 and r.headers["etag"] == '"app-tag"'
        other = await client.get("/q?query=z", headers={"If-None-Match": '"nope"'})
        assert other.status_code == 200 and other.text == "query=z|*/*|0"
        assert backend.calls == 2

    run(go())
