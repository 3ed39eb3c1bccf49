"""``sovkg serve --backend URL``: the same endpoint in front of another SPARQL 1.1 store over HTTP.

Two parts, both without a local copy of the data:

- :class:`RemoteRunner` implements the engine's ``Runner`` protocol: queries and updates go to the
  backend with the SPARQL 1.1 Protocol (POST), results come back in SPARQL JSON or N-Triples and
  are re-serialized by pyoxigraph in the format the client negotiated, so the guard, the row
  limit and the media types behave as with the local store.
- :class:`RemoteStore` offers the few ``pyoxigraph.Store`` methods the Linked Data pages, dumps and
  VoID read (``quads_for_pattern``, ``query``, iteration, ``len``, ``named_graphs``), each as one
  SPARQL query to the backend. Those routes run in a thread pool, so it uses a blocking client.

The backend must use the union of its graphs as the default graph (``oxigraph serve
--union-default-graph``, Fuseki's ``tdb2:unionDefaultGraph``), as this server does. Blank nodes
that come back from the backend cannot be looked up again (their labels mean nothing in a later
query): a pattern with a blank node finds nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlencode, urljoin

import httpx
from pyoxigraph import (
    BlankNode,
    DefaultGraph,
    Literal,
    NamedNode,
    Quad,
    QueryBoolean,
    QueryResultsFormat,
    QuerySolution,
    QuerySolutions,
    RdfFormat,
    Triple,
    parse,
    parse_query_results,
)

from sovkg.engine.jobs import QueryJob, QueryOutput, UpdateJob
from sovkg.engine.serialize import query_output
from sovkg.errors import BackendRejected, BackendTimeout, BackendUnavailable
from sovkg.sparql.lexer import move_error_position, tokens

#: what we ask the backend for: one syntax per result kind, both read back by pyoxigraph
BACKEND_ACCEPT = "application/sparql-results+json, application/n-triples;q=0.9"

_SYNTAX_HINTS = ("error at ", "syntax", "parse error", "parser error", "lexical error")

#: a request body: the bytes of the operation, or form fields
Body = bytes | list[tuple[str, str]]


# ---- the request -------------------------------------------------------------------------


def _prologue(base_iri: str | None, prefixes: dict[str, str]) -> str:
    """One line of BASE/PREFIX declarations to put before the operation ('' if none)."""
    parts = [f"BASE <{base_iri}>"] if base_iri else []
    parts += [f"PREFIX {p}: <{ns}>" for p, ns in prefixes.items()]
    return " ".join(parts) + "\n" if parts else ""


def declared_dataset(
    query: str, base_iri: str | None, prefixes: dict[str, str]
) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """The IRIs of the query's FROM and FROM NAMED clauses, resolved; None if it has none or
    one cannot be read here (the query then goes to the backend unchanged).

    They are sent as ``default-graph-uri``/``named-graph-uri`` (which mean the same, by the
    protocol) because some backends in union-default-graph mode ignore FROM in the text.
    """
    known = dict(prefixes)
    base = base_iri
    defaults: list[str] = []
    named: list[str] = []
    toks = list(tokens(query))
    i = 0
    while i < len(toks):
        t = toks[i]
        if t.depth == 0 and t.keyword == "PREFIX" and i + 2 < len(toks):
            name, iri = toks[i + 1].text, toks[i + 2].text
            if name.endswith(":") and iri.startswith("<"):
                known[name[:-1]] = urljoin(base or "", iri[1:-1])
        elif t.depth == 0 and t.keyword == "BASE" and i + 1 < len(toks):
            if toks[i + 1].text.startswith("<"):
                base = urljoin(base or "", toks[i + 1].text[1:-1])
        elif t.depth == 0 and t.keyword == "FROM":
            target = defaults
            if i + 1 < len(toks) and toks[i + 1].keyword == "NAMED":
                target, i = named, i + 1
            if i + 1 >= len(toks):
                return None
            ref = toks[i + 1].text
            if ref.startswith("<") and ref.endswith(">"):
                target.append(urljoin(base or "", ref[1:-1]))
            elif ":" in ref and ref.split(":", 1)[0] in known:
                prefix, local = ref.split(":", 1)
                target.append(known[prefix] + local)
            else:
                return None
            i += 1
        i += 1
    if not defaults and not named:
        return None
    return tuple(defaults), tuple(named)


def _query_request(job: QueryJob) -> tuple[dict[str, str], Body, str]:
    """Headers, body and the prologue of the POST that carries ``job`` to the backend."""
    prologue = _prologue(job.base_iri, job.prefixes)
    text = prologue + job.query
    defaults, named = job.default_graphs, job.named_graphs
    if defaults is None and named is None:
        dataset = declared_dataset(job.query, job.base_iri, job.prefixes)
        if dataset is not None:
            defaults, named = dataset
    headers = {"Accept": BACKEND_ACCEPT}
    if defaults is None and named is None:
        headers["Content-Type"] = "application/sparql-query; charset=utf-8"
        return headers, text.encode("utf-8"), prologue
    form = [("query", text)]
    form += [("default-graph-uri", g) for g in defaults or ()]
    form += [("named-graph-uri", g) for g in named or ()]
    return headers, form, prologue


def _unshift(message: str, prologue: str) -> str:
    """Move an ``error at line:column`` back to the client's text (the prologue is one line)."""
    if not prologue:
        return message
    return move_error_position(
        message, lambda line, column: (line - 1 if line >= 2 else line, column)
    )


