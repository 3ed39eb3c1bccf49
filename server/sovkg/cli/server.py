"""The one way ``sovkg serve`` starts the HTTP server: uvicorn, with typed options."""

from __future__ import annotations

import importlib
import os

import uvicorn
from pyoxigraph import Store
from starlette.types import ASGIApp

from sovkg.app import serving_app
from sovkg.config import SETTINGS_ENV, Settings, SettingsError, settings_to_json
from sovkg.http.protocols import H11, HTTPTOOLS

#: h11's bound on the request line and headers
MAX_HEAD_BYTES = 64 * 1024


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


def run_server(settings: Settings, store: Store | None) -> None:
    """Serve until interrupted. ``store`` is the data already loaded (and validated) for a
    single worker; None loads it from the settings, or talks to the backend. Several workers
    each build their own application from the settings handed over in the environment."""
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
        # h11 by default: its bound on the request line and headers answers a flood of header
        # bytes with a 4xx; httptools parses several times faster but bounds nothing, so it is
        # for deployments behind a proxy that does. Both decline upgrades (h2c) silently, and
        # no WebSocket library is looked for: this server speaks none.
        http=HTTPTOOLS if settings.http == "httptools" else H11,
        ws="none",
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,
        timeout_keep_alive=5,
        timeout_graceful_shutdown=5,
    )
