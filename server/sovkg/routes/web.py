"""What every Linked Data handler needs from a request: the store, the IRI mapping, the page
language, a page builder, the public base URL (the framework-free ``sovkg.linkeddata`` takes
these, never the request)."""

from __future__ import annotations

from pyoxigraph import NamedNode, Store
from starlette.requests import Request

from sovkg.errors import BadHost
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


def ld_state(request: Request) -> LinkedDataState:
    """The application's Linked Data caches."""
    return get_state(request.app, store_of(request))