def error_for_response(response: httpx.Response, prologue: str, backend: str) -> Exception:
    """The exception a backend's error answer means for our client."""
    message = response.text.strip() or response.reason_phrase
    status = response.status_code
    if status == 400:
        if any(h in message.lower() for h in _SYNTAX_HINTS):
            return SyntaxError(_unshift(message, prologue))
        return BackendRejected(f"the backend refused the operation: {message}", 400)
    if 400 < status < 500 and status not in (401, 403, 404, 405, 406, 415):
        return BackendRejected(f"the backend refused the operation: {message}", status)
    if "timeout" in message.lower() or "timed out" in message.lower():
        return BackendTimeout(f"the SPARQL backend ran out of time: {message}")
    return BackendUnavailable(f"the SPARQL backend at {backend} failed (HTTP {status}): {message}")


def transport_error(e: Exception, backend: str, timeout: float) -> Exception:
    """A failed exchange with the backend as the exception our client should see."""
    if isinstance(e, httpx.TimeoutException | TimeoutError):
        return BackendTimeout(
            f"no answer from the SPARQL backend within {timeout:g} s (the backend may still be "
            "working on it; configure its own time limit too)"
        )
    return BackendUnavailable(f"the SPARQL backend at {backend} cannot be reached: {e}")


# ---- the answer --------------------------------------------------------------------------


def _media(response: httpx.Response) -> str:
    return response.headers.get("content-type", "").split(";")[0].strip().lower()


def parse_answer(response: httpx.Response) -> QuerySolutions | QueryBoolean | list[Triple]:
    """The backend's answer as pyoxigraph objects (a graph as a list of triples)."""
    media = _media(response)
    rdf = RdfFormat.from_media_type(media) if media else None
    if rdf is not None:
        return [Triple(q.subject, q.predicate, q.object) for q in parse(response.content, rdf)]
    fmt = QueryResultsFormat.from_media_type(media) if media else None
    if fmt is None:
        raise BackendUnavailable(f"the SPARQL backend answered with an unknown type {media!r}")
    return parse_query_results(response.content, format=fmt)


