"""Dumps of the whole dataset at stable URLs, computed once and kept until the store changes.

The bytes are exactly those of ``sovkg export`` (both call :func:`sovkg.export.export_dataset`).
Each dump carries its SHA-256 (the strong ETag is derived from it) and a gzip copy made with a
fixed mtime, so the compressed bytes and their ETag are stable too.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from dataclasses import dataclass

from pyoxigraph import RdfFormat, Store

from sovkg.export import export_dataset
from sovkg.formats import RDF_FORMATS

#: the file name stem of every dump
DUMP_STEM = "sovereign-ai-kg"


@dataclass(frozen=True)
class Dump:
    """One dump: its file name, syntax, bytes and checksums."""

    filename: str
    format_name: str
    rdf_format: RdfFormat
    body: bytes
    sha256: str
    gzip_body: bytes

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


def build_dump(store: Store, name: str) -> Dump:
    """Serialize the store in the syntax called ``name`` (``turtle``, ``nquads`` …)."""
    fmt = RDF_FORMATS[name]
    body = export_dataset(store, fmt) or b""
    return Dump(
        filename=dump_filename(fmt),
        format_name=name,
        rdf_format=fmt,
        body=body,
        sha256=hashlib.sha256(body).hexdigest(),
        gzip_body=gzip.compress(body, compresslevel=9, mtime=0),
    )


class DumpCache:
    """All six dumps of one store, built on first use and again after :meth:`invalidate`."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._dumps: dict[str, Dump] | None = None

    def all(self) -> dict[str, Dump]:
        """File name -> dump, in the order of ``RDF_FORMATS`` (blocks while building)."""
        with self._lock:
            if self._dumps is None:
                dumps = [build_dump(self.store, name) for name in RDF_FORMATS]
                self._dumps = {d.filename: d for d in dumps}
            return self._dumps

    def invalidate(self) -> None:
        """Forget the dumps; the next request rebuilds them from the store."""
        with self._lock:
            self._dumps = None

    def triple_count(self) -> int:
        """Distinct triples of the union of all graphs (the lines of the N-Triples dump)."""
        nt = self.all()[dump_filename(RdfFormat.N_TRIPLES)].body
        return sum(1 for line in nt.splitlines() if line.strip())
