"""The argument parser of ``sovkg``; ``serve``'s flags come from the settings table."""

from __future__ import annotations

import argparse
from pathlib import Path

from sovkg import __version__
from sovkg.config import OPTIONS, Option
from sovkg.config import option as setting
from sovkg.formats import RDF_FORMATS, RESULT_FORMATS

EPILOG = "Exit codes: 0 success, 1 violations or failed query, 2 usage or unreadable input."


def parser() -> argparse.ArgumentParser:
    """The whole command line: serve, validate, export, query."""
    p = argparse.ArgumentParser(
        prog="sovkg",
        description="The Sovereign AI Knowledge Graph: serve, validate, export and query the "
        "graph of the Korean sovereign AI foundation model programme.",
        epilog=EPILOG,
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    s = sub.add_parser(
        "serve",
        help="load, validate and serve the graph over HTTP (SPARQL endpoint at /sparql)",
        description="Load the ontology and graph (plus --data files) into an Oxigraph store, "
        "validate it against the shapes, and serve it. Example: sovkg serve --port 8000, then "
        "curl 'http://127.0.0.1:8000/sparql?query=ASK%7B%3Fs%20%3Fp%20%3Fo%7D'. Every flag "
        "has a SOVKG_* variable (named in its help); a flag overrides its variable.",
        epilog=EPILOG,
    )
    for option in OPTIONS:
        if option.flag is not None:
            add_option(s, option)

    v = sub.add_parser(
        "validate",
        help="validate RDF files (default: the shipped graph) against the SHACL shapes",
        description="Validate the shipped graph, or the given RDF files (syntax from extension: "
        ".ttl .nt .nq .trig .jsonld .rdf), against the shipped shapes or --shapes. The ontology is "
        "added to the data so class targets see subclasses (--without-ontology to leave it out).",
        epilog=EPILOG,
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
    add_option(v, setting("shacl_engine"))

    e = sub.add_parser(
        "export",
        help="write the whole dataset in one RDF syntax",
        description="Write the whole dataset (ontology, graph, --data files). Triple syntaxes get "
        "the union of all graphs; nquads, trig and jsonld keep the named graphs. The output is "
        "sorted, so two runs give the same bytes.",
        epilog=EPILOG,
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
        epilog=EPILOG,
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


def add_option(p: argparse.ArgumentParser, option: Option) -> None:
    """The flag of one setting; unset flags parse as None, so the variable or default holds."""
    assert option.flag is not None
    if option.action in ("true", "false"):
        p.add_argument(
            option.flag,
            dest=option.field,
            action="store_const",
            const=option.action == "true",
            default=None,
            help=f"{option.help} [{option.env}]",
        )
        return
    default = option.default_text()
    shown = "" if default in ("None", "()") else f"; default {default}"
    kwargs: dict[str, object] = {
        "dest": option.field,
        "type": option.type,
        "default": None,
        "metavar": option.metavar,
        "help": f"{option.help} [{option.env}{shown}]".replace("%", "%%"),
    }
    if option.choices is not None:
        kwargs["choices"] = list(option.choices)
        kwargs.pop("metavar")
    if option.action == "list":
        kwargs["nargs"] = "*"
    elif option.action == "append":
        kwargs["action"] = "append"
    p.add_argument(option.flag, **kwargs)  # type: ignore[arg-type]
