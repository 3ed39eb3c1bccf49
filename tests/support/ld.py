"""Helpers shared by the Linked Data tests: the resources of the graph, an in-process client."""

from __future__ import annotations

import rdflib
from pyoxigraph import Literal, NamedNode, RdfFormat, Store, Triple, serialize
from sovkg.formats import RDFLIB_NAMES
from sovkg.linkeddata.represent import RDF_REPRESENTATIONS

THING_SPACE = "https://w3id.org/ksai/id/"

#: ``?format=`` name -> (media type, rdflib parser name) of every RDF syntax a resource offers
RDF_FORMATS = {
    r.key: (r.media_type, RDFLIB_NAMES[r.rdf_format])
    for r in RDF_REPRESENTATIONS
    if r.rdf_format is not None
}


def resources(store: Store) -> list[str]:
    """Every IRI under the thing space, as subject or object, from the store."""
    rows = store.query(
        "SELECT DISTINCT ?s WHERE { { ?s ?p ?o } UNION { ?x ?p ?s } "
        f'FILTER(isIRI(?s) && STRSTARTS(STR(?s), "{THING_SPACE}")) }} ORDER BY ?s',
        use_default_graph_as_union=True,
    )
    return [sol["s"].value for sol in rows]


def korean_labels(store: Store, iri: str) -> list[str]:
    """The @ko skos:prefLabel / rdfs:label values of a resource."""
    rows = store.query(
        f"SELECT DISTINCT ?l WHERE {{ <{iri}> <http://www.w3.org/2004/02/skos/core#prefLabel>|"
        '<http://www.w3.org/2000/01/rdf-schema#label> ?l FILTER(lang(?l) = "ko") }',
        use_default_graph_as_union=True,
    )
    return [sol["l"].value for sol in rows]


def own_triples(store: Store, iri: str) -> rdflib.Graph:
    """The triples with ``iri`` as subject and no blank node, as an rdflib graph."""
    node = NamedNode(iri)
    triples = {
        Triple(q.subject, q.predicate, q.object)
        for q in store.quads_for_pattern(node, None, None)
        if isinstance(q.object, NamedNode | Literal)
    }
    g = rdflib.Graph()
    if triples:
        g.parse(data=serialize(list(triples), format=RdfFormat.N_TRIPLES), format="nt")
    return g


def local_path(iri: str) -> str:
    """The path this server answers ``iri`` at."""
    return "/" + iri.removeprefix("https://w3id.org/ksai/")
