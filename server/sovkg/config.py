"""One settings object for the server, from command-line flags and SOVKG_* variables."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path

#: where ``sovkg serve --workers N`` hands its settings to the worker processes
SETTINGS_ENV = "SOVKG_SETTINGS_JSON"

#: the namespace under which the things of the graph are minted
DEFAULT_THING_BASE = "https://w3id.org/ksai/"


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(f"SOVKG_{name}", default)


@dataclass(frozen=True)
class Settings:
    """Everything the server needs to know; built once by the CLI (or by tests)."""

    host: str = "127.0.0.1"
    port: int = 8000
    store_path: Path | None = None
    data_files: tuple[Path, ...] = ()
    allow_updates: bool = False
    update_token: str | None = None
    query_timeout: float = 30.0
    base_url: str | None = None
    workers: int = 1
    validate_on_start: bool = True
    thing_base: str = DEFAULT_THING_BASE
    #: query worker processes (killable at the time limit); 0 = threads in this process,
    #: which cannot be stopped (the library default, for tests; ``sovkg serve`` uses 2)
    query_workers: int = 0
    #: most solutions/triples a query returns (cut results carry X-SPARQL-MaxRows)
    max_rows: int | None = 100_000
    max_body_bytes: int = 8 * 1024 * 1024
    max_url_bytes: int = 8192
    #: seconds a client may take to send a request body
    body_timeout: float = 30.0
    #: URL prefixes that SERVICE and LOAD may call; empty = no outbound requests
    allow_service: tuple[str, ...] = ()
    access_log: bool = True
    #: largest body POST /shacl reads (413 beyond it)
    shacl_max_bytes: int = 2 * 1024 * 1024
    #: memory for the response cache of repeated reads (0 turns it off)
    cache_bytes: int = 64 * 1024 * 1024
    #: uvicorn's HTTP parser: "h11" (limits headers) or "httptools" (faster, behind a proxy)
    http: str = "h11"
    #: a SPARQL 1.1 query endpoint to serve in front of, instead of a local store
    backend: str | None = None
    #: the backend's update endpoint (default: ``backend``)
    backend_update: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Settings from SOVKG_* environment variables, then explicit overrides."""
        values: dict[str, object] = {}
        if (v := _env("HOST")) is not None:
            values["host"] = v
        if (v := _env("PORT")) is not None:
            values["port"] = int(v)
        if (v := _env("STORE")) is not None:
            values["store_path"] = Path(v)
        if (v := _env("QUERY_TIMEOUT")) is not None:
            values["query_timeout"] = float(v)
        if (v := _env("BASE_URL")) is not None:
            values["base_url"] = v
        if (v := _env("ALLOW_UPDATES")) is not None:
            values["allow_updates"] = v.lower() in {"1", "true", "yes"}
        if (v := _env("TOKEN")) is not None:
            values["update_token"] = v
        if (v := _env("SHACL_MAX_BYTES")) is not None:
            values["shacl_max_bytes"] = int(v)
        if (v := _env("BACKEND")) is not None:
            values["backend"] = v
        if (v := _env("BACKEND_UPDATE")) is not None:
            values["backend_update"] = v
        if (v := _env("HTTP")) is not None:
            values["http"] = v
        if (v := _env("CACHE_MIB")) is not None:
            values["cache_bytes"] = int(float(v) * 1024 * 1024)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


def settings_to_json(settings: Settings) -> str:
    """The settings as JSON, to hand them to server worker processes."""
    values = {}
    for f in fields(settings):
        v = getattr(settings, f.name)
        if isinstance(v, Path):
            v = str(v)
        elif isinstance(v, tuple):
            v = [str(x) for x in v]
        values[f.name] = v
    return json.dumps(values)


def settings_from_json(text: str) -> Settings:
    """The inverse of :func:`settings_to_json`."""
    values = json.loads(text)
    if values.get("store_path") is not None:
        values["store_path"] = Path(values["store_path"])
    values["data_files"] = tuple(Path(p) for p in values.get("data_files", ()))
    values["allow_service"] = tuple(values.get("allow_service", ()))
    return Settings(**values)
