"""The SPARQL 1.1 Service Description (https://www.w3.org/TR/sparql11-service-description/)
of the endpoint, and the endpoint's public URL (which is also the base IRI of operations).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pyoxigraph import BlankNode, Literal, NamedNode, RdfFormat, Triple, serialize

from sovkg.formats import FORMAT_IRIS
from sovkg.sparql.media import GRAPH_OFFERS, RESULT_OFFERS

SD = "http://www.w3.org/ns/sparql-service-description#"
VOID = "http://rdfs.org/ns/void#"
RDF_TYPE = NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
XSD_INTEGER = NamedNode("http://www.w3.org/2001/XMLSchema#integer")
SIMPLE_ENTAILMENT = NamedNode("http://www.w3.org/ns/entailment/Simple")
SH = "http://www.w3.org/ns/shacl#"
DCAT = "http://www.w3.org/ns/dcat#"
DCTERMS = "http://purl.org/dc/terms/"
RDFS_SEE_ALSO = NamedNode("http://www.w3.org/2000/01/rdf-schema#seeAlso")
XSD_ANY_URI = NamedNode("http://www.w3.org/2001/XMLSchema#anyURI")
#: the Graph Store HTTP Protocol, which ``/store`` conforms to
GRAPH_STORE_PROTOCOL = NamedNode("https://www.w3.org/TR/sparql11-http-rdf-update/")

SD_PREFIXES = {
    "sd": SD,
    "void": VOID,
    "formats": "http://www.w3.org/ns/formats/",
    "ent": "http://www.w3.org/ns/entailment/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "sh": SH,
    "dcat": DCAT,
    "dcterms": DCTERMS,
}

#: counts the triples of every named graph, and of the default graph (the union)
NAMED_GRAPH_COUNTS = "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"
DEFAULT_GRAPH_COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"


def _sd(name: str) -> NamedNode:
    return NamedNode(SD + name)


def _first(value: str | None) -> str | None:
    """The first of a comma-separated header value (proxies append theirs)."""
    if not value:
        return None
    first = value.split(",")[0].strip()
    return first or None


def endpoint_url(
    path: str,
    scheme: str,
    host: str | None,
    headers: Mapping[str, str],
    base_url: str | None = None,
) -> str:
    """The URL the client used for the endpoint at ``path``.

    ``--base-url`` wins (the deployment knows its public name); behind a proxy,
    ``X-Forwarded-Proto``/``X-Forwarded-Host`` (and ``X-Forwarded-Prefix``) say what the client
    saw; otherwise the request's own scheme and Host.
    """
    if base_url:
        return base_url.rstrip("/") + path
    proto = (_first(headers.get("x-forwarded-proto")) or scheme).lower()
    if proto not in ("http", "https"):
        proto = scheme
    fwd_host = _first(headers.get("x-forwarded-host")) or host or "localhost"
    prefix = (_first(headers.get("x-forwarded-prefix")) or "").rstrip("/")
    if prefix and not prefix.startswith("/"):
        prefix = "/" + prefix
    url = f"{proto}://{fwd_host}{prefix}{path}"
    try:
        NamedNode(url)
    except ValueError:  # a forged or broken header: fall back to what we know
        url = f"{scheme}://{host or 'localhost'}{path}"
    return url


@dataclass(frozen=True)
class DatasetStats:
    """Triple counts: of the default graph (the union) and of each named graph."""

    default_triples: int
    named: dict[str, int]


def description_triples(
    endpoint: str,
    stats: DatasetStats,
    *,
    updates: bool = False,
    federated: bool = False,
    prefixes: Mapping[str, str] | None = None,
    graph_store: str | None = None,
) -> list[Triple]:
    """The service description as triples: with the ``prefixes`` every query may use without
    declaring them (as SHACL prefix declarations, ``sh:declare``), and the ``graph_store``'s
    URL (a ``dcat:DataService`` conforming to the Graph Store HTTP Protocol)."""
    service = BlankNode("service")
    dataset = BlankNode("dataset")
    default = BlankNode("defaultGraph")
    t = [
        Triple(service, RDF_TYPE, _sd("Service")),
        Triple(service, _sd("endpoint"), NamedNode(endpoint)),
        Triple(service, _sd("supportedLanguage"), _sd("SPARQL11Query")),
    ]
    if updates:
        t.append(Triple(service, _sd("supportedLanguage"), _sd("SPARQL11Update")))
    t += [
        Triple(service, _sd("defaultEntailmentRegime"), SIMPLE_ENTAILMENT),
        Triple(service, _sd("feature"), _sd("UnionDefaultGraph")),
    ]
    if federated:
        t.append(Triple(service, _sd("feature"), _sd("BasicFederatedQuery")))
    for media in dict.fromkeys([*RESULT_OFFERS.values(), *GRAPH_OFFERS.values()]):
        t.append(Triple(service, _sd("resultFormat"), NamedNode(FORMAT_IRIS[media])))
    for media in dict.fromkeys(GRAPH_OFFERS.values()):  # what LOAD (an update) reads
        t.append(Triple(service, _sd("inputFormat"), NamedNode(FORMAT_IRIS[media])))
    t += [
        Triple(service, _sd("defaultDataset"), dataset),
        Triple(dataset, RDF_TYPE, _sd("Dataset")),
        Triple(dataset, _sd("defaultGraph"), default),
        Triple(default, RDF_TYPE, _sd("Graph")),
        Triple(default, NamedNode(VOID + "triples"), _count(stats.default_triples)),
    ]
    for i, (prefix, namespace) in enumerate((prefixes or {}).items()):
        declaration = BlankNode(f"prefix{i}")
        t += [
            Triple(service, NamedNode(SH + "declare"), declaration),
            Triple(declaration, NamedNode(SH + "prefix"), Literal(prefix)),
            Triple(
                declaration, NamedNode(SH + "namespace"), Literal(namespace, datatype=XSD_ANY_URI)
            ),
        ]
    if graph_store is not None:
        store = NamedNode(graph_store)
        t += [
            Triple(service, RDFS_SEE_ALSO, store),
            Triple(store, RDF_TYPE, NamedNode(DCAT + "DataService")),
            Triple(store, NamedNode(DCAT + "endpointURL"), store),
            Triple(store, NamedNode(DCTERMS + "conformsTo"), GRAPH_STORE_PROTOCOL),
        ]
    for i, (name, count) in enumerate(sorted(stats.named.items())):
        named, graph = BlankNode(f"namedGraph{i}"), BlankNode(f"graph{i}")
        t += [
            Triple(dataset, _sd("namedGraph"), named),
            Triple(named, RDF_TYPE, _sd("NamedGraph")),
            Triple(named, _sd("name"), NamedNode(name)),
            Triple(named, _sd("graph"), graph),
            Triple(graph, RDF_TYPE, _sd("Graph")),
            Triple(graph, NamedNode(VOID + "triples"), _count(count)),
        ]
    return t


def _count(n: int) -> Literal:
    return Literal(str(n), datatype=XSD_INTEGER)


def serialize_description(triples: list[Triple], media_type: str) -> bytes:
    """The description in one of GRAPH_OFFERS."""
    fmt = RdfFormat.from_media_type(media_type)
    return serialize(triples, format=fmt, prefixes=SD_PREFIXES) or b""
