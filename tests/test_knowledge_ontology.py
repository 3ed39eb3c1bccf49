"""The ontology: one version everywhere, terms documented in both languages, and consistent
under an OWL RL closure together with the graph."""

from __future__ import annotations

from pathlib import Path

import owlrl
import pytest
import rdflib
from rdflib.namespace import OWL, RDF, RDFS, SKOS

ROOT = Path(__file__).resolve().parent.parent
ONTOLOGY = rdflib.URIRef("https://w3id.org/ksai/ontology")
KSAI = "https://w3id.org/ksai/ontology#"
ERR = rdflib.Namespace("http://www.daml.org/2002/03/agents/agent-ont#")


def _parse(paths: list[Path]) -> rdflib.Graph:
    g = rdflib.Graph()
    for p in paths:
        g.parse(p, format="turtle")
    return g


@pytest.fixture(scope="module")
def ontology() -> rdflib.Graph:
    return _parse(sorted((ROOT / "ontology").glob("*.ttl")))


def test_header(ontology: rdflib.Graph):
    version = str(ontology.value(ONTOLOGY, OWL.versionInfo))
    assert ontology.value(ONTOLOGY, OWL.versionIRI) == rdflib.URIRef(f"{ONTOLOGY}/{version}")
    for p in ("license", "creator", "source", "title"):
        assert ontology.value(ONTOLOGY, rdflib.DCTERMS[p]) is not None, p
    assert (
        str(
            ontology.value(
                ONTOLOGY, rdflib.URIRef("http://purl.org/vocab/vann/preferredNamespacePrefix")
            )
        )
        == "ksai"
    )


def test_shapes_files_carry_the_ontology_version(ontology: rdflib.Graph):
    # The version is stated once in the ontology; every shapes file must repeat it.
    version = ontology.value(ONTOLOGY, OWL.versionInfo)
    for path in sorted((ROOT / "shapes").glob("*.ttl")):
        g = _parse([path])
        headers = list(g.subjects(RDF.type, OWL.Ontology))
        assert len(headers) == 1, path.name
        assert g.value(headers[0], OWL.versionInfo) == version, path.name
        assert g.value(headers[0], rdflib.DCTERMS.title) is not None, path.name


def test_every_term_is_documented_in_english_and_korean(ontology: rdflib.Graph):
    terms = {
        s
        for t in (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty)
        for s in ontology.subjects(RDF.type, t)
    }
    assert terms and all(str(t).startswith(KSAI) for t in terms)
    for term in terms:
        for p in (RDFS.label, RDFS.comment, SKOS.definition):
            langs = {o.language for o in ontology.objects(term, p)}
            assert {"en", "ko"} <= langs, (term, p)


def test_every_minted_term_is_aligned(ontology: rdflib.Graph):
    for cls in ontology.subjects(RDF.type, OWL.Class):
        assert ontology.value(cls, RDFS.subClassOf) is not None, cls


def test_owl_rl_closure_of_ontology_and_graph_is_consistent():
    g = _parse(sorted((ROOT / "ontology").glob("*.ttl")) + sorted((ROOT / "graph").glob("*.ttl")))
    owlrl.DeductiveClosure(owlrl.OWLRL_Semantics).expand(g)
    # owlrl reports inconsistencies as err:ErrorMessage nodes and types clashing things
    # as owl:Nothing.
    errors = [
        str(m) for e in g.subjects(RDF.type, ERR.ErrorMessage) for m in g.objects(e, ERR.error)
    ]
    assert errors == []
    assert list(g.subjects(RDF.type, OWL.Nothing)) == []
