"""The setups a live-server test can run in: ``sovkg serve`` on its own store, or ``sovkg serve
--backend`` in front of an external SPARQL store that holds the shipped graph.

A test that must hold in every setup takes the ``live_server`` fixture and is decorated with
:data:`every_setup`; it then runs once per entry of :data:`SETUPS`. A test without the decorator
gets the local server. Each setup is started once per test session, the first time a test asks
for it, and stopped at the end (:class:`LiveServers`).

Adding a store is one function that starts it, loads the dataset (as
:func:`~tests.support.oxigraph.dataset_nquads`, say) and returns ``LiveServer("--backend", ...)``,
and one more :class:`Setup` in :data:`SETUPS`.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass

import pytest

from tests.support.oxigraph import OxigraphServer, dataset_nquads
from tests.support.server import LiveServer
from tests.support.virtuoso import VirtuosoServer


def _ready(stack: ExitStack, server: LiveServer) -> LiveServer:
    """Register the server's stop with ``stack``, then wait until it answers."""
    stack.callback(server.stop)
    server.wait_ready()
    return server


def start_local(stack: ExitStack) -> LiveServer:
    """``sovkg serve`` on the shipped graph, read-only."""
    return _ready(stack, LiveServer())


def start_oxigraph_backend(stack: ExitStack) -> LiveServer:
    """``sovkg serve --backend`` in front of the native Oxigraph server, which holds the shipped
    graph and nothing else."""
    oxigraph = OxigraphServer()
    stack.callback(oxigraph.stop)
    oxigraph.load(dataset_nquads())
    return _ready(stack, LiveServer("--backend", oxigraph.query_url))


def start_virtuoso_backend(stack: ExitStack) -> LiveServer:
    """``sovkg serve --backend`` in front of OpenLink Virtuoso (Debian's 7.2), bulk-loaded with
    the dataset as the README says (tests/support/virtuoso.py); its own system graphs are there
    too (the server detects the dataset's graphs)."""
    virtuoso = VirtuosoServer()
    stack.callback(virtuoso.stop)
    virtuoso.load_dataset()
    return _ready(stack, LiveServer("--backend", virtuoso.query_url))


@dataclass(frozen=True)
class Setup:
    """One way of serving the shipped graph."""

    name: str
    start: Callable[[ExitStack], LiveServer]
    #: whether it needs an external store (its tests are marked ``backend``)
    external: bool


LOCAL = "local"
OXIGRAPH_BACKEND = "oxigraph-backend"
VIRTUOSO_BACKEND = "virtuoso-backend"

SETUPS = (
    Setup(LOCAL, start_local, external=False),
    Setup(OXIGRAPH_BACKEND, start_oxigraph_backend, external=True),
    Setup(VIRTUOSO_BACKEND, start_virtuoso_backend, external=True),
)


class LiveServers:
    """The servers of the test session, one per setup, started when first asked for."""

    def __init__(self, stack: ExitStack) -> None:
        self._stack = stack
        self._setups = {setup.name: setup for setup in SETUPS}
        self._started: dict[str, LiveServer] = {}

    def get(self, name: str) -> LiveServer:
        """The running server of setup ``name``."""
        if name not in self._started:
            self._started[name] = self._setups[name].start(self._stack)
        return self._started[name]


#: run the decorated test once per setup, with ``live_server`` the server of that setup
every_setup = pytest.mark.parametrize(
    "live_server",
    [
        pytest.param(s.name, id=s.name, marks=[pytest.mark.backend] if s.external else [])
        for s in SETUPS
    ],
    indirect=True,
)
