"""SHACL shapes: the shipped graph conforms, and each DASH test case in tests/shapes/ breaks
exactly the constraint it names, with the report it expects.

Each case is validated against the shipped shapes (shapes/*.ttl), so a test breaks when a
shipped shape does. The data graph is the shipped ontology, graph/sources.ttl (so cases can
cite real passages) and the case's own data, as in `sovkg validate`, with no inference.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import rdflib
from pyshacl import validate
from rdflib.namespace import RDF, SH, Namespace
from sovkg.validation import validate_files

DASH = Namespace("http://datashapes.org/dash#")

ROOT = Path(__file__).resolve().parent.parent
CASES = sorted((ROOT / "tests" / "shapes").glob("*.test.ttl"))
SHAPE_FILES = sorted((ROOT / "shapes").glob("*.ttl"))


def _parse(paths: list[Path]) -> rdflib.Graph:
    g = rdflib.Graph()
    for p in paths:
        g.parse(p, format="turtle")
    return g


@pytest.fixture(scope="module")
def shapes() -> rdflib.Graph:
    return _parse(SHAPE_FILES)


@pytest.fixture(scope="module")
def base_data() -> rdflib.Graph:
    return _parse(sorted((ROOT / "ontology").glob("*.ttl")) + [ROOT / "graph" / "sources.ttl"])


def test_shipped_graph_conforms_without_findings():
    # No violations and no warnings: every recommendation holds for the shipped graph.
    report = validate_files()
    assert report.conforms, report.text()
    assert report.findings == (), report.text()


def test_there_is_a_case_per_shape_file_concern():
    assert len(CASES) >= 20


@pytest.mark.parametrize("case", CASES, ids=[c.name.removesuffix(".test.ttl") for c in CASES])
def test_dash_case(case: Path, shapes: rdflib.Graph, base_data: rdflib.Graph):
    test_graph = _parse([case])
    assert any(test_graph.subjects(RDF.type, DASH.GraphValidationTestCase))
    data = rdflib.Graph()
    for t in base_data:
        data.add(t)
    for t in test_graph:
        data.add(t)
    shapes_and_case = rdflib.Graph()
    for t in shapes:
        shapes_and_case.add(t)
    for t in test_graph:
        shapes_and_case.add(t)
    # check_dash_result reads the expected report from the shapes graph.
    passed, _, text = validate(
        data,
        shacl_graph=shapes_and_case,
        inference="none",
        allow_warnings=True,
        check_dash_result=True,
        advanced=True,  # the dangling-IRI shape uses a SHACL-AF SPARQL target
    )
    assert passed, text


# The mistakes the shapes must catch, each by the shape that catches it.
REQUIRED = {
    "fact without provenance": "Fact-wasDerivedFrom",
    "fact without status": "Fact-status",
    "team without exactly one lead": "Consortium-lead",
    "member that is not an organisation": "Consortium-member-class",
    "amount not an integer": "MonetaryAmount-value",
    "currency not ISO 4217": "MonetaryAmount-currency-iso4217",
    "concept outside its scheme": "Fact-status-scheme",
    "missing Korean label": "Resource-prefLabel-ko",
    "missing English label": "Resource-label-en",
    "date of the wrong datatype": "Instant-date",
    "dangling IRI": "ReferencedResource-type",
    # provenance, classes and vocabularies
    "described thing without provenance": "Described-wasDerivedFrom",
    "link to a thing of the wrong kind": "Event-about-class",
    "passage without the project's translation": "Passage-translation",
    "event without a kind": "Event-eventKind",
    "year part on a day": "YearPart-year",
    "inference not naming its property": "Inference-inferredProperty",
}


@pytest.fixture(scope="module")
def expected_source_shapes() -> set[rdflib.term.Node]:
    return set(_parse(CASES).objects(None, SH.sourceShape))


@pytest.mark.parametrize("mistake", sorted(REQUIRED))
def test_each_listed_mistake_has_a_failing_case(
    mistake: str, shapes: rdflib.Graph, expected_source_shapes: set[rdflib.term.Node]
):
    shape = rdflib.URIRef("https://w3id.org/ksai/shapes#" + REQUIRED[mistake])
    assert (shape, RDF.type, SH.PropertyShape) in shapes
    assert shape in expected_source_shapes, mistake