def answer_output(response: httpx.Response, job: QueryJob) -> QueryOutput:
    """Parse and re-serialize the backend's answer in one thread.

    pyoxigraph's result objects are bound to the thread that made them (dropping one on another
    thread aborts the process), so none may leave this function: not as a value, and not in the
    traceback of an exception either.
    """
    error: Exception
    try:
        answer = parse_answer(response)
        try:
            return query_output(answer, job)
        finally:
            del answer
    except SyntaxError as e:  # a malformed answer is the backend's fault, not the client's
        error = unreadable(response, SyntaxError(str(e)))
    except Exception as e:  # noqa: BLE001 - whatever it is, it leaves without the frames
        e.__traceback__ = None
        e.__context__ = None
        error = e
    raise error


def unreadable(response: httpx.Response, error: Exception) -> Exception:
    """A 200 answer that does not parse: cut by the backend's own time limit (Oxigraph ends the
    body with a note that the operation was cancelled), or otherwise broken."""
    tail = response.content[-200:].lower()
    if b"cancelled" in tail or b"timeout" in tail or b"timed out" in tail:
        return BackendTimeout("the SPARQL backend stopped the query at its own time limit")
    return BackendUnavailable(f"the SPARQL backend sent an unreadable answer: {error}")


# ---- the runner --------------------------------------------------------------------------


@dataclass
class RemoteRunner:
    """Runs operations on a SPARQL 1.1 endpoint over HTTP (the engine's ``Runner``)."""

    query_url: str
    update_url: str
    timeout: float = 30.0

    def __post_init__(self) -> None:
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout, trust_env=False)
        return self._client

    async def _post(
        self, url: str, headers: dict[str, str], body: Body, prologue: str
    ) -> httpx.Response:
        if isinstance(body, list):  # a form: the dataset goes along as parameters
            headers = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
            content = urlencode(body).encode("ascii")
        else:
            content = body
        try:
            response = await asyncio.wait_for(
                self._http().post(url, headers=headers, content=content), self.timeout
            )
        except (httpx.HTTPError, TimeoutError, OSError) as e:
            raise transport_error(e, url, self.timeout) from None
        if response.status_code >= 300:
            raise error_for_response(response, prologue, url)
        return response

    async def query(self, job: QueryJob) -> QueryOutput:
        """Send the query to the backend; its answer in the job's format."""
        headers, body, prologue = _query_request(job)
        response = await self._post(self.query_url, headers, body, prologue)
        return await asyncio.to_thread(answer_output, response, job)

    async def update(self, job: UpdateJob) -> None:
        """Send the update to the backend's update endpoint."""
        prologue = _prologue(job.base_iri, {})
        text = prologue + job.update
        body: Body
        if job.using_graphs is None and job.using_named_graphs is None:
            headers = {"Content-Type": "application/sparql-update; charset=utf-8"}
            body = text.encode("utf-8")
        else:
            headers = {}
            body = [("update", text)]
            body += [("using-graph-uri", g) for g in job.using_graphs or ()]
            body += [("using-named-graph-uri", g) for g in job.using_named_graphs or ()]
        await self._post(self.update_url, headers, body, prologue)

    def close(self) -> None:
        """Close the connections to the backend."""
        client, self._client = self._client, None
        if client is None:
            return
        try:
            asyncio.get_running_loop().create_task(client.aclose())
        except RuntimeError:  # no loop any more: the sockets go with the process
            pass


# ---- the store adapter -------------------------------------------------------------------


Subject = NamedNode | BlankNode | Triple
Term = NamedNode | BlankNode | Literal | Triple


def _sparql_term(term: Term) -> str | None:
    """A term in SPARQL syntax; None for a blank node (which the backend cannot look up)."""
    if isinstance(term, BlankNode):
        return None
    return str(term)


def _bound(row: QuerySolution, given: Term | None, name: str) -> Term:
    """The pattern's term, or the one the backend bound to ``?name`` in ``row``."""
    term = given if given is not None else row[name]
    if not isinstance(term, NamedNode | BlankNode | Literal | Triple):
        raise BackendUnavailable(f"the SPARQL backend left ?{name} unbound in a pattern match")
    return term


