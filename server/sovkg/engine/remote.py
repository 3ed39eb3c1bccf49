"""``sovkg serve --backend URL``: the same endpoint in front of another SPARQL 1.1 store over HTTP.

Two parts, both without a local copy of the data:

- :class:`RemoteRunner` implements the engine's ``Runner`` protocol: queries and updates go to the
  backend with the SPARQL 1.1 Protocol, results come back in SPARQL JSON or N-Triples and are
  re-serialized by pyoxigraph in the format the client negotiated, so the guard, the row limit
  and the media types behave as with the local store.
- :class:`RemoteStore` offers the few ``pyoxigraph.Store`` methods the Linked Data pages, dumps and
  VoID read (``quads_for_pattern``, ``query``, iteration, ``len``, ``named_graphs``), each as one
  SPARQL query to the backend. Those routes run in a thread pool, so it uses a blocking client.

Stores as they are: every request is a form POST (the one request every store answers: Virtuoso
7.2 never answers a body of ``application/sparql-query``), with one syntax asked for per query
form. The backend's default graph must hold the dataset; when it holds more (Virtuoso's is the
union of *all* its graphs, its own system graphs included), :class:`DatasetGraphs` names the
dataset's graphs (``--backend-graphs``, or detected) and every query without a dataset of its own
is confined to them with ``default-graph-uri`` and ``named-graph-uri``.

Blank nodes: Virtuoso writes them as ``nodeID://b10001`` in SPARQL JSON, read here as the blank
node ``nodeID-b10001`` and written back as ``<nodeID://b10001>`` (how Virtuoso lets a later query
name it). Other backends' blank nodes cannot be looked up again (their labels mean nothing in a
later query): a pattern with one finds nothing.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
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

from sovkg.dataset import GRAPH_BASE
from sovkg.engine.jobs import QueryJob, QueryOutput, UpdateJob
from sovkg.engine.serialize import query_output
from sovkg.errors import BackendRejected, BackendTimeout, BackendUnavailable
from sovkg.sparql.lexer import move_error_position, tokens

#: what we ask the backend for: one syntax per result kind, both read back by pyoxigraph
BACKEND_ACCEPT = "application/sparql-results+json, application/n-triples;q=0.9"

_SYNTAX_HINTS = (
    "error at ",
    "syntax",
    "parse error",
    "parser error",
    "lexical error",
    "sparql compiler",  # Virtuoso: "SP030: SPARQL compiler, line 1: ..."
)

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


def without_dataset_clauses(query: str) -> str:
    """``query`` with its FROM / FROM NAMED clauses blanked out (same length, so error
    positions stay): the protocol's ``default-graph-uri``/``named-graph-uri`` replace them, but
    Virtuoso reads FROM first when both are there."""
    toks = list(tokens(query))
    out = query
    for i, t in enumerate(toks):
        if t.depth != 0 or t.keyword != "FROM":
            continue
        j = i + 2 if i + 1 < len(toks) and toks[i + 1].keyword == "NAMED" else i + 1
        if j < len(toks):
            start, end = t.start, toks[j].end
            out = out[:start] + " " * (end - start) + out[end:]
    return out


#: a named graph no store holds: asks for an empty set of named graphs (Virtuoso reads a
#: ``default-graph-uri`` without ``named-graph-uri`` as "every named graph")
NO_NAMED_GRAPH = "urn:x-sovkg:no-named-graph"


def accept_for(query: str) -> str:
    """What to ask for: one syntax per query form (Virtuoso answers a CONSTRUCT in SPARQL JSON
    when both are acceptable)."""
    for t in tokens(query):
        if t.depth == 0 and t.keyword in ("SELECT", "ASK"):
            return "application/sparql-results+json"
        if t.depth == 0 and t.keyword in ("CONSTRUCT", "DESCRIBE"):
            return "application/n-triples"
    return BACKEND_ACCEPT


def query_form(
    text: str,
    defaults: tuple[str, ...] | None,
    named: tuple[str, ...] | None,
    graphs: tuple[str, ...] | None,
) -> list[tuple[str, str]]:
    """The form fields of a query: always a form POST (the one request every store answers;
    Virtuoso 7.2 never answers ``application/sparql-query``), with the dataset. ``graphs``
    confines a query without a dataset of its own to the dataset's graphs."""
    if defaults is None and named is None and graphs is not None:
        defaults, named = graphs, graphs
    if defaults and graphs is not None and not named:
        named = (NO_NAMED_GRAPH,)
    form = [("query", text)]
    form += [("default-graph-uri", g) for g in defaults or ()]
    form += [("named-graph-uri", g) for g in named or ()]
    return form


