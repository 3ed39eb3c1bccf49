"""The native Oxigraph server (``pip install oxigraph``) as a SPARQL backend for the tests of
``sovkg serve --backend``: started on loopback, loaded through its ``/store``."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
from pyoxigraph import RdfFormat
from sovkg.dataset import open_store
from sovkg.export import export_dataset

from tests.support.server import free_port, stop_process

#: the ``oxigraph`` console script of the ``oxigraph`` package, next to this Python
OXIGRAPH = Path(sys.executable).parent / "oxigraph"


def dataset_nquads(*extra: Path) -> bytes:
    """What ``sovkg export --format nquads [--data ...]`` writes: the data to load."""
    return export_dataset(open_store(None, extra), RdfFormat.N_QUADS) or b""


class OxigraphServer:
    """``oxigraph serve --union-default-graph`` in memory, on a free loopback port."""

    def __init__(self, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [
                str(OXIGRAPH),
                "serve",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--union-default-graph",
                *args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                stderr = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"oxigraph exited: {stderr}")
            try:
                httpx.get(f"{self.url}/query", params={"query": "ASK {}"}, timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    @property
    def query_url(self) -> str:
        """The SPARQL query endpoint."""
        return f"{self.url}/query"

    @property
    def update_url(self) -> str:
        """The SPARQL update endpoint."""
        return f"{self.url}/update"

    def load(self, nquads: bytes) -> None:
        """Add N-Quads through the Graph Store endpoint."""
        r = httpx.post(
            f"{self.url}/store",
            content=nquads,
            headers={"Content-Type": "application/n-quads"},
            timeout=60,
        )
        r.raise_for_status()

    def stop(self) -> None:
        """Terminate the server and wait for it."""
        stop_process(self.proc)
