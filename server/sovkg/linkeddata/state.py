"""Per-application caches of things derived from the whole store, and the hook that clears them.

Dumps, the VoID description, the shapes and the reconciliation index are kept between
requests. When the store changes (a SPARQL update), call :func:`notify_store_changed` with the
application so the next request recomputes them; the update route does this after every
committed update.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from pyoxigraph import Store

from sovkg.dataset import read_quads
from sovkg.linkeddata.dumps import Builder, DumpCache
from sovkg.linkeddata.reconcile import ReconcileIndex, build_index
from sovkg.resources import data_files


def load_shapes_store() -> Store:
    """The shipped SHACL shapes in a store of their own (they are not part of the dataset)."""
    store = Store()
    for path in data_files("shapes"):
        store.extend(read_quads(path))
    return store


@dataclass
class LinkedDataState:
    """The caches of one application."""

    store: Store
    dumps: DumpCache
    shapes_store: Store
    void: dict[tuple[str, str], bytes] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    reconcile: ReconcileIndex | None = None
    reconcile_lock: threading.Lock = field(default_factory=threading.Lock)

    def invalidate(self) -> None:
        """Forget everything derived from the store."""
        self.dumps.invalidate()
        with self.lock:
            self.void.clear()
        with self.reconcile_lock:
            self.reconcile = None

    def reconcile_index(self, thing_base: str) -> ReconcileIndex:
        """The reconciliation index, built on first use and again after the store changed."""
        with self.reconcile_lock:
            index = self.reconcile
            if index is None or index.identifier_space != thing_base + "id/":
                index = self.reconcile = build_index(self.store, thing_base)
            return index


_create_lock = threading.Lock()


def get_state(app: object, store: Store, build: Builder | None = None) -> LinkedDataState:
    """The application's state, created on first use (``app.state.linkeddata``); ``build``
    runs the builds of its dumps (default: in a thread)."""
    state = getattr(app.state, "linkeddata", None)  # type: ignore[attr-defined]
    if state is None or state.store is not store:
        with _create_lock:
            state = getattr(app.state, "linkeddata", None)  # type: ignore[attr-defined]
            if state is None or state.store is not store:
                state = LinkedDataState(store, DumpCache(store, build), load_shapes_store())
                app.state.linkeddata = state  # type: ignore[attr-defined]
    return state


def notify_store_changed(app: object) -> None:
    """Tell the Linked Data surfaces that the store changed (call after a committed update)."""
    state = getattr(app.state, "linkeddata", None)  # type: ignore[attr-defined]
    if state is not None:
        state.invalidate()
