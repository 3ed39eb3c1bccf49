"""``/store``: the SPARQL 1.1 Graph Store HTTP Protocol.

Thin: the rules live in ``sovkg.sparql.graphstore`` (which graph, what the method means, the
update a write becomes). Reads (GET, HEAD) are open to anyone and come straight from the store,
like the dumps; writes (PUT, POST, DELETE) need ``--allow-updates`` and the bearer token, and go
through the engine's one writer as SPARQL updates do, followed by the same refresh of the
response cache, dumps and VoID.
"""

from __future__ import annotations

import asyncio
import hashlib

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pyoxigraph import DefaultGraph, NamedNode, RdfFormat, Store, Triple, serialize
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from sovkg.engine import UpdateJob
from sovkg.errors import ProtocolError, SovkgError
from sovkg.formats import RDF_MEDIA_TYPES, rdf_format_for_path
from sovkg.http.compress import accepts_gzip, gzip_body, vary_encoding
from sovkg.linkeddata.dumps import dump_filename
from sovkg.linkeddata.state import notify_store_changed
from sovkg.namespaces import PREFIXES
from sovkg.routes.sparql import plain
from sovkg.routes.web import ld_state, store_of
from sovkg.sparql.graphstore import (
    ALLOWED,
    STORE_PATH,
    Target,
    check_method,
    expansion_budget,
    graph_term,
    identify,
    input_format,
    new_graph_iri,
    read_graph,
    write_status,
    write_update,
)
from sovkg.sparql.media import GRAPH_OFFERS, choose, content_type, not_acceptable_message
from sovkg.sparql.protocol import authorize_update, parse_media_type
from sovkg.sparql.service import endpoint_url

router = APIRouter()

CORS = {"Access-Control-Allow-Origin": "*"}
PREFLIGHT = {
    **CORS,
    "Access-Control-Allow-Methods": ALLOWED,
    "Access-Control-Allow-Headers": "Accept, Content-Type, Authorization, Content-Encoding",
    "Access-Control-Max-Age": "86400",
    "Allow": ALLOWED,
}
#: the whole store is offered in the quad syntaxes, N-Quads first
DATASET_OFFERS = {m: m for m in ("application/n-quads", "application/trig")}
_MULTIPART = "multipart/form-data"
_WRITE_LOCK = "graph_store_write_lock"


def _store_url(request: Request) -> str:
    settings = request.app.state.settings
    return endpoint_url(
        STORE_PATH,
        request.url.scheme,
        request.headers.get("host"),
        request.headers,
        settings.base_url,
    )


def _subpath(request: Request) -> str:
    """The request path after ``/store``, as the client sent it (percent-encoding kept)."""
    raw = request.scope.get("raw_path")
    text = raw.decode("utf-8", "surrogateescape") if raw else request.url.path
    at = text.find(STORE_PATH)
    return text[at + len(STORE_PATH) :] if at >= 0 else ""


def _lock(request: Request) -> asyncio.Lock:
    """One write at a time, so a write's 201/204/404 matches what it found."""
    lock = getattr(request.app.state, _WRITE_LOCK, None)
    if lock is None:
        lock = asyncio.Lock()
        setattr(request.app.state, _WRITE_LOCK, lock)
    return lock


# --- reads ----------------------------------------------------------------------------------


def _graph_triples(store: Store, graph: NamedNode | DefaultGraph) -> list[Triple]:
    return [
        Triple(q.subject, q.predicate, q.object)
        for q in store.quads_for_pattern(None, None, None, graph)
    ]


def _exists(store: Store, target: Target) -> bool:
    if target.kind != "named":
        return True  # the default graph always exists
    quads = store.quads_for_pattern(None, None, None, graph_term(target))
    return next(iter(quads), None) is not None


def _body(triples: list[Triple], media: str) -> bytes:
    fmt = RdfFormat.from_media_type(media)
    assert fmt is not None
    prefixes = None if fmt in (RdfFormat.N_TRIPLES, RdfFormat.N_QUADS) else PREFIXES
    return serialize(triples, format=fmt, prefixes=prefixes) or b""


def _represent(request: Request, body: bytes, media: str) -> Response:
    """``body`` with its ETag, gzip when accepted, 304 when the client has it."""
    gz = accepts_gzip(request.headers.get("accept-encoding"))
    headers = {**CORS, "Vary": vary_encoding("Accept"), "Content-Type": content_type(media)}
    if gz:
        body = gzip_body(body)
        headers["Content-Encoding"] = "gzip"
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + ('-gzip"' if gz else '"')
    headers["ETag"] = etag
    sent = request.headers.get("if-none-match") or ""
    if sent.strip() == "*" or etag in (t.strip().removeprefix("W/") for t in sent.split(",")):
        return Response(status_code=304, headers=headers)
    return Response(b"" if request.method == "HEAD" else body, headers=headers)


