"""Settings, the single source: every option of the server once, with its flag, its ``SOVKG_*``
variable, its default (the :class:`Settings` field's), its type and its range check.

``sovkg serve``'s flags are generated from :data:`OPTIONS`; :meth:`Settings.from_env` reads every
variable; a flag given on the command line overrides the variable, which overrides the default.
A value out of range raises :class:`SettingsError` with a one-line message naming the flag and
the variable.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from sovkg.errors import ClientError

#: where ``sovkg serve --workers N`` hands its settings to the worker processes
SETTINGS_ENV = "SOVKG_SETTINGS_JSON"

#: the namespace under which the things of the graph are minted
DEFAULT_THING_BASE = "https://w3id.org/ksai/"

#: where verdicts of past validations are kept unless ``SOVKG_CACHE_DIR`` says otherwise
DEFAULT_CACHE_DIR = Path.home() / ".cache" / "sovkg"

MIB = 1024 * 1024


class SettingsError(ClientError, ValueError):
    """A setting that cannot be used; the message names the flag and the variable (exit 2)."""


#: query worker processes by default: one per core this process may run on (measured fastest
#: on 2 cores; more workers than cores add processes, not throughput; see benchmarks/RESULTS.md)
DEFAULT_QUERY_WORKERS = max(1, len(os.sched_getaffinity(0)))
#: server processes by default, when nothing asks for one: one per core, at most this many
#: (measured on 2 cores, where 2 beat 1 on every query of benchmarks/RESULTS.md: one event
#: loop is the limit of a cheap fresh query; more than 4 are unmeasured)
MAX_AUTO_WORKERS = 4
DEFAULT_SERVER_WORKERS = min(MAX_AUTO_WORKERS, max(1, len(os.sched_getaffinity(0))))


def default_server_workers(values: Mapping[str, object]) -> int:
    """``--workers`` when neither the flag nor ``SOVKG_WORKERS`` gives it: one server process
    where several cannot be (updates need the one writer; a RocksDB store or uvicorn serve
    one process best), otherwise :data:`DEFAULT_SERVER_WORKERS`."""
    if values.get("allow_updates") or values.get("store_path") is not None:
        return 1
    if values.get("http", "granian") != "granian":
        return 1
    return DEFAULT_SERVER_WORKERS


#: the SHACL engines, the default first (sovkg.validation runs them)
SHACL_ENGINES = ("shacl", "pyshacl")
ALLOCATORS = ("auto", "tcmalloc", "jemalloc", "system")
AFFINITIES = ("auto", "off")


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
    #: which cannot be stopped
    query_workers: int = DEFAULT_QUERY_WORKERS
    #: most solutions/triples a query returns (cut results carry X-SPARQL-MaxRows)
    max_rows: int | None = 100_000
    max_body_bytes: int = 8 * MIB
    max_url_bytes: int = 8192
    #: seconds a client may take to send a request body
    body_timeout: float = 30.0
    #: URL prefixes that SERVICE and LOAD may call; empty = no outbound requests
    allow_service: tuple[str, ...] = ()
    access_log: bool = True
    #: answer plain lookups on the server's store, without a query worker (sovkg.engine.inline)
    inline_lookups: bool = True
    #: largest body POST /shacl reads (413 beyond it)
    shacl_max_bytes: int = 2 * MIB
    #: MiB each worker process (queries, updates, SHACL) may grow by; None: from the machine's
    #: memory (see ``sovkg.engine.bounds.default_memory_mib``); 0: no limit
    query_memory: int | None = None
    #: seconds one SHACL validation may run (503 beyond it)
    shacl_timeout: float = 30.0
    #: SHACL validations at once (each in a worker process); 503 + Retry-After beyond it
    shacl_concurrency: int = 2
    #: seconds one build of the dumps may run (in a child process; 503 beyond it)
    dump_timeout: float = 600.0
    #: MiB the child that builds the dumps may grow by; None: a quarter of the machine's
    #: memory; 0: no limit
    dump_memory: int | None = None
    #: memory for the response cache of repeated reads (0 turns it off)
    cache_bytes: int = 64 * MIB
    #: uvicorn's HTTP parser: "h11" (limits headers) or "httptools" (faster, behind a proxy)
    http: str = "granian"
    #: a SPARQL 1.1 query endpoint to serve in front of, instead of a local store
    backend: str | None = None
    #: the backend's update endpoint (default: ``backend``)
    backend_update: str | None = None
    #: the backend's graphs that are the dataset's (empty: detected, see sovkg.engine.remote)
    backend_graphs: tuple[str, ...] = ()
    #: where validation verdicts are remembered (None: ``~/.cache/sovkg``)
    cache_dir: Path | None = None
    #: the SHACL engine that validates the data at start (see sovkg.validation)
    shacl_engine: str = "shacl"
    #: the C memory allocator of the server and its workers (see sovkg.cli.allocator)
    allocator: str = "auto"
    #: "auto": several server processes each keep to a core of their own (sovkg.engine.cores)
    cpu_affinity: str = "auto"

    @classmethod
    def from_env(
        cls, overrides: Mapping[str, object] | None = None, env: Mapping[str, str] | None = None
    ) -> Settings:
        """Settings from the defaults, then every ``SOVKG_*`` variable, then ``overrides``
        (field -> value; None means "not given"); raises :class:`SettingsError`."""
        environ = os.environ if env is None else env
        values: dict[str, object] = {}
        for option in OPTIONS:
            text = environ.get(option.env)
            if text is not None:
                values[option.field] = option.from_text(text)
        values.update({k: v for k, v in (overrides or {}).items() if v is not None})
        if "workers" not in values:
            values["workers"] = default_server_workers(values)
        settings = cls(**values)  # type: ignore[arg-type]
        check(settings)
        return settings


Action = Literal["store", "true", "false", "list", "append"]


def _flag_text(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("not a yes/no value (1, true, yes, on / 0, false, no, off)")


@dataclass(frozen=True)
class Option:
    """One setting: the field it fills, its flag and variable, how its text is read, its
    check. ``scale`` converts the unit people write (MiB) into the field's (bytes)."""

    field: str
    flag: str | None
    env: str
    type: Callable[[str], Any]
    help: str
    metavar: str | None = None
    action: Action = "store"
    choices: tuple[str, ...] | None = None
    check: Callable[[Any], bool] | None = None
    rule: str = ""
    scale: int = 1
    #: the default as ``--help`` words it, when it is worked out rather than fixed
    shown_default: str | None = None

    @property
    def name(self) -> str:
        """How messages name it: ``--flag (SOVKG_VAR)``, or the variable alone."""
        return f"{self.flag} ({self.env})" if self.flag else self.env

    def convert(self, value: Any) -> Any:
        """A parsed value (flag or variable) as the field holds it."""
        if self.action in ("list", "append"):
            return tuple(value)
        if self.scale != 1 and value is not None:
            return int(value * self.scale)
        return value

    def from_text(self, text: str) -> Any:
        """The field's value from the variable's text; raises :class:`SettingsError`."""
        try:
            if self.action in ("true", "false"):
                return _flag_text(text)
            if self.action in ("list", "append"):
                sep = os.pathsep if self.type is Path else None
                return self.convert([self.type(p) for p in text.split(sep) if p.strip()])
            value = self.type(text.strip())
        except ValueError as e:
            raise SettingsError(f"{self.name}: cannot read {text!r}: {e}") from None
        if self.choices is not None and value not in self.choices:
            raise SettingsError(
                f"{self.name} must be one of {', '.join(self.choices)}, not {text!r}"
            )
        return self.convert(value)

    def problem(self, settings: Settings) -> str | None:
        """What is wrong with the field's value in ``settings``, if anything."""
        value = getattr(settings, self.field)
        if self.check is None or value is None:
            return None
        if self.check(value):
            return None
        shown = value / self.scale if self.scale != 1 else value
        return f"{self.name} must be {self.rule}, not {shown:g}"

    def default_text(self) -> str:
        """The default as a person writes it on the command line."""
        if self.shown_default is not None:
            return self.shown_default
        default = _DEFAULTS[self.field]
        if self.scale != 1 and isinstance(default, int):
            return f"{default / self.scale:g}"
        return str(default)


