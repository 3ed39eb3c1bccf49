"""The least a Python front can do per SPARQL request, as bare ASGI apps for granian.

Each app answers ``GET /sparql?query=...`` with SPARQL JSON results, and does nothing that
``sovkg serve`` does besides: no limits, no negotiation, no access log, no safety headers. They
bound from above what any design on this stack can reach (see ``run.py``):

- ``fixed``: a fixed 200-byte body, the query not even read (granian's own cost);
- ``cached``: the raw query string looked up in a dict filled on first sight (a response
  cache's hit, with nothing around it);
- ``inproc``: the query decoded and run in a thread of this process (pyoxigraph releases the
  GIL), serialized by pyoxigraph: the engine without the process that can be killed;
- ``trip``: the same work in one of two worker processes forked from this one, over a
  socketpair with a 4-byte length prefix and raw bytes (no pickle), one job per worker at a
  time, with a timer per job as the time limit needs: the least a killable worker costs;
- ``hand``: ``trip`` with the next waiting job written to a worker in the callback that reads
  its reply, so a busy worker never waits for the event loop to hand it work;
- ``pipe``: ``trip`` with up to two jobs in flight per worker (the second waits in the worker's
  socket), so a worker never sleeps between two jobs under load; a job can then wait behind
  a long one, so this is a bound, not a design a time limit could live with as it is.

``rsgi_app`` is granian's own interface (RSGI) instead of ASGI, for ``fixed`` and ``cached``
only: what a front that skipped ASGI's message dicts could save.

Choose one with ``CEILING_APP``; the data is the N-Quads file in ``CEILING_DATA``.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any
from urllib.parse import unquote_plus

from pyoxigraph import QueryResultsFormat, QueryTriples, RdfFormat, Store

HEADERS = [(b"content-type", b"application/sparql-results+json")]
FIXED = b"x" * 200
_LEN = struct.Struct("!I")


def _load() -> Store:
    store = Store()
    store.bulk_load(path=os.environ["CEILING_DATA"], format=RdfFormat.N_QUADS)
    return store


STORE = _load()


def answer(store: Store, raw: bytes) -> bytes:
    """The query in a raw query string, answered in SPARQL JSON results (Turtle for a graph)."""
    text = unquote_plus(raw.decode("latin-1").partition("query=")[2], encoding="utf-8")
    result = store.query(text, use_default_graph_as_union=True)
    if isinstance(result, QueryTriples):
        return result.serialize(format=RdfFormat.TURTLE) or b""
    return result.serialize(format=QueryResultsFormat.JSON) or b""


async def _reply(send: Any, body: bytes) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


# -- the worker side of ``trip`` -------------------------------------------------------------


def _serve_worker(sock: socket.socket) -> None:
    buffer = bytearray()
    while True:
        while len(buffer) < 4 or len(buffer) < 4 + _LEN.unpack_from(buffer)[0]:
            chunk = sock.recv(1 << 16)
            if not chunk:
                os._exit(0)
            buffer += chunk
        size = _LEN.unpack_from(buffer)[0]
        raw = bytes(buffer[4 : 4 + size])
        del buffer[: 4 + size]
        body = answer(STORE, raw)
        sock.sendall(_LEN.pack(len(body)) + body)


class _Frames(asyncio.Protocol):
    """The server's end of one worker's socket: each whole reply frame goes to :meth:`replied`."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.transport: Any = None
        self.buffer = bytearray()

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def send(self, raw: bytes) -> None:
        self.transport.write(_LEN.pack(len(raw)) + raw)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= 4:
            size = _LEN.unpack_from(self.buffer)[0]
            if len(self.buffer) < 4 + size:
                return
            body = bytes(self.buffer[4 : 4 + size])
            del self.buffer[: 4 + size]
            self.replied(body)

    def replied(self, body: bytes) -> None:
        raise NotImplementedError


class _Link(_Frames):
    """``trip``: one pending reply at a time."""

    def __init__(self, pid: int) -> None:
        super().__init__(pid)
        self.reply: asyncio.Future[bytes] | None = None

    def replied(self, body: bytes) -> None:
        assert self.reply is not None
        self.reply.set_result(body)


class _Workers:
    """Two or more forked workers, attached to the event loop by the first request."""

    def __init__(self, n: int) -> None:
        self.socks: list[tuple[int, socket.socket]] = []
        for _ in range(n):
            ours, theirs = socket.socketpair()
            pid = os.fork()
            if pid == 0:
                ours.close()
                _serve_worker(theirs)
            theirs.close()
            self.socks.append((pid, ours))
        self.bound: asyncio.Task[None] | None = None

    async def attached(self) -> None:
        if self.bound is None:  # the first request attaches the workers, once
            self.bound = asyncio.get_running_loop().create_task(self.bind())
        await self.bound

    async def bind(self) -> None:
        raise NotImplementedError

    async def run(self, raw: bytes) -> bytes:
        raise NotImplementedError


class _Trip(_Workers):
    def __init__(self, n: int) -> None:
        super().__init__(n)
        self.idle: deque[_Link] = deque()
        self.waiters: deque[asyncio.Future[_Link]] = deque()

    async def bind(self) -> None:
        loop = asyncio.get_running_loop()
        for pid, sock in self.socks:
            _, link = await loop.create_connection(partial(_Link, pid), sock=sock)
            self.idle.append(link)

    async def run(self, raw: bytes) -> bytes:
        await self.attached()
        loop = asyncio.get_running_loop()
        if self.idle:
            link = self.idle.popleft()
        else:
            waiter: asyncio.Future[_Link] = loop.create_future()
            self.waiters.append(waiter)
            link = await waiter
        link.reply = loop.create_future()
        timer = loop.call_later(30.0, os.kill, link.pid, 9)  # the time limit's timer
        link.send(raw)
        try:
            return await link.reply
        finally:
            timer.cancel()
            if self.waiters:
                self.waiters.popleft().set_result(link)
            else:
                self.idle.append(link)


