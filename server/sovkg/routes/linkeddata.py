"""Linked Data: ``GET /id/{kind}/{slug}`` (the things), ``/ontology`` and ``/shapes``.

Each answers with HTML for people or RDF for programs by content negotiation (``?format=``
overrides), with ``Vary`` and ``Link: rel="alternate"`` headers. Pages are built in a worker
thread, never on the event loop.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from pyoxigraph import NamedNode, Store, Triple
from starlette.concurrency import run_in_threadpool

from sovkg.dataset import GRAPH_BASE
from sovkg.errors import UnknownFormatError
from sovkg.linkeddata.describe import describe, is_known, serialize_triples
from sovkg.linkeddata.iris import readable_iri
from sovkg.linkeddata.ontodoc import build_ontology_page, build_shapes_page
from sovkg.linkeddata.represent import (
    HTML,
    RESOURCE_REPRESENTATIONS,
    Representation,
    alternates,
    choose,
    link_header,
    vary,
)
from sovkg.namespaces import PREFIXES
from sovkg.routes.render import html_response, render
from sovkg.routes.web import (
    builder_for,
    lang_query,
    language,
    ld_state,
    mapper_for,
    root_path,
    store_of,
)

router = APIRouter()

_OFFERS = RESOURCE_REPRESENTATIONS


def _negotiate(request: Request) -> Representation | Response:
    try:
        rep = choose(request.query_params.get("format"), request.headers.get("accept"), _OFFERS)
    except UnknownFormatError as e:
        return PlainTextResponse(f"{e}\n", status_code=400)
    if rep is None:
        offered = ", ".join(r.media_type for r in _OFFERS)
        return PlainTextResponse(
            f"none of the accepted media types is available; this resource is offered as "
            f"{offered}\n",
            status_code=406,
            headers={"Vary": vary(_OFFERS)},
        )
    return rep


def _headers(request: Request, rep: Representation) -> dict[str, str]:
    path = root_path(request) + request.url.path
    return {"Vary": vary(_OFFERS), "Link": link_header(path, rep, _OFFERS)}


def _rdf(triples: list[Triple], rep: Representation, headers: dict[str, str]) -> Response:
    assert rep.rdf_format is not None
    body = serialize_triples(triples, rep.rdf_format)
    media = rep.media_type + ("; charset=utf-8" if rep.media_type.startswith("text/") else "")
    return Response(body, media_type=media, headers=headers)


def _not_found(request: Request, rep: Representation, iri: str) -> Response:
    """404 naming ``iri`` readably, with no character no IRI may hold shown raw."""
    iri = readable_iri(iri)
    headers = {"Vary": vary(_OFFERS)}
    if rep is HTML:
        lang = language(request)
        query = f"DESCRIBE <{iri}>" if ">" not in iri else "SELECT * WHERE { ?s ?p ?o } LIMIT 10"
        body = render(
            "not_found.html", lang, root_path(request), lang_query(request), iri=iri, query=query
        )
        return html_response(body, status_code=404, headers=headers)
    return PlainTextResponse(f"not found: {iri}\n", status_code=404, headers=headers)


def _raw_thing_path(request: Request) -> str:
    """The request path from ``id/`` on, as the client sent it (before percent-decoding)."""
    raw = request.scope.get("raw_path")
    text = raw.decode("utf-8", "replace") if raw else request.url.path
    index = text.find("/id/")
    return text[index + 1 :] if index >= 0 else "id/" + request.path_params.get("path", "")


def _known_iri(store: Store, iri: str) -> bool:
    """Whether ``iri`` is a valid IRI the graph knows (a junk path is simply not found)."""
    try:
        return is_known(store, NamedNode(iri))
    except ValueError:
        return False


def _thing_response(request: Request, rep: Representation) -> Response:
    store = store_of(request)
    candidates = mapper_for(request).candidate_iris(_raw_thing_path(request))
    node = next((NamedNode(i) for i in candidates if _known_iri(store, i)), None)
    if node is None:
        return _not_found(request, rep, candidates[0])
    headers = _headers(request, rep)
    if rep is not HTML:
        return _rdf(describe(store, node), rep, headers)
    lang = language(request)
    page = builder_for(request, lang).entity_page(node)
    path = root_path(request) + request.url.path
    body = render(
        "entity.html",
        lang,
        root_path(request),
        lang_query(request),
        page=page,
        alternates=alternates(path, _OFFERS),
    )
    return html_response(body, headers=headers)


@router.api_route("/id/{path:path}", methods=["GET", "HEAD"])
async def thing(request: Request, path: str) -> Response:
    """A thing of the graph: its page, or its description in RDF."""
    rep = _negotiate(request)
    if isinstance(rep, Response):
        return rep
    return await run_in_threadpool(_thing_response, request, rep)


def ontology_triples(request: Request) -> list[Triple]:
    """The triples of the ontology graphs (every file of ``ontology/``), deduplicated."""
    prefix = GRAPH_BASE + "ontology/"
    seen: dict[tuple[str, str, str], Triple] = {}
    for q in store_of(request):
        if isinstance(q.graph_name, NamedNode) and q.graph_name.value.startswith(prefix):
            key = (str(q.subject), str(q.predicate), str(q.object))
            seen.setdefault(key, Triple(q.subject, q.predicate, q.object))
    return list(seen.values())


def _doc_page(
    request: Request, template: str, lang: str, page: object, headers: dict[str, str]
) -> Response:
    """A documentation page (ontology, shapes) with links to its other representations."""
    path = root_path(request) + request.url.path
    body = render(
        template,
        lang,
        root_path(request),
        lang_query(request),
        page=page,
        alternates=alternates(path, _OFFERS),
    )
    return html_response(body, headers=headers)


def _ontology_response(request: Request, rep: Representation) -> Response:
    headers = _headers(request, rep)
    if rep is not HTML:
        return _rdf(ontology_triples(request), rep, headers)
    lang = language(request)
    settings = request.app.state.settings
    page = build_ontology_page(
        store_of(request),
        builder_for(request, lang),
        settings.thing_base + "ontology",
        PREFIXES["ksai"],
    )
    return _doc_page(request, "ontology.html", lang, page, headers)


@router.api_route("/ontology", methods=["GET", "HEAD"])
async def ontology(request: Request) -> Response:
    """The ontology: documentation for people, its triples for programs."""
    rep = _negotiate(request)
    if isinstance(rep, Response):
        return rep
    return await run_in_threadpool(_ontology_response, request, rep)


_OWL_VERSION_IRI = NamedNode("http://www.w3.org/2002/07/owl#versionIRI")


def _is_version_iri(request: Request, iri: str) -> bool:
    """Whether the ontology names ``iri`` as its owl:versionIRI."""
    try:
        node = NamedNode(iri)
    except ValueError:
        return False
    return any(True for _ in store_of(request).quads_for_pattern(None, _OWL_VERSION_IRI, node))


@router.api_route("/ontology/{version}", methods=["GET", "HEAD"])
async def ontology_version(request: Request, version: str) -> Response:
    """The ontology's version IRI (``…/ontology/0.1.0``): this version of the ontology."""
    rep = _negotiate(request)
    if isinstance(rep, Response):
        return rep
    iri = request.app.state.settings.thing_base + "ontology/" + version
    if not await run_in_threadpool(_is_version_iri, request, iri):
        return await run_in_threadpool(_not_found, request, rep, iri)
    return await run_in_threadpool(_ontology_response, request, rep)


def _shapes_response(request: Request, rep: Representation) -> Response:
    headers = _headers(request, rep)
    shapes = ld_state(request).shapes_store
    if rep is not HTML:
        triples = list({str(q): Triple(q.subject, q.predicate, q.object) for q in shapes}.values())
        return _rdf(triples, rep, headers)
    lang = language(request)
    settings = request.app.state.settings
    page = build_shapes_page(
        shapes, builder_for(request, lang, shapes), settings.thing_base + "shapes"
    )
    return _doc_page(request, "shapes.html", lang, page, headers)


@router.api_route("/shapes", methods=["GET", "HEAD"])
async def shapes(request: Request) -> Response:
    """The SHACL shapes: documentation for people, the shapes graph for programs."""
    rep = _negotiate(request)
    if isinstance(rep, Response):
        return rep
    return await run_in_threadpool(_shapes_response, request, rep)
