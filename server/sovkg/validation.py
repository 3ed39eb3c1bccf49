"""SHACL validation of RDF data against the project's shapes (or any shapes).

Two engines give the same report (conformance, and the same focus node x source constraint
component x severity for every result; tests/test_validation_engines.py proves it on the DASH
cases, the W3C SHACL core suite and a set of broken graphs):

- ``shacl`` (the default): a Rust engine, about 100x faster than pySHACL at 10^5 triples and
  linear in the graph's size, so that 10^6 triples validate in well under a minute;
- ``pyshacl``: the reference implementation, pure Python, super-linear past 10^5 triples.

No inference is run: the shapes are written to give the same verdict in any core SHACL engine
(plus SHACL-AF SPARQL targets) when the ontology is part of the data graph. Warnings and infos
are reported but do not make the data non-conforming; only violations do.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import BinaryIO

import rdflib
import shacl
from pyoxigraph import Quad, RdfFormat, Store, Triple, parse, serialize
from pyshacl import validate as pyshacl_validate
from rdflib.namespace import RDF, SH

from sovkg.config import SHACL_ENGINES, cache_dir
from sovkg.dataset import read_quads, syntax_message
from sovkg.errors import LoadError
from sovkg.formats import rdf_format_for_path
from sovkg.rdfinput import InputRefused, check_file_depth
from sovkg.resources import data_files

_SHAPE_MARKERS = (SH.NodeShape, SH.PropertyShape)
#: the engines ``--engine`` accepts; the first is the default
ENGINES = SHACL_ENGINES
DEFAULT_ENGINE = ENGINES[0]
_SEVERITY_ORDER = {"Violation": 0, "Warning": 1, "Info": 2}


@dataclass(frozen=True)
class Finding:
    """One validation result, flattened for people."""

    severity: str
    focus: str
    path: str | None
    value: str | None
    messages: tuple[str, ...]
    shape: str
    component: str


@dataclass(frozen=True)
class Report:
    """The outcome of a validation: the SHACL report graph and its findings."""

    conforms: bool
    graph: rdflib.Graph
    findings: tuple[Finding, ...]

    @property
    def violations(self) -> int:
        """How many results are violations (the ones that fail validation)."""
        return sum(f.severity == "Violation" for f in self.findings)

    def text(self) -> str:
        """A readable report: a summary line, then one block per finding."""
        counts: dict[str, int] = {}
        for f in self.findings:
            counts[f.severity] = counts.get(f.severity, 0) + 1
        summary = ", ".join(f"{n} {s.lower()}{'s' if n != 1 else ''}" for s, n in counts.items())
        head = "Conforms" if self.conforms else "Does not conform"
        lines = [f"{head}: {summary or 'no findings'}."]
        for f in self.findings:
            lines.append("")
            lines.append(f"{f.severity}: {f.focus}")
            if f.path:
                lines.append(f"  path:    {f.path}")
            if f.value:
                lines.append(f"  value:   {f.value}")
            for m in f.messages:
                lines.append(f"  message: {m}")
            lines.append(f"  shape:   {f.shape} ({f.component})")
        return "\n".join(lines) + "\n"

    def serialize(self, fmt: str) -> str:
        """The SHACL report graph in an rdflib syntax name (``turtle``, ``json-ld``)."""
        return self.graph.serialize(format=fmt)


def quads_to_rdflib(quads: Iterable[Quad | Triple]) -> rdflib.Graph:
    """An rdflib graph with the triples of the quads (graph names dropped)."""
    triples = [Triple(q.subject, q.predicate, q.object) for q in quads]
    g = rdflib.Graph()
    if triples:
        g.parse(data=serialize(triples, format=RdfFormat.N_TRIPLES), format="nt")
    return g


def read_graph(paths: Iterable[Path]) -> rdflib.Graph:
    """Read RDF files (syntax from the extension) into one rdflib graph; LoadError if unreadable."""
    quads: list[Quad] = []
    for p in paths:
        quads.extend(read_quads(Path(p)))
    return quads_to_rdflib(quads)


def shipped_data_paths(include_data: bool = True) -> list[Path]:
    """The ontology files, and the graph files unless ``include_data`` is false."""
    return data_files("ontology") + (data_files("graph") if include_data else [])


def read_shapes(paths: Iterable[Path] | None = None) -> rdflib.Graph:
    """The shapes graph: the shipped shapes, or the given files, which must hold SHACL shapes."""
    paths = list(paths) if paths else data_files("shapes")
    g = read_graph(paths)
    if not any((None, RDF.type, marker) in g for marker in _SHAPE_MARKERS) and not any(
        g.triples((None, SH.targetClass, None))
    ):
        names = ", ".join(str(p) for p in paths)
        raise LoadError(f"{names}: no SHACL shapes found (no sh:NodeShape or sh:PropertyShape)")
    return g


def _show(g: rdflib.Graph, term: rdflib.term.Node | None) -> str | None:
    if term is None:
        return None
    if isinstance(term, rdflib.URIRef):
        return term.n3(g.namespace_manager)
    if isinstance(term, rdflib.BNode):
        path = g.value(term, SH.inversePath)
        return f"^{_show(g, path)}" if path is not None else "[complex path]"
    return term.n3()


def _findings(report: rdflib.Graph) -> tuple[Finding, ...]:
    # The report's own results only: pySHACL also types the nested sh:detail results of
    # sh:node and sh:or as sh:ValidationResult, which other engines do not emit.
    out = []
    for r in report.objects(None, SH.result):
        severity = report.value(r, SH.resultSeverity)
        out.append(
            Finding(
                severity=str(severity).rsplit("#", 1)[-1],
                focus=_show(report, report.value(r, SH.focusNode)) or "",
                path=_show(report, report.value(r, SH.resultPath)),
                value=_show(report, report.value(r, SH.value)),
                messages=tuple(sorted(str(m) for m in report.objects(r, SH.resultMessage))),
                shape=_show(report, report.value(r, SH.sourceShape)) or "",
                component=_show(report, report.value(r, SH.sourceConstraintComponent)) or "",
            )
        )
    # every field in the key: engines list their results in different orders
    out.sort(
        key=lambda f: (
            _SEVERITY_ORDER.get(f.severity, 9),
            f.focus,
            f.path or "",
            f.messages,
            f.value or "",
            f.shape or "",
            f.component or "",
        )
    )
    return tuple(out)


def check_engine(engine: str) -> str:
    """The engine name, or a LoadError naming the known ones (a usage error, exit code 2)."""
    if engine not in ENGINES:
        raise LoadError(f"unknown SHACL engine {engine!r}: use one of {', '.join(ENGINES)}")
    return engine


def _bind_prefixes(report: rdflib.Graph, *sources: rdflib.Graph) -> None:
    for g in sources:
        for prefix, ns in g.namespaces():
            report.bind(prefix, ns, override=False)


def _pyshacl(data: rdflib.Graph, shapes: rdflib.Graph) -> rdflib.Graph:
    _, report, _ = pyshacl_validate(
        data, shacl_graph=shapes, inference="none", allow_warnings=True, advanced=True
    )
    return report


def _shacl(data_ntriples: str, shapes_ntriples: str) -> rdflib.Graph:
    compiled = shacl.Shapes.from_text(shapes_ntriples, format="ntriples")
    result = compiled.validate_text(data_ntriples, format="ntriples", allow_warnings=True)
    report = rdflib.Graph()
    report.parse(data=result.serialize("ntriples"), format="nt")
    return report


def _ntriples(g: rdflib.Graph) -> str:
    return g.serialize(format="nt")


def _quads_ntriples(quads: Iterable[Quad | Triple]) -> str:
    triples = [Triple(q.subject, q.predicate, q.object) for q in quads]
    return (serialize(triples, format=RdfFormat.N_TRIPLES) or b"").decode("utf-8")


def _report(graph: rdflib.Graph) -> Report:
    # Conformance from the results, the same way for every engine: only sh:Violation fails
    # (pySHACL's allow_warnings also fails on a severity of the shapes' own making).
    findings = _findings(graph)
    return Report(
        conforms=not any(f.severity == "Violation" for f in findings),
        graph=graph,
        findings=findings,
    )


def validate_graph(
    data: rdflib.Graph, shapes: rdflib.Graph, engine: str = DEFAULT_ENGINE
) -> Report:
    """Validate ``data`` against ``shapes`` without inference; only violations fail."""
    if check_engine(engine) == "pyshacl":
        report = _pyshacl(data, shapes)
    else:
        report = _shacl(_ntriples(data), _ntriples(shapes))
    _bind_prefixes(report, shapes, data)
    return _report(report)


def validate_quads(
    data: Iterable[Quad | Triple],
    shapes: rdflib.Graph | Sequence[Quad | Triple],
    engine: str = DEFAULT_ENGINE,
) -> Report:
    """Validate quads (graph names dropped) against ``shapes`` (a graph, or quads as read).

    The data never enters rdflib unless the engine is pySHACL, so large graphs cost the fast
    engine's memory only; quads also keep every literal as written (rdflib rewrites some
    ill-typed ones, such as "1"^^xsd:boolean, on the way through).
    """
    if check_engine(engine) == "pyshacl":
        graph = shapes if isinstance(shapes, rdflib.Graph) else quads_to_rdflib(shapes)
        return validate_graph(quads_to_rdflib(data), graph, engine)
    if isinstance(shapes, rdflib.Graph):
        shapes_text, prefixes = _ntriples(shapes), shapes
    else:
        shapes_text, prefixes = _quads_ntriples(shapes), rdflib.Graph()
    report = _shacl(_quads_ntriples(data), shapes_text)
    _bind_prefixes(report, prefixes)
    return _report(report)


def validate_files(
    files: Iterable[Path] = (),
    shapes: Iterable[Path] | None = None,
    with_ontology: bool = True,
    engine: str = DEFAULT_ENGINE,
) -> Report:
    """Validate files (or, with none, the shipped graph) against shapes (default: ours).

    The ontology is added to the data graph so class targets see subclasses, as a core SHACL
    engine does from the data graph's rdfs:subClassOf triples.
    """
    files = list(files)
    paths = shipped_data_paths(include_data=not files) if with_ontology or not files else []
    shapes_graph = read_shapes(shapes)
    if check_engine(engine) == "pyshacl":
        quads: list[Quad] = []
        for p in paths + files:
            quads.extend(read_quads(Path(p)))
        return validate_quads(quads, shapes_graph, engine)
    with tempfile.TemporaryDirectory(prefix="sovkg-validate-") as tmp:
        data = Path(tmp) / "data.nt"
        with data.open("wb") as out:
            for p in paths + files:
                _write_ntriples(Path(p), out)
        compiled = shacl.Shapes.from_text(_ntriples(shapes_graph), format="ntriples")
        result = compiled.validate_file(str(data), allow_warnings=True)
    report = rdflib.Graph()
    report.parse(data=result.serialize("ntriples"), format="nt")
    _bind_prefixes(report, shapes_graph)
    return _report(report)


def _write_ntriples(path: Path, out: BinaryIO) -> None:
    """Append one file to ``out`` as N-Triples, streamed from the parser: no Python object per
    triple is kept (at 10^7 triples a list of quads alone costs gigabytes)."""
    fmt = rdf_format_for_path(path)
    if fmt == RdfFormat.RDF_XML or not path.is_file():
        out.write(_quads_ntriples(read_quads(path)).encode())  # the input guard, "no such file"
        return
    try:
        check_file_depth(str(path), fmt)  # past it pyoxigraph would overflow its stack
        triples = (
            q.triple for q in parse(path=str(path), format=fmt, base_iri=path.resolve().as_uri())
        )
        serialize(triples, out, format=RdfFormat.N_TRIPLES)
    except InputRefused as e:
        raise LoadError(f"{path}: refused: {e}") from None
    except SyntaxError as e:
        raise LoadError(f"{path}: {syntax_message(e)}") from None
    except (OSError, ValueError) as e:
        raise LoadError(f"{path}: {e}") from None


def store_digest(
    store: Store, shapes: Iterable[Path] | None = None, engine: str = DEFAULT_ENGINE
) -> str:
    """SHA-256 of the engine and its version, the store's statements (sorted N-Quads) and the
    shapes files' bytes."""
    h = hashlib.sha256(f"{engine} {version(engine)}\n".encode())
    for line in sorted((store.dump(format=RdfFormat.N_QUADS) or b"").splitlines()):
        h.update(line + b"\n")
    for p in sorted(Path(x) for x in (shapes or data_files("shapes"))):
        h.update(p.name.encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def validate_store(
    store: Store, shapes: Iterable[Path] | None = None, engine: str = DEFAULT_ENGINE
) -> Report | None:
    """Validate a store's union graph; None when identical content already conformed before.

    A conforming verdict is remembered under the content digest, so a restart on the same data
    and shapes skips SHACL entirely (cold start stays fast); a failing one is never cached.
    """
    shapes = list(shapes) if shapes else None
    digest = store_digest(store, shapes, check_engine(engine))
    marker = cache_dir() / "validated" / digest
    if marker.is_file():
        return None
    report = validate_quads(store, read_shapes(shapes), engine)
    if report.conforms:
        try:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text(report.text(), encoding="utf-8")
        except OSError:
            pass  # a read-only home only costs the next start a validation
    return report
