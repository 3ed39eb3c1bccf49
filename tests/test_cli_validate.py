"""``sovkg validate``: exit codes, reports and errors a person can act on."""

from __future__ import annotations

import json
from pathlib import Path

import rdflib

from tests.support.server import run_sovkg

SHAPES = """@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix ex: <http://example.org/> .
ex:Thing_Shape a sh:NodeShape ; sh:targetClass ex:Thing ;
  sh:property [ sh:path ex:name ; sh:minCount 1 ; sh:severity sh:Violation ;
                sh:message "A thing needs a name."@en ] .
"""
RDF_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
GOOD = (
    f"<http://example.org/a> {RDF_TYPE} <http://example.org/Thing> .\n"
    '<http://example.org/a> <http://example.org/name> "A" .\n'
)
BAD = "<http://example.org/b> a <http://example.org/Thing> .\n"


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_graph_conforms() -> None:
    r = run_sovkg("validate")
    assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()
    assert r.stdout.decode().startswith("Conforms")


def test_conforming_file_exits_0(tmp_path: Path) -> None:
    shapes = _write(tmp_path, "shapes.ttl", SHAPES)
    r = run_sovkg("validate", str(_write(tmp_path, "good.nt", GOOD)), "--shapes", str(shapes))
    assert r.returncode == 0


def test_violation_exits_1_and_names_focus_and_message(tmp_path: Path) -> None:
    shapes = _write(tmp_path, "shapes.ttl", SHAPES)
    r = run_sovkg("validate", str(_write(tmp_path, "bad.ttl", BAD)), "--shapes", str(shapes))
    assert r.returncode == 1
    out = r.stdout.decode()
    assert out.startswith("Does not conform: 1 violation")
    assert "<http://example.org/b>" in out
    assert "A thing needs a name." in out


def test_turtle_report_is_a_shacl_report(tmp_path: Path) -> None:
    shapes = _write(tmp_path, "shapes.ttl", SHAPES)
    bad = _write(tmp_path, "bad.ttl", BAD)
    r = run_sovkg("validate", str(bad), "--shapes", str(shapes), "--format", "turtle")
    assert r.returncode == 1
    g = rdflib.Graph().parse(data=r.stdout.decode(), format="turtle")
    sh = rdflib.Namespace("http://www.w3.org/ns/shacl#")
    report = g.value(predicate=rdflib.RDF.type, object=sh.ValidationReport, any=False)
    assert g.value(report, sh.conforms).toPython() is False
    assert (None, sh.focusNode, rdflib.URIRef("http://example.org/b")) in g


def test_json_report_is_json_ld(tmp_path: Path) -> None:
    shapes = _write(tmp_path, "shapes.ttl", SHAPES)
    good = _write(
        tmp_path,
        "good.jsonld",
        json.dumps(
            {
                "@id": "http://example.org/a",
                "@type": "http://example.org/Thing",
                "http://example.org/name": "A",
            }
        ),
    )
    r = run_sovkg("validate", str(good), "--shapes", str(shapes), "--format", "json")
    assert r.returncode == 0
    g = rdflib.Graph().parse(data=r.stdout.decode(), format="json-ld")
    assert len(g) > 0


def test_every_input_syntax_is_read(tmp_path: Path) -> None:
    shapes = _write(tmp_path, "shapes.ttl", SHAPES)
    files = {
        "g.ttl": GOOD,
        "g.nt": GOOD,
        "g.nq": GOOD.replace(" .", " <http://example.org/g> ."),
        "g.trig": "<http://example.org/g> { " + GOOD + " }",
        "g.rdf": rdflib.Graph().parse(data=GOOD, format="nt").serialize(format="xml"),
    }
    for name, text in files.items():
        r = run_sovkg("validate", str(_write(tmp_path, name, text)), "--shapes", str(shapes))
        assert r.returncode == 0, (name, r.stderr.decode())


def test_broken_turtle_exits_2_with_file_and_line(tmp_path: Path) -> None:
    bad = _write(
        tmp_path, "broken.ttl", "@prefix ex: <http://example.org/> .\nex:a ex:b ex:c ;\n  ex:d\n"
    )
    r = run_sovkg("validate", str(bad))
    assert r.returncode == 2
    err = r.stderr.decode()
    assert "broken.ttl" in err and "line 4" in err
    assert "Traceback" not in err


def test_missing_file_exits_2(tmp_path: Path) -> None:
    r = run_sovkg("validate", str(tmp_path / "nowhere.ttl"))
    assert r.returncode == 2
    assert "nowhere.ttl: no such file" in r.stderr.decode()


def test_unknown_extension_exits_2(tmp_path: Path) -> None:
    r = run_sovkg("validate", str(_write(tmp_path, "data.csv", "a,b\n")))
    assert r.returncode == 2
    err = r.stderr.decode()
    assert "data.csv" in err and ".ttl" in err and "Traceback" not in err


def test_shapes_file_without_shapes_exits_2(tmp_path: Path) -> None:
    not_shapes = _write(tmp_path, "plain.ttl", GOOD)
    r = run_sovkg("validate", "--shapes", str(not_shapes))
    assert r.returncode == 2
    assert "no SHACL shapes found" in r.stderr.decode()


def test_unknown_report_format_is_a_usage_error() -> None:
    r = run_sovkg("validate", "--format", "yaml")
    assert r.returncode == 2
    assert "invalid choice" in r.stderr.decode()
