"""OpenLink Virtuoso (Debian's ``virtuoso-opensource``, 7.2) as a SPARQL backend for the tests of
``sovkg serve --backend``: started unprivileged from a copy of the packaged ``virtuoso.ini`` in a
temporary folder, on free loopback ports, and bulk-loaded with ``isql-vt`` (``TTLP_MT``).

What this Virtuoso does, measured (7.2.5 from Debian 12):
- a POST with ``Content-Type: application/sparql-query`` never gets an answer (the connection
  hangs); a form POST (``query=...``) and a GET answer at once;
- its default graph is the union of all its graphs, its own system graphs included (about
  5,600 triples after start), so a client must confine a query with ``default-graph-uri`` /
  ``FROM`` to see only the dataset;
- it cuts SELECT answers at ``[SPARQL] ResultSetMaxRows`` (10,000 in the packaged file) with a
  200 and only the header ``X-SPARQL-MaxRows: N`` (CONSTRUCT is not cut); set higher here;
- ``MaxQueryExecutionTime`` ends a query with a 500 "SR171: Transaction timed out"; the
  ``timeout`` request parameter instead answers 200 with a partial, wrong result marked only by
  ``X-SQL-State: S1TAT``; a query whose estimated cost is too high is refused at once (500);
- with ``Accept: application/sparql-results+json, application/n-triples;q=0.9`` it answers a
  CONSTRUCT in SPARQL JSON (s, p, o bindings): ask for one syntax per query form;
- its SPARQL JSON writes blank nodes as ``nodeID://b10001``, which pyoxigraph refuses;
- TTLP changes some literals on load: from N-Quads (flag 512), where every integer is written
  ``"..."^^xsd:integer``, an xsd:integer beyond 32 bits comes back as xsd:decimal; from TriG
  (flag 256), where it is a bare number, it stays an xsd:integer. An ``xsd:duration``, whatever
  the syntax, is stored as a number: of months for a year-month one (``"P11M"`` comes back
  ``"11"`` in SPARQL JSON, XML, N-Triples and JSON-LD, ``"P11M"`` only from its Turtle writer;
  ``"P14M"`` and ``"P1Y2M3D"`` both come back as 14 months, ``"-P3M"`` as ``"P9M"`` in Turtle),
  of seconds for a day-time one; ``INSERT DATA`` refuses such a literal outright, and no TTLP
  flag or ini setting keeps it. ``DB.DBA.RDF_QUAD_URI_L_TYPED`` stores it as written (a typed
  string), so :meth:`VirtuosoServer.load_dataset` loads those quads that way and the rest as
  TriG (:func:`dataset_trig`);
- its Turtle/TriG reader keeps the backslash of an escaped local name (``p:a\\#b``);
- ``GRAPH ?g {}`` gives one empty row instead of the named graphs;
- a join with a property path (``?t a ?c . ?c rdfs:subClassOf* X``, ``+`` or ``?`` alike) gives
  no rows once the dataset's graphs are given (``default-graph-uri`` or ``FROM``);
- a blank node from SPARQL JSON can be named again in a query as ``<nodeID://b10001>``;
- GROUP_CONCAT orders its items differently, and gives "" (not unbound) over no values.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

import httpx
from pyoxigraph import Literal, NamedNode, Quad, RdfFormat, serialize
from sovkg.dataset import open_store
from sovkg.export import canonical_quads

from tests.support.server import free_port, stop_process

VIRTUOSO = "virtuoso-t"
ISQL = "isql-vt"
PACKAGED_INI = Path("/etc/virtuoso-opensource-7/virtuoso.ini")
MISSING = (
    "OpenLink Virtuoso is not installed: the Virtuoso backend tests need Debian's "
    "virtuoso-opensource package (`DEBIAN_FRONTEND=noninteractive apt-get install "
    f"virtuoso-opensource`), which provides virtuoso-t, isql-vt and {PACKAGED_INI}"
)


#: TTLP's flags for the syntaxes it reads here
TTLP_FLAGS = {"trig": 256, "nquads": 512}

#: the datatypes whose literals TTLP stores as a number, losing what was written: these quads
#: are loaded one by one, as written, with ``DB.DBA.RDF_QUAD_URI_L_TYPED``
STORED_AS_NUMBER = frozenset({"http://www.w3.org/2001/XMLSchema#duration"})


def stored_as_number(quad: Quad) -> bool:
    """Whether TTLP would store the quad's object as a number (see :data:`STORED_AS_NUMBER`)."""
    return isinstance(quad.object, Literal) and quad.object.datatype.value in STORED_AS_NUMBER


