"""What every Linked Data handler needs from a request: the store, the IRI mapping, the page
language, a page builder, the public base URL (the framework-free ``sovkg.linkeddata`` takes
these, never the request)."""

from __future__ import annotations

import asyncio
import functools
import shutil
import tempfile
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

from pyoxigraph import NamedNode, Quad, Store
from starlette.requests import Request

from sovkg.config import Settings
from sovkg.engine.bounds import dump_memory_mib, total_memory_mib
from sovkg.engine.isolated import run_forked
from sovkg.errors import BadHost
from sovkg.linkeddata.dumps import Builder, Dumps, build_all
from sovkg.linkeddata.entity import PageBuilder
from sovkg.linkeddata.iris import IriMapper
from sovkg.linkeddata.labels import LANGUAGES, Labeler, choose_language
from sovkg.linkeddata.state import LinkedDataState, get_state


def store_of(request: Request) -> Store:
    """The application's store (the one the engine writes to)."""
    return request.app.state.engine.store


def root_path(request: Request) -> str:
    """The ASGI root path, without a trailing slash (links are prefixed with it)."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def mapper_for(request: Request) -> IriMapper:
    """The IRI mapping for this application and request."""
    settings = request.app.state.settings
    return IriMapper(settings.thing_base, root_path(request), lang_query(request))


def lang_query(request: Request) -> str:
    """``?lang=xx`` when the request chose a language explicitly, for the page's own links."""
    param = (request.query_params.get("lang") or "").lower()
    return f"?lang={param}" if param in LANGUAGES else ""


def language(request: Request) -> str:
    """The page language, from ``?lang=`` or Accept-Language."""
    return choose_language(request.query_params.get("lang"), request.headers.get("accept-language"))


def builder_for(request: Request, lang: str, store: Store | None = None) -> PageBuilder:
    """A page builder on the store (or ``store``), with labels in ``lang``."""
    main = store_of(request)
    target = store if store is not None else main
    stores = [target] if target is main else [target, main]
    return PageBuilder(target, mapper_for(request), Labeler(stores, lang))


def public_base(request: Request) -> str:
    """The public base URL of this server: ``--base-url``, else what the request says."""
    configured = request.app.state.settings.base_url
    if configured:
        return str(configured).rstrip("/")
    base = str(request.base_url).rstrip("/")
    try:  # the Host header is the client's to send, junk included
        NamedNode(base + "/")
    except ValueError:
        raise BadHost(
            f"the request's Host header gives no usable base URL ({base!r}): send a valid Host, "
            "or start the server with --base-url"
        ) from None
    return base


def _dump_builder(settings: Settings) -> Builder:
    """Builds of the dumps in a child process forked for each, under the dump time and memory
    limits. The child sees an in-memory store copy-on-write; a RocksDB store it opens read-only
    on a backup made for the build (hard links), because a forked child cannot share the
    server's open files of the store."""
    memory_mib = dump_memory_mib(settings.dump_memory, total_memory_mib())

    def forked(job: Callable[[], Dumps]) -> Awaitable[Dumps]:
        return run_forked(
            job, timeout=settings.dump_timeout, memory_mib=memory_mib, what="the build of the dumps"
        )

    async def build(source: Iterable[Quad]) -> Dumps:
        if settings.store_path is None or not isinstance(source, Store):
            return await forked(functools.partial(build_all, source))
        snapshots = await asyncio.to_thread(tempfile.mkdtemp, prefix="sovkg-dump-")
        try:
            snapshot = str(Path(snapshots) / "store")
            await asyncio.to_thread(source.backup, snapshot)
            return await forked(lambda: build_all(Store.read_only(snapshot)))
        finally:
            await asyncio.to_thread(shutil.rmtree, snapshots, True)

    return build


def ld_state(request: Request) -> LinkedDataState:
    """The application's Linked Data caches."""
    app = request.app
    state = getattr(app.state, "linkeddata", None)
    if state is not None and state.store is store_of(request):
        return state
    return get_state(app, store_of(request), _dump_builder(app.state.settings))
