"""Operations structured too deeply for the engine: pyoxigraph parses and evaluates
recursively, and a query a few kilobytes long (thousands of nested parentheses, or thousands of
OPTIONALs in one group) overflows its stack and kills the process that runs it. The depth is
measured before any engine sees the text (``sovkg.sparql.lexer.depth``): past the limit the
client gets 400 naming it, the command line exits 2, and every real query passes."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pyoxigraph import RdfFormat
from sovkg.errors import TooDeep
from sovkg.rdfinput import InputRefused, check_bytes, check_file_depth
from sovkg.sparql.lexer import MAX_DEPTH, check_depth, depth

from tests.support.server import SOVKG, LiveServer
from tests.support.setups import every_setup

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "depth-test-token-51c0"
PROBE = "ASK { ?s a <https://w3id.org/ksai/ontology#Consortium> }"

#: each crashed pyoxigraph (SIGSEGV) in a worker before the check, measured on its 8 MiB stack
CRASHING = {
    "nested parentheses": "ASK { FILTER(" + "(" * 6000 + "1" + ")" * 6000 + ") }",
    "nested groups": "ASK " + "{" * 3000 + "}" * 3000,
    "OPTIONALs in one group": "ASK { " + "OPTIONAL { ?s ?p ?o } " * 3000 + "}",
    "a chain of additions": "ASK { FILTER(1" + " + 1" * 8000 + ") }",
    "a chain of negations": "ASK { FILTER(" + "!" * 12000 + "true) }",
    "triple patterns": "ASK { "
    + " ".join(f"?v{i} <urn:p> ?v{i + 1} ." for i in range(11000))
    + " }",
}


def _nested(n: int) -> str:
    return "SELECT * WHERE { ?s ?p ?o FILTER(" + "(" * n + "?o" + ")" * n + ") }"


def test_depth_counts_nesting_and_chains_but_not_data() -> None:
    assert depth(_nested(2000))[0] > MAX_DEPTH
    assert depth(_nested(100))[0] < 200
    # chains count once per token in their group, not once per group on the way out
    flat = "SELECT * { " + " ".join(f"BIND({i} AS ?v{i})" for i in range(1200)) + " }"
    assert depth(flat)[0] > MAX_DEPTH
    many_groups = "SELECT * { " + "{ ?s ?p ?o } " * 1200 + "}"
    assert depth(many_groups)[0] < 10  # siblings, each closed before the next
    # data blocks hold data: a large INSERT DATA or VALUES is flat, however long
    insert = "INSERT DATA { " + " ".join(f"<urn:s{i}> <urn:p> {i}.5 ." for i in range(20000))
    assert depth(insert + " }")[0] < 10
    values = "SELECT * { VALUES ?x { " + " ".join(f"{i}.5" for i in range(20000)) + " } }"
    assert depth(values)[0] < 10
    # strings and comments are skipped
    assert depth('SELECT * { FILTER("' + "(" * 5000 + '") } # ' + "(" * 5000)[0] < 10


def test_the_shipped_queries_are_far_under_the_limit() -> None:
    for rq in sorted((ROOT / "server" / "sovkg" / "queries").glob("*.rq")):
        # padded past the length under which nothing is measured
        assert depth(rq.read_text() + " " * MAX_DEPTH)[0] < 50, rq.name


def test_the_refusal_names_the_limit_and_the_line() -> None:
    with pytest.raises(TooDeep, match=r"limit of 1000 levels.*line 3"):
        check_depth("SELECT *\nWHERE {\n" + "{" * 1200 + "}" * 1200 + "}")
    with pytest.raises(TooDeep, match="the update is structured"):
        check_depth("DELETE WHERE { " + "OPTIONAL {} " * 1200 + "}", "update")


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    live = LiveServer(
        "--no-validate",
        "--no-access-log",
        "--query-workers",
        "1",
        "--allow-updates",
        env={"SOVKG_TOKEN": TOKEN},
    )
    try:
        live.wait_ready()
        yield live
    finally:
        live.stop()


@pytest.mark.live
@pytest.mark.parametrize("name", list(CRASHING))
def test_a_deep_query_gets_400_and_the_worker_lives(server: LiveServer, name: str) -> None:
    r = httpx.post(f"{server.url}/sparql", data={"query": CRASHING[name]}, timeout=60)
    assert r.status_code == 400, (name, r.status_code, r.text[:300])
    assert "limit of 1000 levels" in r.text
    probe = httpx.post(f"{server.url}/sparql", data={"query": PROBE}, timeout=30)
    assert probe.status_code == 200 and probe.json()["boolean"] is True


@every_setup
def test_every_setup_refuses_a_deep_query_and_its_store_lives(live_server) -> None:
    """In front of a store over HTTP (native Oxigraph, Virtuoso) the depth is measured before
    the query is sent: the backend never sees it."""
    r = httpx.post(f"{live_server.url}/sparql", data={"query": CRASHING["nested groups"]})
    assert r.status_code == 400 and "limit of 1000 levels" in r.text, r.text[:300]
    probe = httpx.post(f"{live_server.url}/sparql", data={"query": PROBE}, timeout=30)
    assert probe.status_code == 200 and probe.json()["boolean"] is True


@pytest.mark.live
def test_a_deep_update_gets_400_and_a_large_insert_data_passes(server: LiveServer) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    deep = "INSERT { <urn:a> <urn:b> <urn:c> } WHERE { " + "OPTIONAL { ?s ?p ?o } " * 3000 + "}"
    r = httpx.post(f"{server.url}/update", data={"update": deep}, headers=auth, timeout=60)
    assert r.status_code == 400 and "the update is structured" in r.text
    insert = (
        "INSERT DATA { GRAPH <urn:depth-test> { "
        + " ".join(f"<urn:s{i}> <urn:p> {i} ." for i in range(20000))
        + " } }"
    )
    r = httpx.post(f"{server.url}/update", data={"update": insert}, headers=auth, timeout=60)
    assert r.status_code in (200, 204), r.text[:300]
    count = "SELECT (COUNT(*) AS ?n) { GRAPH <urn:depth-test> { ?s ?p ?o } }"
    r = httpx.post(f"{server.url}/sparql", data={"query": count}, timeout=30)
    assert r.json()["results"]["bindings"][0]["n"]["value"] == "20000"


def test_sovkg_query_exits_2_naming_the_limit(tmp_path: Path) -> None:
    rq = tmp_path / "deep.rq"
    rq.write_text(CRASHING["nested parentheses"])
    done = subprocess.run([*SOVKG, "query", f"@{rq}"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "limit of 1000 levels" in done.stderr


# --- RDF: RDF/XML from clients, and local files ----------------------------------------------


def _deep_rdfxml(n: int) -> bytes:
    return (
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:e="urn:e#">'
        '<rdf:Description rdf:about="urn:s">'
        + "<e:p><rdf:Description>" * n
        + "</rdf:Description></e:p>" * n
        + "</rdf:Description></rdf:RDF>"
    ).encode()


#: files that crashed the command line (SIGSEGV, exit 139) before its nesting check
DEEP_FILES = {
    "deep.jsonld": (
        '{"@id": "urn:s", "urn:p": ' + '{"urn:p": ' * 20000 + '"x"' + "}" * 20000 + "}"
    ).encode(),
    "deep.nt": (
        "<urn:s> <urn:p> " + "<<( <urn:s> <urn:p> " * 40000 + "<urn:o>" + " )>>" * 40000 + " .\n"
    ).encode(),
    "deep.rdf": _deep_rdfxml(20000),
}


def test_rdfxml_from_clients_is_held_to_the_nesting_limit() -> None:
    with pytest.raises(InputRefused, match="nests elements deeper than the limit of 129 levels"):
        check_bytes(_deep_rdfxml(70), RdfFormat.RDF_XML)
    check_bytes(_deep_rdfxml(60), RdfFormat.RDF_XML)  # within the 64 levels of other syntaxes


@pytest.mark.parametrize("name", list(DEEP_FILES))
@pytest.mark.parametrize("command", [["validate"], ["export", "--data"]])
def test_the_command_line_refuses_deep_files_by_name(
    tmp_path: Path, name: str, command: list[str]
) -> None:
    path = tmp_path / name
    path.write_bytes(DEEP_FILES[name])
    done = subprocess.run(
        [*SOVKG, *command, str(path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, (done.returncode, done.stderr[-300:])
    assert f"{path}: refused:" in done.stderr and "deeper than the limit of" in done.stderr


def test_local_files_with_many_shallow_brackets_pass(tmp_path: Path) -> None:
    shallow = tmp_path / "shallow.ttl"
    shallow.write_text("".join(f"<urn:s{i}> <urn:p> [ <urn:q> ( 1 2 ) ] .\n" for i in range(5000)))
    check_file_depth(str(shallow), RdfFormat.TURTLE)
    done = subprocess.run(
        [*SOVKG, "export", "--format", "ntriples", "--data", str(shallow)],
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0 and done.stdout.count(b"urn:q") == 5000


def test_validate_names_a_directory(tmp_path: Path) -> None:
    folder = tmp_path / "data.ttl"
    folder.mkdir()
    done = subprocess.run([*SOVKG, "validate", str(folder)], capture_output=True, text=True)
    assert done.returncode == 2 and "is a directory" in done.stderr


@pytest.mark.live
def test_a_deep_rdfxml_put_gets_400(server: LiveServer) -> None:
    r = httpx.put(
        f"{server.url}/store",
        params={"graph": "http://example.org/graph/deep"},
        content=_deep_rdfxml(50000),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/rdf+xml"},
        timeout=60,
    )
    assert r.status_code == 400 and "nests elements deeper than the limit" in r.text, r.text
