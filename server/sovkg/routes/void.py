"""``GET /.well-known/void``: the VoID and DCAT description of the dataset (RFC 5785 location),
Turtle unless the client asks for JSON-LD, N-Triples, RDF/XML, N-Quads, TriG, or a page
(``text/html``: a browser gets the description as a page, with its Turtle)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from pyoxigraph import serialize
from starlette.concurrency import run_in_threadpool

from sovkg.errors import UnknownFormatError
from sovkg.linkeddata.dumps import Dumps, triple_count
from sovkg.linkeddata.represent import (
    HTML,
    TURTLE,
    VOID_REPRESENTATIONS,
    Representation,
    alternates,
    choose,
    vary,
)
from sovkg.linkeddata.void import VOID_PREFIXES, void_triples
from sovkg.routes.render import html_response, render
from sovkg.routes.web import lang_query, language, ld_state, public_base, root_path

router = APIRouter()


def void_body(request: Request, rep: Representation, dumps: Dumps) -> bytes:
    """The description in ``rep``'s syntax (with ``dumps``, the store's), cached until the
    store changes."""
    state = ld_state(request)
    base = public_base(request)
    key = (rep.key, base)
    with state.lock:
        cached = state.void.get(key)
    if cached is not None:
        return cached
    triples = void_triples(
        state.store,
        list(dumps.values()),
        base,
        request.app.state.settings.thing_base,
        triple_count(dumps),
    )
    assert rep.rdf_format is not None
    body = serialize(triples, format=rep.rdf_format, prefixes=VOID_PREFIXES) or b""
    with state.lock:
        state.void[key] = body
    return body


@router.api_route("/.well-known/void", methods=["GET", "HEAD"])
async def void(request: Request) -> Response:
    """The dataset description: endpoint, dumps with sizes and checksums, statistics."""
    try:
        rep = choose(
            request.query_params.get("format"), request.headers.get("accept"), VOID_REPRESENTATIONS
        )
    except UnknownFormatError as e:
        return PlainTextResponse(f"{e}\n", status_code=400)
    if rep is None:
        offered = ", ".join(r.media_type for r in VOID_REPRESENTATIONS)
        return PlainTextResponse(f"the description is offered as {offered}\n", status_code=406)
    dumps = await ld_state(request).dumps.get()
    if rep is HTML:
        return await run_in_threadpool(_void_page, request, dumps)
    body = await run_in_threadpool(void_body, request, rep, dumps)
    media = rep.media_type + ("; charset=utf-8" if rep.media_type.startswith("text/") else "")
    return Response(body, media_type=media, headers={"Vary": vary(VOID_REPRESENTATIONS)})


def _void_page(request: Request, dumps: Dumps) -> Response:
    """The description for people: where to query and fetch, and the Turtle itself."""
    base = public_base(request)
    root = root_path(request)
    facts = [
        {"label": "SPARQL endpoint", "value": f"{base}/sparql", "href": f"{root}/sparql"},
        {"label": "Graph store", "value": f"{base}/store", "href": f"{root}/store"},
        {"label": "Dumps", "value": f"{base}/dumps", "href": f"{root}/dumps"},
    ]
    turtle = void_body(request, TURTLE, dumps).decode("utf-8")
    lang = language(request)
    body = render(
        "void.html",
        lang,
        root,
        lang_query(request),
        facts=facts,
        turtle=turtle,
        alternates=alternates(root + "/.well-known/void", VOID_REPRESENTATIONS),
    )
    return html_response(body, headers={"Vary": vary(VOID_REPRESENTATIONS)})
