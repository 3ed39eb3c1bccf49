"""The protocol rules as plain functions: request -> operation, errors, negotiation, lexing."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from urllib.parse import parse_qsl

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pyoxigraph import NamedNode, Quad, QueryBoolean, Store
from sovkg.engine import QueryJob, UpdateJob, evaluate, execute_update
from sovkg.engine.execute import mentioned_prefixes
from sovkg.engine.jobs import QueryOutput
from sovkg.errors import ProtocolError, UsingConflictError
from sovkg.namespaces import PREFIXES
from sovkg.sparql.lexer import (
    apply_using,
    declares_dataset,
    query_form,
    rewrite_update,
    tokens,
    top_limit,
)
from sovkg.sparql.media import Choice, content_type, negotiate_query
from sovkg.sparql.protocol import (
    HttpRequest,
    QueryOperation,
    ServiceDescriptionRequest,
    UpdateOperation,
    authorize_update,
    check_update_dataset,
    parse_request,
)
from sovkg.sparql.service import endpoint_url
from sovkg.sparql.urlencoded import parse_pairs

FORM = "application/x-www-form-urlencoded"


def _error(request: HttpRequest) -> ProtocolError:
    with pytest.raises(ProtocolError) as e:
        parse_request(request)
    return e.value


def test_get_query_with_dataset() -> None:
    op = parse_request(
        HttpRequest(
            "GET", "query=ASK%7B%7D&default-graph-uri=http%3A%2F%2Fa&named-graph-uri=http://b"
        )
    )
    assert op == QueryOperation("ASK{}", ("http://a",), ("http://b",))


def test_named_graphs_alone_leave_an_empty_default_graph() -> None:
    op = parse_request(HttpRequest("GET", "query=ASK%7B%7D&named-graph-uri=http://b"))
    assert op == QueryOperation("ASK{}", (), ("http://b",))


def test_bare_get_asks_for_the_service_description() -> None:
    assert parse_request(HttpRequest("GET")) == ServiceDescriptionRequest()


def test_post_form_and_direct() -> None:
    form = parse_request(
        HttpRequest("POST", "", FORM, b"update=CLEAR%20ALL&using-graph-uri=http://g")
    )
    assert form == UpdateOperation("CLEAR ALL", ("http://g",), ())
    direct = parse_request(
        HttpRequest("POST", "default-graph-uri=http://g", "application/sparql-query", b"ASK {}")
    )
    assert direct == QueryOperation("ASK {}", ("http://g",), ())


@pytest.mark.parametrize(
    ("request_", "status"),
    [
        (HttpRequest("PUT", "query=ASK%7B%7D"), 405),
        (HttpRequest("DELETE"), 405),
        (HttpRequest("GET", "query=ASK%7B%7D&query=ASK%7B%7D"), 400),
        (HttpRequest("GET", "query=ASK%7B%7D&update=CLEAR%20ALL"), 400),
        (HttpRequest("GET", "update=CLEAR%20ALL"), 400),
        (HttpRequest("GET", "query="), 400),
        (HttpRequest("GET", "default-graph-uri=http://g"), 400),
        (HttpRequest("GET", "query=ASK%7B%7D&default-graph-uri=not%20an%20iri"), 400),
        (HttpRequest("GET", "query=ASK%7B%7D&using-graph-uri=http://g"), 400),
        (HttpRequest("GET", "query=%FF"), 400),
        (HttpRequest("POST", "", None, b"query=ASK%7B%7D"), 415),
        (HttpRequest("POST", "", "text/plain", b"ASK {}"), 415),
        (
            HttpRequest(
                "POST", "", "application/sparql-query; charset=UTF-16", "ASK".encode("utf-16")
            ),
            400,
        ),
        (HttpRequest("POST", "", "application/sparql-query", b"ASK {\xff}"), 400),
        (HttpRequest("POST", "", "application/sparql-query", b"  "), 400),
        (HttpRequest("POST", "query=ASK%7B%7D", "application/sparql-query", b"ASK {}"), 400),
        (HttpRequest("POST", "", FORM, b"nothing=here"), 400),
        (HttpRequest("POST", "", FORM, b"update=A&update=B"), 400),
        (HttpRequest("POST", "", FORM, b"query=ASK%7B%7D", endpoint="update"), 400),
        (HttpRequest("POST", "", FORM, b"update=CLEAR%20ALL", endpoint="query"), 400),
    ],
)
def test_protocol_errors(request_: HttpRequest, status: int) -> None:
    error = _error(request_)
    assert error.status == status
    assert error.message
    if status == 405:
        assert error.headers["Allow"] == "GET, POST, QUERY, OPTIONS"


def test_update_dataset_conflicts_with_using_and_with() -> None:
    for update in (
        "WITH <http://g> DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }",
        "DELETE { ?s ?p ?o } USING <http://g> WHERE { ?s ?p ?o }",
        "INSERT { ?s ?p ?o } USING NAMED <http://g> WHERE { ?s ?p ?o }",
    ):
        with pytest.raises(ProtocolError) as e:
            check_update_dataset(UpdateOperation(update, ("http://x",), ()))
        assert e.value.status == 400
    check_update_dataset(UpdateOperation(update, None, None))  # no parameters: no conflict


def test_using_is_written_into_each_modify_operation() -> None:
    rewrite = apply_using(
        'INSERT DATA { <a> <b> "WHERE {" } ; DELETE WHERE { ?s ?p ?o } ;\n'
        "INSERT { ?s ?p ?o } WHERE { ?s ?p ?o }",
        ["http://d"],
        ["http://n"],
    )
    assert rewrite.text == (
        'INSERT DATA { <a> <b> "WHERE {" } ; DELETE { ?s ?p ?o } USING <http://d> '
        "USING NAMED <http://n> WHERE { ?s ?p ?o } ;\n"
        "INSERT { ?s ?p ?o } USING <http://d> USING NAMED <http://n> WHERE { ?s ?p ?o }"
    )
    with pytest.raises(UsingConflictError):
        apply_using("# WITH in a comment is fine\nWITH <g> INSERT {} WHERE {}", ["http://d"], [])
    apply_using(
        "# WITH in a comment is fine\nINSERT { <a> <b> 'USING' } WHERE {}", ["http://d"], []
    )


def test_update_syntax_errors_point_into_the_text_as_sent() -> None:
    store = Store()
    with pytest.raises(SyntaxError) as e:
        execute_update(
            store, UpdateJob("INSERT { <a> <b> <c> }\nWHERE { ?s ?p", "http://x/", ("http://g",))
        )
    assert "error at 2:14" in str(e.value)


def test_clear_of_a_graph_never_seen_succeeds() -> None:
    assert rewrite_update("CLEAR GRAPH <http://g> ; CLEAR SILENT ALL").text == (
        "CLEAR SILENT GRAPH <http://g> ; CLEAR SILENT ALL"
    )
    execute_update(Store(), UpdateJob("CLEAR GRAPH <http://example.org/never>"))


def test_query_form_and_dataset_clauses() -> None:
    assert (
        query_form("PREFIX ex: <http://e/>\n# SELECT\nCONSTRUCT WHERE { ?s ?p ?o }") == "CONSTRUCT"
    )
    assert query_form("BASE <http://e/> ask {}") == "ASK"
    assert query_form("nonsense") is None
    assert declares_dataset("SELECT * FROM <http://g> { ?s ?p ?o }")
    assert declares_dataset("select * from named <http://g> { graph ?g { ?s ?p ?o } }")
    assert not declares_dataset('SELECT ?from { ?s <http://e/from> "FROM" }')


def _form_by_tokens(query: str) -> str | None:
    for t in tokens(query):
        if t.depth == 0 and t.keyword in ("SELECT", "CONSTRUCT", "DESCRIBE", "ASK"):
            return t.keyword
        if t.depth == 0 and t.keyword and t.keyword not in ("PREFIX", "BASE"):
            return None
    return None


@given(
    st.lists(
        st.sampled_from(
            [
                "PREFIX ex: <http://e/> ",
                "PREFIX : <http://e/>\n",
                "prefix a.b-c: <urn:x>",
                "BASE <http://e/> ",
                "# SELECT a comment\n",
                "#no newline",
                "\r\n\t ",
                "<a b>",
                "PREFIX",
                "ex:",
                "SELECT",
                "select*{}",
                "ASK{}",
                "DESCRIBE <x>",
                "CONSTRUCT",
                "SELECTION ",
                "INSERT ",
                "{",
                '"SELECT" ',
                "?x ",
                "*",
                ":",
                "<x>",
                " ",
                "a",
                "%",
                "BASE",
            ]
        ),
        max_size=8,
    )
)
def test_query_form_shortcut_agrees_with_the_tokens(parts: list[str]) -> None:
    """The regular-expression shortcut for the common prologue never disagrees with the
    tokenizer it stands in for (it once read ``PREFIXex:SELECT`` as a SELECT; the tokenizer
    reads one word)."""
    text = "".join(parts)
    assert query_form(text) == _form_by_tokens(text)


def test_top_limit_reads_only_the_outermost_query() -> None:
    assert top_limit("SELECT * { ?s ?p ?o } LIMIT 7") == 7
    assert top_limit("select * {} offset 3 limit 200") == 200
    assert top_limit("SELECT * { { SELECT * {} LIMIT 5 } } LIMIT 9") == 9
    assert top_limit("SELECT * { { SELECT * {} LIMIT 5 } }") is None
    assert top_limit("SELECT * {} # LIMIT 5") is None
    assert top_limit('SELECT * { ?s ?p "LIMIT 5" }') is None
    assert top_limit("SELECT * {}") is None
    assert top_limit("SELECT * {} LIMIT " + "9" * 5000) is None  # the parser's to refuse


def _limit_from_tokens(query: str) -> int | None:
    """The outermost LIMIT read from the whole token list (what ``top_limit`` reads from the
    tokenizer's matches as they come)."""
    toks = [t for t in tokens(query) if t.depth == 0]
    for i, t in enumerate(toks):
        if t.keyword != "LIMIT":
            continue
        digits, end = "", None
        for d in toks[i + 1 :]:
            if not d.text.isdigit() or (end is not None and d.start != end):
                break
            digits, end = digits + d.text, d.end
        return int(digits) if 0 < len(digits) <= 18 else None
    return None


_LIMIT_PIECES = [
    "LIMIT",
    "limit",
    " ",
    "0",
    "12",
    "{",
    "}",
    "#",
    "\n",
    '"',
    "'",
    "<a>",
    "<",
    "?x",
    "ex:",
    ".",
]


@given(st.lists(st.sampled_from(_LIMIT_PIECES), max_size=30).map("".join))
def test_top_limit_agrees_with_the_token_list(text: str) -> None:
    assert top_limit(text) == _limit_from_tokens(text)


def test_the_package_prefixes_travel_to_workers_by_name() -> None:
    """A query job travels as a tuple of plain values (``QueryJob.wire``) that carries the
    package's prefix table by name, not its twenty entries; any other table travels whole;
    both come back equal, and the pickle names no class."""
    job = QueryJob("SELECT * {}", prefixes=PREFIXES, max_rows=5)
    sent = pickle.dumps(job.wire(), protocol=pickle.HIGHEST_PROTOCOL)
    assert QueryJob.from_wire(pickle.loads(sent)) == job
    assert PREFIXES["skos"].encode() not in sent
    assert b"sovkg.engine" not in sent  # no class to look up on the other side
    assert QueryJob.from_wire(QueryJob("ASK {}", prefixes=dict(PREFIXES)).wire()).prefixes is (
        PREFIXES
    )
    own = QueryJob("SELECT * {}", prefixes={"ex": "http://example.org/"}, default_graphs=("g",))
    assert QueryJob.from_wire(pickle.loads(pickle.dumps(own.wire()))) == own
    assert QueryJob.from_wire(QueryJob("ASK {}").wire()) == QueryJob("ASK {}")
    with pytest.raises(TypeError, match="prefix table"):
        QueryJob.from_wire(("ASK {}", None, None, None, "a", "b", 7, None))


def test_query_outputs_travel_back_as_plain_values() -> None:
    out = QueryOutput(b"{}", "application/sparql-results+json", "solutions", True, "ab" * 16)
    sent = pickle.dumps(out.wire(), protocol=pickle.HIGHEST_PROTOCOL)
    assert b"sovkg.engine" not in sent
    assert QueryOutput.from_wire(pickle.loads(sent)) == out
    with pytest.raises(TypeError, match="not a query output"):
        QueryOutput.from_wire(("x", "y", "solutions", False, None))


_PREFIX_STORE = Store()
_PREFIX_STORE.add(
    Quad(
        NamedNode("http://www.w3.org/2004/02/skos/core#a"),
        NamedNode("http://www.w3.org/2000/01/rdf-schema#label"),
        NamedNode("http://example.org/x"),
    )
)


def _answer(query: str, prefixes: dict[str, str] | None) -> object:
    """What pyoxigraph makes of a query with a default prefix table: its rows, or its error."""
    try:
        result = _PREFIX_STORE.query(query, prefixes=prefixes, use_default_graph_as_union=True)
    except SyntaxError as e:
        return ("SyntaxError", str(e))
    if isinstance(result, QueryBoolean):
        return bool(result)
    return [tuple(str(t) for t in row) for row in result]


_PREFIX_PARTS = st.sampled_from(
    [
        "SELECT * WHERE { ?s ?p ?o }",
        "SELECT * WHERE { skos:a rdfs:label ?o }",
        "ASK { skos:a ?p ex:x }",
        "PREFIX skos: <http://other/> SELECT * WHERE { skos:a ?p ?o }",
        "PREFIX ex: <http://example.org/> SELECT * WHERE { ?s ?p ex:x }",
        "SELECT * WHERE { ?s ?p ?o FILTER(?o = owl:Thing) }",
        "SELECT * WHERE { ?s ?p ?o } # skos: in a comment",
        'SELECT ?x WHERE { BIND("rdfs:" AS ?x) }',
        "SELECT * WHERE { <http://www.w3.org/2004/02/skos/core#a> ?p ?o }",
        "SELECT * WHERE { sk\\u006Fs:a ?p ?o }",
        "SELECT * WHERE { :a ?p ?o }",
        "SELECT * WHERE { nope:a ?p ?o }",
        "SELECT * WHERE { ?s ?p ?o",
    ]
)


@given(_PREFIX_PARTS, st.sampled_from([PREFIXES, {"ex": "http://example.org/", "": "http://d/"}]))
def test_only_the_mentioned_prefixes_are_handed_to_the_parser(
    query: str, table: dict[str, str]
) -> None:
    """Leaving out the default prefixes a query never mentions gives the same rows, or the
    same syntax error, as the whole table (``evaluate`` hands pyoxigraph only those)."""
    assert _answer(query, mentioned_prefixes(table, query)) == _answer(query, table)


def test_mentioned_prefixes() -> None:
    assert mentioned_prefixes({}, "SELECT * {}") is None
    assert mentioned_prefixes(PREFIXES, "SELECT * { ?s ?p ?o }") is None
    assert mentioned_prefixes(PREFIXES, "SELECT * { ?s skos:prefLabel ?o }") == {
        "skos": PREFIXES["skos"]
    }
    escaped = "SELECT * { ?s sk\\u006Fs:prefLabel ?o }"
    assert mentioned_prefixes(PREFIXES, escaped) == PREFIXES  # expanded before parsing: all


_URLENCODED = st.lists(
    st.sampled_from(
        [*"%&=+ aZ09fF\n\r\t#;?/", "%2", "%41", "%e9", "%C3%A9", "%zz", "%%", "%3D", "%26"]
        + ["%2B", "é", "한", "%ED%95%9C", "%ff", "%80", "%C3", "\x00", "\ud7ff", "=3D", "=\n"]
    ),
    max_size=30,
).map("".join)


def _decoded(decode: Callable[[str], object], text: str) -> object:
    try:
        return decode(text)
    except UnicodeDecodeError:
        return "not UTF-8"


@given(_URLENCODED)
def test_urlencoded_pairs_agree_with_the_standard_library(text: str) -> None:
    """The fast decoder gives what ``parse_qsl`` (blank values kept, strict UTF-8) gives, or
    fails where it fails."""
    reference = _decoded(
        lambda t: parse_qsl(t, keep_blank_values=True, encoding="utf-8", errors="strict"), text
    )
    assert _decoded(parse_pairs, text) == reference


def test_urlencoded_pairs_examples() -> None:
    assert parse_pairs("query=SELECT%20*%20%7B%7D&x=a+b%2Bc&flag&&=v") == [
        ("query", "SELECT * {}"),
        ("x", "a b+c"),
        ("flag", ""),
        ("", "v"),
    ]
    assert parse_pairs("q=%3D%3d=%25") == [("q", "===%")]
    assert parse_pairs("q=100%") == [("q", "100%")]  # a stray % stays
    with pytest.raises(UnicodeDecodeError):
        parse_pairs("q=%ff")


def test_from_clause_wins_over_the_union_default_graph() -> None:
    """pyoxigraph's union flag would override FROM; evaluate() must not let it."""
    store = Store()
    a, b = NamedNode("http://a"), NamedNode("http://b")
    store.add(Quad(a, a, a, a))
    store.add(Quad(b, b, b, b))

    def subjects(query: str, **kw: object) -> set[str]:
        return {s["s"].value for s in evaluate(store, QueryJob(query, **kw))}

    assert subjects("SELECT ?s { ?s ?p ?o }") == {"http://a", "http://b"}
    assert subjects("SELECT ?s FROM <http://a> { ?s ?p ?o }") == {"http://a"}
    assert subjects("SELECT ?s FROM NAMED <http://a> { ?s ?p ?o }") == set()
    # protocol parameters win over FROM; a graph that does not exist is empty
    assert subjects("SELECT ?s FROM <http://a> { ?s ?p ?o }", default_graphs=("http://b",)) == {
        "http://b"
    }
    assert subjects("SELECT ?s { ?s ?p ?o }", default_graphs=("http://none",)) == set()


def test_negotiation_tables() -> None:
    n = negotiate_query(None)
    assert (n.results.offered, n.graph.offered) == (
        "application/sparql-results+json",
        "text/turtle",
    )
    n = negotiate_query("application/sparql-results+xml;q=0.5, text/csv, application/rdf+xml;q=0.4")
    assert (n.results.offered, n.graph.offered) == ("text/csv", "application/rdf+xml")
    n = negotiate_query("text/*")
    assert (n.results.offered, n.graph.offered) == ("text/csv", "text/turtle")
    n = negotiate_query("application/json")
    assert (n.results.offered, n.results.serialize) == (
        "application/json",
        "application/sparql-results+json",
    )
    # and JSON-LD for a graph: the JSON clients ask for
    assert n.graph == n.for_form("CONSTRUCT") == Choice("application/json", "application/ld+json")
    assert content_type("text/turtle") == "text/turtle; charset=utf-8"
    assert content_type("application/sparql-results+json") == "application/sparql-results+json"


def test_endpoint_url() -> None:
    assert endpoint_url("/sparql", "http", "127.0.0.1:8000", {}) == "http://127.0.0.1:8000/sparql"
    proxied = {"x-forwarded-proto": "https", "x-forwarded-host": "kg.example.org, inner"}
    assert endpoint_url("/sparql", "http", "127.0.0.1", proxied) == "https://kg.example.org/sparql"
    assert (
        endpoint_url("/sparql", "http", "h", proxied, "https://w3id.org/ksai/")
        == "https://w3id.org/ksai/sparql"
    )
    broken = {"x-forwarded-host": "bad host>"}
    assert endpoint_url("/sparql", "http", "h:1", broken) == "http://h:1/sparql"


def test_update_authorization() -> None:
    with pytest.raises(ProtocolError) as e:
        authorize_update(False, "t", "Bearer t")
    assert e.value.status == 403 and "--allow-updates" in e.value.message
    for header in (None, "Basic dDp0", "Bearer", "Bearer wrong"):
        with pytest.raises(ProtocolError) as e:
            authorize_update(True, "t", header)
        assert e.value.status == 401
        assert e.value.headers["WWW-Authenticate"].startswith("Bearer")
    authorize_update(True, "t", "Bearer t")
    authorize_update(True, "t", "bearer   t ")
