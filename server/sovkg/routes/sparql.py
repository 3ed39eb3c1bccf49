"""``/sparql`` (and ``/query``, ``/update``): the SPARQL 1.1 Protocol over HTTP.

Thin: the rules live in ``sovkg.sparql`` (request -> operation, negotiation, service
description); this module reads the request, calls them, and writes the response. Queries run
through the Engine, off the event loop, and their results stream to the client.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from sovkg.engine import QueryJob, UpdateJob
from sovkg.errors import ProtocolError, SovkgError
from sovkg.http.compress import GZIP_ABOVE, accepts_gzip, gzip_body, vary_encoding
from sovkg.linkeddata.state import notify_store_changed
from sovkg.namespaces import PREFIXES
from sovkg.negotiation import negotiate
from sovkg.routes.ui import query_ui_response
from sovkg.sparql.lexer import query_form
from sovkg.sparql.media import (
    GRAPH_OFFERS,
    RESULT_OFFERS,
    Choice,
    content_type,
    negotiate_query,
    not_acceptable_message,
)
from sovkg.sparql.protocol import (
    ALLOWED_METHODS,
    EndpointKind,
    HttpRequest,
    QueryOperation,
    ServiceDescriptionRequest,
    UpdateOperation,
    authorize_update,
    check_update_dataset,
    parse_request,
)
from sovkg.sparql.service import (
    DEFAULT_GRAPH_COUNT,
    NAMED_GRAPH_COUNTS,
    DatasetStats,
    description_triples,
    endpoint_url,
    serialize_description,
)
from sovkg.sparql.syntax import explain

#: path -> which operations it takes
ENDPOINTS: dict[str, EndpointKind] = {
    "/sparql": "any",
    "/sparql/": "any",
    "/query": "query",
    "/update": "update",
}

#: read requests are open to every origin, without credentials; updates are not opened
CORS = {"Access-Control-Allow-Origin": "*"}
PREFLIGHT = {
    **CORS,
    "Access-Control-Allow-Methods": ALLOWED_METHODS,
    "Access-Control-Allow-Headers": "Accept, Content-Type",
    "Access-Control-Max-Age": "86400",
    "Allow": ALLOWED_METHODS,
}
VARY = {"Vary": "Accept"}

#: results larger than this are sent in chunks of this size, smaller ones as one body
STREAM_ABOVE = 256 * 1024

_JSON = RESULT_OFFERS["application/sparql-results+json"]
_TURTLE = GRAPH_OFFERS["text/turtle"]


def plain(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """A plain-text error (or notice) with a trailing newline, as curl users expect."""
    return PlainTextResponse(message.rstrip("\n") + "\n", status_code=status, headers=headers)


def _error_for(e: Exception, text: str | None = None) -> tuple[int, str]:
    """Status and message for a failed operation: the client's fault is 4xx, never a 500.
    ``text``: the query or update, so a syntax error can name its cause."""
    if isinstance(e, SyntaxError):
        if text is not None:
            return 400, explain(text, str(e.msg if e.msg else e), PREFIXES)
        return 400, f"SPARQL syntax error: {e.msg if e.msg else e}"
    if isinstance(e, SovkgError):
        return e.status, str(e)
    if isinstance(e, TimeoutError):
        return 503, f"the operation ran out of time: {e}"
    if isinstance(e, ValueError):
        return 400, str(e)
    if isinstance(e, RuntimeError):  # pyoxigraph: the operation cannot be done on this data
        return 400, f"the operation failed: {e}"
    return 500, f"the operation failed: {e}"


async def _chunks(body: bytes) -> AsyncIterator[bytes]:
    view = memoryview(body)
    for start in range(0, len(body), STREAM_ABOVE):
        yield bytes(view[start : start + STREAM_ABOVE])


def _endpoint(request: Request, path: str) -> str:
    settings = request.app.state.settings
    return endpoint_url(
        path, request.url.scheme, request.headers.get("host"), request.headers, settings.base_url
    )


async def _query(request: Request, op: QueryOperation, endpoint: str) -> Response:
    accept = request.headers.get("accept")
    negotiated = negotiate_query(accept)
    form = query_form(op.query)
    if negotiated.for_form(form) is None:
        offers = negotiated.offers_for(form)
        return plain(406, not_acceptable_message(offers), {**CORS, **VARY})
    job = QueryJob(
        op.query,
        base_iri=endpoint,
        default_graphs=op.default_graphs,
        named_graphs=op.named_graphs,
        result_format=(negotiated.results or Choice(_JSON, _JSON)).serialize,
        graph_format=(negotiated.graph or Choice(_TURTLE, _TURTLE)).serialize,
        prefixes=dict(PREFIXES),
    )
    try:
        out = await request.app.state.engine.query(job)
    except Exception as e:  # noqa: BLE001 - every failure is answered, with its status
        status, message = _error_for(e, op.query)
        return plain(status, message, CORS)
    choice = negotiated.graph if out.kind == "graph" else negotiated.results
    if choice is None:  # the lexer could not tell the form; the parser could
        offers = GRAPH_OFFERS if out.kind == "graph" else RESULT_OFFERS
        return plain(406, not_acceptable_message(offers), {**CORS, **VARY})
    headers = {**CORS, **VARY, "Content-Type": content_type(choice.offered)}
    if out.truncated:  # the row limit cut the result
        headers["X-SPARQL-MaxRows"] = str(request.app.state.settings.max_rows)
    body = out.body
    if accepts_gzip(request.headers.get("accept-encoding")) and len(body) >= GZIP_ABOVE:
        body = await run_in_threadpool(gzip_body, body)
        headers.update({"Content-Encoding": "gzip", "Vary": vary_encoding(VARY["Vary"])})
    if len(out.body) > STREAM_ABOVE:  # a large result goes out in chunks as the client reads
        return StreamingResponse(_chunks(body), headers=headers)
    # one body with its length: the result is whole already (the worker built it)
    return Response(body, headers=headers)


async def _update(request: Request, op: UpdateOperation, endpoint: str) -> Response:
    settings = request.app.state.settings
    try:
        authorize_update(
            settings.allow_updates, settings.update_token, request.headers.get("authorization")
        )
        check_update_dataset(op)
    except ProtocolError as e:
        return plain(e.status, e.message, e.headers)
    job = UpdateJob(
        op.update,
        base_iri=endpoint,
        using_graphs=op.using_graphs,
        using_named_graphs=op.using_named_graphs,
    )
    try:
        await request.app.state.engine.update(job)
    except Exception as e:  # noqa: BLE001 - every failure is answered, with its status
        status, message = _error_for(e, op.update)
        return plain(status, message)
    finally:
        notify_store_changed(request.app)
    return Response(status_code=204)


async def _count_rows(request: Request, query: str) -> list[dict[str, Any]]:
    out = await request.app.state.engine.query(QueryJob(query))
    return json.loads(out.body)["results"]["bindings"]


async def dataset_stats(request: Request) -> DatasetStats:
    """Triple counts of the default graph and of every named graph, through the engine."""
    named = {
        row["g"]["value"]: int(row["n"]["value"])
        for row in await _count_rows(request, NAMED_GRAPH_COUNTS)
        if row.get("g", {}).get("type") == "uri"
    }
    rows = await _count_rows(request, DEFAULT_GRAPH_COUNT)
    return DatasetStats(int(rows[0]["n"]["value"]) if rows else 0, named)


def _wants_html(accept: str | None) -> bool:
    return negotiate(accept, [*GRAPH_OFFERS, "text/html"]) == "text/html"


async def _service_description(request: Request, endpoint: str) -> Response:
    accept = request.headers.get("accept")
    if _wants_html(accept):
        page = query_ui_response(request)
        page.headers.setdefault("Vary", "Accept")
        return page
    choice = negotiate(accept, list(GRAPH_OFFERS))
    if choice is None:
        return plain(406, not_acceptable_message(GRAPH_OFFERS), {**CORS, **VARY})
    settings = request.app.state.settings
    try:
        stats = await dataset_stats(request)
    except Exception as e:  # noqa: BLE001 - every failure is answered, with its status
        status, message = _error_for(e)
        return plain(status, message, CORS)
    try:
        triples = description_triples(
            endpoint,
            stats,
            updates=settings.allow_updates,
            federated=bool(getattr(settings, "allow_service", None)),
            prefixes=PREFIXES,
            graph_store=_endpoint(request, "/store"),
        )
    except ValueError as e:  # the endpoint IRI comes from the Host header, which may be junk
        return plain(400, f"cannot describe the endpoint {endpoint!r}: {e}", CORS)
    return Response(
        serialize_description(triples, GRAPH_OFFERS[choice]),
        headers={**CORS, **VARY, "Content-Type": content_type(choice)},
    )


async def handle(request: Request, path: str, kind: EndpointKind) -> Response:
    """One SPARQL 1.1 Protocol endpoint: query, update, or the service description."""
    if request.method == "OPTIONS":
        return Response(status_code=204, headers=PREFLIGHT)
    body = await request.body() if request.method in ("POST", "QUERY") else b""
    try:
        raw_query = request.scope.get("query_string", b"").decode("utf-8")
    except UnicodeDecodeError:
        return plain(400, "the query string is not UTF-8", CORS)
    try:
        op = parse_request(
            HttpRequest(request.method, raw_query, request.headers.get("content-type"), body, kind)
        )
    except ProtocolError as e:
        return plain(e.status, e.message, {**CORS, **e.headers})
    endpoint = _endpoint(request, path.rstrip("/"))
    if isinstance(op, ServiceDescriptionRequest):
        return await _service_description(request, endpoint)
    if isinstance(op, UpdateOperation):
        return await _update(request, op, endpoint)
    return await _query(request, op, endpoint)


class Endpoints:
    """The SPARQL endpoints as plain ASGI, ahead of the framework's router: a request to one of
    ``ENDPOINTS`` goes straight to :func:`handle` (no route matching, no dependency solving, no
    streaming task group); every other request goes on to ``app``.

    Installed as the innermost middleware (see ``sovkg.app``), so the HTTP layers around it
    (access log, request limits, safety headers) and the response cache apply as to any route.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = ENDPOINTS.get(scope["path"]) if scope["type"] == "http" else None
        if kind is None:
            await self.app(scope, receive, send)
            return
        response = await handle(Request(scope, receive), scope["path"], kind)
        await response(scope, receive, send)
