"""Scale of the running server: memory against the number of query workers, and the shipped
example queries' times, as the graph grows.

    python benchmarks/scale/serve.py --sizes 100000 1000000 10000000 --workers 1 2 4

For each size it generates a synthetic graph (``generate.py``), measures one in-memory copy of
it (a process that only loads it), times every example query in process (the store opened as
``sovkg serve`` opens it, each query evaluated and serialized as SPARQL JSON by pyoxigraph, median
of 3), then for each worker count starts
``sovkg serve --data FILE --no-validate --query-workers N`` (the store in memory, the default),
and:

- times every example query of ``server/sovkg/queries/*.rq`` over HTTP, fresh (a new comment
  each time, so the response cache cannot answer), median of 3, each bounded by the server's
  ``--query-timeout``;
- then runs a full scan on every worker (``GROUP BY ?p`` over all quads), the worst case for
  pages shared copy-on-write;
- samples the memory of the server's process tree after each phase: the sum of RSS (which
  counts a page shared by N processes N times) and the sum of PSS (each shared page divided
  among its sharers: the memory the tree really holds);
- notes the machine's 1-minute load average before and after the example queries (the machine
  may be shared: the times are only comparable at a similar load).

Results: ``benchmarks/scale/SERVE.md`` and ``SERVE.json`` (``--output`` names them).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from procs import free_port, tree

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
QUERIES = ROOT / "server" / "sovkg" / "queries"
#: flags given to every ``sovkg serve`` besides the data, the port and --query-workers
SERVER_ARGS: list[str] = []
SCAN = "SELECT ?p (COUNT(*) AS ?n) WHERE { ?s ?p ?o } GROUP BY ?p"

_ONE_COPY = r"""
import sys
from pyoxigraph import RdfFormat, Store
store = Store()
store.load(path=sys.argv[1], format=RdfFormat.N_QUADS)
for line in open("/proc/self/status"):
    if line.startswith("VmRSS:"):
        print(int(line.split()[1]) // 1024, len(store))
"""

#: the example queries in process: argv = data file, then the .rq files; prints a JSON object
_IN_PROCESS = r"""
import io, json, statistics, sys, time
from pathlib import Path
from pyoxigraph import QueryResultsFormat
from sovkg.dataset import open_store
from sovkg.queries import parse_example, with_prologue
store = open_store(extra=[Path(sys.argv[1])])
out = {}
for rq in map(Path, sys.argv[2:]):
    query = with_prologue(parse_example(rq.stem, rq.read_text(encoding="utf-8")))
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        result = store.query(query, use_default_graph_as_union=True)
        result.serialize(io.BytesIO(), format=QueryResultsFormat.JSON)
        runs.append(time.perf_counter() - started)
    out[rq.stem] = statistics.median(runs)
print(json.dumps(out))
"""


def memory(pid: int) -> dict[str, float]:
    """RSS and PSS (MiB) summed over the process tree of ``pid``, and its process count."""
    rss = pss = 0
    pids = tree(pid)
    for p in pids:
        try:
            text = Path(f"/proc/{p}/smaps_rollup").read_text()
        except OSError:
            continue
        rss += int(re.search(r"^Rss:\s+(\d+)", text, re.M).group(1))  # type: ignore[union-attr]
        pss += int(re.search(r"^Pss:\s+(\d+)", text, re.M).group(1))  # type: ignore[union-attr]
    return {"rss_mib": rss / 1024, "pss_mib": pss / 1024, "processes": len(pids)}


def ask(url: str, query: str, timeout: float) -> tuple[float | None, int]:
    """Seconds for one fresh answer (None past the timeout or on an error) and its status."""
    fresh = query + f"\n# {time.monotonic_ns()}"
    started = time.perf_counter()
    try:
        r = httpx.get(
            url + "/sparql?query=" + urllib.parse.quote(fresh),
            headers={"Accept": "application/sparql-results+json"},
            timeout=timeout + 10,
        )
    except httpx.TransportError:
        return None, 0
    seconds = time.perf_counter() - started
    return (seconds if r.status_code == 200 else None), r.status_code


def serve(data: Path, workers: int, query_timeout: float, start_timeout: float) -> dict:
    """Start the server on ``data`` with ``workers`` query workers and measure it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "sovkg", "serve", "--data", str(data), "--no-validate"]
    cmd += ["--no-access-log", "--query-workers", str(workers), "--port", str(port)]
    cmd += SERVER_ARGS
    cmd += ["--query-timeout", str(query_timeout)]
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    out: dict = {"workers": workers, "queries": {}}
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited with {proc.returncode}")
            if time.perf_counter() - started > start_timeout:
                raise TimeoutError("the server did not start")
            try:
                if httpx.get(url + "/health", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(1)
        out["ready_s"] = time.perf_counter() - started
        time.sleep(2)
        out["memory_ready"] = memory(proc.pid)
        out["load_before"] = os.getloadavg()[0]
        for rq in sorted(QUERIES.glob("*.rq")):
            runs = [ask(url, rq.read_text(encoding="utf-8"), query_timeout) for _ in range(3)]
            times = [s for s, _ in runs if s is not None]
            out["queries"][rq.stem] = {
                "median_s": statistics.median(times) if len(times) == len(runs) else None,
                "statuses": sorted({code for _, code in runs}),
            }
            print(json.dumps({rq.stem: out["queries"][rq.stem]}), flush=True)
        out["load_after"] = os.getloadavg()[0]
        out["memory_after_queries"] = memory(proc.pid)
        scans = [ask(url, SCAN, query_timeout) for _ in range(workers)]
        out["scan_s"] = [s for s, _ in scans]
        out["memory_after_scans"] = memory(proc.pid)
        time.sleep(5)  # the pool recycles workers whose private memory passed its budget
        ask(url, "ASK {}", query_timeout)
        out["memory_after_recycling"] = memory(proc.pid)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return out


def report(results: list[dict], command: str, note: str) -> str:
    """The Markdown tables of the run."""
    lines = [
        "# Server scale: memory against query workers, example query times",
        "",
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"- machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        f"- command: `{command}`",
        f"- each server: `sovkg serve --data FILE --no-validate --no-access-log --query-workers N "
        f"{' '.join(SERVER_ARGS)}`".rstrip(" `")
        + "`",
        *([f"- note: {note}"] if note else []),
        "",
        "Memory of the server's whole process tree, MiB: RSS summed (a page shared by N "
        "processes counts N times) / PSS summed (shared pages divided among their sharers). "
        "'one copy' is the RSS of a process that only loads the data in memory.",
        "",
        "| quads | one copy | query workers | processes | ready s | at start RSS/PSS | "
        "after example queries | after a full scan per worker | 5 s later | "
        "PSS / one copy (at start) | (worst) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def mem(m: dict) -> str:
        return f"{m['rss_mib']:.0f} / {m['pss_mib']:.0f}"

    for r in results:
        for s in r["servers"]:
            worst = max(
                s[k]["pss_mib"]
                for k in ("memory_ready", "memory_after_queries", "memory_after_scans")
            )
            start = s["memory_ready"]["pss_mib"] / r["one_copy_mib"]
            lines.append(
                f"| {r['quads']:,} | {r['one_copy_mib']:.0f} | {s['workers']} | "
                f"{s['memory_ready'].get('processes', '?')} | "
                f"{s['ready_s']:.0f} | {mem(s['memory_ready'])} | "
                f"{mem(s['memory_after_queries'])} | {mem(s['memory_after_scans'])} | "
                f"{mem(s['memory_after_recycling'])} | {start:.2f} | "
                f"{worst / r['one_copy_mib']:.2f} |"
            )
    names = sorted({q for r in results for s in r["servers"] for q in s["queries"]})
    lines += [
        "",
        "Example queries, seconds over HTTP (fresh, median of 3; 'timed out' past the limit), "
        "and in process (pyoxigraph on the store the server opens, evaluated and serialized as "
        "SPARQL JSON, median of 3). 'load' is the 1-minute load average before / after the "
        "queries:",
        "",
        "| quads | workers | load | " + " | ".join(names) + " |",
        "|---|---|---|" + "---|" * len(names),
    ]

    def load(s: dict) -> str:
        if "load_before" not in s:
            return ""
        return f"{s['load_before']:.1f} / {s['load_after']:.1f}"

    for r in results:
        for s in r["servers"]:
            cells = []
            for n in names:
                v = s["queries"].get(n, {}).get("median_s")
                cells.append(f"{v:.3f}" if v is not None else "timed out")
            lines.append(
                f"| {r['quads']:,} | {s['workers']} | {load(s)} | " + " | ".join(cells) + " |"
            )
        if "in_process_s" in r:
            cells = [f"{r['in_process_s'][n]:.3f}" for n in names]
            lines.append(f"| {r['quads']:,} | in process | | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 10_000_000])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--query-timeout", type=float, default=30)
    ap.add_argument("--start-timeout", type=float, default=1800)
    ap.add_argument("--note", default="", help="a remark for the report (e.g. machine load)")
    ap.add_argument("--output", type=Path, default=HERE / "SERVE.md")
    ap.add_argument(
        "--server-args",
        default="",
        help="more flags for every sovkg serve (default none: its own number of server processes)",
    )
    args = ap.parse_args()
    SERVER_ARGS[:] = shlex.split(args.server_args)
    work = Path(tempfile.mkdtemp(prefix="sovkg-scale-serve-"))
    results = []
    try:
        for size in args.sizes:
            data = work / f"kg-{size}.nq"
            subprocess.run(
                [sys.executable, str(HERE / "generate.py"), "--triples", str(size)]
                + ["--output", str(data)],
                check=True,
                cwd=ROOT,
            )
            copy = subprocess.run(
                [sys.executable, "-c", _ONE_COPY, str(data)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            result = {"size": size, "one_copy_mib": float(copy[0]), "quads": int(copy[1])}
            timed = subprocess.run(
                [sys.executable, "-c", _IN_PROCESS, str(data)]
                + [str(rq) for rq in sorted(QUERIES.glob("*.rq"))],
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
            ).stdout
            result["in_process_s"] = json.loads(timed.splitlines()[-1])
            result["servers"] = [
                serve(data, n, args.query_timeout, args.start_timeout) for n in args.workers
            ]
            results.append(result)
            print(json.dumps(result), flush=True)
            data.unlink()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    command = "python benchmarks/scale/serve.py " + shlex.join(sys.argv[1:])
    text = report(results, command, args.note)
    args.output.write_text(text, encoding="utf-8")
    args.output.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