class _PipeLink(_Frames):
    """``pipe``: several jobs in flight, answered in order."""

    def __init__(self, pid: int) -> None:
        super().__init__(pid)
        self.replies: deque[asyncio.Future[bytes]] = deque()

    def replied(self, body: bytes) -> None:
        self.replies.popleft().set_result(body)


class _Pipe(_Workers):
    """``pipe``: a job goes to the worker with the fewest in flight, up to ``depth`` each."""

    depth = 2

    def __init__(self, n: int) -> None:
        super().__init__(n)
        self.links: list[_PipeLink] = []
        self.waiters: deque[asyncio.Future[None]] = deque()

    async def bind(self) -> None:
        loop = asyncio.get_running_loop()
        for pid, sock in self.socks:
            _, link = await loop.create_connection(partial(_PipeLink, pid), sock=sock)
            self.links.append(link)

    async def run(self, raw: bytes) -> bytes:
        await self.attached()
        loop = asyncio.get_running_loop()
        while True:
            link = min(self.links, key=lambda k: len(k.replies))
            if len(link.replies) < self.depth:
                break
            waiter: asyncio.Future[None] = loop.create_future()
            self.waiters.append(waiter)
            await waiter
        reply: asyncio.Future[bytes] = loop.create_future()
        link.replies.append(reply)
        timer = loop.call_later(30.0, os.kill, link.pid, 9)
        link.send(raw)
        try:
            return await reply
        finally:
            timer.cancel()
            if self.waiters:
                self.waiters.popleft().set_result(None)


class _HandLink(_Frames):
    """``hand``: takes the next waiting job the moment its reply is read."""

    def __init__(self, pid: int, hand: _Hand) -> None:
        super().__init__(pid)
        self.hand = hand
        self.reply: asyncio.Future[bytes] | None = None
        self.timer: asyncio.TimerHandle | None = None

    def start(self, raw: bytes, reply: asyncio.Future[bytes]) -> None:
        self.reply = reply
        self.timer = asyncio.get_running_loop().call_later(30.0, os.kill, self.pid, 9)
        self.send(raw)

    def replied(self, body: bytes) -> None:
        assert self.timer is not None and self.reply is not None
        self.timer.cancel()
        reply, self.reply = self.reply, None
        if self.hand.pending:
            self.start(*self.hand.pending.popleft())
        else:
            self.hand.idle.append(self)
        reply.set_result(body)


class _Hand(_Workers):
    """``hand``: waiting jobs queue in the pool; a worker takes the next as its reply comes."""

    def __init__(self, n: int) -> None:
        super().__init__(n)
        self.idle: deque[_HandLink] = deque()
        self.pending: deque[tuple[bytes, asyncio.Future[bytes]]] = deque()

    async def bind(self) -> None:
        loop = asyncio.get_running_loop()
        for pid, sock in self.socks:
            _, link = await loop.create_connection(partial(_HandLink, pid, self), sock=sock)
            self.idle.append(link)

    async def run(self, raw: bytes) -> bytes:
        await self.attached()
        reply: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        if self.idle:
            self.idle.popleft().start(raw, reply)
        else:
            self.pending.append((raw, reply))
        return await reply


APP = os.environ.get("CEILING_APP", "fixed")
_CACHE: dict[bytes, bytes] = {}
_THREADS = ThreadPoolExecutor(max_workers=4)
_TRIPS: dict[str, type[_Workers]] = {
    "trip": _Trip,
    "pipe": _Pipe,
    "hand": _Hand,
}
_TRIP = _TRIPS[APP](2) if APP in _TRIPS else None
_POOL = None
if APP == "pool":  # sovkg's own worker pool behind the same bare front
    from sovkg.engine.jobs import QueryJob
    from sovkg.engine.pool import WorkerPool

    _POOL = WorkerPool(STORE, workers=2)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The ASGI app ``CEILING_APP`` names."""
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    raw: bytes = scope["query_string"]
    if APP == "fixed":
        body = FIXED
    elif APP == "cached":
        cached = _CACHE.get(raw)
        if cached is None:
            cached = _CACHE[raw] = answer(STORE, raw)
        body = cached
    elif APP == "inproc":
        body = await asyncio.get_running_loop().run_in_executor(_THREADS, answer, STORE, raw)
    elif APP == "pool":
        assert _POOL is not None
        text = unquote_plus(raw.decode("latin-1").partition("query=")[2], encoding="utf-8")
        body = (await _POOL.query(QueryJob(text, max_rows=100000))).body
    else:
        assert _TRIP is not None
        body = await _TRIP.run(raw)
    await _reply(send, body)


_RSGI_HEADERS = [(k.decode(), v.decode()) for k, v in HEADERS]


async def rsgi_app(scope: Any, protocol: Any) -> None:
    """``fixed`` or ``cached`` over RSGI: one call sends status, headers and body."""
    if APP == "fixed":
        body = FIXED
    else:
        raw = scope.query_string.encode("latin-1")
        body = _CACHE.get(raw) or _CACHE.setdefault(raw, answer(STORE, raw))
    protocol.response_bytes(200, _RSGI_HEADERS, body)
