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
from server.routes import health, sparql


def create_app(settings: Settings, store: Store | None = None) -> FastAPI:
    """The application; loads the store from the settings unless one is given."""
    engine = Engine(
        store if store is not None else open_store(settings.store_path, settings.data_files)
    )

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
    return app
