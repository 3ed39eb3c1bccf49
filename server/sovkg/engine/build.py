"""The runner a server's settings ask for: local (a worker pool, or a child forked per query)
or a remote backend, always behind the guard."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from pyoxigraph import Store

from sovkg.engine.bounds import MemorySettings, isolated_concurrency, worker_memory_mib
from sovkg.engine.guarded import GuardedRunner
from sovkg.engine.inline import InlineRunner
from sovkg.engine.isolated import IsolatedRunner
from sovkg.engine.jobs import Runner
from sovkg.engine.pool import ProcessRunner
from sovkg.engine.remote import RemoteRunner, RemoteStore


class RunnerSettings(Protocol):
    """The settings the engine reads (``sovkg.config.Settings`` has them all)."""

    @property
    def query_workers(self) -> int: ...

    @property
    def query_timeout(self) -> float: ...

    @property
    def allow_service(self) -> tuple[str, ...]: ...

    @property
    def max_rows(self) -> int | None: ...

    @property
    def workers(self) -> int: ...

    @property
    def store_path(self) -> Path | None: ...

    @property
    def inline_lookups(self) -> bool: ...

    @property
    def backend(self) -> str | None: ...

    @property
    def backend_update(self) -> str | None: ...

    @property
    def backend_graphs(self) -> tuple[str, ...]: ...


def guarded(inner: Runner, settings: RunnerSettings, *, remote: bool = False) -> GuardedRunner:
    """``inner`` behind the SERVICE/LOAD guard and the row limit of ``settings`` (and, for a
    store over HTTP, the depth check, which local runners make where they parse)."""
    return GuardedRunner(
        inner,
        allow_service=tuple(settings.allow_service),
        max_rows=settings.max_rows,
        check_depth=remote,
    )


def build_runner(store: Store, settings: RunnerSettings) -> GuardedRunner:
    """The runner for a server: a guarded process pool, or with ``query_workers`` 0 no
    standing pool but a child forked for each query (an engine crash is contained either way);
    plain lookups answered on ``store`` in front of either, unless ``inline_lookups`` is off."""
    inner: Runner
    memory_mib = worker_memory_mib(settings) if isinstance(settings, MemorySettings) else None
    if settings.query_workers > 0:
        # every server worker has a pool of its own; forked workers share the data's pages, so
        # idle ones cost little, and a pool shared out among server workers starved the one
        # that the kernel gave more connections
        inner = ProcessRunner(
            store,
            workers=settings.query_workers,
            timeout=settings.query_timeout,
            memory_mib=memory_mib,
            on_disk=settings.store_path is not None,
            sharers=settings.workers,
        )
    else:
        inner = IsolatedRunner(
            store,
            timeout=settings.query_timeout,
            memory_mib=memory_mib,
            concurrency=isolated_concurrency(),
        )
    if settings.inline_lookups:
        inner = InlineRunner(inner, store)
    return guarded(inner, settings)


def build_backend(settings: RunnerSettings) -> tuple[RemoteStore, GuardedRunner]:
    """The store adapter and the guarded runner for ``settings.backend``: SERVICE/LOAD are
    checked and the row limit applied here, exactly as in front of the local store."""
    query_url = str(settings.backend)
    update_url = str(settings.backend_update or query_url)
    timeout = float(settings.query_timeout)
    store = RemoteStore(query_url, timeout, tuple(settings.backend_graphs) or None)
    remote = RemoteRunner(query_url, update_url, timeout, store.dataset)
    runner = guarded(remote, settings, remote=True)
    return store, runner