class RemoteStore:
    """The ``pyoxigraph.Store`` methods the Linked Data routes use, answered by the backend.

    Each call is one blocking SPARQL query (the routes call it from a thread pool).
    """

    def __init__(self, query_url: str, timeout: float = 30.0) -> None:
        self.query_url = query_url
        self.timeout = timeout
        self._client = httpx.Client(timeout=timeout, trust_env=False)

    def _select(self, sparql: str) -> QuerySolutions | QueryBoolean | list[Triple]:
        headers = {"Accept": BACKEND_ACCEPT, "Content-Type": "application/sparql-query"}
        try:
            response = self._client.post(self.query_url, headers=headers, content=sparql.encode())
        except httpx.HTTPError as e:
            raise transport_error(e, self.query_url, self.timeout) from None
        if response.status_code >= 300:
            raise error_for_response(response, "", self.query_url)
        try:
            return parse_answer(response)
        except SyntaxError as e:
            raise unreadable(response, e) from None

    def query(self, query: str, use_default_graph_as_union: bool = True) -> object:
        """Run a query over the backend's default graph (the union of its graphs)."""
        return self._select(query)

    def quads_for_pattern(
        self,
        subject: Subject | None,
        predicate: NamedNode | None,
        object: Term | None,
        graph_name: NamedNode | BlankNode | DefaultGraph | None = None,
    ) -> Iterator[Quad]:
        """The quads matching the pattern (None matches anything), in every named graph of the
        backend, plus triples of its default graph that are in no named graph."""
        if graph_name is not None and not isinstance(graph_name, NamedNode):
            raise ValueError("a remote store is read by named graph (or all graphs) only")
        named = graph_name
        given = (subject, predicate, object)
        parts = [
            _sparql_term(t) if t is not None else f"?{v}" for t, v in zip(given, "spo", strict=True)
        ]
        if any(p is None for p in parts):
            return iter(())
        pattern = " ".join(p for p in parts if p is not None) + " ."
        if named is not None:
            where = f"GRAPH {named} {{ {pattern} }}"
        else:
            where = (
                f"{{ GRAPH ?g {{ {pattern} }} }} UNION "
                f"{{ {pattern} FILTER NOT EXISTS {{ GRAPH ?h {{ {pattern} }} }} }}"
            )
        rows = self._select(f"SELECT * WHERE {{ {where} }}")
        assert isinstance(rows, QuerySolutions)

        def quads() -> Iterator[Quad]:
            for row in rows:
                s, p, o = (_bound(row, t, v) for t, v in zip(given, "spo", strict=True))
                if not isinstance(s, Subject) or not isinstance(p, NamedNode):
                    raise BackendUnavailable("the SPARQL backend answered a malformed triple")
                g = named if named is not None else row["g"]
                graph = g if isinstance(g, NamedNode | BlankNode) else DefaultGraph()
                yield Quad(s, p, o, graph)

        return quads()

    def __iter__(self) -> Iterator[Quad]:
        """Every quad of the backend (for dumps)."""
        return self.quads_for_pattern(None, None, None)

    def __len__(self) -> int:
        """The number of quads (named graphs plus what only the default graph holds)."""
        rows = self._select(
            "SELECT (COUNT(*) AS ?n) WHERE { { GRAPH ?g { ?s ?p ?o } } UNION "
            "{ ?s ?p ?o FILTER NOT EXISTS { GRAPH ?h { ?s ?p ?o } } } }"
        )
        assert isinstance(rows, QuerySolutions)
        return next(int(r["n"].value) for r in rows)

    def named_graphs(self) -> Iterator[NamedNode]:
        """The backend's named graphs."""
        rows = self._select("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }")
        assert isinstance(rows, QuerySolutions)
        return (r["g"] for r in rows if isinstance(r["g"], NamedNode))

    def close(self) -> None:
        """Close the connections to the backend."""
        self._client.close()
