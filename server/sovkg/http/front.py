"""The HTTP front: the one path every request takes, as plain calls in one place.

In order: the request limits (``limits``: 414, 413, 400, 408, 415 before anything else runs),
the response cache (``cache``: a repeated read is answered here), then the handler, which is
either one of the ``direct`` routes (the SPARQL endpoints, ahead of the framework's router) or
the framework's application. Every response leaves through one ``send`` that adds the safety
headers (``headers``) and counts the bytes for the access log (``accesslog``), which records
every request, a failed one included.

It replaces four ASGI middleware layers, each with its own ``send`` wrapper, and the framework's
own outer layers on the SPARQL routes: a fresh query cost 35-80 µs more through them (see
``benchmarks/BREAKDOWN.md``). What a request must pass is the same on every route, cached or not.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from functools import partial

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sovkg.http import accesslog
from sovkg.http.cache import Cache
from sovkg.http.headers import DEFAULT_CSP, secured
from sovkg.http.limits import ClientLeft, Limits, Refused, send_plain


class _Reply:
    """The ``send`` every response leaves through: safety headers on its start, and its status
    and body size for the access log."""

    __slots__ = ("csp", "raw", "size", "status")

    def __init__(self, send: Send, csp: bytes) -> None:
        #: the server's own ``send``, for answers whose headers are already secured
        self.raw = send
        self.csp = csp
        self.status = 0
        self.size = 0

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self.status = message["status"]
            headers = secured(list(message.get("headers", ())), self.csp)
            message = {**message, "headers": headers}
        elif kind == "http.response.body":
            self.size += len(message.get("body", b""))
        elif kind == "http.response.pathsend":  # a static file granian sends itself
            self.size += _file_size(message["path"])
        await self.raw(message)


def _file_size(path: str) -> int:
    """The size of the file a ``pathsend`` names, for the access log (0 if it is gone)."""
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


class Front:
    """The HTTP front around ``app`` (see the module's text). ``direct``: paths answered by
    their own ASGI handler instead of ``app``; ``cache``: None for no response cache."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limits: Limits | None = None,
        csp: str = DEFAULT_CSP,
        access_log: bool = True,
        cache: Cache | None = None,
        direct: Mapping[str, ASGIApp] | None = None,
    ) -> None:
        self.app = app
        self.limits = limits if limits is not None else Limits()
        self.csp = csp.encode("latin-1")
        self.access_log = access_log
        self.cache = cache
        if cache is not None:  # stored with the safety headers on: a hit sends them as stored
            cache.seal = partial(secured, csp=self.csp)
        self.direct = dict(direct or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan, websocket: the application's own
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        reply = _Reply(send, self.csp)
        failed = False
        try:
            await self._answer(scope, receive, reply)
        except BaseException as e:
            failed = True
            if isinstance(e, Exception) and not reply.status:
                # nothing sent yet: the client still gets an answer (what the framework's
                # error layer sends); the server logs the traceback
                await send_plain(reply.send, 500, "Internal Server Error")
            raise
        finally:
            if self.access_log:  # a request that failed before its answer is logged as a 500
                status = reply.status or (500 if failed else 0)
                accesslog.record(scope, status, reply.size, started)

    async def _answer(self, scope: Scope, receive: Receive, reply: _Reply) -> None:
        send = reply.send
        limits = self.limits
        try:
            if limits.check(scope):
                scope, receive = await limits.read(scope, receive)
        except Refused as e:
            await send_plain(send, e.status, e.message)
            return
        except ClientLeft:
            return
        handler = self.direct.get(scope["path"], self.app)
        cache = self.cache
        found = cache.lookup(scope) if cache is not None else None
        if cache is None or found is None:
            await handler(scope, receive, send)
            return
        key, generation, entry = found
        if entry is not None:  # its headers were secured when it was stored
            reply.status, reply.size = await cache.replay(scope, entry, reply.raw)
            return
        await handler(scope, receive, cache.filling(scope, key, generation, send))
