"""Builds the FastAPI application from one settings object."""

from __future__ import annotations

import gc
import inspect
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse
from pyoxigraph import Store
from starlette.types import Receive, Scope, Send

from sovkg import __version__
from sovkg.config import SETTINGS_ENV, Settings, settings_from_json
from sovkg.dataset import open_store
from sovkg.engine import Engine
from sovkg.engine.bounds import watch_parent
from sovkg.engine.build import build_backend, build_runner
from sovkg.engine.cores import pin_server
from sovkg.errors import SovkgError
from sovkg.http import accesslog
from sovkg.http.cache import Cache
from sovkg.http.front import Front
from sovkg.http.limits import Limits
from sovkg.routes import dumps, health, linkeddata, pages, reconcile, shacl, sparql, ui, void
from sovkg.routes import store as graph_store
from sovkg.routes.slashes import SlashRedirect

# FastAPI ≥ 0.165 wraps every request in OpenTelemetry spans, metrics and logs (no-ops unless a
# provider is configured, but they still cost tens of µs a request, more than a cached answer);
# we export no telemetry, so switch it off where the option exists.
_NO_TELEMETRY: dict[str, Any] = (
    {"telemetry": {"tracing": False, "metrics": False, "logs": False}}
    if "telemetry" in inspect.signature(FastAPI.__init__).parameters
    else {}
)


async def _plain_error(request: Request, exc: Exception) -> PlainTextResponse:
    """A package error raised inside a route: its status and message, as plain text."""
    status = exc.status if isinstance(exc, SovkgError) else 502
    return PlainTextResponse(f"{exc}\n", status_code=status)


class Application(FastAPI):
    """The framework's application inside the HTTP front (``sovkg.http.front``): every
    request passes the front first, and the SPARQL endpoints are answered there, ahead of the
    framework's own layers and router."""

    #: the front's options (see ``Front``), set by :func:`create_app`
    front: dict[str, Any]

    def build_middleware_stack(self) -> Any:
        return Front(super().build_middleware_stack(), **getattr(self, "front", {}))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # an HTTP request goes straight to the front once it is built: FastAPI's own entry
        # would only find no root path and no telemetry, and Starlette's set the app and call
        # the same stack (callgrind: 8 % of a cache hit's instructions, 2 % of a fresh query's)
        if scope["type"] == "http" and self.middleware_stack is not None and not self.root_path:
            scope["app"] = self
            await self.middleware_stack(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(settings: Settings, store: Store | None = None) -> FastAPI:
    """The application; loads the store from the settings unless one is given."""
    if store is None and settings.backend:  # no local data: a SPARQL store over HTTP
        remote, runner = build_backend(settings)
        engine = Engine(remote, runner)  # type: ignore[arg-type]  # reads like a Store
    else:
        if store is None:
            store = open_store(settings.store_path, settings.data_files)
        engine = Engine(store, build_runner(store, settings))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        shacl.start_pool(app)  # warm before the first POST /shacl
        yield
        shacl.stop_pool(app)
        engine.close()
        accesslog.flush()  # the lines of the last requests, before the process goes

    app = Application(
        title="Sovereign AI Knowledge Graph",
        version=__version__,
        lifespan=lifespan,
        docs_url="/api",
        redoc_url=None,
        **_NO_TELEMETRY,
    )
    app.state.settings = settings
    app.state.engine = engine
    # a package error raised inside a route is its plain status and message: a client error
    # (a junk Host, say) its 4xx, a dump build past its limits or a backend failure inside a
    # page, dump or VoID route its 502/503 (the SPARQL routes turn these into plain answers
    # themselves)
    app.add_exception_handler(SovkgError, _plain_error)
    app.include_router(health.router)
    app.include_router(graph_store.router)
    app.include_router(ui.router)
    for ld in (pages, linkeddata, dumps, void, shacl, reconcile):  # Linked Data publishing
        app.include_router(ld.router)
    ui.mount_static(app)
    # a trailing slash too many or too few: redirected by a relative reference
    app.router.default = SlashRedirect(app.router)
    app.front = {
        "limits": Limits(settings.max_body_bytes, settings.max_url_bytes, settings.body_timeout),
        "access_log": settings.access_log,
        # repeated reads answered from memory, after the limits, with the safety headers and
        # the access log as on every answer
        "cache": (
            Cache(lambda: engine.generation, max_bytes=settings.cache_bytes)
            if settings.cache_bytes > 0
            else None
        ),
        "direct": dict.fromkeys(sparql.ENDPOINTS, sparql.endpoint),
    }
    return app


def serving_app(settings: Settings, store: Store | None = None) -> FastAPI:
    """The application a server process serves: :func:`create_app`, with the access log
    written to stderr when the settings ask for one."""
    if settings.access_log:
        accesslog.configure_access_log()
    app = create_app(settings, store)
    # the application, its store's wrappers and every module stay for the life of the
    # process: the garbage collector no longer walks them (a full collection took 60 ms here,
    # on the event loop, and grew with what the process held)
    gc.freeze()
    return app


#: the store loaded (and validated) by ``sovkg serve`` before it forked its server workers
_SHARED: list[Store] = []


def share_store(store: Store | None) -> None:
    """Keep ``store`` for the server workers forked next (they see it copy-on-write)."""
    _SHARED[:] = [store] if store is not None else []


def app_from_env() -> FastAPI:
    """The application of one of several server workers (``sovkg serve --workers N``).

    Settings come from the parent through the environment; the data is this worker's own: the
    RocksDB store opened read-only, or the shipped files loaded into memory.
    """
    # granian does not end its workers when its own process is killed (SIGKILL, OOM): this
    # one goes then, and its query and SHACL workers with it (they watch it likewise)
    watch_parent(os.getppid())
    pin_server()  # with several server processes, each keeps to a core (sovkg.engine.cores)
    settings = settings_from_json(os.environ[SETTINGS_ENV])
    store: Store | None
    if settings.backend:
        store = None  # create_app talks to the backend
    elif _SHARED and settings.store_path is None:
        store = _SHARED[0]  # forked: the parent's pages, shared until written
    elif settings.store_path is not None:
        store = Store.read_only(str(settings.store_path))
    else:
        store = open_store(None, settings.data_files)
    return serving_app(settings, store)
