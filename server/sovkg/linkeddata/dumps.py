"""Dumps of the whole dataset at stable URLs, computed once and kept until the store changes.

The bytes are exactly those of ``sovkg export`` (both call :func:`sovkg.export.export_dataset`).
Each dump carries its SHA-256 (the strong ETag is derived from it) and a gzip copy made with a
fixed mtime, so the compressed bytes and their ETag are stable too.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from pyoxigraph import Quad, RdfFormat, Store

from sovkg.errors import SovkgError, WorkerFailed
from sovkg.export import canonical_quads, export_dataset, serialize_canonical
from sovkg.formats import RDF_FORMATS

#: the file name stem of every dump
DUMP_STEM = "sovereign-ai-kg"


@dataclass(frozen=True)
class Dump:
    """One dump: its file name, syntax, bytes and checksums."""

    filename: str
    format_name: str
    body: bytes
    sha256: str
    gzip_body: bytes

    @property
    def rdf_format(self) -> RdfFormat:
        """The syntax (not a field: a dump crosses from the child that builds it by pickle,
        which pyoxigraph's formats do not support)."""
        return RDF_FORMATS[self.format_name]

    @property
    def media_type(self) -> str:
        """The IANA media type of the syntax."""
        return self.rdf_format.media_type

    @property
    def etag(self) -> str:
        """A strong ETag for the identity-encoded bytes."""
        return f'"sha256-{self.sha256}"'

    @property
    def gzip_etag(self) -> str:
        """A strong ETag for the gzip-encoded bytes (a different representation)."""
        return f'"sha256-{self.sha256}-gzip"'

    @property
    def keeps_named_graphs(self) -> bool:
        """Whether the syntax keeps the named graphs (otherwise it holds their union)."""
        return self.rdf_format.supports_datasets


def dump_filename(fmt: RdfFormat) -> str:
    """``sovereign-ai-kg.<ext>``: ``.ttl``, ``.nt``, ``.nq``, ``.trig``, ``.jsonld`` or ``.rdf``."""
    return f"{DUMP_STEM}.{fmt.file_extension}"


def build_dump(store: Iterable[Quad], name: str) -> Dump:
    """Serialize the store (or quads) in the syntax called ``name`` (``turtle``, ``nquads`` …)."""
    return _dump(name, export_dataset(store, RDF_FORMATS[name]) or b"")


def _dump(name: str, body: bytes) -> Dump:
    return Dump(
        filename=dump_filename(RDF_FORMATS[name]),
        format_name=name,
        body=body,
        sha256=hashlib.sha256(body).hexdigest(),
        gzip_body=gzip.compress(body, compresslevel=9, mtime=0),
    )


#: all six dumps by file name, in the order of ``RDF_FORMATS``
Dumps = dict[str, Dump]
#: builds the dumps of a store (or of its quads) somewhere, with :func:`build_all`: the
#: application passes one that runs it in a child process under a time and a memory limit;
#: the default runs it in a thread
Builder = Callable[[Iterable[Quad]], Awaitable[Dumps]]


def build_all(source: Iterable[Quad]) -> Dumps:
    """All six dumps of ``source`` (a store, or its quads), by file name: the bytes of
    :func:`build_dump` for each, from two canonicalisations (the union of the graphs for the
    triple syntaxes, the dataset for the others) rather than six, one held at a time."""
    bodies: dict[str, bytes] = {}
    for keeps_graphs in (False, True):
        canonical = canonical_quads(source, as_triples=not keeps_graphs)
        for name, fmt in RDF_FORMATS.items():
            if fmt.supports_datasets == keeps_graphs:
                bodies[name] = serialize_canonical(canonical, fmt) or b""
        del canonical
    dumps = [_dump(name, bodies[name]) for name in RDF_FORMATS]
    return {d.filename: d for d in dumps}


def triple_count(dumps: Dumps) -> int:
    """Distinct triples of the union of all graphs (the lines of the N-Triples dump)."""
    nt = dumps[dump_filename(RdfFormat.N_TRIPLES)].body
    return sum(1 for line in nt.splitlines() if line.strip())


async def _in_thread(source: Iterable[Quad]) -> Dumps:
    return await asyncio.to_thread(build_all, source)


class DumpCache:
    """All six dumps of one store, built on first use and again after :meth:`invalidate`.

    One build at a time: requests that come while it runs wait for the same one (on the event
    loop, holding no thread). A build that fails (past its time or memory limit: a graph whose
    blank nodes are costly to label canonically, say) fails the same way on the same data, so
    its error is given again at once until the store changes.
    """

    def __init__(self, store: Store, build: Builder | None = None) -> None:
        self.store = store
        self._build = build or _in_thread
        self._dumps: Dumps | None = None
        self._failure: Exception | None = None
        self._task: asyncio.Future[Dumps] | None = None
        self._generation = 0

    async def get(self) -> Dumps:
        """File name -> dump (waits while they are built; raises the build's error)."""
        if self._dumps is not None:
            return self._dumps
        if self._failure is not None:
            raise self._failure
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._run(self._generation))
        return await asyncio.shield(self._task)

    async def _run(self, generation: int) -> Dumps:
        source: Iterable[Quad] = self.store
        if not isinstance(source, Store):
            # a store over HTTP (--backend): its quads are fetched here, where its client is,
            # and the build gets them (a forked child must not share the client's connections)
            source = await asyncio.to_thread(list, source)
        try:
            dumps = await self._build(source)
        except Exception as e:  # noqa: BLE001 - every failure is the client's 503, remembered
            failure = (
                e if isinstance(e, SovkgError) else WorkerFailed(f"building the dumps failed: {e}")
            )
            if generation == self._generation:
                self._failure = failure
            raise failure from None
        if generation == self._generation:  # not built from data that has changed since
            self._dumps = dumps
        return dumps

    def invalidate(self) -> None:
        """Forget the dumps (and a failed build); the next request builds them again."""
        self._generation += 1
        self._dumps = None
        self._failure = None
        self._task = None
