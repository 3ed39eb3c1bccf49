"""The RDF and SPARQL result syntaxes the project reads and writes: the one table.

Each syntax is listed once, with every name it goes by: the name users type (``--format
turtle``), the ``?format=`` key of a resource page (its file extension), the media type and the
aliases clients send, pyoxigraph's format, rdflib's parser name, the W3C format IRI of the
service description, and whether its Content-Type carries ``charset=utf-8``. Every other table
(the SPARQL offers, the Linked Data representations, the command-line choices) is derived from
this one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pyoxigraph import QueryResultsFormat, RdfFormat

from sovkg.errors import UnknownFormatError

_W3C = "http://www.w3.org/ns/formats/"


@dataclass(frozen=True)
class RdfSyntax:
    """An RDF syntax and its names."""

    #: on the command line (``--format``), and the dump's name
    name: str
    rdf_format: RdfFormat
    #: ``?format=`` names besides ``key``
    aliases: tuple[str, ...]
    #: file extensions read as this syntax; the first is the one written
    extensions: tuple[str, ...]
    rdflib: str
    iri: str
    #: media types that name this syntax too (accepted in uploads)
    media_aliases: tuple[str, ...] = ()
    charset: bool = True

    @property
    def media_type(self) -> str:
        """The media type (pyoxigraph's, so it cannot drift from the serializers)."""
        return self.rdf_format.media_type

    @property
    def key(self) -> str:
        """The ``?format=`` name of a resource: the file extension without its dot."""
        return self.extensions[0].removeprefix(".")

    @property
    def label(self) -> str:
        """The syntax's name for people (``Turtle``, ``JSON-LD`` …)."""
        return self.rdf_format.name


@dataclass(frozen=True)
class ResultSyntax:
    """A SPARQL query results syntax and its names."""

    #: on the command line (``sovkg query --format``)
    name: str
    results_format: QueryResultsFormat
    #: written without parameters (pyoxigraph's CSV/TSV media types carry a charset)
    media_type: str
    iri: str
    #: other media types some clients send for it
    media_aliases: tuple[str, ...] = ()
    charset: bool = True


#: in the server's order of preference: Turtle first, which every RDF client reads
RDF_SYNTAXES: tuple[RdfSyntax, ...] = (
    RdfSyntax(
        "turtle",
        RdfFormat.TURTLE,
        ("turtle",),
        (".ttl", ".turtle"),
        "turtle",
        _W3C + "Turtle",
        ("application/x-turtle", "text/n3"),  # Turtle is valid N3
    ),
    RdfSyntax("ntriples", RdfFormat.N_TRIPLES, ("ntriples",), (".nt",), "nt", _W3C + "N-Triples"),
    RdfSyntax("nquads", RdfFormat.N_QUADS, (), (".nq",), "nquads", _W3C + "N-Quads"),
    RdfSyntax("trig", RdfFormat.TRIG, (), (".trig",), "trig", _W3C + "TriG"),
    RdfSyntax(
        "jsonld",
        RdfFormat.JSON_LD,
        ("json-ld", "json"),
        (".jsonld", ".json"),
        "json-ld",
        _W3C + "JSON-LD",
        ("application/json",),  # what many clients send for a graph in JSON
        charset=False,  # JSON is UTF-8 by definition
    ),
    RdfSyntax(
        "rdfxml",
        RdfFormat.RDF_XML,
        ("xml", "rdfxml"),
        (".rdf", ".owl", ".xml"),
        "xml",
        _W3C + "RDF_XML",
    ),
)

#: in the server's order of preference: JSON first
RESULT_SYNTAXES: tuple[ResultSyntax, ...] = (
    ResultSyntax(
        "json",
        QueryResultsFormat.JSON,
        "application/sparql-results+json",
        _W3C + "SPARQL_Results_JSON",
        ("application/json",),
        charset=False,
    ),
    ResultSyntax(
        "xml",
        QueryResultsFormat.XML,
        "application/sparql-results+xml",
        _W3C + "SPARQL_Results_XML",
        ("application/xml",),
    ),
    ResultSyntax("csv", QueryResultsFormat.CSV, "text/csv", _W3C + "SPARQL_Results_CSV"),
    ResultSyntax(
        "tsv",
        QueryResultsFormat.TSV,
        "text/tab-separated-values",
        _W3C + "SPARQL_Results_TSV",
    ),
)

#: the six dump/exchange syntaxes, by the name used on the command line
RDF_FORMATS: dict[str, RdfFormat] = {s.name: s.rdf_format for s in RDF_SYNTAXES}

#: the SPARQL query result syntaxes, by the name used on the command line
RESULT_FORMATS: dict[str, QueryResultsFormat] = {s.name: s.results_format for s in RESULT_SYNTAXES}

#: the names rdflib gives the same syntaxes (for the SHACL report and round-trip tests)
RDFLIB_NAMES: dict[RdfFormat, str] = {s.rdf_format: s.rdflib for s in RDF_SYNTAXES}

#: every media type an RDF upload may name (aliases included) -> its syntax
RDF_MEDIA_TYPES: dict[str, RdfFormat] = {
    media: s.rdf_format for s in RDF_SYNTAXES for media in (s.media_type, *s.media_aliases)
}

#: the W3C format IRIs (http://www.w3.org/ns/formats/) of what we write, by media type
FORMAT_IRIS: dict[str, str] = {
    **{s.media_type: s.iri for s in RESULT_SYNTAXES},
    **{s.media_type: s.iri for s in RDF_SYNTAXES},
}

#: media types whose Content-Type carries ``charset=utf-8`` (aliases included; plain text too)
WITH_CHARSET: frozenset[str] = frozenset(
    [
        *(m for s in RESULT_SYNTAXES if s.charset for m in (s.media_type, *s.media_aliases)),
        *(m for s in RDF_SYNTAXES if s.charset for m in (s.media_type, *s.media_aliases)),
        "text/plain",
    ]
)

_EXTENSIONS: dict[str, RdfFormat] = {
    ext: s.rdf_format for s in RDF_SYNTAXES for ext in s.extensions
}


def rdf_syntax(fmt: RdfFormat) -> RdfSyntax:
    """The table's entry for a pyoxigraph format."""
    return next(s for s in RDF_SYNTAXES if s.rdf_format == fmt)


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