def _at_least(n: float) -> Callable[[Any], bool]:
    return lambda v: v >= n


_POSITIVE = _at_least(0.0), "at least 0"
_MORE_THAN_ZERO = (lambda v: v > 0), "more than 0"
_PATH_ENV = "os.pathsep-separated"

#: every option of ``sovkg serve``, in the order of ``--help``
OPTIONS: tuple[Option, ...] = (
    Option("host", "--host", "SOVKG_HOST", str, "address to listen on"),
    Option(
        "port",
        "--port",
        "SOVKG_PORT",
        int,
        "port to listen on",
        check=lambda v: 0 <= v <= 65535,
        rule="between 0 and 65535",
    ),
    Option(
        "store_path",
        "--store",
        "SOVKG_STORE",
        Path,
        "RocksDB directory to keep the data in (default: in memory)",
        metavar="STORE",
    ),
    Option(
        "data_files",
        "--data",
        "SOVKG_DATA",
        Path,
        f"extra RDF files to load ({_PATH_ENV} in the variable)",
        metavar="FILE",
        action="list",
    ),
    Option(
        "allow_updates",
        "--allow-updates",
        "SOVKG_ALLOW_UPDATES",
        str,
        "accept SPARQL updates (they need 'Authorization: Bearer $SOVKG_TOKEN')",
        action="true",
    ),
    Option(
        "update_token",
        None,
        "SOVKG_TOKEN",
        str,
        "the bearer token that updates must carry (never on the command line)",
    ),
    Option(
        "query_timeout",
        "--query-timeout",
        "SOVKG_QUERY_TIMEOUT",
        float,
        "seconds a query may run",
        metavar="S",
        check=_MORE_THAN_ZERO[0],
        rule=_MORE_THAN_ZERO[1],
    ),
    Option(
        "base_url",
        "--base-url",
        "SOVKG_BASE_URL",
        str,
        "public base URL, e.g. https://w3id.org/ksai (default: from the request)",
    ),
    Option(
        "workers",
        "--workers",
        "SOVKG_WORKERS",
        int,
        "server worker processes, each with its own query workers, all sharing the data",
        metavar="N",
        check=_at_least(1),
        rule="at least 1",
        shown_default=(
            f"one per core, at most {MAX_AUTO_WORKERS} ({DEFAULT_SERVER_WORKERS} here); 1 with "
            "--allow-updates, --store or --http h11/httptools"
        ),
    ),
    Option(
        "validate_on_start",
        "--no-validate",
        "SOVKG_VALIDATE",
        str,
        "start even if the data violates the shapes (SOVKG_VALIDATE=0 alike)",
        action="false",
    ),
    Option(
        "thing_base",
        "--thing-base",
        "SOVKG_THING_BASE",
        str,
        "the namespace of the graph's things, mapped to this server's /id/ pages",
        metavar="IRI",
    ),
    Option(
        "query_workers",
        "--query-workers",
        "SOVKG_QUERY_WORKERS",
        int,
        "query worker processes, killed and replaced at the time limit; one per core by "
        "default (0: no standing pool, each query in a child process forked for it)",
        metavar="N",
        check=_POSITIVE[0],
        rule=_POSITIVE[1],
    ),
    Option(
        "max_rows",
        "--max-rows",
        "SOVKG_MAX_ROWS",
        int,
        "most solutions or triples a query returns; a cut result carries the header "
        "X-SPARQL-MaxRows",
        metavar="N",
        check=_POSITIVE[0],
        rule=_POSITIVE[1],
    ),
    Option(
        "max_body_bytes",
        "--max-body",
        "SOVKG_MAX_BODY",
        int,
        "largest request body in bytes, 413 beyond",
        metavar="BYTES",
        check=_POSITIVE[0],
        rule=_POSITIVE[1],
    ),
    Option(
        "max_url_bytes",
        "--max-url",
        "SOVKG_MAX_URL",
        int,
        "longest request URL in bytes, 414 beyond",
        metavar="BYTES",
        check=_POSITIVE[0],
        rule=_POSITIVE[1],
    ),
    Option(
        "body_timeout",
        "--body-timeout",
        "SOVKG_BODY_TIMEOUT",
        float,
        "seconds a client may take to send a request body, 408 beyond",
        metavar="S",
        check=_MORE_THAN_ZERO[0],
        rule=_MORE_THAN_ZERO[1],
    ),
    Option(
        "allow_service",
        "--allow-service",
        "SOVKG_ALLOW_SERVICE",
        str,
        "let SERVICE and LOAD call endpoints under this URL prefix (repeatable; "
        "space-separated in the variable; default: no outbound requests at all)",
        metavar="URL-PREFIX",
        action="append",
    ),
    Option(
        "access_log",
        "--no-access-log",
        "SOVKG_ACCESS_LOG",
        str,
        "do not log requests as JSON on stderr (SOVKG_ACCESS_LOG=0 alike)",
        action="false",
    ),
    Option(
        "inline_lookups",
        "--no-inline-lookups",
        "SOVKG_INLINE_LOOKUPS",
        str,
        "run every query on a query worker, plain lookups too (one triple pattern, DESCRIBE of "
        "IRIs; by default answered in the server process within a small budget; "
        "SOVKG_INLINE_LOOKUPS=0 alike)",
        action="false",
    ),
    Option(
        "shacl_max_bytes",
        "--shacl-max-bytes",
        "SOVKG_SHACL_MAX_BYTES",
        int,
        "largest body POST /shacl validates, 413 beyond",
        metavar="BYTES",
        check=_POSITIVE[0],
        rule=_POSITIVE[1],
    ),
    Option(
        "query_memory",
        "--query-memory",
        "SOVKG_QUERY_MEMORY",
        int,
        "MiB of memory each worker process (query, update, SHACL) may take for a job; past it "
        "the worker is ended and replaced and the client gets 503 (0: no limit; default: an "
        "eighth of the machine's memory shared by all workers, 256 to 1024 each)",
        metavar="MIB",
        check=_POSITIVE[0],
        rule=_POSITIVE[1],
    ),
    Option(
        "shacl_timeout",
        "--shacl-timeout",
        "SOVKG_SHACL_TIMEOUT",
        float,
        "seconds a POST /shacl validation may run; its worker is killed beyond, 503",
        metavar="S",
        check=_MORE_THAN_ZERO[0],
        rule=_MORE_THAN_ZERO[1],
    ),
    Option(
        "shacl_concurrency",
        "--shacl-concurrency",
        "SOVKG_SHACL_CONCURRENCY",
        int,
        "POST /shacl validations at once, each in its own worker process; 503 with "
        "Retry-After beyond",
        metavar="N",
        check=_at_least(1),
        rule="at least 1",
    ),
    Option(
        "dump_timeout",
        "--dump-timeout",
        "SOVKG_DUMP_TIMEOUT",
        float,
        "seconds one build of the dumps (/dumps, /store, VoID) may run, in a child process "
        "killed beyond; 503 until the data changes",
        metavar="S",
        check=_MORE_THAN_ZERO[0],
        rule=_MORE_THAN_ZERO[1],
    ),
    Option(
        "dump_memory",
        "--dump-memory",
        "SOVKG_DUMP_MEMORY",
        int,
        "MiB of memory the child that builds the dumps may take; past it, 503 until the data "
        "changes (0: no limit; default: a quarter of the machine's memory, at least 1024)",
        metavar="MIB",
        check=_POSITIVE[0],
        rule=_POSITIVE[1],
    ),
    Option(
        "cache_bytes",
        "--cache-mib",
        "SOVKG_CACHE_MIB",
        float,
        "memory for answers to repeated reads, in MiB per worker (0 turns it off)",
        metavar="MIB",
        check=_POSITIVE[0],
        rule=_POSITIVE[1],
        scale=MIB,
    ),
    Option(
        "http",
        "--http",
        "SOVKG_HTTP",
        str,
        "HTTP server: granian (default; Rust, limits the request line and headers to 64 KiB "
        "and the time to send them), or uvicorn with h11 (the same size limit, several times "
        "slower) or httptools (no header limit: only behind a proxy that has one)",
        choices=("granian", "h11", "httptools"),
    ),
    Option(
        "backend",
        "--backend",
        "SOVKG_BACKEND",
        str,
        "serve in front of this SPARQL 1.1 query endpoint instead of loading the data "
        "(e.g. http://127.0.0.1:7878/query of 'oxigraph serve --union-default-graph'); "
        "not with --store or --data",
        metavar="URL",
    ),
    Option(
        "backend_update",
        "--backend-update",
        "SOVKG_BACKEND_UPDATE",
        str,
        "the backend's update endpoint, used with --allow-updates (default: --backend)",
        metavar="URL",
    ),
    Option(
        "backend_graphs",
        "--backend-graphs",
        "SOVKG_BACKEND_GRAPHS",
        str,
        "the backend's named graphs that hold the dataset: queries are confined to them "
        "(space-separated in the variable; default: detected, the backend's graphs under "
        "https://w3id.org/ksai/graph/ when it holds others too, e.g. Virtuoso's system graphs)",
        metavar="IRI",
        action="list",
    ),
    Option(
        "cache_dir",
        None,
        "SOVKG_CACHE_DIR",
        Path,
        "where verdicts of past validations are kept (default ~/.cache/sovkg)",
    ),
    Option(
        "shacl_engine",
        "--engine",
        "SOVKG_SHACL_ENGINE",
        str,
        "SHACL engine: shacl (fast) or pyshacl (the reference implementation)",
        choices=SHACL_ENGINES,
    ),
    Option(
        "allocator",
        "--allocator",
        "SOVKG_ALLOCATOR",
        str,
        "C memory allocator of the server and its workers: auto (default: tcmalloc, else "
        "jemalloc, else the system's), tcmalloc (Debian: libtcmalloc-minimal4; faster "
        "engine-bound queries), jemalloc (libjemalloc2), or system (the C library's malloc)",
        choices=ALLOCATORS,
    ),
    Option(
        "cpu_affinity",
        "--cpu-affinity",
        "SOVKG_CPU_AFFINITY",
        str,
        "auto (default): with several server processes, each keeps to a core of its own and "
        "its workers run on any; off: the kernel places every process",
        choices=AFFINITIES,
    ),
)

