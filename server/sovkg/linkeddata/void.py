"""The VoID and DCAT description of the dataset, built from the store and the dumps.

Nothing here is hard-coded that the graph can say: title, description, licence and version come
from the ontology header (the ``owl:Ontology`` node), the source from the ``schema:NewsArticle``
node(s); sizes and checksums from the dumps as served.
"""

from __future__ import annotations

from pyoxigraph import BlankNode, Literal, NamedNode, Store, Triple

from sovkg.linkeddata.dumps import Dump
from sovkg.linkeddata.results import select, subjects
from sovkg.linkeddata.terms import (
    DCTERMS_DESCRIPTION,
    DCTERMS_LICENSE,
    DCTERMS_SOURCE,
    DCTERMS_TITLE,
    OWL_ONTOLOGY,
    OWL_VERSION_INFO,
    RDF_TYPE,
    SCHEMA_NEWS_ARTICLE,
)
from sovkg.namespaces import PREFIXES

VOID = "http://rdfs.org/ns/void#"
DCAT = PREFIXES["dcat"]
DCTERMS = PREFIXES["dcterms"]
SPDX = "http://spdx.org/rdf/terms#"
XSD = PREFIXES["xsd"]
FOAF = PREFIXES["foaf"]
IANA_MEDIA_TYPES = "https://www.iana.org/assignments/media-types/"
#: the Reconciliation Service API, version 0.2 (W3C Entity Reconciliation Community Group)
#: the specification the graph store (``/store``) conforms to
GRAPH_STORE_PROTOCOL = "https://www.w3.org/TR/sparql11-http-rdf-update/"
RECONCILIATION_API = (
    "https://www.w3.org/community/reports/reconciliation/CG-FINAL-specs-0.2-20230410/"
)

#: prefixes for writing the description
VOID_PREFIXES = {
    "void": VOID,
    "dcat": DCAT,
    "dcterms": DCTERMS,
    "spdx": SPDX,
    "xsd": XSD,
    "owl": PREFIXES["owl"],
    "rdf": PREFIXES["rdf"],
    "foaf": FOAF,
}


def _n(iri: str) -> NamedNode:
    return NamedNode(iri)


def _int(value: int, datatype: str = "integer") -> Literal:
    return Literal(str(value), datatype=_n(XSD + datatype))


def _vocabularies(store: Store) -> list[str]:
    """Namespaces (of the project's known prefixes) whose terms the data uses as property or
    class."""
    used: set[str] = set()
    terms = select(store, "SELECT DISTINCT ?t WHERE { { ?s ?t ?o } UNION { ?s a ?t } }")
    namespaces = sorted(PREFIXES.values(), key=len, reverse=True)
    for sol in terms:
        t = sol["t"]
        if isinstance(t, NamedNode):
            for ns in namespaces:
                if t.value.startswith(ns):
                    used.add(ns)
                    break
    return sorted(used)


def _one(store: Store, query: str) -> int:
    for sol in select(store, query):
        value = sol[0]
        return int(value.value) if isinstance(value, Literal) else 0
    return 0


