"""The most a plain lookup can cost the server process (``sovkg.engine.inline``).

    python benchmarks/bounds/inline.py [--triples 1000000] [--output benchmarks/bounds/INLINE.md]

A lookup the server answers itself runs on its event loop, so what matters is the worst: the
longest a lookup can hold the loop before it is answered or handed to a worker. This times, in
one process on a store of ``--triples`` triples about one subject (the most compact rows there
are: short literals), each case many times and reports the median and the worst:

- the recognizer on the longest text it reads (``MAX_LENGTH``, all of it projected variables);
- lookups that pass the budget in every syntax (the result is dropped and goes to a worker);
- a lookup that is answered (the point lookup of ``run.py``, on the shipped graph);
- the same lookup on a worker's path, for scale: ``execute_query`` as a worker runs it.

It measures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from pyoxigraph import Literal, NamedNode, Quad, Store
from sovkg.dataset import open_store
from sovkg.engine import QueryJob, execute_query
from sovkg.engine.inline import BYTES, ROWS, answer_here
from sovkg.namespaces import PREFIXES
from sovkg.sparql.lookup import MAX_LENGTH, MAX_QUERY_PART, lookup_text

HUB = "http://example.org/hub"
TEAM = "https://w3id.org/ksai/id/team/naver-cloud"


def _time(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    """Median and worst of ``runs`` calls, in µs."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1e6)
    return statistics.median(times), max(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--triples", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--output", type=Path)
    args = ap.parse_args()

    hub = Store()
    hub.bulk_extend(
        Quad(NamedNode(HUB), NamedNode(f"http://example.org/p{i % 5}"), Literal(str(i)))
        for i in range(args.triples)
    )
    graph = open_store(None, [])
    part = " ?s { ?s ?p ?o } LIMIT 1 OFFSET 1"
    part += " #" * ((MAX_QUERY_PART - len(part)) // 2)  # one token per two characters
    line = "PREFIX a: <http://example.org/>\n"
    longest = line * ((MAX_LENGTH - len(part) - len("SELECT")) // len(line)) + "SELECT" + part
    assert lookup_text(longest, max_offset=ROWS) is not None
    select = f"SELECT ?o {{ <{HUB}> ?p ?o }}"
    cases: list[tuple[str, Callable[[], object]]] = [
        (
            f"recognizer, {len(longest)} characters, comments to the end",
            lambda: lookup_text(longest),
        ),
    ]
    for media_type in ("application/sparql-results+json", "text/tab-separated-values"):
        job = QueryJob(select, result_format=media_type, max_rows=100_000)
        cases.append(
            (f"past the budget: SELECT, {media_type}", lambda job=job: answer_here(hub, job))
        )
    for media_type in ("text/turtle", "application/n-triples"):
        job = QueryJob(f"DESCRIBE <{HUB}>", graph_format=media_type, max_rows=100_000)
        cases.append(
            (f"past the budget: DESCRIBE, {media_type}", lambda job=job: answer_here(hub, job))
        )
    point = QueryJob(
        f"SELECT ?l WHERE {{ <{TEAM}> skos:prefLabel ?l }}", prefixes=PREFIXES, max_rows=100_000
    )
    cases.append(("answered: the point lookup", lambda: answer_here(graph, point)))
    cases.append(("for scale: the same on a worker's path", lambda: execute_query(graph, point)))

    lines = [
        "# The most a plain lookup costs the server process",
        "",
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"- machine: {platform.machine()}, {platform.platform()}",
        "- command: `python benchmarks/bounds/inline.py"
        f" --triples {args.triples} --runs {args.runs}`",
        f"- budget: {ROWS} rows, {BYTES} bytes; a hub subject with {args.triples:,} triples",
        "",
        "| case | median µs | worst µs |",
        "|---|---|---|",
    ]
    for name, fn in cases:
        fn()
        median, worst = _time(fn, args.runs)
        lines.append(f"| {name} | {median:.0f} | {worst:.0f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.output:
        args.output.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