def _sql_string(text: str) -> str:
    """``text`` as a Virtuoso SQL string literal."""
    if "\\" in text:
        raise ValueError(f"{text!r} has a backslash, which a Virtuoso SQL string escapes")
    return "'" + text.replace("'", "''") + "'"


def typed_literal_statements(quads: Iterable[Quad]) -> str:
    """One ``DB.DBA.RDF_QUAD_URI_L_TYPED`` statement (an isql-vt script line) per quad: graph,
    subject, predicate, the literal as written, its datatype; IRIs only (no blank node)."""
    lines = []
    for q in quads:
        g, subject, o = q.graph_name, q.subject, q.object
        if not (isinstance(g, NamedNode) and isinstance(subject, NamedNode)):
            raise ValueError(f"not a quad about an IRI in a named graph: {q}")
        if not isinstance(o, Literal):
            raise ValueError(f"not a literal: {q}")
        args = (g.value, subject.value, q.predicate.value, o.value, o.datatype.value)
        lines.append(f"DB.DBA.RDF_QUAD_URI_L_TYPED({', '.join(map(_sql_string, args))}, NULL);")
    return "".join(line + "\n" for line in lines)


def dataset_trig(*extra: Path) -> bytes:
    """The dataset as TriG without prefixes, what ``oxigraph convert -f kg.nq -t kg.trig`` makes
    of ``sovkg export --format nquads``: the file the tests (and the README's recipe) load, but
    for the quads of :func:`stored_as_number`.

    Not the TriG dump itself: Virtuoso 7.2's Turtle reader keeps the backslash of an escaped
    local name (``passage:p01-s01\\#selector`` becomes an IRI with a ``\\`` in it). Not N-Quads:
    their typed integers beyond 32 bits become xsd:decimal, where TriG's bare ones stay.
    """
    quads = canonical_quads(open_store(None, extra), as_triples=False)
    return serialize([q for q in quads if not stored_as_number(q)], format=RdfFormat.TRIG) or b""


def require_virtuoso() -> None:
    """Fail loudly (never skip) when the Debian package is not there."""
    missing = [p for p in (VIRTUOSO, ISQL) if shutil.which(p) is None]
    if missing or not PACKAGED_INI.is_file():
        raise RuntimeError(f"{MISSING} (missing: {', '.join(missing) or PACKAGED_INI})")


def _configure(
    ini: str, folder: Path, sql_port: int, http_port: int, max_seconds: int, max_rows: int
) -> str:
    """The packaged configuration with the database in ``folder``, on the given ports."""
    values: dict[str, dict[str, object]] = {
        "Database": {
            "DatabaseFile": folder / "virtuoso.db",
            "ErrorLogFile": folder / "virtuoso.log",
            "LockFile": folder / "virtuoso.lck",
            "TransactionFile": folder / "virtuoso.trx",
            "xa_persistent_file": folder / "virtuoso.pxa",
        },
        "TempDatabase": {
            "DatabaseFile": folder / "virtuoso-temp.db",
            "TransactionFile": folder / "virtuoso-temp.trx",
        },
        "Parameters": {
            "ServerPort": f"127.0.0.1:{sql_port}",
            "DirsAllowed": f"., /usr/share/virtuoso-opensource-7/vad, {folder}",
            "NumberOfBuffers": 10000,
            "MaxDirtyBuffers": 6000,
        },
        "HTTPServer": {"ServerPort": f"127.0.0.1:{http_port}"},
        "SPARQL": {"ResultSetMaxRows": max_rows, "MaxQueryExecutionTime": max_seconds},
    }
    out: list[str] = []
    section = ""
    for line in ini.splitlines():
        m = re.match(r"\s*\[([^\]]+)\]", line)
        if m:
            section = m.group(1)
        else:
            kv = re.match(r"\s*([A-Za-z_0-9]+)\s*=", line)
            if kv and kv.group(1) in values.get(section, {}):
                line = f"{kv.group(1)} = {values[section][kv.group(1)]}"
        out.append(line)
    return "\n".join(out) + "\n"


