"""Builds the FastAPI application from one settings object."""

from __future__ import annotations

import inspect
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from pyoxigraph import Store

from sovkg import __version__
from sovkg.cache import ResponseCache
from sovkg.config import SETTINGS_ENV, Settings, settings_from_json
from sovkg.dataset import open_store
from sovkg.engine import Engine
from sovkg.middleware import HardeningMiddleware
from sovkg.routes import dumps, health, linkeddata, pages, shacl, sparql, ui, void
from sovkg.workers import build_runner

# FastAPI ≥ 0.165 wraps every request in OpenTelemetry spans, metrics and logs (no-ops unless a
# provider is configured, but they still cost tens of µs a request, more than a cached answer);
# we export no telemetry, so switch it off where the option exists.
_NO_TELEMETRY: dict[str, object] = (
    {"telemetry": {"tracing": False, "metrics": False, "logs": False}}
    if "telemetry" in inspect.signature(FastAPI.__init__).parameters
    else {}
)


def create_app(settings: Settings, store: Store | None = None) -> FastAPI:
    """The application; loads the store from the settings unless one is given."""
    if store is None and settings.backend:  # no local data: a SPARQL store over HTTP
        from sovkg.remote import build_backend

        store, runner = build_backend(settings)
        engine = Engine(store, runner)  # type: ignore[arg-type]
    else:
        if store is None:
            store = open_store(settings.store_path, settings.data_files)
        engine = Engine(store, build_runner(store, settings))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        engine.close()

    app = FastAPI(
        title="Sovereign AI Knowledge Graph",
        version=__version__,
        lifespan=lifespan,
        docs_url="/api",
        redoc_url=None,
        **_NO_TELEMETRY,
    )
    app.state.settings = settings
    app.state.engine = engine
    if settings.backend:
        from sovkg.remote import install_error_handlers

        install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(sparql.router)
    app.include_router(ui.router)
    for ld in (pages, linkeddata, dumps, void, shacl):  # Linked Data publishing
        app.include_router(ld.router)
    ui.mount_static(app)
    # repeated reads answered from memory; inside the hardening layer, so limits, safety
    # headers and the access log still apply to every answer
    if settings.cache_bytes > 0:
        app.add_middleware(
            ResponseCache, generation=lambda: engine.generation, max_bytes=settings.cache_bytes
        )
    # limits, safety headers, access log: the outermost layer, so keep it last
    app.add_middleware(
        HardeningMiddleware,
        max_body=settings.max_body_bytes,
        max_url=settings.max_url_bytes,
        body_timeout=settings.body_timeout,
        access_log=settings.access_log,
    )
    return app


def app_from_env() -> FastAPI:
    """The application of one of several server workers (``sovkg serve --workers N``).

    Settings come from the parent through the environment; the data is this worker's own: the
    RocksDB store opened read-only, or the shipped files loaded into memory.
    """
    settings = settings_from_json(os.environ[SETTINGS_ENV])
    store: Store | None
    if settings.backend:
        store = None  # create_app talks to the backend
    elif settings.store_path is not None:
        store = Store.read_only(str(settings.store_path))
    else:
        store = open_store(None, settings.data_files)
    if settings.access_log:
        from sovkg.middleware import configure_access_log

        configure_access_log()
    return create_app(settings, store)
