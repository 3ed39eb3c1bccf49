"""The RDF terms the Linked Data pages read, as module constants."""

from __future__ import annotations

from pyoxigraph import NamedNode

from sovkg.namespaces import PREFIXES

_RDF = PREFIXES["rdf"]
_RDFS = PREFIXES["rdfs"]
_OWL = PREFIXES["owl"]
_SKOS = PREFIXES["skos"]
_ORG = PREFIXES["org"]
_PROV = PREFIXES["prov"]
_OA = PREFIXES["oa"]
_SCHEMA = PREFIXES["schema"]
_KSAI = PREFIXES["ksai"]
_SH = PREFIXES["sh"]
_DCTERMS = PREFIXES["dcterms"]

RDF_TYPE = NamedNode(_RDF + "type")
RDFS_LABEL = NamedNode(_RDFS + "label")
RDFS_COMMENT = NamedNode(_RDFS + "comment")
RDFS_CLASS = NamedNode(_RDFS + "Class")
RDFS_SUBCLASS_OF = NamedNode(_RDFS + "subClassOf")
RDFS_SUBPROPERTY_OF = NamedNode(_RDFS + "subPropertyOf")
RDFS_DOMAIN = NamedNode(_RDFS + "domain")
RDFS_RANGE = NamedNode(_RDFS + "range")
RDF_PROPERTY = NamedNode(_RDF + "Property")
OWL_CLASS = NamedNode(_OWL + "Class")
OWL_ONTOLOGY = NamedNode(_OWL + "Ontology")
OWL_VERSION_INFO = NamedNode(_OWL + "versionInfo")
OWL_VERSION_IRI = NamedNode(_OWL + "versionIRI")
OWL_PROPERTY_TYPES = tuple(
    NamedNode(_OWL + t)
    for t in ("ObjectProperty", "DatatypeProperty", "AnnotationProperty", "FunctionalProperty")
)
SKOS_PREF_LABEL = NamedNode(_SKOS + "prefLabel")
SKOS_ALT_LABEL = NamedNode(_SKOS + "altLabel")
SKOS_DEFINITION = NamedNode(_SKOS + "definition")
SKOS_CONCEPT_SCHEME = NamedNode(_SKOS + "ConceptScheme")
SKOS_IN_SCHEME = NamedNode(_SKOS + "inScheme")
SKOS_EXAMPLE = NamedNode(_SKOS + "example")
ORG_MEMBERSHIP = NamedNode(_ORG + "Membership")
ORG_MEMBER = NamedNode(_ORG + "member")
ORG_ORGANIZATION = NamedNode(_ORG + "organization")
ORG_ROLE = NamedNode(_ORG + "role")
ORG_ROLE_PROPERTY = NamedNode(_ORG + "roleProperty")
ORG_MEMBER_OF = NamedNode(_ORG + "memberOf")
ORG_SUB_ORGANIZATION_OF = NamedNode(_ORG + "subOrganizationOf")
ORG_COLLABORATION = NamedNode(_ORG + "OrganizationalCollaboration")
#: types too general to say what kind of organisation something is
GENERIC_ORG_TYPES = frozenset(
    NamedNode(i)
    for i in (
        _ORG + "Organization",
        _ORG + "FormalOrganization",
        "http://xmlns.com/foaf/0.1/Organization",
        _PROV + "Agent",
    )
)
PROV_DERIVED_FROM = NamedNode(_PROV + "wasDerivedFrom")
OA_EXACT = NamedNode(_OA + "exact")
OA_HAS_SELECTOR = NamedNode(_OA + "hasSelector")
OA_HAS_SOURCE = NamedNode(_OA + "hasSource")
SCHEMA_NEWS_ARTICLE = NamedNode(_SCHEMA + "NewsArticle")
KSAI_STATUS = NamedNode(_KSAI + "status")
KSAI_ORGANIZATION_KIND = NamedNode(_KSAI + "organizationKind")
SH_NODE_SHAPE = NamedNode(_SH + "NodeShape")
DCTERMS_TITLE = NamedNode(_DCTERMS + "title")
DCTERMS_DESCRIPTION = NamedNode(_DCTERMS + "description")
DCTERMS_LICENSE = NamedNode(_DCTERMS + "license")
DCTERMS_SOURCE = NamedNode(_DCTERMS + "source")

#: the label properties, in the order they are preferred
LABEL_PROPERTIES = (SKOS_PREF_LABEL, RDFS_LABEL)
#: properties shown in a page's header rather than its property table
HEADER_PROPERTIES = frozenset({SKOS_PREF_LABEL, RDFS_LABEL, RDF_TYPE})


def local_name(iri: str) -> str:
    """The part of an IRI after its last ``#`` or ``/`` (what people call a term)."""
    for sep in ("#", "/"):
        if sep in iri:
            tail = iri.rsplit(sep, 1)[1]
            if tail:
                return tail
    return iri


def is_status_property(iri: str) -> bool:
    """Whether a property gives the status of a fact (``ksai:status``, ``adms:status`` …)."""
    return local_name(iri).lower() in {"status", "hasstatus"}