async def _read(request: Request, target: Target) -> Response:
    accept = request.headers.get("accept")
    if target.kind == "store":
        choice = choose(accept, DATASET_OFFERS)
        if choice is None:
            return plain(406, not_acceptable_message(DATASET_OFFERS), {**CORS, "Vary": "Accept"})
        fmt = RdfFormat.from_media_type(choice.serialize)
        assert fmt is not None
        dumps = await ld_state(request).dumps.get()
        return _represent(request, dumps[dump_filename(fmt)].body, choice.offered)
    choice = choose(accept, GRAPH_OFFERS)
    if choice is None:
        return plain(406, not_acceptable_message(GRAPH_OFFERS), {**CORS, "Vary": "Accept"})
    triples = await run_in_threadpool(_graph_triples, store_of(request), graph_term(target))
    if not triples and target.kind == "named":
        return plain(404, f"no graph {target.label} in the store", {**CORS, "Vary": "Accept"})
    body = await run_in_threadpool(_body, triples, choice.serialize)
    return _represent(request, body, choice.offered)


# --- writes ---------------------------------------------------------------------------------


def _part_format(part: UploadFile) -> RdfFormat:
    media, _ = parse_media_type(part.content_type)
    if media in RDF_MEDIA_TYPES:
        return RDF_MEDIA_TYPES[media]
    if part.filename:
        try:
            return rdf_format_for_path(part.filename)
        except SovkgError:
            pass
    raise ProtocolError(415, f"cannot tell the RDF syntax of the part {part.filename!r}")


async def _posted_triples(request: Request, body: bytes, target: Target) -> list[Triple]:
    """The triples of a PUT or POST body (a POST may be multipart/form-data, one RDF
    document per part), read behind the input guard in a thread."""
    base = target.iri if target.kind == "named" else None
    media, _ = parse_media_type(request.headers.get("content-type"))
    budget = expansion_budget(len(body))
    if media != _MULTIPART or request.method != "POST":
        fmt = input_format(request.headers.get("content-type"))
        return await run_in_threadpool(read_graph, body, fmt, base, budget=budget)
    limit = int(request.app.state.settings.max_body_bytes)
    try:
        form = await request.form(max_files=64, max_fields=64, max_part_size=limit)
    except Exception as e:  # noqa: BLE001 - the multipart parser's errors have no common base
        raise ProtocolError(400, f"cannot read the multipart body: {e}") from None
    triples: list[Triple] = []
    for _, value in form.multi_items():
        if not isinstance(value, UploadFile):
            continue
        data = await value.read()
        fmt = _part_format(value)
        budget -= len(data)  # the parts share the body's budget
        triples += await run_in_threadpool(read_graph, data, fmt, base, budget=max(budget, 0))
    return triples


async def _write(request: Request, target: Target) -> Response:
    settings = request.app.state.settings
    authorize_update(
        settings.allow_updates, settings.update_token, request.headers.get("authorization")
    )
    method = request.method
    location: str | None = None
    if target.kind == "store":  # POST to the store: a new graph, named by us
        location = new_graph_iri(_store_url(request))
        target = Target("named", location, direct=True)
    triples: list[Triple] = []
    if method in ("PUT", "POST"):
        triples = await _posted_triples(request, await request.body(), target)
    engine, store = request.app.state.engine, store_of(request)
    async with _lock(request):
        existed = await run_in_threadpool(_exists, store, target)
        if method == "DELETE" and not existed:
            return plain(404, f"no graph {target.label} in the store")
        try:
            await engine.update(UpdateJob(write_update(method, target, triples)))
        except SovkgError as e:
            return plain(e.status, str(e))
        except SyntaxError as e:  # a term the update syntax cannot carry
            return plain(400, f"the store cannot take this graph: {e.msg or e}")
        finally:
            notify_store_changed(request.app)
    headers = {"Location": location} if location else None
    status = write_status(method, existed or not triples, target)  # nothing written: no graph
    return Response(status_code=status, headers=headers)


async def handle(request: Request) -> Response:
    """One Graph Store Protocol request."""
    if request.method == "OPTIONS":
        return Response(status_code=204, headers=PREFLIGHT)
    try:
        raw_query = request.scope.get("query_string", b"").decode("utf-8")
    except UnicodeDecodeError:
        return plain(400, "the query string is not UTF-8", CORS)
    try:
        target = identify(_store_url(request), _subpath(request), raw_query)
        check_method(request.method, target)
        if request.method in ("GET", "HEAD"):
            return await _read(request, target)
        return await _write(request, target)
    except ProtocolError as e:
        return plain(e.status, e.message, {**CORS, **e.headers})


_METHODS = ["GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS", "PATCH"]
router.add_api_route(
    STORE_PATH, handle, methods=_METHODS, summary="SPARQL 1.1 Graph Store HTTP Protocol"
)
router.add_api_route(STORE_PATH + "/{path:path}", handle, methods=_METHODS, include_in_schema=False)
