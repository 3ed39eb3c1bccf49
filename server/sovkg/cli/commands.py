"""One function per sub-command of ``sovkg``; each returns the exit code."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from pyoxigraph import Store

from sovkg.cli import allocator
from sovkg.cli.args import parser
from sovkg.cli.server import require_free_port, require_parser, run_server
from sovkg.config import Settings, option, overrides_from
from sovkg.dataset import open_store
from sovkg.engine import QueryJob, evaluate
from sovkg.engine.isolated import run_isolated
from sovkg.engine.remote import RemoteStore
from sovkg.engine.table import format_result
from sovkg.errors import EXIT_FAILED, EXIT_USAGE, SovkgError
from sovkg.export import export_dataset
from sovkg.formats import RDF_FORMATS
from sovkg.namespaces import PREFIXES
from sovkg.sparql.syntax import explain
from sovkg.validation import validate_files, validate_store

EXIT_OK = 0


def _err(message: str) -> None:
    print(f"sovkg: {message}", file=sys.stderr)


class _Refused(Exception):
    """The server will not start on this data (exit 1); the message says why."""


def serve(args: argparse.Namespace) -> int:
    """``sovkg serve``: load (or reach) the data, validate it, serve it (on the allocator the
    settings choose: this process may first start again with it, see ``sovkg.cli.allocator``)."""
    settings = Settings.from_env(overrides_from(vars(args)))
    require_parser(settings.http)
    require_free_port(settings.host, settings.port)  # before loading: that may take minutes
    malloc = allocator.ensure(
        allocator.choose(settings.allocator), getattr(args, "argv", None) or sys.argv[1:]
    )
    started = time.perf_counter()
    try:
        store, note = _backend_data(settings) if settings.backend else _local_data(settings)
    except _Refused as e:
        _err(str(e))
        return EXIT_FAILED
    print(
        f"sovkg: {note} in {time.perf_counter() - started:.2f}s; "
        f"serving on http://{settings.host}:{settings.port}/sparql; memory allocator: {malloc}",
        file=sys.stderr,
    )
    if settings.workers > 1 and (settings.http != "granian" or settings.store_path is not None):
        # each server worker opens its own (read-only) store; this one is closed before they
        # start (a RocksDB store must not be open across a fork). In memory with granian,
        # the forked server workers share this store's pages instead.
        store = None
    run_server(settings, store)
    return EXIT_OK


def _local_data(settings: Settings) -> tuple[Store, str]:
    store = open_store(settings.store_path, settings.data_files)
    if settings.validate_on_start:
        report = validate_store(store, engine=settings.shacl_engine)
        if report is not None and not report.conforms:
            sys.stderr.write(report.text())
            raise _Refused("the data violates the shapes; fix it or start with --no-validate")
    return store, f"{len(store)} quads ready"


def _backend_data(settings: Settings) -> tuple[None, str]:
    """No local data: validate a fetched copy of the backend's, if asked to."""
    assert settings.backend is not None
    if not settings.validate_on_start:
        note = "the backend's data is not validated against the shapes (--no-validate); ready"
        return None, f"{settings.backend}: {note}"
    remote = RemoteStore(settings.backend, settings.query_timeout, settings.backend_graphs or None)
    try:
        copy = Store()
        copy.extend(remote)
    except Exception as e:  # noqa: BLE001 - whatever the backend did, say so and stop
        raise _Refused(
            f"{e}; cannot fetch the backend's data to validate it against the shapes "
            "(start with --no-validate to serve anyway: /health answers 503 until the "
            "backend does)"
        ) from None
    finally:
        remote.close()
    report = validate_store(copy, engine=settings.shacl_engine)
    if report is not None and not report.conforms:
        sys.stderr.write(report.text())
        raise _Refused("the backend's data violates the shapes; fix it or start with --no-validate")
    note = f"{len(copy)} quads fetched from the backend and validated against the shapes"
    return None, f"{settings.backend}: {note}"


def validate(args: argparse.Namespace) -> int:
    """``sovkg validate``: SHACL over the shipped graph or the given files."""
    engine = args.shacl_engine or option("shacl_engine").from_text(
        os.environ.get("SOVKG_SHACL_ENGINE", "shacl")
    )
    report = validate_files(
        args.files, args.shapes, with_ontology=not args.without_ontology, engine=engine
    )
    if args.format == "text":
        sys.stdout.write(report.text())
    else:
        sys.stdout.write(report.serialize("turtle" if args.format == "turtle" else "json-ld"))
    return EXIT_OK if report.conforms else EXIT_FAILED


def export(args: argparse.Namespace) -> int:
    """``sovkg export``: the whole dataset in one syntax."""
    store = open_store(None, args.data)
    fmt = RDF_FORMATS[args.format]
    if args.output:
        with args.output.open("wb") as out:
            export_dataset(store, fmt, out)
    else:
        sys.stdout.buffer.write(export_dataset(store, fmt) or b"")
    return EXIT_OK


def query(args: argparse.Namespace) -> int:
    """``sovkg query``: one query against the local graph."""
    text = args.query
    if text.startswith("@"):
        path = Path(text[1:])
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            _err(f"cannot read query file {path}: {e}")
            return EXIT_USAGE
    data, fmt = tuple(args.data), args.format

    def job() -> bytes:  # in a child process: an engine crash ends it, not this command
        store = open_store(None, data)
        return format_result(evaluate(store, QueryJob(text, prefixes=PREFIXES)), fmt)

    try:
        out = run_isolated(job, memory_mib=None, what=f"this query: {' '.join(text.split())}")
    except SyntaxError as e:
        # the same explanation as the endpoint's 400: the cause first, then the parser's text
        _err(explain(text, str(e.msg if e.msg else e), PREFIXES))
        return EXIT_FAILED
    sys.stdout.buffer.write(out)
    return EXIT_OK


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "serve": serve,
    "validate": validate,
    "export": export,
    "query": query,
}


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``sovkg``; returns the exit code."""
    args = parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # to start again as it was
    try:
        return COMMANDS[args.command](args)
    except SovkgError as e:  # unreadable input, a bad setting (exit 2), a failed run (1)
        _err(str(e))
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
