"""The ``sovkg`` command line: parses arguments and calls the layers below.

Exit codes: 0 success, 1 validation violations or a failed query, 2 usage or unreadable input.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from sovkg import __version__
from sovkg.config import SETTINGS_ENV, Settings, settings_to_json
from sovkg.dataset import LoadError
from sovkg.formats import RDF_FORMATS, RESULT_FORMATS, UnknownFormatError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

_EPILOG = "Exit codes: 0 success, 1 violations or failed query, 2 usage or unreadable input."


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="sovkg",
        description="The Sovereign AI Knowledge Graph: serve, validate, export and query the "
        "graph of the Korean sovereign AI foundation model programme.",
        epilog=_EPILOG,
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    s = sub.add_parser(
        "serve",
        help="load, validate and serve the graph over HTTP (SPARQL endpoint at /sparql)",
        description="Load the ontology and graph (plus --data files) into an Oxigraph store, "
        "validate it against the shapes, and serve it. Example: sovkg serve --port 8000, then "
        "curl 'http://127.0.0.1:8000/sparql?query=ASK%7B%3Fs%20%3Fp%20%3Fo%7D'",
        epilog=_EPILOG,
    )
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    s.add_argument(
        "--store", type=Path, help="RocksDB directory to keep the data in (default: in memory)"
    )
    s.add_argument(
        "--data", type=Path, nargs="*", default=[], metavar="FILE", help="extra RDF files to load"
    )
    s.add_argument(
        "--allow-updates",
        action="store_true",
        help="accept SPARQL updates (they need 'Authorization: Bearer $SOVKG_TOKEN')",
    )
    s.add_argument(
        "--query-timeout",
        type=float,
        default=30.0,
        metavar="S",
        help="seconds a query may run (default 30)",
    )
    s.add_argument(
        "--base-url", help="public base URL, e.g. https://w3id.org/ksai (default: from the request)"
    )
    s.add_argument(
        "--workers", type=int, default=1, metavar="N", help="server worker processes (default 1)"
    )
    s.add_argument(
        "--no-validate", action="store_true", help="start even if the data violates the shapes"
    )
    s.add_argument(
        "--query-workers",
        type=int,
        default=2,
        metavar="N",
        help="query worker processes, killed and replaced at the time limit (default 2; "
        "0 runs queries in threads, which cannot be stopped)",
    )
    s.add_argument(
        "--max-rows",
        type=int,
        default=100_000,
        metavar="N",
        help="most solutions or triples a query returns; a cut result carries the header "
        "X-SPARQL-MaxRows (default 100000)",
    )
    s.add_argument(
        "--max-body",
        type=int,
        default=8 * 1024 * 1024,
        metavar="BYTES",
        help="largest request body, 413 beyond (default 8 MiB)",
    )
    s.add_argument(
        "--max-url",
        type=int,
        default=8192,
        metavar="BYTES",
        help="longest request URL, 414 beyond (default 8192)",
    )
    s.add_argument(
        "--allow-service",
        action="append",
        default=[],
        metavar="URL-PREFIX",
        help="let SERVICE and LOAD call endpoints under this URL prefix (repeatable; "
        "default: no outbound requests at all)",
    )
    s.add_argument(
        "--no-access-log", action="store_true", help="do not log requests as JSON on stderr"
    )
    s.add_argument(
        "--http",
        choices=["h11", "httptools"],
        default=None,
        help="HTTP parser: h11 (default; limits the request line and headers to 64 KiB) or "
        "httptools (several times faster, no header limit: only behind a proxy that has one)",
    )
    s.add_argument(
        "--cache-mib",
        type=float,
        default=None,
        metavar="MIB",
        help="memory for answers to repeated reads, per worker (default 64; 0 turns it off)",
    )
    s.add_argument(
        "--backend",
        metavar="URL",
        help="serve in front of this SPARQL 1.1 query endpoint instead of loading the data "
        "(e.g. http://127.0.0.1:7878/query of 'oxigraph serve --union-default-graph'); "
        "not with --store or --data",
    )
    s.add_argument(
        "--backend-update",
        metavar="URL",
        help="the backend's update endpoint, used with --allow-updates (default: --backend)",
    )
    s.add_argument(
        "--shacl-max-bytes",
        type=int,
        default=None,
        metavar="BYTES",
        help="largest body POST /shacl validates, 413 beyond (default 2 MiB)",
    )

    v = sub.add_parser(
        "validate",
        help="validate RDF files (default: the shipped graph) against the SHACL shapes",
        description="Validate the shipped graph, or the given RDF files (syntax from extension: "
        ".ttl .nt .nq .trig .jsonld .rdf), against the shipped shapes or --shapes. The ontology is "
        "added to the data so class targets see subclasses (--without-ontology to leave it out).",
        epilog=_EPILOG,
    )
    v.add_argument("files", type=Path, nargs="*", metavar="FILE", help="RDF files to validate")
    v.add_argument(
        "--shapes",
        type=Path,
        nargs="+",
        metavar="FILE",
        help="SHACL shapes files to use instead of ours",
    )
    v.add_argument(
        "--format",
        choices=["text", "turtle", "json"],
        default="text",
        help="text (readable, default), turtle or json (JSON-LD) SHACL report",
    )
    v.add_argument(
        "--without-ontology", action="store_true", help="do not add our ontology to the data graph"
    )

    e = sub.add_parser(
        "export",
        help="write the whole dataset in one RDF syntax",
        description="Write the whole dataset (ontology, graph, --data files). Triple syntaxes get "
        "the union of all graphs; nquads, trig and jsonld keep the named graphs. The output is "
        "sorted, so two runs give the same bytes.",
        epilog=_EPILOG,
    )
    e.add_argument(
        "--format", choices=list(RDF_FORMATS), default="turtle", help="RDF syntax (default turtle)"
    )
    e.add_argument("--output", "-o", type=Path, help="file to write (default: standard output)")
    e.add_argument(
        "--data",
        type=Path,
        nargs="*",
        default=[],
        metavar="FILE",
        help="extra RDF files to include",
    )

    q = sub.add_parser(
        "query",
        help="run a SPARQL query against the local graph",
        description="Run a SPARQL query (text, or @file.rq) against the shipped graph; all named "
        "graphs form the default graph and the project's prefixes are predeclared. Example: "
        "sovkg query 'SELECT ?t WHERE { ?t a ksai:Consortium }'",
        epilog=_EPILOG,
    )
    q.add_argument("query", help="the query, or @path/to/file.rq")
    q.add_argument(
        "--format",
        choices=["table", *RESULT_FORMATS],
        default="table",
        help="table (default) or a SPARQL result format; graphs are written as Turtle",
    )
    q.add_argument(
        "--data", type=Path, nargs="*", default=[], metavar="FILE", help="extra RDF files to load"
    )
    return p


def _err(message: str) -> None:
    print(f"sovkg: {message}", file=sys.stderr)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from sovkg.app import create_app
    from sovkg.dataset import open_store
    from sovkg.validation import validate_store

    settings = Settings.from_env(
        host=args.host,
        port=args.port,
        store_path=args.store,
        data_files=tuple(args.data),
        allow_updates=args.allow_updates or None,
        query_timeout=args.query_timeout,
        base_url=args.base_url,
        workers=args.workers,
        validate_on_start=not args.no_validate,
        query_workers=args.query_workers,
        max_rows=args.max_rows,
        max_body_bytes=args.max_body,
        max_url_bytes=args.max_url,
        allow_service=tuple(args.allow_service),
        access_log=not args.no_access_log,
        shacl_max_bytes=args.shacl_max_bytes,
        cache_bytes=None if args.cache_mib is None else int(args.cache_mib * 1024 * 1024),
        http=args.http,
        backend=args.backend,
        backend_update=args.backend_update,
    )
    if min(settings.query_workers, settings.max_rows or 0, settings.max_url_bytes) < 0 or (
        settings.max_body_bytes < 0 or settings.query_timeout <= 0
    ):
        _err(
            "--query-workers, --max-rows, --max-body, --max-url must be >= 0, and "
            "--query-timeout > 0"
        )
        return EXIT_USAGE
    if settings.workers < 1 or (settings.workers > 1 and settings.allow_updates):
        _err(
            "--workers must be >= 1, and several workers serve read-only (each holds its own "
            "copy of the data): use --workers 1 with --allow-updates"
        )
        return EXIT_USAGE
    if settings.allow_updates and not settings.update_token:
        _err(
            "--allow-updates needs a bearer token for clients to send: set SOVKG_TOKEN "
            "(e.g. SOVKG_TOKEN=$(openssl rand -hex 32)); refusing to accept anonymous updates"
        )
        return EXIT_USAGE
    if settings.backend or settings.backend_update:
        problem = _backend_usage(settings)
        if problem:
            _err(problem)
            return EXIT_USAGE
        return _serve_backend(settings, server_options(settings))
    started = time.perf_counter()
    store = open_store(settings.store_path, settings.data_files)
    if settings.validate_on_start:
        report = validate_store(store)
        if report is not None and not report.conforms:
            sys.stderr.write(report.text())
            _err("the data violates the shapes; fix it or start with --no-validate")
            return EXIT_FAILED
    print(
        f"sovkg: {len(store)} quads ready in {time.perf_counter() - started:.2f}s; "
        f"serving on http://{settings.host}:{settings.port}/sparql",
        file=sys.stderr,
    )
    options = server_options(settings)
    if settings.workers > 1:
        # every worker process builds its own application on its own copy of the data (read
        # only: the store was loaded and validated above, once)
        del store
        os.environ[SETTINGS_ENV] = settings_to_json(settings)
        uvicorn.run("sovkg.app:app_from_env", factory=True, workers=settings.workers, **options)
        return EXIT_OK
    if settings.access_log:
        from sovkg.middleware import configure_access_log

        configure_access_log()
    uvicorn.run(create_app(settings, store), **options)
    return EXIT_OK


def server_options(settings: Settings) -> dict[str, object]:
    """uvicorn's options for ``sovkg serve``."""
    return {
        "host": settings.host,
        "port": settings.port,
        "log_level": "warning",
        # h11 by default: its limit on the request line and headers answers a flood of header
        # bytes with a 4xx (our middleware answers 414/413/408). httptools parses several times
        # faster but limits nothing, so it is for deployments behind a proxy that does.
        "http": settings.http,
        **({"h11_max_incomplete_event_size": 64 * 1024} if settings.http == "h11" else {}),
        "timeout_keep_alive": 5,
        "timeout_graceful_shutdown": 5,
    }