class VirtuosoServer:
    """``virtuoso-t +foreground`` with its database in a temporary folder, until stopped."""

    def __init__(self, max_seconds: int = 60, max_rows: int = 1_000_000) -> None:
        require_virtuoso()
        self.folder = Path(tempfile.mkdtemp(prefix="sovkg-virtuoso-"))
        self.sql_port = free_port()
        self.http_port = free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.ini = self.folder / "virtuoso.ini"
        self.ini.write_text(
            _configure(
                PACKAGED_INI.read_text(),
                self.folder,
                self.sql_port,
                self.http_port,
                max_seconds,
                max_rows,
            )
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self, timeout: float = 120) -> None:
        """Start the server (again) on the same folder and ports; wait until SPARQL answers."""
        self.proc = subprocess.Popen(
            [VIRTUOSO, "+configfile", str(self.ini), "+foreground"],
            cwd=self.folder,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"virtuoso-t exited ({self.proc.returncode}): {self.log()}")
            try:
                r = httpx.get(self.query_url, params={"query": "ASK {}"}, timeout=2)
                if r.status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"virtuoso-t did not answer on {self.url}: {self.log()}")
            time.sleep(0.2)

    def log(self) -> str:
        """The end of Virtuoso's own log file."""
        path = self.folder / "virtuoso.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    @property
    def query_url(self) -> str:
        """The SPARQL endpoint (queries; updates need the SPARQL_UPDATE role)."""
        return f"{self.url}/sparql"

    def isql(self, statement: str, timeout: float = 300) -> str:
        """Run one SQL statement as ``dba`` with ``isql-vt``; its output, or an error."""
        return self._isql(f"exec={statement}", timeout)

    def isql_script(self, script: str, timeout: float = 300) -> str:
        """Run a script of SQL statements (one per line) as ``dba`` with ``isql-vt``."""
        path = self.folder / f"script-{time.monotonic_ns()}.sql"
        path.write_text(script, "utf-8")
        try:
            return self._isql(str(path), timeout)
        finally:
            path.unlink()

    def _isql(self, argument: str, timeout: float) -> str:
        done = subprocess.run(
            [ISQL, str(self.sql_port), "dba", "dba", argument],
            capture_output=True,
            timeout=timeout,
            cwd=self.folder,
        )
        out = done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace")
        if done.returncode != 0 or "*** Error" in out:
            raise RuntimeError(f"isql-vt {argument!r} failed: {out}")
        return out

    def load(self, data: bytes, syntax: str = "nquads") -> None:
        """Bulk-load N-Quads or TriG (every quad into its own graph) and make them durable."""
        path = self.folder / f"load-{time.monotonic_ns()}.{syntax}"
        path.write_bytes(data)
        # the graph argument is used only for triples without one
        flags = TTLP_FLAGS[syntax]
        self.isql(f"DB.DBA.TTLP_MT(file_to_string_output('{path}'), '', 'urn:x', {flags});")
        self.isql("checkpoint;")
        path.unlink()

    def load_dataset(self, *extra: Path) -> None:
        """Load the dataset as the README says: TriG by TTLP, but the quads TTLP would store as
        a number (:func:`stored_as_number`) one by one, as written."""
        quads = canonical_quads(open_store(None, extra), as_triples=False)
        self.load(dataset_trig(*extra), "trig")
        script = typed_literal_statements(q for q in quads if stored_as_number(q))
        if script:
            self.isql_script(script)
            self.isql("checkpoint;")

    def kill(self) -> None:
        """Stop the server at once (as a crash would)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        """Stop the server and remove its folder."""
        if self.proc is not None:
            stop_process(self.proc)
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> VirtuosoServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
