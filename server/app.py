"""Builds the FastAPI application from one settings object."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from pyoxigraph import Store

from server import __version__
from server.config import Settings
from server.dataset import open_store
from server.engine import Engine
from server.middleware import HardeningMiddleware
from server.routes import dumps, health, linkeddata, pages, shacl, sparql, ui, void
from server.workers import build_runner


def create_app(settings: Settings, store: Store | None = None) -> FastAPI:
    """The application; loads the store from the settings unless one is given."""
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
    )
    app.state.settings = settings
    app.state.engine = engine
    app.include_router(health.router)
    app.include_router(sparql.router)
    app.include_router(ui.router)
    for ld in (pages, linkeddata, dumps, void, shacl):  # Linked Data publishing
        app.include_router(ld.router)
    ui.mount_static(app)
    # limits, safety headers, access log: the outermost layer, so keep it last
    app.add_middleware(
        HardeningMiddleware,
        max_body=settings.max_body_bytes,
        max_url=settings.max_url_bytes,
        body_timeout=settings.body_timeout,
        access_log=settings.access_log,
    )
    return app
