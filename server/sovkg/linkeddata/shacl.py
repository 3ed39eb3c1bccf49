"""SHACL validation of posted RDF: which syntax a request carries, reading it, validating it.

Same rules as ``sovkg validate``: our ontology is added to the data graph (so class targets see
subclasses), no inference, only violations make data non-conforming.
"""

from __future__ import annotations

import functools

from pyoxigraph import Quad, RdfFormat
from rdflib.namespace import RDF, SH

from sovkg.dataset import parse_bytes, read_quads
from sovkg.errors import InputError, LoadError
from sovkg.rdfinput import InputRefused, check_bytes, check_quads
from sovkg.resources import data_files
from sovkg.validation import Report, quads_to_rdflib, shipped_data_paths, validate_graph

#: the syntaxes POST /shacl reads, by media type
INPUT_FORMATS: dict[str, RdfFormat] = {
    "text/turtle": RdfFormat.TURTLE,
    "application/x-turtle": RdfFormat.TURTLE,
    "application/n-triples": RdfFormat.N_TRIPLES,
    "application/n-quads": RdfFormat.N_QUADS,
    "application/trig": RdfFormat.TRIG,
    "application/ld+json": RdfFormat.JSON_LD,
    "application/rdf+xml": RdfFormat.RDF_XML,
}

_EXTENSIONS = {f".{f.file_extension}": f for f in INPUT_FORMATS.values()}

#: the base IRI relative IRIs in posted data resolve against
POSTED_BASE = "urn:sovkg:posted:"


def media_type_of(content_type: str | None) -> str:
    """``type/subtype`` of a Content-Type header, lower-cased, without parameters."""
    return (content_type or "").split(";")[0].strip().lower()


def input_format(content_type: str | None) -> RdfFormat:
    """The syntax a Content-Type names; 415 for anything else."""
    media = media_type_of(content_type)
    try:
        return INPUT_FORMATS[media]
    except KeyError:
        accepted = ", ".join(sorted(set(INPUT_FORMATS)))
        raise InputError(
            415,
            f"unsupported Content-Type {media or '(none)'!r}; send RDF as one of {accepted}, "
            "or multipart/form-data with a 'data' part",
        ) from None


def format_for_part(content_type: str | None, filename: str | None) -> RdfFormat:
    """The syntax of a multipart part: its Content-Type if RDF, else the file extension,
    else Turtle (a pasted text field)."""
    media = media_type_of(content_type)
    if media in INPUT_FORMATS:
        return INPUT_FORMATS[media]
    if filename:
        for ext, fmt in _EXTENSIONS.items():
            if filename.lower().endswith(ext):
                return fmt
    return RdfFormat.TURTLE


def parse_input(body: bytes, fmt: RdfFormat, what: str = "data") -> list[Quad]:
    """Quads of posted RDF behind the input guard (``sovkg.rdfinput``); 400 with the reason if
    the guard refuses it, or with the parser's message (line and column) if unreadable."""
    try:
        check_bytes(body, fmt)
        quads = parse_bytes(body, fmt, base_iri=POSTED_BASE)
        check_quads(quads)
    except InputRefused as e:
        raise InputError(400, f"refused the {what}: {e}") from None
    except LoadError as e:
        raise InputError(400, f"cannot read the {what} as {fmt.name}: {e}") from None
    return quads


@functools.cache
def _ontology_quads() -> tuple[Quad, ...]:
    return tuple(q for p in shipped_data_paths(include_data=False) for q in read_quads(p))


@functools.cache
def _shape_quads() -> tuple[Quad, ...]:
    return tuple(q for p in data_files("shapes") for q in read_quads(p))


def validate_posted(data: list[Quad], shapes: list[Quad] | None = None) -> Report:
    """Validate posted quads (plus our ontology) against our shapes or the given ones.

    Blocking (pySHACL is pure Python): call it from a worker thread.
    """
    try:
        data_graph = quads_to_rdflib([*_ontology_quads(), *data])
        shapes_graph = quads_to_rdflib(list(shapes) if shapes is not None else _shape_quads())
    except MemoryError:
        raise  # the worker's memory limit: its pool reports it
    except Exception as e:  # noqa: BLE001 - rdflib and pySHACL raise anything on odd input
        raise InputError(400, f"the validator cannot read this data: {e}") from None
    if shapes is not None and not (
        any(shapes_graph.triples((None, RDF.type, SH.NodeShape)))
        or any(shapes_graph.triples((None, RDF.type, SH.PropertyShape)))
        or any(shapes_graph.triples((None, SH.targetClass, None)))
    ):
        raise InputError(
            400, "the shapes hold no SHACL shapes (no sh:NodeShape or sh:PropertyShape)"
        )
    try:
        return validate_graph(data_graph, shapes_graph)
    except MemoryError:
        raise
    except Exception as e:  # noqa: BLE001 - rdflib and pySHACL raise anything on odd input
        raise InputError(400, f"validation failed: {e}") from None