def _query_request(
    job: QueryJob, graphs: tuple[str, ...] | None = None
) -> tuple[dict[str, str], Body, str]:
    """Headers, body and the prologue of the POST that carries ``job`` to the backend."""
    prologue = _prologue(job.base_iri, job.prefixes)
    text = prologue + job.query
    defaults, named = job.default_graphs, job.named_graphs
    if defaults is None and named is None:
        dataset = declared_dataset(job.query, job.base_iri, job.prefixes)
        if dataset is not None:
            defaults, named = dataset
    elif graphs is not None:  # the protocol's dataset, not the query's FROM, as it says
        text = prologue + without_dataset_clauses(job.query)
    headers = {"Accept": accept_for(job.query)}
    return headers, query_form(text, defaults, named, graphs), prologue


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
    lowered = message.lower()
    if "timeout" in lowered or "timed out" in lowered or "estimated execution time" in lowered:
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


def check_complete(response: httpx.Response, max_rows: int | None) -> None:
    """Refuse an answer the backend says it cut: Virtuoso answers 200 with part of the result
    when its ``timeout`` parameter (an "anytime query") runs out (``X-SQL-State: S1TAT``), and
    cuts SELECT results at its ``ResultSetMaxRows`` (``X-SPARQL-MaxRows: N``)."""
    if response.headers.get("x-sql-state", "").upper() == "S1TAT":
        raise BackendTimeout("the SPARQL backend stopped the query at its own time limit")
    cut = response.headers.get("x-sparql-maxrows", "")
    if cut.isdigit() and (max_rows is None or max_rows >= int(cut)):
        raise BackendUnavailable(
            f"the SPARQL backend cut the answer at its own row limit of {cut} (Virtuoso: raise "
            "ResultSetMaxRows in virtuoso.ini above --max-rows)"
        )


#: how Virtuoso writes a blank node in SPARQL JSON, and the label it gets here
_VIRTUOSO_BNODE = re.compile(r"nodeID://([A-Za-z0-9_]+)")
VIRTUOSO_BNODE_LABEL = "nodeID-"


def _relabel(value: object) -> None:
    """Give a SPARQL JSON term written as ``nodeID://X`` (and those inside a triple term) the
    blank node label ``nodeID-X``, in place."""
    if not isinstance(value, dict):
        return
    if value.get("type") == "bnode" and isinstance(value.get("value"), str):
        m = _VIRTUOSO_BNODE.fullmatch(value["value"])
        if m:
            value["value"] = VIRTUOSO_BNODE_LABEL + m.group(1)
    elif value.get("type") == "triple" and isinstance(value.get("value"), dict):
        for part in value["value"].values():
            _relabel(part)


def readable_json(content: bytes) -> bytes:
    """SPARQL JSON results with Virtuoso's ``nodeID://X`` blank nodes (which pyoxigraph
    refuses) relabelled ``nodeID-X``; the bytes unchanged when there are none."""
    if b"nodeID://" not in content:
        return content
    try:
        data = json.loads(content)
    except ValueError:
        return content  # not JSON at all: the parser says so
    results = data.get("results") if isinstance(data, dict) else None
    rows = results.get("bindings") if isinstance(results, dict) else None
    for row in rows if isinstance(rows, list) else ():
        for value in row.values() if isinstance(row, dict) else ():
            _relabel(value)
    return json.dumps(data).encode("utf-8")


