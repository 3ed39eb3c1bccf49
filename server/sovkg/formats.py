"""The RDF and SPARQL result syntaxes the project reads and writes, in one table.

Names are the ones users type (``--format turtle``); media types and file extensions come from
pyoxigraph so that they cannot drift from what the parser and serializers accept.
"""

from __future__ import annotations

from pathlib import Path

from pyoxigraph import QueryResultsFormat, RdfFormat

#: the six dump/exchange syntaxes, by the name used on the command line
RDF_FORMATS: dict[str, RdfFormat] = {
    "turtle": RdfFormat.TURTLE,
    "ntriples": RdfFormat.N_TRIPLES,
    "nquads": RdfFormat.N_QUADS,
    "trig": RdfFormat.TRIG,
    "jsonld": RdfFormat.JSON_LD,
    "rdfxml": RdfFormat.RDF_XML,
}

#: the SPARQL query result syntaxes, by the name used on the command line
RESULT_FORMATS: dict[str, QueryResultsFormat] = {
    "json": QueryResultsFormat.JSON,
    "xml": QueryResultsFormat.XML,
    "csv": QueryResultsFormat.CSV,
    "tsv": QueryResultsFormat.TSV,
}

_EXTENSIONS: dict[str, RdfFormat] = {
    ".ttl": RdfFormat.TURTLE,
    ".turtle": RdfFormat.TURTLE,
    ".nt": RdfFormat.N_TRIPLES,
    ".nq": RdfFormat.N_QUADS,
    ".trig": RdfFormat.TRIG,
    ".jsonld": RdfFormat.JSON_LD,
    ".json": RdfFormat.JSON_LD,
    ".rdf": RdfFormat.RDF_XML,
    ".owl": RdfFormat.RDF_XML,
    ".xml": RdfFormat.RDF_XML,
}

#: the names rdflib gives the same syntaxes (for the SHACL report and round-trip tests)
RDFLIB_NAMES: dict[RdfFormat, str] = {
    RdfFormat.TURTLE: "turtle",
    RdfFormat.N_TRIPLES: "nt",
    RdfFormat.N_QUADS: "nquads",
    RdfFormat.TRIG: "trig",
    RdfFormat.JSON_LD: "json-ld",
    RdfFormat.RDF_XML: "xml",
}


class UnknownFormatError(ValueError):
    """A file name or format name that names no syntax we read."""


def rdf_format_for_path(path: str | Path) -> RdfFormat:
    """The syntax of an RDF file, from its extension (``.ttl``, ``.nt``, ``.jsonld`` …)."""
    suffix = Path(path).suffix.lower()
    try:
        return _EXTENSIONS[suffix]
    except KeyError:
        known = ", ".join(sorted(_EXTENSIONS))
        raise UnknownFormatError(
            f"{path}: cannot tell the RDF syntax from the extension {suffix or '(none)'!r}; "
            f"use one of {known}"
        ) from None


def rdf_format_by_name(name: str) -> RdfFormat:
    """The syntax called ``name`` on the command line (``turtle``, ``jsonld`` …)."""
    try:
        return RDF_FORMATS[name]
    except KeyError:
        raise UnknownFormatError(
            f"unknown RDF format {name!r}; use one of {', '.join(RDF_FORMATS)}"
        ) from None