def _backend_usage(settings: Settings) -> str | None:
    """What is wrong with the --backend options, if anything."""
    from urllib.parse import urlsplit

    if not settings.backend:
        return "--backend-update needs --backend (the query endpoint)"
    if settings.store_path is not None or settings.data_files:
        return (
            "--backend serves the data of another SPARQL store; --store and --data load a local "
            "copy: use one or the other"
        )
    for url in (settings.backend, settings.backend_update):
        if url and (urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc):
            return f"the backend URL {url!r} is not an http(s) URL"
    return None


def _serve_backend(settings: Settings, options: dict[str, object]) -> int:
    """``sovkg serve --backend URL``: no local data; validate a fetched copy if asked to."""
    import uvicorn

    from sovkg.app import create_app
    from sovkg.remote import RemoteStore

    started = time.perf_counter()
    remote = RemoteStore(settings.backend or "", settings.query_timeout)
    if settings.validate_on_start:
        from pyoxigraph import Store

        from sovkg.validation import validate_store

        try:
            copy = Store()
            copy.extend(remote)
        except Exception as e:
            _err(
                f"{e}; cannot fetch the backend's data to validate it against the shapes "
                "(start with --no-validate to serve anyway: /health answers 503 until the "
                "backend does)"
            )
            return EXIT_FAILED
        report = validate_store(copy)
        if report is not None and not report.conforms:
            sys.stderr.write(report.text())
            _err("the backend's data violates the shapes; fix it or start with --no-validate")
            return EXIT_FAILED
        note = f"{len(copy)} quads fetched from the backend and validated against the shapes"
        del copy
    else:
        note = "the backend's data is NOT validated against the shapes (--no-validate)"
    remote.close()
    print(
        f"sovkg: serving {settings.backend} ({note}) in {time.perf_counter() - started:.2f}s; "
        f"on http://{settings.host}:{settings.port}/sparql",
        file=sys.stderr,
    )
    if settings.workers > 1:
        os.environ[SETTINGS_ENV] = settings_to_json(settings)
        uvicorn.run("sovkg.app:app_from_env", factory=True, workers=settings.workers, **options)
        return EXIT_OK
    if settings.access_log:
        from sovkg.middleware import configure_access_log

        configure_access_log()
    uvicorn.run(create_app(settings), **options)
    return EXIT_OK