def parse_answer(response: httpx.Response) -> QuerySolutions | QueryBoolean | list[Triple]:
    """The backend's answer as pyoxigraph objects (a graph as a list of triples)."""
    media = _media(response)
    rdf = RdfFormat.from_media_type(media) if media else None
    if rdf is not None:
        return [Triple(q.subject, q.predicate, q.object) for q in parse(response.content, rdf)]
    fmt = QueryResultsFormat.from_media_type(media) if media else None
    if fmt is None:
        raise BackendUnavailable(f"the SPARQL backend answered with an unknown type {media!r}")
    content = response.content
    if fmt == QueryResultsFormat.JSON:
        content = readable_json(content)
    return parse_query_results(content, format=fmt)


def answer_output(response: httpx.Response, job: QueryJob) -> QueryOutput:
    """Parse and re-serialize the backend's answer in one thread.

    pyoxigraph's result objects are bound to the thread that made them (dropping one on another
    thread aborts the process), so none may leave this function: not as a value, and not in the
    traceback of an exception either.
    """
    error: Exception
    try:
        check_complete(response, job.max_rows)
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


# ---- the dataset's graphs ----------------------------------------------------------------

#: the backend's named graphs (``GRAPH ?g {}`` would be cheaper, but Virtuoso 7.2 answers it
#: with one empty row)
GRAPHS_QUERY = "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }"


def graph_names(response: httpx.Response) -> list[str]:
    """The IRIs bound to ``?g`` in a SPARQL JSON answer to :data:`GRAPHS_QUERY`."""
    try:
        rows = json.loads(response.content)["results"]["bindings"]
        return [r["g"]["value"] for r in rows if r.get("g", {}).get("type") == "uri"]
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise BackendUnavailable(
            f"the SPARQL backend sent an unreadable list of its graphs: {e}"
        ) from None


class DatasetGraphs:
    """Which of the backend's graphs are the dataset's: every query without a dataset of its
    own is confined to them. None means no confinement (the backend's default graph is the
    dataset as it is, e.g. ``oxigraph serve --union-default-graph`` holding only our data).

    ``given`` (``--backend-graphs``) is used as it is. Otherwise the graphs are detected from
    the backend's named graphs, once, on first use: when it holds graphs outside ``namespace``
    (where ``sovkg export`` puts every graph of the dataset) as well as inside, such as
    Virtuoso's own system graphs, the dataset is its graphs inside ``namespace``. A backend
    holding no graph of ours yet (not loaded) is asked again on the next request.
    """

    def __init__(self, given: tuple[str, ...] | None = None, namespace: str = GRAPH_BASE) -> None:
        self.namespace = namespace
        self._graphs = tuple(given) if given else None
        self._known = bool(given)
        self._lock = threading.Lock()

    @property
    def known(self) -> bool:
        """Whether the graphs are settled (given, or detected)."""
        return self._known

    @property
    def graphs(self) -> tuple[str, ...] | None:
        """The dataset's graphs (None: no confinement); detect first when not :attr:`known`."""
        return self._graphs

    def detected(self, every: list[str]) -> tuple[str, ...] | None:
        """Settle the graphs from the backend's named graphs ``every``; the graphs to use."""
        ours = tuple(sorted({g for g in every if g.startswith(self.namespace)}))
        with self._lock:
            if self._known:
                return self._graphs
            if not ours:
                return None  # nothing of ours there yet: ask again next time
            self._graphs = ours if len(ours) < len(set(every)) else None
            self._known = True
            return self._graphs


