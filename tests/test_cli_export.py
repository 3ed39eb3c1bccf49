"""``sovkg export``: every syntax round-trips to the store's content, byte-stable."""

from __future__ import annotations

import io

import pytest
import rdflib
from pyoxigraph import DefaultGraph, Quad, RdfFormat, Store, parse
from rdflib.compare import isomorphic
from sovkg.dataset import open_store
from sovkg.export import export_dataset
from sovkg.formats import RDF_FORMATS, RDFLIB_NAMES

from tests.support.server import run_sovkg


def _union(store: Store) -> rdflib.Graph:
    g = rdflib.Graph()
    for q in store:
        g.parse(data=f"{q.subject} {q.predicate} {q.object} .", format="nt")
    return g


@pytest.fixture(scope="module")
def union(store) -> rdflib.Graph:
    return _union(store)


@pytest.mark.parametrize("name", list(RDF_FORMATS))
def test_rdflib_reads_back_the_same_graph(store, union, name) -> None:
    fmt = RDF_FORMATS[name]
    data = export_dataset(store, fmt)
    if fmt.supports_datasets:
        ds = rdflib.Dataset()
        ds.parse(data=data, format=RDFLIB_NAMES[fmt])
        back = rdflib.Graph()
        for s, p, o, _ in ds.quads():
            back.add((s, p, o))
    else:
        back = rdflib.Graph().parse(data=data, format=RDFLIB_NAMES[fmt])
    assert isomorphic(back, union)


@pytest.mark.parametrize("name", list(RDF_FORMATS))
def test_pyoxigraph_reads_back_the_same_quads(store, name) -> None:
    fmt = RDF_FORMATS[name]
    back = Store()
    back.extend(parse(io.BytesIO(export_dataset(store, fmt)), format=fmt))
    if fmt.supports_datasets:
        assert set(back) == set(store)  # the shipped graph has no blank nodes
    else:
        expected = {Quad(q.subject, q.predicate, q.object, DefaultGraph()) for q in store}
        assert set(back) == expected


def test_named_graphs_survive_in_dataset_syntaxes(store) -> None:
    data = export_dataset(store, RdfFormat.TRIG)
    graphs = {q.graph_name for q in parse(data, format=RdfFormat.TRIG)}
    assert graphs == set(store.named_graphs())


def test_blank_nodes_get_stable_labels(tmp_path) -> None:
    extra = tmp_path / "extra.ttl"
    extra.write_text("<http://example.org/a> <http://example.org/p> [ <http://example.org/q> 1 ] .")
    first = export_dataset(open_store(None, [extra]), RdfFormat.N_QUADS)
    second = export_dataset(open_store(None, [extra]), RdfFormat.N_QUADS)
    assert first == second


@pytest.mark.parametrize("name", ["turtle", "jsonld"])
def test_two_runs_give_identical_bytes(tmp_path, name) -> None:
    outs = []
    for i in range(2):
        target = tmp_path / f"dump{i}"
        r = run_sovkg("export", "--format", name, "--output", str(target))
        assert r.returncode == 0, r.stderr.decode()
        outs.append(target.read_bytes())
    assert outs[0] == outs[1] and len(outs[0]) > 0


def test_stdout_is_the_default_output() -> None:
    r = run_sovkg("export", "--format", "ntriples")
    assert r.returncode == 0
    assert r.stdout.endswith(b" .\n")


def test_unknown_format_is_a_usage_error() -> None:
    r = run_sovkg("export", "--format", "csv")
    assert r.returncode == 2
    assert "invalid choice" in r.stderr.decode()