def void_triples(
    store: Store,
    dumps: list[Dump],
    public_base: str,
    thing_base: str,
    triple_count: int,
) -> list[Triple]:
    """The description: a void:Dataset/dcat:Dataset with endpoint, dumps (as DCAT
    distributions with size and SHA-256), statistics, vocabularies, licence, version, source."""
    base = public_base.rstrip("/")
    ds = _n(f"{base}/.well-known/void#dataset")
    service = _n(f"{base}/sparql")
    space = thing_base + "id/"
    out: list[Triple] = []

    def add(s: NamedNode | BlankNode, p: str, o: NamedNode | BlankNode | Literal | Triple) -> None:
        out.append(Triple(s, _n(p), o))

    add(ds, PREFIXES["rdf"] + "type", _n(VOID + "Dataset"))
    add(ds, PREFIXES["rdf"] + "type", _n(DCAT + "Dataset"))
    ontologies = subjects(store.quads_for_pattern(None, RDF_TYPE, OWL_ONTOLOGY))
    for onto in ontologies[:1]:
        for src, dst in (
            (DCTERMS_TITLE, DCTERMS + "title"),
            (DCTERMS_DESCRIPTION, DCTERMS + "description"),
            (DCTERMS_LICENSE, DCTERMS + "license"),
        ):
            for q in store.quads_for_pattern(onto, src, None):
                add(ds, dst, q.object)
        for q in store.quads_for_pattern(onto, OWL_VERSION_INFO, None):
            add(ds, PREFIXES["owl"] + "versionInfo", q.object)
            if isinstance(q.object, Literal):
                add(ds, DCAT + "version", Literal(q.object.value))
    for q in store.quads_for_pattern(None, RDF_TYPE, SCHEMA_NEWS_ARTICLE):
        add(ds, DCTERMS_SOURCE.value, q.subject)
    add(ds, FOAF + "homepage", _n(f"{base}/"))
    add(ds, DCAT + "landingPage", _n(f"{base}/"))
    add(ds, VOID + "sparqlEndpoint", service)
    add(ds, VOID + "uriSpace", Literal(space))
    for ns in _vocabularies(store):
        add(ds, VOID + "vocabulary", _n(ns))
    add(ds, VOID + "triples", _int(triple_count))
    add(
        ds,
        VOID + "entities",
        _int(
            _one(
                store,
                "SELECT (COUNT(DISTINCT ?s) AS ?n) "
                f"{{ ?s ?p ?o FILTER(STRSTARTS(STR(?s), {Literal(space)})) }}",
            )
        ),
    )
    add(
        ds,
        VOID + "distinctSubjects",
        _int(_one(store, "SELECT (COUNT(DISTINCT ?s) AS ?n) { ?s ?p ?o }")),
    )
    add(
        ds, VOID + "properties", _int(_one(store, "SELECT (COUNT(DISTINCT ?p) AS ?n) { ?s ?p ?o }"))
    )
    add(ds, VOID + "classes", _int(_one(store, "SELECT (COUNT(DISTINCT ?c) AS ?n) { ?s a ?c }")))
    teams = select(
        store,
        "SELECT DISTINCT ?t { ?t a ?c . ?c <http://www.w3.org/2000/01/rdf-schema#subClassOf>* "
        "<http://www.w3.org/ns/org#OrganizationalCollaboration> } ORDER BY ?t LIMIT 5",
    )
    for sol in teams:
        add(ds, VOID + "exampleResource", sol["t"])

    add(service, PREFIXES["rdf"] + "type", _n(DCAT + "DataService"))
    add(service, DCAT + "endpointURL", service)
    add(service, DCAT + "servesDataset", ds)
    # the W3C Entity Reconciliation API over the labels (routes/reconcile.py)
    reconcile = _n(f"{base}/reconcile")
    add(reconcile, PREFIXES["rdf"] + "type", _n(DCAT + "DataService"))
    add(reconcile, DCTERMS + "title", Literal("Reconciliation service", language="en"))
    add(reconcile, DCAT + "endpointURL", reconcile)
    add(reconcile, DCTERMS + "conformsTo", _n(RECONCILIATION_API))
    add(reconcile, DCAT + "servesDataset", ds)
    # the SPARQL 1.1 Graph Store HTTP Protocol: every graph by its IRI (routes/store.py)
    graph_store = _n(f"{base}/store")
    add(graph_store, PREFIXES["rdf"] + "type", _n(DCAT + "DataService"))
    add(graph_store, DCTERMS + "title", Literal("Graph store", language="en"))
    add(graph_store, DCAT + "endpointURL", graph_store)
    add(graph_store, DCTERMS + "conformsTo", _n(GRAPH_STORE_PROTOCOL))
    add(graph_store, DCAT + "servesDataset", ds)
    add(ds, DCAT + "distribution", _n(f"{base}/.well-known/void#graph-store"))
    store_dist = _n(f"{base}/.well-known/void#graph-store")
    add(store_dist, PREFIXES["rdf"] + "type", _n(DCAT + "Distribution"))
    add(store_dist, DCAT + "accessURL", graph_store)
    add(store_dist, DCAT + "accessService", graph_store)
    add(ds, DCAT + "distribution", _n(f"{base}/.well-known/void#sparql"))
    sparql_dist = _n(f"{base}/.well-known/void#sparql")
    add(sparql_dist, PREFIXES["rdf"] + "type", _n(DCAT + "Distribution"))
    add(sparql_dist, DCAT + "accessURL", service)
    add(sparql_dist, DCAT + "accessService", service)

    for d in dumps:
        url = _n(f"{base}/dumps/{d.filename}")
        dist = _n(f"{base}/.well-known/void#dump-{d.rdf_format.file_extension}")
        checksum = _n(f"{base}/.well-known/void#sha256-{d.rdf_format.file_extension}")
        add(ds, VOID + "dataDump", url)
        add(ds, DCAT + "distribution", dist)
        add(dist, PREFIXES["rdf"] + "type", _n(DCAT + "Distribution"))
        add(dist, DCTERMS + "title", Literal(f"{d.rdf_format.name} dump", language="en"))
        add(dist, DCAT + "downloadURL", url)
        add(dist, DCAT + "accessURL", url)
        add(dist, DCAT + "mediaType", _n(IANA_MEDIA_TYPES + d.media_type))
        add(dist, DCAT + "byteSize", _int(len(d.body), "nonNegativeInteger"))
        add(dist, SPDX + "checksum", checksum)
        add(checksum, PREFIXES["rdf"] + "type", _n(SPDX + "Checksum"))
        add(checksum, SPDX + "algorithm", _n(SPDX + "checksumAlgorithm_sha256"))
        add(checksum, SPDX + "checksumValue", Literal(d.sha256, datatype=_n(XSD + "hexBinary")))
    return out
