"""SPARQL 1.1 Protocol (https://www.w3.org/TR/sparql11-protocol/) request rules: which operation
an HTTP request asks for, and every way it can be malformed (ProtocolError with the 4xx).

Queries: GET ``?query=``, POST ``application/x-www-form-urlencoded`` (``query=``), POST
``application/sparql-query``; dataset from ``default-graph-uri``/``named-graph-uri``.
Updates: POST form (``update=``) or ``application/sparql-update``; dataset from
``using-graph-uri``/``using-named-graph-uri``. A GET with neither asks for the service
description. The HTTP ``QUERY`` method (a safe request with a body, as Oxigraph takes it) carries
a query exactly as a POST does, never an update.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Literal

from pyoxigraph import NamedNode

from sovkg.errors import ProtocolError, UsingConflictError
from sovkg.sparql.lexer import apply_using
from sovkg.sparql.urlencoded import parse_pairs

FORM = "application/x-www-form-urlencoded"
SPARQL_QUERY = "application/sparql-query"
SPARQL_UPDATE = "application/sparql-update"

QUERY_DATASET = ("default-graph-uri", "named-graph-uri")
UPDATE_DATASET = ("using-graph-uri", "using-named-graph-uri")

#: which operations an endpoint path takes: /sparql both, /query and /update one each
EndpointKind = Literal["any", "query", "update"]

ALLOWED_METHODS = "GET, POST, QUERY, OPTIONS"


@dataclass(frozen=True)
class QueryOperation:
    """A query and its protocol dataset (None: not given, the query or server decides)."""

    query: str
    default_graphs: tuple[str, ...] | None = None
    named_graphs: tuple[str, ...] | None = None


@dataclass(frozen=True)
class UpdateOperation:
    """An update and its protocol dataset (None: not given)."""

    update: str
    using_graphs: tuple[str, ...] | None = None
    using_named_graphs: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ServiceDescriptionRequest:
    """A GET with no operation: describe the service."""


Operation = QueryOperation | UpdateOperation | ServiceDescriptionRequest


@dataclass(frozen=True)
class HttpRequest:
    """The parts of an HTTP request the protocol looks at."""

    method: str
    query_string: str = ""
    content_type: str | None = None
    body: bytes = b""
    endpoint: EndpointKind = "any"
    headers: dict[str, str] = field(default_factory=dict)


def parse_media_type(header: str | None) -> tuple[str, dict[str, str]]:
    """``type/subtype`` (lower case) and the parameters of a Content-Type header."""
    if not header:
        return "", {}
    mtype, *params = header.split(";")
    parsed = {}
    for p in params:
        name, _, value = p.partition("=")
        parsed[name.strip().lower()] = value.strip().strip('"')
    return mtype.strip().lower(), parsed


def _pairs(text: str, where: str) -> list[tuple[str, str]]:
    try:
        return parse_pairs(text)
    except UnicodeDecodeError:
        raise ProtocolError(400, f"the {where} is not percent-encoded UTF-8") from None


def _utf8(body: bytes, charset: str | None, what: str) -> str:
    if charset is not None and charset.lower().replace("_", "-") not in ("utf-8", "utf8"):
        raise ProtocolError(400, f"the {what} must be UTF-8, not charset={charset}")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ProtocolError(400, f"the {what} is not valid UTF-8 (byte {e.start})") from None


#: the parameters of a request: each name's values, in the order given
Params = dict[str, list[str]]


def _index(pairs: list[tuple[str, str]]) -> Params:
    """Each parameter's values, in order: looked up once per name afterwards, not by a scan
    of all the pairs for each of the eight names the rules ask about."""
    params: Params = {}
    for name, value in pairs:
        values = params.get(name)
        if values is None:
            params[name] = [value]
        else:
            values.append(value)
    return params


def _graphs(params: Params, name: str) -> tuple[str, ...]:
    graphs = tuple(params.get(name, ()))
    for g in graphs:
        try:
            NamedNode(g)
        except ValueError:
            raise ProtocolError(400, f"{name}={g!r} is not an absolute IRI") from None
    return graphs


def _dataset(params: Params, names: tuple[str, str]):
    if names[0] not in params and names[1] not in params:  # the usual request
        return None, None
    default, named = _graphs(params, names[0]), _graphs(params, names[1])
    if not default and not named:
        return None, None
    # given at all, the protocol dataset is the whole dataset: what is not listed is empty
    return default, named


def _one(params: Params, name: str) -> str | None:
    values = params.get(name)
    if values is None:
        return None
    if len(values) > 1:
        raise ProtocolError(400, f"exactly one '{name}' parameter is allowed, got {len(values)}")
    if not values[0].strip():
        raise ProtocolError(400, f"the '{name}' parameter is empty")
    return values[0]


def _reject_foreign(params: Params, names: tuple[str, ...], operation: str) -> None:
    for name in names:
        if name in params:
            raise ProtocolError(400, f"'{name}' does not apply to a {operation}")


def _operation(
    params: Params, endpoint: EndpointKind, method: str
) -> QueryOperation | UpdateOperation | None:
    if "query" in params and "update" in params:
        raise ProtocolError(400, "a request carries either 'query' or 'update', not both")
    query, update = _one(params, "query"), _one(params, "update")
    if query is not None:
        if endpoint == "update":
            raise ProtocolError(400, "this is the update endpoint; send queries to /sparql")
        _reject_foreign(params, UPDATE_DATASET, "query")
        return QueryOperation(query, *_dataset(params, QUERY_DATASET))
    if update is not None:
        if method == "GET":
            raise ProtocolError(
                400, "updates must be sent by POST (SPARQL 1.1 Protocol §2.2), not GET"
            )
        if endpoint == "query":
            raise ProtocolError(400, "this is the query endpoint; send updates to /sparql")
        _reject_foreign(params, QUERY_DATASET, "update")
        return UpdateOperation(update, *_dataset(params, UPDATE_DATASET))
    return None


def parse_request(request: HttpRequest) -> Operation:
    """The operation an HTTP request asks for; raises ProtocolError (4xx) when malformed."""
    method = request.method.upper()
    url_pairs = _pairs(request.query_string, "query string")
    if method == "GET":
        params = _index(url_pairs)
        op = _operation(params, request.endpoint, method)
        if op is not None:
            return op
        if any(n in params for n in QUERY_DATASET + UPDATE_DATASET):
            raise ProtocolError(400, "missing 'query' parameter")
        return ServiceDescriptionRequest()
    if method not in ("POST", "QUERY"):
        raise ProtocolError(
            405,
            f"{method} is not allowed here: query by GET, POST or QUERY, update by POST",
            {"Allow": ALLOWED_METHODS},
        )
    op = _with_body(request, url_pairs, method)
    if method == "QUERY" and isinstance(op, UpdateOperation):
        raise ProtocolError(400, "QUERY is a safe method and carries queries only; update by POST")
    return op


def _with_body(
    request: HttpRequest, url_pairs: list[tuple[str, str]], method: str
) -> QueryOperation | UpdateOperation:
    """The operation of a POST (or QUERY): a form, or a query or update as the body."""
    mtype, params = parse_media_type(request.content_type)
    accepted = f"{FORM}, {SPARQL_QUERY} or {SPARQL_UPDATE}"
    if not mtype:
        raise ProtocolError(415, f"a POST needs a Content-Type: {accepted}")
    if mtype == FORM:
        text = _utf8(request.body, params.get("charset"), "form body")
        op = _operation(_index(url_pairs + _pairs(text, "form body")), request.endpoint, method)
        if op is None:
            raise ProtocolError(400, "the form has neither a 'query' nor an 'update' parameter")
        return op
    if mtype in (SPARQL_QUERY, SPARQL_UPDATE):
        kind = "query" if mtype == SPARQL_QUERY else "update"
        for name in ("query", "update"):
            if any(k == name for k, _ in url_pairs):
                raise ProtocolError(
                    400, f"with {mtype} the {kind} is the body; remove '{name}' from the URL"
                )
        text = _utf8(request.body, params.get("charset"), f"{kind} body")
        if not text.strip():
            raise ProtocolError(400, f"the {kind} body is empty")
        op = _operation(_index(url_pairs + [(kind, text)]), request.endpoint, method)
        assert op is not None
        return op
    raise ProtocolError(415, f"unsupported Content-Type {mtype!r}; use {accepted}")


def check_update_dataset(op: UpdateOperation) -> None:
    """400 when ``using-graph-uri``/``using-named-graph-uri`` meet USING or WITH in the update."""
    if op.using_graphs is None and op.using_named_graphs is None:
        return
    try:
        apply_using(op.update, op.using_graphs or (), op.using_named_graphs or ())
    except UsingConflictError as e:
        raise ProtocolError(400, str(e)) from None


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, else None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def authorize_update(allow_updates: bool, expected: str | None, authorization: str | None) -> None:
    """403 when updates are off, 401 (with a Bearer challenge) without the right token.

    The comparison takes the same time whatever the token, so it cannot be guessed byte by byte.
    """
    if not allow_updates:
        raise ProtocolError(
            403,
            "updates are disabled on this server (it is read-only); an operator can enable them "
            "with 'sovkg serve --allow-updates' and a token in SOVKG_TOKEN",
        )
    given = bearer_token(authorization)
    challenge = {"WWW-Authenticate": 'Bearer realm="sovkg"'}
    if given is None:
        raise ProtocolError(401, "updates need 'Authorization: Bearer <token>'", challenge)
    if expected is None or not hmac.compare_digest(given.encode(), expected.encode()):
        challenge["WWW-Authenticate"] += ', error="invalid_token"'
        raise ProtocolError(401, "the bearer token is not valid for updates", challenge)
