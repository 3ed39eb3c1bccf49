"""The one way ``sovkg serve`` starts the HTTP server: uvicorn, with typed options."""

from __future__ import annotations

import asyncio
import errno
import importlib
import os
import signal
import socket

import uvicorn
import uvloop
from granian import Granian
from granian.constants import HTTPModes, Interfaces, Loops
from granian.http import HTTP1Settings
from granian.server.embed import Server as EmbeddedServer
from pyoxigraph import Store
from starlette.types import ASGIApp

from sovkg.app import serving_app, share_store
from sovkg.config import SETTINGS_ENV, Settings, SettingsError, settings_to_json
from sovkg.engine.cores import Slots, allowed_cores, share_slots, wanted
from sovkg.http.protocols import H11, HTTPTOOLS

#: h11's bound on the request line and headers
MAX_HEAD_BYTES = 64 * 1024
#: seconds a client has to send the request line and headers (and an idle connection lives)
HEAD_SECONDS = 5
KEEP_ALIVE_SECONDS = 5


def require_parser(http: str) -> None:
    """Raise :class:`SettingsError` when the chosen HTTP parser is not installed."""
    if http != "httptools":
        return
    try:
        importlib.import_module("httptools")
    except ImportError:
        raise SettingsError(
            "--http httptools (SOVKG_HTTP) needs the httptools package: pip install httptools"
        ) from None


def require_free_port(host: str, port: int) -> None:
    """Raise :class:`SettingsError` when another process listens on ``host:port``. The server
    binds with ``SO_REUSEPORT`` (its processes share the port), which would let a second
    server start on a port that is taken and share its connections without a word; a plain
    bind (``SO_REUSEADDR`` only, which on Linux never passes a listening socket) finds out."""
    if port == 0:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as e:
        raise SettingsError(f"--host {host}: {e}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise SettingsError(
                    f"port {port} on {host} is already in use by another process; stop it or "
                    "choose another --port"
                ) from None
            raise SettingsError(f"cannot listen on {host}:{port}: {e.strerror}") from None


def run_server(settings: Settings, store: Store | None) -> None:
    """Serve until interrupted. ``store`` is the data already loaded (and validated); None
    loads it from the settings, or talks to the backend."""
    # granian's server processes are forked and share the slot table; uvicorn spawns its own,
    # which would not see it. Not pinning also clears what a parent's environment handed down.
    cores = allowed_cores()
    pinned = settings.http == "granian" and wanted(settings.cpu_affinity, settings.workers, cores)
    share_slots(Slots.made(settings.workers, cores) if pinned else None)
    if settings.http == "granian":
        run_granian(settings, store)
        return
    app: ASGIApp | str
    if settings.workers > 1:
        os.environ[SETTINGS_ENV] = settings_to_json(settings)
        app = "sovkg.app:app_from_env"
    else:
        app = serving_app(settings, store)
    uvicorn.run(
        app,
        factory=settings.workers > 1,
        workers=settings.workers,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        # h11: its bound on the request line and headers answers a flood of header bytes with
        # a 4xx; httptools parses faster but bounds nothing, so it is for deployments behind a
        # proxy that does. Both decline upgrades (h2c) silently, and no WebSocket library is
        # looked for: this server speaks none.
        http=HTTPTOOLS if settings.http == "httptools" else H11,
        ws="none",
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        timeout_graceful_shutdown=5,
    )


def _http1() -> HTTP1Settings:
    # the request line and headers: never more than MAX_HEAD_BYTES (431 beyond; hyper lets its
    # read buffer grow up to about twice the size given, so half is given: measured, a 40 KB
    # head passes and a 60 KB one gets 431), sent within HEAD_SECONDS (the connection is
    # closed after that, idle keep-alive ones too)
    return HTTP1Settings(
        header_read_timeout=HEAD_SECONDS * 1000,
        keep_alive=True,
        max_buffer_size=MAX_HEAD_BYTES // 2,
    )


def run_granian(settings: Settings, store: Store | None) -> None:
    """granian: in this process for one server worker (the query workers are its children);
    for several, forked processes that share the loaded store copy-on-write."""
    if settings.workers > 1:
        share_store(store)
        os.environ[SETTINGS_ENV] = settings_to_json(settings)
        Granian(
            "sovkg.app:app_from_env",
            address=settings.host,
            port=settings.port,
            interface=Interfaces.ASGI,
            workers=settings.workers,
            factory=True,
            http=HTTPModes.http1,
            websockets=False,
            http1_settings=_http1(),
            loop=Loops.uvloop,
            log_enabled=False,
            respawn_failed_workers=True,
        ).serve()
        return
    server = EmbeddedServer(
        serving_app(settings, store),
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        http=HTTPModes.http1,
        websockets=False,
        http1_settings=_http1(),
        log_enabled=False,
        backlog=1024,
    )
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, server.stop)
    try:
        loop.run_until_complete(server.serve())
    finally:
        loop.close()
