"""The response cache, which the HTTP front (``sovkg.http.front``) asks before the application.

The data changes rarely and the same questions come again and again, so a repeated read is
answered from memory without entering the framework, the query engine or a serializer. Entries
are keyed by everything that can change the answer (method, path, query string, the negotiation
headers, the host the client used), carry a strong ETag (``If-None-Match`` gets a 304), are
bounded in total bytes (least recently used go first), and all go when the data's generation
changes (every committed update bumps it).

A response is stored the second time its request is seen, not the first: the first sighting
only remembers the key's hash (a bounded FIFO of them). Most questions nobody asked before are
never asked again, and storing each one cost a fresh request about a fifth of the server's
Python (holding its body back, building the entry, and the collector's work on a cache that
keeps growing), and pushed out the entries that are asked again. So a first answer goes out as
the application sends it (with the ETag it brings, if any), the second is stored, and the third
is a hit. A conditional request (``If-None-Match``) is stored at once, so that its validator is
compared whichever server process or sighting it meets.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import Message, Scope, Send

#: request headers that select between representations, part of the key
KEY_HEADERS = (
    b"accept",
    b"accept-language",
    b"host",
    b"x-forwarded-host",
    b"x-forwarded-proto",
    b"x-forwarded-prefix",
)
_NOT_CACHED_PATHS = ("/health",)


@dataclass(frozen=True)
class Entry:
    """A stored response: status, headers (ETag included) and body."""

    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    etag: bytes


def _header(scope: Scope, name: bytes) -> bytes:
    for k, v in scope.get("headers", ()):
        if k == name:
            return v
    return b""


def request_key(scope: Scope) -> tuple[bytes, ...]:
    """The normalised request: path, query string, gzip or not, the negotiation headers (in
    the order of ``KEY_HEADERS``)."""
    get = dict(scope.get("headers", ())).get  # ASGI servers give lower-case names
    # written out rather than a generator over KEY_HEADERS: this runs for every GET, and the
    # generator was a fifth of a cache hit's Python
    return (
        scope.get("raw_path") or scope["path"].encode(),
        scope.get("query_string", b""),
        b"gzip" if b"gzip" in get(b"accept-encoding", b"").lower() else b"",
        get(b"accept", b"").lower(),
        get(b"accept-language", b"").lower(),
        get(b"host", b"").lower(),
        get(b"x-forwarded-host", b"").lower(),
        get(b"x-forwarded-proto", b"").lower(),
        get(b"x-forwarded-prefix", b"").lower(),
    )


def _no_store(start: Message) -> bool:
    """Whether a response start says ``Cache-Control: no-store``."""
    for k, v in start.get("headers", ()):
        if k.lower() == b"cache-control" and b"no-store" in v.lower():
            return True
    return False


def etag_matches(if_none_match: bytes, etag: bytes) -> bool:
    """Weak comparison of If-None-Match against an ETag (RFC 9110 §13.1.2)."""
    if not if_none_match:  # the usual request: no validator to compare
        return False
    if if_none_match.strip() == b"*":
        return True
    bare = etag.removeprefix(b"W/")
    return any(t.strip().removeprefix(b"W/") == bare for t in if_none_match.split(b","))


class Cache:
    """A bounded LRU cache of whole responses to GET/HEAD requests."""

    def __init__(
        self,
        generation: Callable[[], int],
        max_bytes: int = 64 * 1024 * 1024,
        max_entry_bytes: int = 2 * 1024 * 1024,
        max_seen: int | None = None,
    ) -> None:
        self.generation = generation
        #: what a response's headers get before they are stored (the HTTP front sets its
        #: safety headers here), so that a hit sends them as they are
        self.seal: Callable[[list[tuple[bytes, bytes]]], list[tuple[bytes, bytes]]] | None = None
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_entry_bytes
        #: how many first sightings are remembered (by default one per 4 KiB of the budget)
        self.max_seen = max_seen if max_seen is not None else max(1024, max_bytes // 4096)
        self._seen: OrderedDict[int, None] = OrderedDict()
        self._entries: OrderedDict[tuple[bytes, ...], Entry] = OrderedDict()
        self._size = 0
        self._seen_generation = generation()
        self.hits = 0
        self.misses = 0

    def clear(self) -> None:
        """Forget every entry."""
        self._entries.clear()
        self._size = 0

    def _store(self, key: tuple[bytes, ...], entry: Entry) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self._size -= len(old.body)
        self._entries[key] = entry
        self._size += len(entry.body)
        while self._size > self.max_bytes and self._entries:
            _, dropped = self._entries.popitem(last=False)
            self._size -= len(dropped.body)

    def lookup(self, scope: Scope) -> tuple[tuple[bytes, ...], int, Entry | None] | None:
        """For a request the cache may answer: its key, the data's generation, and the entry
        stored for it if there is one (counted as a hit or a miss). None for any other
        request (not a GET or HEAD, or a path never cached), and for the first sighting of a
        request (a miss whose answer is not stored, see the module's text)."""
        if scope["method"] not in ("GET", "HEAD") or scope["path"] in _NOT_CACHED_PATHS:
            return None
        generation = self.generation()
        if generation != self._seen_generation:
            self.clear()
            self._seen_generation = generation
        key = request_key(scope)
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            # a conditional request is filled at once: only the filling path compares its
            # validator (a first answer that passed through could not give a 304)
            if self._seen_before(key) or _header(scope, b"if-none-match"):
                return key, generation, None
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return key, generation, entry

    def _seen_before(self, key: tuple[bytes, ...]) -> bool:
        """Whether ``key`` was seen before (remembering it now if not)."""
        mark = hash(key)
        seen = self._seen
        if mark in seen:
            del seen[mark]  # stored from now on: its place goes to another
            return True
        seen[mark] = None
        if len(seen) > self.max_seen:
            seen.popitem(last=False)
        return False

    async def replay(self, scope: Scope, entry: Entry, send: Send) -> tuple[int, int]:
        """Answer from ``entry``: a 304 when the client's validator matches it. Returns the
        status and the bytes of the body sent (for the access log)."""
        if etag_matches(_header(scope, b"if-none-match"), entry.etag):
            headers = [(k, v) for k, v in entry.headers if k not in (b"content-length",)]
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return 304, 0
        await send(
            {"type": "http.response.start", "status": entry.status, "headers": list(entry.headers)}
        )
        body = b"" if scope["method"] == "HEAD" else entry.body
        await send({"type": "http.response.body", "body": body})
        return entry.status, len(body)

    def filling(self, scope: Scope, key: tuple[bytes, ...], generation: int, send: Send) -> Send:
        """The ``send`` to give the application for a request that missed: it holds back a
        small 200 until it is complete, then stores it under ``key`` and sends it on."""
        start: Message | None = None
        chunks: list[bytes] = []
        size = 0
        passing = False  # True once the response turned out not to be cacheable

        async def capture(message: Message) -> None:
            nonlocal start, size, passing
            if passing:
                await send(message)
                return
            if message["type"] == "http.response.start":
                if message["status"] != 200 or _no_store(message) or scope["method"] == "HEAD":
                    passing = True
                    await send(message)
                    return
                start = message
                return
            if message["type"] != "http.response.body":
                # e.g. http.response.pathsend (a static file the server sends itself): not
                # cached, and the start held back above must go first
                passing = True
                if start is not None:
                    await send(start)
                await send(message)
                return
            body = message.get("body", b"")
            chunks.append(body)
            size += len(body)
            if size > self.max_entry_bytes:
                passing = True
                assert start is not None
                await send(start)
                await send(
                    {
                        "type": "http.response.body",
                        "body": b"".join(chunks),
                        "more_body": message.get("more_body", False),
                    }
                )
                return
            if not message.get("more_body", False):
                assert start is not None
                full = b"".join(chunks)
                headers = list(start.get("headers", []))
                etag = next((v for k, v in headers if k.lower() == b"etag"), b"")
                if not etag:
                    etag = b'"' + hashlib.sha256(full).hexdigest()[:32].encode() + b'"'
                    headers.append((b"etag", etag))
                if self.seal is not None:
                    headers = self.seal(headers)
                entry = Entry(200, tuple(headers), full, etag)
                if self.generation() == generation:  # no update slipped in meanwhile
                    self._store(key, entry)
                await self.replay(scope, entry, send)

        return capture
