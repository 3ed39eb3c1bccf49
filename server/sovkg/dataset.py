"""Reads ontology/, graph/ (and extra files) into a pyoxigraph store, one named graph per file.

Named graphs (stable, documented in the README):
- ``https://w3id.org/ksai/graph/ontology/<file stem>`` for each file of ``ontology/``;
- ``https://w3id.org/ksai/graph/data/<file stem>`` for each file of ``graph/``;
- ``https://w3id.org/ksai/graph/extra/<file stem>`` for triples of files given with ``--data``
  (quads of dataset files keep their own graph names).
Queries see the union of all named graphs as their default graph.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pyoxigraph import DefaultGraph, NamedNode, Quad, RdfFormat, Store, parse

from sovkg.errors import LoadError
from sovkg.formats import rdf_format_for_path
from sovkg.rdfinput import InputRefused, check_entities, check_file_depth
from sovkg.resources import data_files

GRAPH_BASE = "https://w3id.org/ksai/graph/"
ONTOLOGY_NS = "https://w3id.org/ksai/ontology#"
SHAPES_NS = "https://w3id.org/ksai/shapes#"

#: how long a load may take before progress is reported on stderr
_QUIET_SECONDS = 1.0
_MARKER = ".sovkg-loaded"


@dataclass(frozen=True)
class Source:
    """One RDF file and the named graph its triples go to."""

    path: Path
    graph: NamedNode


def graph_iri(kind: str, path: Path) -> NamedNode:
    """The named graph of a source file: ``{GRAPH_BASE}{kind}/{stem}``."""
    return NamedNode(f"{GRAPH_BASE}{kind}/{path.stem}")


def shipped_sources() -> list[Source]:
    """The ontology and data files that ship with the package."""
    return [Source(p, graph_iri("ontology", p)) for p in data_files("ontology")] + [
        Source(p, graph_iri("data", p)) for p in data_files("graph")
    ]


def extra_sources(paths: Iterable[Path]) -> list[Source]:
    """Files given on the command line, each into its own ``extra/`` graph."""
    return [Source(Path(p), graph_iri("extra", Path(p))) for p in paths]


@contextmanager
def _reading(path: Path) -> Iterator[None]:
    """Raise LoadError naming ``path`` for whatever reading it fails on (a missing file, the
    input guard's refusal, the parser's line and column)."""
    if path.is_dir():
        raise LoadError(f"{path}: is a directory, not an RDF file")
    if not path.is_file():
        raise LoadError(f"{path}: no such file")
    try:
        yield
    except InputRefused as e:
        raise LoadError(f"{path}: refused: {e}") from None
    except SyntaxError as e:
        raise LoadError(f"{path}: {syntax_message(e)}") from None
    except (OSError, ValueError) as e:
        raise LoadError(f"{path}: {e}") from None


def _guarded_body(path: Path, fmt: RdfFormat) -> bytes | None:
    """The bytes of an RDF/XML file, once the input guard let its entities through (they are
    checked before they can be expanded); None for other syntaxes, read from the path. Either
    way the file's nesting is checked first, against the local limits (past them pyoxigraph
    would overflow its stack)."""
    if fmt != RdfFormat.RDF_XML:
        check_file_depth(str(path), fmt)
        return None
    body = path.read_bytes()
    check_entities(body)
    check_file_depth(str(path), fmt)
    return body


def read_quads(path: Path, graph: NamedNode | DefaultGraph | None = None) -> list[Quad]:
    """Parse one RDF file (syntax from its extension); default-graph triples go to ``graph``.

    RDF/XML goes through the input guard's entity check first (a file is also input that a
    validator's CI may take from strangers): past it, LoadError naming the reason. Raises
    LoadError with the file, line and column on unreadable input.
    """
    fmt = rdf_format_for_path(path)
    base_iri = path.resolve().as_uri()
    with _reading(path):
        body = _guarded_body(path, fmt)
        if body is not None:
            quads = list(parse(body, format=fmt, base_iri=base_iri))
        else:
            quads = list(parse(path=str(path), format=fmt, base_iri=base_iri))
    if graph is None:
        return quads
    return [
        Quad(q.subject, q.predicate, q.object, graph)
        if isinstance(q.graph_name, DefaultGraph)
        else q
        for q in quads
    ]


def parse_bytes(data: bytes, fmt: RdfFormat, base_iri: str | None = None) -> list[Quad]:
    """Parse RDF from memory; raises LoadError with the parser's position on bad input."""
    try:
        return list(parse(data, format=fmt, base_iri=base_iri))
    except SyntaxError as e:
        raise LoadError(syntax_message(e)) from None
    except ValueError as e:
        raise LoadError(str(e)) from None