def _validate(args: argparse.Namespace) -> int:
    from sovkg.validation import validate_files

    report = validate_files(args.files, args.shapes, with_ontology=not args.without_ontology)
    if args.format == "text":
        sys.stdout.write(report.text())
    else:
        sys.stdout.write(report.serialize("turtle" if args.format == "turtle" else "json-ld"))
    return EXIT_OK if report.conforms else EXIT_FAILED


def _export(args: argparse.Namespace) -> int:
    from sovkg.dataset import open_store
    from sovkg.export import export_dataset

    store = open_store(None, args.data)
    fmt = RDF_FORMATS[args.format]
    if args.output:
        with args.output.open("wb") as out:
            export_dataset(store, fmt, out)
    else:
        sys.stdout.buffer.write(export_dataset(store, fmt) or b"")
    return EXIT_OK


def _query(args: argparse.Namespace) -> int:
    from sovkg.dataset import open_store
    from sovkg.engine import QueryJob, evaluate
    from sovkg.namespaces import PREFIXES
    from sovkg.query_output import format_result

    text = args.query
    if text.startswith("@"):
        path = Path(text[1:])
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            _err(f"cannot read query file {path}: {e}")
            return EXIT_USAGE
    store = open_store(None, args.data)
    try:
        result = evaluate(store, QueryJob(text, prefixes=PREFIXES))
        sys.stdout.buffer.write(format_result(result, args.format))
    except SyntaxError as e:
        _err(f"SPARQL syntax error: {e}")
        return EXIT_FAILED
    return EXIT_OK


_COMMANDS = {"serve": _serve, "validate": _validate, "export": _export, "query": _query}


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``sovkg``; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except (LoadError, UnknownFormatError) as e:
        _err(str(e))
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