_DEFAULTS: dict[str, object] = {f.name: f.default for f in fields(Settings)}
_BY_FIELD = {o.field: o for o in OPTIONS}
assert set(_BY_FIELD) == set(_DEFAULTS), "every Settings field has exactly one option"


def option(field: str) -> Option:
    """The option that fills ``field``."""
    return _BY_FIELD[field]


def check(settings: Settings) -> None:
    """Raise :class:`SettingsError` on the first value out of range or combination that
    cannot work."""
    for o in OPTIONS:
        problem = o.problem(settings)
        if problem:
            raise SettingsError(problem)
    problem = _combination_problem(settings)
    if problem:
        raise SettingsError(problem)


def _combination_problem(s: Settings) -> str | None:
    if s.workers > 1 and s.allow_updates:
        return (
            "several server processes serve read-only: an update applied in one would not "
            "reach the data of the others (each writes its own pages of the store it was "
            "forked with); use --workers 1 with --allow-updates"
        )
    if s.allow_updates and not s.update_token:
        return (
            "--allow-updates needs a bearer token for clients to send: set SOVKG_TOKEN "
            "(e.g. SOVKG_TOKEN=$(openssl rand -hex 32)); refusing to accept anonymous updates"
        )
    if s.backend_graphs and not s.backend:
        return "--backend-graphs needs --backend (the graphs are the backend's)"
    if s.backend or s.backend_update:
        if not s.backend:
            return "--backend-update needs --backend (the query endpoint)"
        for iri in s.backend_graphs:
            if not urlsplit(iri).scheme:
                return f"--backend-graphs: {iri!r} is not an absolute IRI"
        if s.store_path is not None or s.data_files:
            return (
                "--backend serves the data of another SPARQL store; --store and --data load a "
                "local copy: use one or the other"
            )
        for url in (s.backend, s.backend_update):
            if url and (urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc):
                return f"the backend URL {url!r} is not an http(s) URL"
    return None


def cache_dir() -> Path:
    """Where verdicts of past validations are kept (``SOVKG_CACHE_DIR``, read now)."""
    text = os.environ.get(option("cache_dir").env)
    return Path(text) if text else DEFAULT_CACHE_DIR


def settings_to_json(settings: Settings) -> str:
    """The settings as JSON, to hand them to server worker processes."""
    values: dict[str, object] = {}
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
    for name in ("store_path", "cache_dir"):
        if values.get(name) is not None:
            values[name] = Path(values[name])
    values["data_files"] = tuple(Path(p) for p in values.get("data_files", ()))
    values["allow_service"] = tuple(values.get("allow_service", ()))
    values["backend_graphs"] = tuple(values.get("backend_graphs", ()))
    return Settings(**values)


def overrides_from(parsed: Mapping[str, object], options: Iterable[Option] = OPTIONS) -> dict:
    """Field values from parsed flags (``dest`` = field name; None = flag not given)."""
    out: dict[str, object] = {}
    for o in options:
        value = parsed.get(o.field)
        if value is not None:
            out[o.field] = o.convert(value)
    return out
