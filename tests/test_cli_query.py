"""``sovkg query``: tables, standard result formats, syntax errors."""

from __future__ import annotations

import json
from pathlib import Path

from pyoxigraph import QueryResultsFormat, parse_query_results
from sovkg.cli import main
from sovkg.sparql.syntax import PREFIX_HELP

from tests.support.server import run_sovkg

COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"


def test_table_lists_rows_and_count(store, capsys) -> None:
    assert main(["query", "SELECT ?c WHERE { ?c a owl:Class } ORDER BY ?c LIMIT 3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].strip() == "c"
    assert out[-1] in {"(1 row)", "(2 rows)", "(3 rows)"}
    assert any(line.startswith("ksai:") for line in out[2:-1])


def test_json_matches_the_store(store, capsys) -> None:
    assert main(["query", COUNT, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    expected = next(iter(store.query(COUNT, use_default_graph_as_union=True)))["n"].value
    assert data["results"]["bindings"][0]["n"]["value"] == expected


def test_every_result_format_parses(capsys) -> None:
    for name, fmt in {
        "json": QueryResultsFormat.JSON,
        "xml": QueryResultsFormat.XML,
        "csv": QueryResultsFormat.CSV,
        "tsv": QueryResultsFormat.TSV,
    }.items():
        assert main(["query", COUNT, "--format", name]) == 0
        out = capsys.readouterr().out.encode()
        if fmt is QueryResultsFormat.CSV:
            assert out.splitlines()[0] == b"n"
            continue
        rows = list(parse_query_results(out, format=fmt))
        assert len(rows) == 1


def test_ask_and_construct(capsys) -> None:
    assert main(["query", "ASK { ?s a owl:Ontology }"]) == 0
    assert capsys.readouterr().out == "true\n"
    assert main(["query", "CONSTRUCT { ?s a owl:Ontology } WHERE { ?s a owl:Ontology }"]) == 0
    assert "owl:Ontology" in capsys.readouterr().out


def test_query_from_file(tmp_path: Path, capsys) -> None:
    rq = tmp_path / "q.rq"
    rq.write_text("ASK { ?s a owl:Ontology }", encoding="utf-8")
    assert main(["query", f"@{rq}"]) == 0
    assert capsys.readouterr().out == "true\n"


def test_missing_query_file_exits_2(tmp_path: Path) -> None:
    r = run_sovkg("query", f"@{tmp_path / 'none.rq'}")
    assert r.returncode == 2
    assert "cannot read query file" in r.stderr.decode()


def test_syntax_error_exits_1_with_position() -> None:
    r = run_sovkg("query", "SELECT * WHERE { ?s }")
    assert r.returncode == 1
    err = r.stderr.decode()
    assert "SPARQL syntax error" in err and "1:" in err
    assert "Traceback" not in err


def test_undeclared_prefix_is_named_as_over_http() -> None:
    r = run_sovkg("query", "SELECT ?x WHERE {\n  ?x foo:bar ?y }")
    assert r.returncode == 1
    first, *rest = r.stderr.decode().splitlines()
    assert first.startswith("sovkg: SPARQL syntax error: line 2, column ")
    assert first.endswith(
        ": the prefix 'foo:' is not declared; add 'PREFIX foo: <namespace>' at the top, "
        f"or use a predeclared one ({PREFIX_HELP})"
    )
    assert rest and rest[0].startswith("parser: ")


def test_from_clause_replaces_the_union_default_graph(capsys) -> None:
    everything = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    only_ontology = (
        "SELECT (COUNT(*) AS ?n) FROM <https://w3id.org/ksai/graph/ontology/ksai> "
        "WHERE { ?s ?p ?o }"
    )
    counts = []
    for q in (everything, only_ontology):
        assert main(["query", q, "--format", "csv"]) == 0
        counts.append(int(capsys.readouterr().out.splitlines()[1]))
    assert 0 < counts[1] < counts[0]
