"""``/sparql`` (and ``/query``, ``/update``): the SPARQL 1.1 Protocol over HTTP.

Thin: the rules live in ``sovkg.sparql`` (request -> operation, negotiation, service
description); this module reads the request, calls them, and writes the response. Queries run
through the Engine, off the event loop, and their results stream to the client.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

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


@dataclass(slots=True)
class Call:
    """One request to a SPARQL endpoint, as this module reads it: the ASGI scope, its headers
    (lower-case names, the first of repeated ones, as Starlette's ``Headers.get``), and the
    application's state. A Starlette ``Request`` is made only where one is needed (a body, the
    query page)."""

    scope: Scope
    receive: Receive
    headers: dict[str, str]
    state: Any

    @classmethod
    def of(cls, scope: Scope, receive: Receive) -> Call:
        headers: dict[str, str] = {}
        for name, value in scope["headers"]:
            headers.setdefault(name.decode("latin-1"), value.decode("latin-1"))
        return cls(scope, receive, headers, scope["app"].state)

    @property
    def request(self) -> Request:
        return Request(self.scope, self.receive)


@lru_cache(maxsize=1024)
def _endpoint_url(
    path: str,
    scheme: str,
    host: str | None,
    forwarded: tuple[tuple[str, str], ...],
    base_url: str | None,
) -> str:
    return endpoint_url(path, scheme, host, dict(forwarded), base_url)


_FORWARDED = ("x-forwarded-proto", "x-forwarded-host", "x-forwarded-prefix")


def _endpoint(call: Call, path: str) -> str:
    """The URL the client used for ``path`` (remembered per Host and forwarding headers)."""
    headers = call.headers
    forwarded = (
        ()
        if headers.keys().isdisjoint(_FORWARDED)  # the usual case, checked in C
        else tuple((h, headers[h]) for h in _FORWARDED if h in headers)
    )
    scheme = call.scope.get("scheme", "http")
    return _endpoint_url(path, scheme, headers.get("host"), forwarded, call.state.settings.base_url)


#: the two choices of one Accept header (remembered: clients send few different ones)
_negotiate = lru_cache(maxsize=1024)(negotiate_query)


async def _send(send: Send, status: int, headers: dict[str, str], body: bytes) -> None:
    """A whole response as one body with its length (what Starlette's ``Response`` sends,
    without building one)."""
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def _query(call: Call, op: QueryOperation, endpoint: str, send: Send) -> Response | None:
    """Run a query and send its result; a Response to send instead when it fails."""
    negotiated = _negotiate(call.headers.get("accept"))
    form = query_form(op.query)
    if negotiated.for_form(form) is None:
        offers = negotiated.offers_for(form)
        return plain(406, not_acceptable_message(offers), {**CORS, **VARY})
    settings = call.state.settings
    job = QueryJob(
        op.query,
        base_iri=endpoint,
        default_graphs=op.default_graphs,
        named_graphs=op.named_graphs,
        result_format=(negotiated.results or Choice(_JSON, _JSON)).serialize,
        graph_format=(negotiated.graph or Choice(_TURTLE, _TURTLE)).serialize,
        prefixes=PREFIXES,  # read only; sent to workers by name (see QueryJob)
        max_rows=settings.max_rows,
    )
    try:
        out = await call.state.engine.query(job)
    except Exception as e:  # noqa: BLE001 - every failure is answered, with its status
        status, message = _error_for(e, op.query)
        return plain(status, message, CORS)
    choice = negotiated.graph if out.kind == "graph" else negotiated.results
    if choice is None:  # the lexer could not tell the form; the parser could
        offers = GRAPH_OFFERS if out.kind == "graph" else RESULT_OFFERS
        return plain(406, not_acceptable_message(offers), {**CORS, **VARY})
    headers = {**CORS, **VARY, "Content-Type": content_type(choice.offered)}
    if out.truncated:  # the row limit cut the result
        headers["X-SPARQL-MaxRows"] = str(settings.max_rows)
    body = out.body
    gzipped = accepts_gzip(call.headers.get("accept-encoding")) and len(body) >= GZIP_ABOVE
    if gzipped:
        body = await run_in_threadpool(gzip_body, body)
        headers.update({"Content-Encoding": "gzip", "Vary": vary_encoding(VARY["Vary"])})
    if out.digest is not None:  # the worker hashed the result: the cache need not
        headers["ETag"] = f'"{out.digest}-gzip"' if gzipped else f'"{out.digest}"'
    if len(out.body) > STREAM_ABOVE:  # a large result goes out in chunks as the client reads
        return StreamingResponse(_chunks(body), headers=headers)
    # one body with its length: the result is whole already (the worker built it)
    await _send(send, 200, headers, body)
    return None


async def _update(call: Call, op: UpdateOperation, endpoint: str) -> Response:
    settings = call.state.settings
    try:
        authorize_update(
            settings.allow_updates, settings.update_token, call.headers.get("authorization")
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
        await call.state.engine.update(job)
    except Exception as e:  # noqa: BLE001 - every failure is answered, with its status
        status, message = _error_for(e, op.update)
        return plain(status, message)
    finally:
        notify_store_changed(call.scope["app"])
    return Response(status_code=204)


async def _count_rows(call: Call, query: str) -> list[dict[str, Any]]:
    out = await call.state.engine.query(QueryJob(query))
    return json.loads(out.body)["results"]["bindings"]


async def dataset_stats(call: Call) -> DatasetStats:
    """Triple counts of the default graph and of every named graph, through the engine."""
    named = {
        row["g"]["value"]: int(row["n"]["value"])
        for row in await _count_rows(call, NAMED_GRAPH_COUNTS)
        if row.get("g", {}).get("type") == "uri"
    }
    rows = await _count_rows(call, DEFAULT_GRAPH_COUNT)
    return DatasetStats(int(rows[0]["n"]["value"]) if rows else 0, named)


def _wants_html(accept: str | None) -> bool:
    return negotiate(accept, [*GRAPH_OFFERS, "text/html"]) == "text/html"


async def _service_description(call: Call, endpoint: str) -> Response:
    accept = call.headers.get("accept")
    if _wants_html(accept):
        page = query_ui_response(call.request)
        page.headers.setdefault("Vary", "Accept")
        return page
    choice = negotiate(accept, list(GRAPH_OFFERS))
    if choice is None:
        return plain(406, not_acceptable_message(GRAPH_OFFERS), {**CORS, **VARY})
    settings = call.state.settings
    try:
        stats = await dataset_stats(call)
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
            graph_store=_endpoint(call, "/store"),
        )
    except ValueError as e:  # the endpoint IRI comes from the Host header, which may be junk
        return plain(400, f"cannot describe the endpoint {endpoint!r}: {e}", CORS)
    return Response(
        serialize_description(triples, GRAPH_OFFERS[choice]),
        headers={**CORS, **VARY, "Content-Type": content_type(choice)},
    )


async def handle(call: Call, path: str, kind: EndpointKind, send: Send) -> Response | None:
    """One SPARQL 1.1 Protocol endpoint: query, update, or the service description. A query's
    result is sent here; every other answer is returned, to be sent by the caller."""
    method = call.scope["method"]
    if method == "OPTIONS":
        return Response(status_code=204, headers=PREFLIGHT)
    body = await call.request.body() if method in ("POST", "QUERY") else b""
    try:
        raw_query = call.scope.get("query_string", b"").decode("utf-8")
    except UnicodeDecodeError:
        return plain(400, "the query string is not UTF-8", CORS)
    try:
        op = parse_request(
            HttpRequest(method, raw_query, call.headers.get("content-type"), body, kind)
        )
    except ProtocolError as e:
        return plain(e.status, e.message, {**CORS, **e.headers})
    endpoint = _endpoint(call, path.rstrip("/"))
    if isinstance(op, ServiceDescriptionRequest):
        return await _service_description(call, endpoint)
    if isinstance(op, UpdateOperation):
        return await _update(call, op, endpoint)
    return await _query(call, op, endpoint, send)


async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
    """The SPARQL endpoints as plain ASGI, for the HTTP front to call ahead of the framework's
    router for a path of ``ENDPOINTS`` (no route matching, no dependency solving, no streaming
    task group, no Starlette ``Request`` or ``Response`` for a query's result)."""
    path = scope["path"]
    response = await handle(Call.of(scope, receive), path, ENDPOINTS[path], send)
    if response is not None:
        await response(scope, receive, send)
