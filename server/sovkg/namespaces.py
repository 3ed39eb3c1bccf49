"""The prefixes the project writes and shows, in one stable order."""

from __future__ import annotations

from collections.abc import Iterable

THING_BASE = "https://w3id.org/ksai/id/"

#: prefix -> namespace; the order is the order they appear in dumps
PREFIXES: dict[str, str] = {
    "ksai": "https://w3id.org/ksai/ontology#",
    "ksaish": "https://w3id.org/ksai/shapes#",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "org": "http://www.w3.org/ns/org#",
    "frapo": "http://purl.org/cerif/frapo/",
    "schema": "https://schema.org/",
    "prov": "http://www.w3.org/ns/prov#",
    "time": "http://www.w3.org/2006/time#",
    "oa": "http://www.w3.org/ns/oa#",
    "dcat": "http://www.w3.org/ns/dcat#",
    "void": "http://rdfs.org/ns/void#",
    "dcterms": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "vann": "http://purl.org/vocab/vann/",
    "sh": "http://www.w3.org/ns/shacl#",
    "sd": "http://www.w3.org/ns/sparql-service-description#",
}


def sparql_prologue() -> str:
    """PREFIX declarations for every project prefix, for queries written by people."""
    return "".join(f"PREFIX {p}: <{ns}>\n" for p, ns in PREFIXES.items())


def prefixes_for(iris: Iterable[str]) -> dict[str, str]:
    """PREFIXES plus one prefix per kind of thing used (``team:`` for ``…/id/team/``), sorted.

    Kinds give readable Turtle (``team:naver-cloud`` rather than ``<…/id/team/naver-cloud>``);
    a kind whose name is taken by a vocabulary prefix keeps full IRIs.
    """
    kinds = set()
    for iri in iris:
        if iri.startswith(THING_BASE):
            kind, sep, rest = iri[len(THING_BASE) :].partition("/")
            if sep and rest and "/" not in rest and kind.isidentifier():
                kinds.add(kind)
    out = dict(PREFIXES)
    for kind in sorted(kinds):
        out.setdefault(kind, f"{THING_BASE}{kind}/")
    return out
