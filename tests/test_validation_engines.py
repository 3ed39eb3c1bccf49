"""The fast engine (``shacl``) and the reference engine (pySHACL) give the same report.

Same conformance, and the same multiset of (focus node, source constraint component, severity)
-- and for our own shapes the same messages, paths, values and shapes too -- on:

- every DASH case of tests/shapes/ (against the shipped shapes),
- every test of the W3C SHACL core suite, copied in tests/w3c-shacl/ (where both must also
  match the suite's expected conformance),
- a sample of the broken graphs of tests/test_validation_mutations.py.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import rdflib
from rdflib.namespace import RDF, SH, Namespace
from sovkg.dataset import read_quads
from sovkg.errors import LoadError
from sovkg.validation import (
    ENGINES,
    Finding,
    Report,
    check_engine,
    read_shapes,
    validate_graph,
    validate_quads,
)

from tests.test_validation_mutations import LOST, WRONG, Broken

ROOT = Path(__file__).resolve().parent.parent
CASES = sorted((ROOT / "tests" / "shapes").glob("*.test.ttl"))
W3C = ROOT / "tests" / "w3c-shacl" / "core"
MF = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
SHT = Namespace("http://www.w3.org/ns/shacl-test#")


def _parse(paths: list[Path]) -> rdflib.Graph:
    g = rdflib.Graph()
    for p in paths:
        g.parse(p, format="turtle")
    return g


def _key(report: Report) -> tuple[bool, Counter]:
    """Conformance and the multiset of (focus, component, severity); blank nodes as one token."""
    out: Counter = Counter()
    g = report.graph
    for r in g.objects(None, SH.result):
        focus = g.value(r, SH.focusNode)
        out[
            (
                "_:b" if isinstance(focus, rdflib.BNode) else str(focus),
                str(g.value(r, SH.sourceConstraintComponent)),
                str(g.value(r, SH.resultSeverity)),
            )
        ] += 1
    return report.conforms, out


def _ours(findings: tuple[Finding, ...]) -> Counter:
    return Counter(findings)


@pytest.fixture(scope="module")
def shapes() -> rdflib.Graph:
    return _parse(sorted((ROOT / "shapes").glob("*.ttl")))


@pytest.fixture(scope="module")
def base_data() -> rdflib.Graph:
    return _parse(sorted((ROOT / "ontology").glob("*.ttl")) + [ROOT / "graph" / "sources.ttl"])


def test_engines_are_the_fast_one_then_the_reference():
    assert ENGINES == ("shacl", "pyshacl")


def test_an_unknown_engine_is_a_usage_error():
    with pytest.raises(LoadError, match="unknown SHACL engine 'jena'.*shacl, pyshacl"):
        check_engine("jena")


@pytest.mark.parametrize("case", CASES, ids=[c.name.removesuffix(".test.ttl") for c in CASES])
def test_engines_agree_on_dash_case(case: Path, shapes: rdflib.Graph, base_data: rdflib.Graph):
    data = rdflib.Graph()
    for t in base_data:
        data.add(t)
    data.parse(case, format="turtle")
    fast = validate_graph(data, shapes, "shacl")
    reference = validate_graph(data, shapes, "pyshacl")
    assert reference.findings  # every case breaks something (a recommendation at least)
    assert _key(fast) == _key(reference)
    assert _ours(fast.findings) == _ours(reference.findings)
    assert fast.text() == reference.text()


def _w3c_tests() -> list[tuple[str, Path, rdflib.term.Node, rdflib.Graph]]:
    tests = []
    # Each test file is its own manifest (mf:entries); manifest.ttl files only include them.
    for manifest in sorted(W3C.rglob("*.ttl")):
        g = rdflib.Graph().parse(manifest, format="turtle")
        for entry in g.subjects(RDF.type, SHT.Validate):
            action = g.value(entry, MF.action)
            data_file = Path(str(g.value(action, SHT.dataGraph)).removeprefix("file://"))
            name = f"{manifest.parent.name}/{data_file.name}"
            tests.append((name, manifest, entry, g))
    return sorted(tests, key=lambda t: t[0])


W3C_TESTS = _w3c_tests()


def test_the_w3c_core_suite_is_all_there():
    assert len(W3C_TESTS) >= 95


def _quads(manifest_graph: rdflib.Graph, entry: rdflib.term.Node, key: rdflib.URIRef):
    iri = str(manifest_graph.value(manifest_graph.value(entry, MF.action), key))
    return read_quads(Path(iri.removeprefix("file://")))


#: where pySHACL itself departs from the suite: rdflib reads "1"^^xsd:boolean as true and
#: rewrites the ill-typed "none"^^xsd:boolean, so it activates sh:uniqueLang "1" and misses the
#: ill-formed literal. The fast engine matches the suite there; pySHACL must still differ (if
#: it is fixed, this list must shrink).
PYSHACL_DEPARTS = {"property/uniqueLang-002-data.ttl"}


@pytest.mark.parametrize("test", W3C_TESTS, ids=[t[0] for t in W3C_TESTS])
def test_engines_agree_on_w3c_core_test(test: tuple):
    name, _, entry, g = test
    data = _quads(g, entry, SHT.dataGraph)
    shapes = _quads(g, entry, SHT.shapesGraph)
    expected = g.value(entry, MF.result)
    if expected == SHT.Failure:
        for engine in ENGINES:
            with pytest.raises(Exception):  # noqa: B017 - the suite says only "a failure"
                validate_quads(data, shapes, engine)
        return
    fast = validate_quads(data, shapes, "shacl")
    reference = validate_quads(data, shapes, "pyshacl")
    if name in PYSHACL_DEPARTS:
        assert _key(fast) != _key(reference), name
    else:
        assert _key(fast) == _key(reference), name
    # The suite counts any result (a warning too) as non-conforming; our reports let warnings pass.
    assert (not fast.findings) == bool(g.value(expected, SH.conforms).toPython()), name


SAMPLE = LOST + WRONG[::12]


@pytest.mark.parametrize("broken", SAMPLE, ids=[b.name for b in SAMPLE])
def test_engines_agree_on_broken_graph(broken: Broken):
    shapes = read_shapes()
    fast = validate_quads(broken.triples, shapes, "shacl")
    reference = validate_quads(broken.triples, shapes, "pyshacl")
    assert not fast.conforms
    assert _key(fast) == _key(reference)
    assert fast.text() == reference.text()
    assert fast.serialize("turtle") and reference.serialize("json-ld")
