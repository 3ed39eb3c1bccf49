"""Run one SHACL engine once on one data file, in this process, and print what it found.

    /usr/bin/time -v python benchmarks/validation/engines.py --engine shacl --data kg-1e6.nq

The data (N-Quads, as benchmarks/scale/generate.py writes it; the ontology is in it) is read
into one graph, graph names dropped, as ``sovkg validate`` does. The shapes are shapes/*.ttl.
Prints one JSON line: engine, triples, seconds spent in the engine (parsing included), number
of results and whether the data conforms. Peak memory is what /usr/bin/time reports.

The engines other than pySHACL and ``shacl`` are not project dependencies: install them in a
scratch venv to run this (``pip install shacl-rust pyshacl-turbo pyrudof``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from pathlib import Path

import pyshacl
import rdflib
from pyoxigraph import RdfFormat, parse, serialize

ROOT = Path(__file__).resolve().parents[2]


def ntriples(path: Path) -> bytes:
    """The quads of an N-Quads file as N-Triples (graph names dropped; duplicates kept)."""
    triples = (q.triple for q in parse(path=str(path), format=RdfFormat.N_QUADS))
    return serialize(triples, format=RdfFormat.N_TRIPLES) or b""


def shapes_turtle() -> str:
    """All shapes files as one Turtle text (each file is self-contained Turtle)."""
    return "\n".join(p.read_text("utf-8") for p in sorted((ROOT / "shapes").glob("*.ttl")))


def run(engine: str, data: bytes, shapes: str) -> tuple[int, bool]:
    """(number of results, conforms) from one engine."""
    if engine == "pyshacl":
        g = rdflib.Graph().parse(data=data, format="nt")
        sg = rdflib.Graph().parse(data=shapes, format="turtle")
        conforms, report, _ = pyshacl.validate(
            g, shacl_graph=sg, inference="none", allow_warnings=True, advanced=True
        )
        n = len(set(report.subjects(rdflib.RDF.type, rdflib.SH.ValidationResult)))
        return n, bool(conforms)
    if engine == "shacl":
        shacl = importlib.import_module("shacl")

        r = shacl.Shapes.from_turtle(shapes).validate_text(
            data.decode("utf-8"), format="ntriples", allow_warnings=True
        )
        return len(r.results), bool(r.conforms)
    if engine == "shacl-rust":
        shacl_rust = importlib.import_module("shacl_rust")  # optional: not a dependency

        d = shacl_rust.validate(data.decode("utf-8"), shapes, data_format="nt")
        return len(d["results"]), bool(d["conforms"])
    if engine == "pyshacl-turbo":
        pyshacl_turbo = importlib.import_module("pyshacl_turbo")  # optional: not a dependency

        g = rdflib.Graph().parse(data=data, format="nt")
        sg = rdflib.Graph().parse(data=shapes, format="turtle")
        conforms, report, _ = pyshacl_turbo.validate(
            g, shacl_graph=sg, inference="none", allow_warnings=True, advanced=True
        )
        n = len(set(report.subjects(rdflib.RDF.type, rdflib.SH.ValidationResult)))
        return n, bool(conforms)
    if engine == "pyrudof":
        pyrudof = importlib.import_module("pyrudof")  # optional: not a dependency

        r = pyrudof.Rudof(pyrudof.RudofConfig())
        r.read_data(data.decode("utf-8"), format=pyrudof.RDFFormat.NTriples)
        r.read_shacl(shapes)
        rep = r.validate_shacl()
        return len(rep), bool(rep.conforms)
    raise SystemExit(f"unknown engine {engine}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--engine", required=True)
    ap.add_argument("--data", type=Path, required=True)
    args = ap.parse_args()
    t = time.perf_counter()
    data = ntriples(args.data)
    shapes = shapes_turtle()
    results, conforms = run(args.engine, data, shapes)
    out = {
        "engine": args.engine,
        "triples": data.count(b"\n"),
        "seconds": round(time.perf_counter() - t, 2),
        "results": results,
        "conforms": conforms,
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