def syntax_message(e: SyntaxError) -> str:
    """pyoxigraph's parser message, which already names the line and column."""
    return str(e.msg if e.msg else e)


def content_hash(sources: Iterable[Source]) -> str:
    """SHA-256 over the names and bytes of the sources: identifies what a store was loaded from."""
    h = hashlib.sha256()
    for s in sources:
        h.update(str(s.graph).encode())
        h.update(s.path.read_bytes())
    return h.hexdigest()


def _progress(message: str, started: float) -> None:
    if time.perf_counter() - started > _QUIET_SECONDS:
        print(message, file=sys.stderr)


def iter_source_quads(sources: Iterable[Source]) -> Iterator[Quad]:
    """All quads of the sources, each file's default graph mapped to its named graph."""
    for s in sources:
        yield from read_quads(s.path, s.graph)


def load_file(store: Store, path: Path, graph: NamedNode | DefaultGraph | None = None) -> None:
    """Load one RDF file into ``store`` as :func:`read_quads` reads it (default-graph triples
    go to ``graph``), parsed by the store itself: no Python object per quad, so loading a large
    file holds no more memory than the store it fills. Raises LoadError as ``read_quads``."""
    fmt = rdf_format_for_path(path)
    to_graph = None if isinstance(graph, DefaultGraph) else graph
    base_iri = path.resolve().as_uri()
    with _reading(path):
        body = _guarded_body(path, fmt)
        if body is not None:
            store.load(body, format=fmt, base_iri=base_iri, to_graph=to_graph)
        else:
            store.load(path=str(path), format=fmt, base_iri=base_iri, to_graph=to_graph)


def load_sources(store: Store, sources: list[Source]) -> None:
    """Add the sources to the store, each file's default graph mapped to its named graph."""
    started = time.perf_counter()
    for s in sources:
        load_file(store, s.path, s.graph)
        _progress(f"loaded {s.path} ({time.perf_counter() - started:.1f}s)", started)


def open_store(store_path: Path | None = None, extra: Iterable[Path] = ()) -> Store:
    """A store holding the shipped ontology and graph plus any extra files.

    In memory by default. With ``store_path`` (RocksDB), the shipped files are loaded only when
    the store was not loaded from exactly these files before, so restarts neither duplicate nor
    lose data.
    """
    sources = shipped_sources() + extra_sources(extra)
    if store_path is None:
        store = Store()
        load_sources(store, sources)
        return store
    store_path.mkdir(parents=True, exist_ok=True)
    marker = store_path / _MARKER
    digest = content_hash(sources)
    store = Store(str(store_path))
    if not marker.is_file() or marker.read_text().strip() != digest:
        for s in sources:
            if store.contains_named_graph(s.graph):
                store.remove_graph(s.graph)
        load_sources(store, sources)
        store.flush()
        marker.write_text(digest + "\n")
    return store


def named_graphs(store: Store) -> list[NamedNode]:
    """The store's named graphs, sorted by IRI."""
    return sorted((g for g in store.named_graphs() if isinstance(g, NamedNode)), key=str)
