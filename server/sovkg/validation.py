"""SHACL validation of RDF data against the project's shapes (or any shapes), with pySHACL.

No inference is run: the shapes are written to give the same verdict in any core SHACL engine
when the ontology is part of the data graph. Warnings and infos are reported but do not make
the data non-conforming; only violations do.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import rdflib
from pyoxigraph import Quad, RdfFormat, Store, Triple, serialize
from rdflib.namespace import RDF, SH

from sovkg.dataset import LoadError, read_quads
from sovkg.resources import data_files

_SHAPE_MARKERS = (SH.NodeShape, SH.PropertyShape)
_SEVERITY_ORDER = {SH.Violation: 0, SH.Warning: 1, SH.Info: 2}


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
    out = []
    for r in report.subjects(RDF.type, SH.ValidationResult):
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
    out.sort(
        key=lambda f: (_SEVERITY_ORDER.get(SH[f.severity], 9), f.focus, f.path or "", f.messages)
    )
    return tuple(out)


def validate_graph(data: rdflib.Graph, shapes: rdflib.Graph) -> Report:
    """Validate ``data`` against ``shapes`` without inference; only violations fail."""
    from pyshacl import validate as pyshacl_validate  # slow to import: only when validating

    conforms, report, _ = pyshacl_validate(
        data, shacl_graph=shapes, inference="none", allow_warnings=True, advanced=True
    )
    for prefix, ns in shapes.namespaces():
        report.bind(prefix, ns, override=False)
    for prefix, ns in data.namespaces():
        report.bind(prefix, ns, override=False)
    return Report(conforms=bool(conforms), graph=report, findings=_findings(report))


def validate_files(
    files: Iterable[Path] = (), shapes: Iterable[Path] | None = None, with_ontology: bool = True
) -> Report:
    """Validate files (or, with none, the shipped graph) against shapes (default: ours).

    The ontology is added to the data graph so class targets see subclasses, as a core SHACL
    engine does from the data graph's rdfs:subClassOf triples.
    """
    files = list(files)
    paths = shipped_data_paths(include_data=not files) if with_ontology or not files else []
    data = read_graph(paths + files)
    return validate_graph(data, read_shapes(shapes))


def cache_dir() -> Path:
    """Where verdicts of past validations are kept (``SOVKG_CACHE_DIR``, else ~/.cache/sovkg)."""
    configured = os.environ.get("SOVKG_CACHE_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "sovkg"


def store_digest(store: Store, shapes: Iterable[Path] | None = None) -> str:
    """SHA-256 of the store's statements (sorted N-Quads) and the shapes files' bytes."""
    from importlib.metadata import version

    h = hashlib.sha256(f"pyshacl {version('pyshacl')}\n".encode())
    for line in sorted(store.dump(format=RdfFormat.N_QUADS).splitlines()):
        h.update(line + b"\n")
    for p in sorted(Path(x) for x in (shapes or data_files("shapes"))):
        h.update(p.name.encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def validate_store(store: Store, shapes: Iterable[Path] | None = None) -> Report | None:
    """Validate a store's union graph; None when identical content already conformed before.

    A conforming verdict is remembered under the content digest, so a restart on the same data
    and shapes skips SHACL entirely (cold start stays fast); a failing one is never cached.
    """
    shapes = list(shapes) if shapes else None
    digest = store_digest(store, shapes)
    marker = cache_dir() / "validated" / digest
    if marker.is_file():
        return None
    report = validate_graph(quads_to_rdflib(store), read_shapes(shapes))
    if report.conforms:
        try:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text(report.text(), encoding="utf-8")
        except OSError:
            pass  # a read-only home only costs the next start a validation
    return report
