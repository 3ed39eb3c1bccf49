"""One settings object for the server, from command-line flags and SOVKG_* variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

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
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