def _graphs_request() -> tuple[dict[str, str], bytes]:
    """Headers and body of the unconfined request for the backend's named graphs."""
    headers = {
        "Accept": "application/sparql-results+json",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    return headers, urlencode([("query", GRAPHS_QUERY)]).encode("ascii")


# ---- the runner --------------------------------------------------------------------------


@dataclass
class RemoteRunner:
    """Runs operations on a SPARQL 1.1 endpoint over HTTP (the engine's ``Runner``)."""

    query_url: str
    update_url: str
    timeout: float = 30.0
    #: the dataset's graphs, when the backend's default graph holds more (``--backend-graphs``)
    dataset: DatasetGraphs | None = None

    def __post_init__(self) -> None:
        self._client: httpx.AsyncClient | None = None
        if self.dataset is None:
            self.dataset = DatasetGraphs()

    async def graphs(self) -> tuple[str, ...] | None:
        """The graphs to confine queries to (detected on first use)."""
        assert self.dataset is not None
        if self.dataset.known:
            return self.dataset.graphs
        headers, body = _graphs_request()
        response = await self._post(self.query_url, headers, body, "")
        return self.dataset.detected(graph_names(response))

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
        headers, body, prologue = _query_request(job, await self.graphs())
        response = await self._post(self.query_url, headers, body, prologue)
        return await asyncio.to_thread(answer_output, response, job)

    async def update(self, job: UpdateJob) -> None:
        """Send the update to the backend's update endpoint."""
        prologue = _prologue(job.base_iri, {})
        text = prologue + job.update
        form = [("update", text)]  # a form: the one request every store answers
        form += [("using-graph-uri", g) for g in job.using_graphs or ()]
        form += [("using-named-graph-uri", g) for g in job.using_named_graphs or ()]
        await self._post(self.update_url, {}, form, prologue)

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
    """A term in SPARQL syntax; a blank node that came from Virtuoso as the IRI Virtuoso names
    it by, None for any other blank node (which the backend cannot look up)."""
    if isinstance(term, BlankNode):
        label = term.value
        if label.startswith(VIRTUOSO_BNODE_LABEL):
            return f"<nodeID://{label[len(VIRTUOSO_BNODE_LABEL) :]}>"
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

    def __init__(
        self,
        query_url: str,
        timeout: float = 30.0,
        graphs: tuple[str, ...] | None = None,
    ) -> None:
        self.query_url = query_url
        self.timeout = timeout
        #: the dataset's graphs: ``graphs`` (``--backend-graphs``), or detected on first use;
        #: a :class:`RemoteRunner` on the same backend shares it
        self.dataset = DatasetGraphs(graphs)
        self._client = httpx.Client(timeout=timeout, trust_env=False)

    def _send(self, headers: dict[str, str], body: bytes) -> httpx.Response:
        try:
            response = self._client.post(self.query_url, headers=headers, content=body)
        except httpx.HTTPError as e:
            raise transport_error(e, self.query_url, self.timeout) from None
        if response.status_code >= 300:
            raise error_for_response(response, "", self.query_url)
        return response

    def graphs(self) -> tuple[str, ...] | None:
        """The graphs to confine queries to (detected on first use)."""
        if self.dataset.known:
            return self.dataset.graphs
        return self.dataset.detected(graph_names(self._send(*_graphs_request())))

    def _select(self, sparql: str) -> QuerySolutions | QueryBoolean | list[Triple]:
        headers = {
            "Accept": accept_for(sparql),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        form = query_form(sparql, None, None, self.graphs())
        response = self._send(headers, urlencode(form).encode("ascii"))
        try:
            check_complete(response, None)
            return parse_answer(response)
        except SyntaxError as e:
            raise unreadable(response, e) from None

    def query(self, query: str, use_default_graph_as_union: bool = True) -> object:
        """Run a query over the backend's default graph (the union of its graphs), confined
        to the dataset's graphs."""
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
            try:
                yield from _quads(rows)
            except SyntaxError as e:  # a term pyoxigraph refuses: the backend's fault
                raise BackendUnavailable(
                    f"the SPARQL backend sent an unreadable answer: {e}"
                ) from None

        def _quads(rows: QuerySolutions) -> Iterator[Quad]:
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
        """The backend's named graphs (the dataset's, when confined)."""
        rows = self._select("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }")
        assert isinstance(rows, QuerySolutions)
        return (r["g"] for r in rows if isinstance(r["g"], NamedNode))

    def close(self) -> None:
        """Close the connections to the backend."""
        self._client.close()
