"""Fresh and repeated queries, side by side: ours (default and tuned) vs native Oxigraph vs
rdflib-endpoint.

One command (see benchmarks/README.md):

    python benchmarks/run.py --duration 5 --output benchmarks/RESULTS.md

It exports our graph once and starts, on loopback, on that same export:

- ``sovkg serve`` with its defaults, and ``sovkg serve`` tuned (``--tuned-args``), both with
  ``--no-access-log`` unless ``--access-log`` is given (then each logs to a file, as the
  default of ``sovkg serve`` does);
- the native server, ``oxigraph serve --union-default-graph``, in memory, the N-Quads export
  loaded through its ``/store``;
- rdflib-endpoint (RDFLib's memory store) on the Turtle export.

Every cell is ``wrk -t2 -c16`` for ``--duration`` seconds, the servers one after the other for
each (query, mode) so that the noise of a shared machine hits them alike. Two modes, reported
apart and never mixed into one figure:

- **fresh**: wrk's Lua script appends a new SPARQL comment (``# <thread>-<n>``) to every
  request, so no cache anywhere can answer: every request is parsed, evaluated and serialized;
- **repeated**: every request is the same URL, as a popular question is (our response cache
  answers it; the peers recompute it).

The first cell waits until every server's process tree is idle: a server answers before it
has warmed up (its SHACL workers load pySHACL and the shapes), and no cell may share the cores
with that. It prints req/s, p50/p99 latency and non-2xx counts, our ratios to the native
server with their geometric means, and the load average of the machine around each mode.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procs import cpu_seconds, free_port, stop_all, tree, wait_idle

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

JSON = "application/sparql-results+json"
TURTLE = "text/turtle"
TEAM = "https://w3id.org/ksai/id/team/naver-cloud"
PREFIXES = (
    "PREFIX skos: <http://www.w3.org/2004/02/skos/core#>\n"
    "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"
)
#: where each server takes queries (rdflib-endpoint 0.6 answers at its root)
ENDPOINT_PATH = {"oxigraph": "/query", "rdflib-endpoint": "/"}
MODES = ("fresh", "repeated")

#: appends "\n# <thread>-<counter>" (URL-encoded) to every request: a query nobody asked before
FRESH_LUA = """
local counter = 0
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
request = function()
  counter = counter + 1
  return wrk.format("GET", wrk.path .. "%0A%23%20" .. tid .. "-" .. counter)
end
"""


@dataclass(frozen=True)
class Query:
    """One query of the mix and the media type it is asked in."""

    name: str
    text: str
    accept: str
    #: the class of the issue's goals: "engine" (ORDER BY, GROUP BY) or "cheap"
    kind: str


def query_mix() -> list[Query]:
    """The mix: a point lookup, ORDER BY, GROUP BY, a join with FILTER, DESCRIBE."""
    return [
        Query(
            "point: one team's labels",
            PREFIXES + f"SELECT ?l WHERE {{ <{TEAM}> skos:prefLabel ?l }}",
            JSON,
            "cheap",
        ),
        Query(
            "50 labels, ORDER BY",
            PREFIXES + "SELECT ?s ?l WHERE { ?s skos:prefLabel ?l } ORDER BY ?l LIMIT 50",
            JSON,
            "engine",
        ),
        Query(
            "GROUP BY predicate",
            "SELECT ?p (COUNT(*) AS ?n) WHERE { ?s ?p ?o } GROUP BY ?p",
            JSON,
            "engine",
        ),
        Query(
            "join with FILTER lang, LIMIT 200",
            PREFIXES
            + 'SELECT ?s ?t ?l WHERE { ?s a ?t ; skos:prefLabel ?l FILTER(lang(?l) = "en") } '
            "LIMIT 200",
            JSON,
            "other",
        ),
        Query("DESCRIBE a team", f"DESCRIBE <{TEAM}>", TURTLE, "cheap"),
    ]


def wait_up(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    """Block until the URL answers 200, or fail if its server died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {shlex.join(proc.args)}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise TimeoutError(url)


def wrk(url: str, accept: str, fresh: bool, threads: int, connections: int, duration: int) -> dict:
    """Run wrk against one URL; req/s, p50 and p99 (ms), non-2xx and socket errors."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(f'wrk.headers["Accept"] = "{accept}"\n')
        if fresh:
            script.write(FRESH_LUA)
    try:
        out = subprocess.run(
            ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency"]
            + ["-s", script.name, url],
            capture_output=True,
            text=True,
            timeout=duration + 60,
        ).stdout
    finally:
        os.unlink(script.name)

    def ms(label: str) -> float:
        m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return {
        "rps": float(rps.group(1)) if rps else 0.0,
        "p50": ms("50"),
        "p99": ms("99"),
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(0) if errors else "",
    }


class Servers:
    """Starts the servers on one export, and stops them."""

    def __init__(
        self,
        default_args: list[str],
        tuned_args: list[str],
        peers: bool,
        baseline: Path | None = None,
        access_log: bool = False,
    ) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="sovkg-bench-"))
        #: our servers log every request to a file here, as ``sovkg serve`` does by default
        self.access_log = access_log
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs: list[IO[bytes]] = []
        self.urls: dict[str, str] = {}
        try:
            self._start_all(default_args, tuned_args, peers, baseline)
        except BaseException:  # nothing started may outlive a failed start
            self.stop()
            raise

    def _start_all(
        self, default_args: list[str], tuned_args: list[str], peers: bool, baseline: Path | None
    ) -> None:
        nq, ttl = self.tmp / "dump.nq", self.tmp / "dump.ttl"
        for fmt, target in (("nquads", nq), ("turtle", ttl)):
            subprocess.run(
                [sys.executable, "-m", "sovkg", "export", "--format", fmt, "-o", str(target)],
                check=True,
                cwd=ROOT,
            )
        sovkg = [sys.executable, "-m", "sovkg", "serve"]
        if not self.access_log:
            sovkg.append("--no-access-log")
        self._start("ours (default)", [*sovkg, *default_args], "/sparql", "--port")
        self._start("ours (tuned)", [*sovkg, *tuned_args], "/sparql", "--port")
        if baseline is not None:  # the same defaults, from another checkout's server/ folder
            env = {**os.environ, "PYTHONPATH": str(baseline / "server")}
            self._start("ours (baseline)", [*sovkg, *default_args], "/sparql", "--port", env)
        ox = [str(BIN / "oxigraph"), "serve", "--union-default-graph"]
        self._start("oxigraph", ox, "/query", "--bind")
        if peers:
            rdflib = [str(BIN / "rdflib-endpoint"), "serve", str(ttl), "--host", "127.0.0.1"]
            self._start("rdflib-endpoint", rdflib, "/", "--port")
        r = httpx.post(
            self.urls["oxigraph"].removesuffix("/query") + "/store",
            content=nq.read_bytes(),
            headers={"Content-Type": "application/n-quads"},
            timeout=60,
        )
        r.raise_for_status()

    def _start(
        self,
        name: str,
        cmd: list[str],
        path: str,
        port_flag: str,
        env: dict[str, str] | None = None,
    ) -> None:
        port = free_port()
        arg = f"127.0.0.1:{port}" if port_flag == "--bind" else str(port)
        stderr: int | IO[bytes] = subprocess.DEVNULL
        if self.access_log and name.startswith("ours"):  # the log lines go to a file
            stderr = (self.tmp / f"{name}.log").open("wb")
            self.logs.append(stderr)
        proc = subprocess.Popen(
            [*cmd, port_flag, arg],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=env,
            start_new_session=True,
        )
        self.procs[name] = proc
        self.urls[name] = f"http://127.0.0.1:{port}{path}"
        wait_up(self.urls[name] + "?query=ASK%7B%7D", proc)

    def wait_quiet(self) -> float:
        """Block until every server is idle (see ``procs.wait_idle``); the seconds waited."""
        return wait_idle(self.procs.values())

    def check_alive(self) -> None:
        """Stop the run if a server died: its cells would measure nothing."""
        for name, p in self.procs.items():
            if p.poll() is not None:
                raise RuntimeError(f"{name} exited with {p.returncode}: {shlex.join(p.args)}")

    def stop(self) -> None:
        """Terminate every server (and its children) and remove the export."""
        stop_all(self.procs.values())
        for log in self.logs:
            log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def versions() -> dict[str, str]:
    """Versions of everything measured, for the record."""

    def pip_version(name: str) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "pip", "show", name], capture_output=True, text=True
        ).stdout
        m = re.search(r"^Version: (.+)$", out, re.M)
        return m.group(1) if m else "?"

    names = ("sovkg", "pyoxigraph", "oxigraph", "granian", "rdflib-endpoint", "rdflib")
    out = {"python": platform.python_version(), **{n: pip_version(n) for n in names}}
    out["wrk"] = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split()[1]
    return out


def baseline_label(root: Path | None) -> str:
    """``sovkg serve`` with the default flags, from the commit checked out at ``root``."""
    if root is None:
        return ""
    out = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    return f"the default server from commit {out.stdout.strip() or root}"


def geomean(values: list[float]) -> float:
    """Geometric mean of the positive, finite values (nan if none)."""
    values = [v for v in values if v > 0 and math.isfinite(v)]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def ratio(a: float, b: float) -> float:
    """a / b, nan when b is 0."""
    return a / b if b else float("nan")


def render(mix: list[Query], servers: list[str], results: dict, meta: dict) -> str:
    """The Markdown report: machine, versions, command, one table per mode."""
    ours = [s for s in servers if s.startswith("ours")]
    lines = [
        "# Benchmark results",
        "",
        f"- date: {meta['date']}",
        f"- machine: {meta['machine']}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()),
        f"- command: `{meta['command']}`",
        f"- ours (default): `sovkg serve {meta['default_args']}`",
        f"- ours (tuned): `sovkg serve {meta['tuned_args']}`",
        "- access log of ours: "
        + ("on, to a file (the default)" if meta.get("access_log") else "off (`--no-access-log`)"),
        *([f"- ours (baseline): {meta['baseline']}"] if meta.get("baseline") else []),
        "",
    ]
    for mode in meta["modes"]:
        lines += [
            f"## {mode.capitalize()} queries",
            "",
            f"load average before/after: {meta['load'][mode][0]} / {meta['load'][mode][1]}",
            "",
            "| query | "
            + " | ".join(f"{s} req/s (p50/p99 ms, CPU µs/req)" for s in servers)
            + " | "
            + " | ".join(f"{s} / oxigraph" for s in ours)
            + " |",
            "|---" * (1 + len(servers) + len(ours)) + "|",
        ]
        ratios: dict[str, list[float]] = {s: [] for s in ours}
        for q in mix:
            cells = [results[(q.name, mode, s)] for s in servers]

            def fmt(r: dict) -> str:
                bad = f", {r['non2xx']} non-2xx" if r["non2xx"] else ""
                return f"{r['rps']:.0f} ({r['p50']:.1f}/{r['p99']:.1f}, {r['cpu_us']:.0f}{bad})"

            native = results[(q.name, mode, "oxigraph")]["rps"]
            row = [ratio(results[(q.name, mode, s)]["rps"], native) for s in ours]
            for s, v in zip(ours, row, strict=True):
                ratios[s].append(v)
            lines.append(
                f"| {q.name} | {' | '.join(fmt(c) for c in cells)} | "
                + " | ".join(f"{v:.2f}" for v in row)
                + " |"
            )
        lines += [
            "",
            f"Geometric mean of the ratios to the native server ({mode}): "
            + ", ".join(f"{s} **{geomean(v):.2f}**" for s, v in ratios.items())
            + ".",
            "",
        ]
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=int, default=5, help="seconds per cell (default 5)")
    ap.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    ap.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    ap.add_argument("--default-args", default="", help="flags of the default server (none)")
    ap.add_argument(
        "--tuned-args", default="--workers 1", help="flags of the tuned server (--workers 1)"
    )
    ap.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    ap.add_argument("--no-rdflib", action="store_true", help="leave rdflib-endpoint out")
    ap.add_argument("--only", help="run only the queries whose name contains this")
    ap.add_argument(
        "--baseline",
        type=Path,
        help="also run a checkout of another commit (its root folder) with the default flags, "
        "as 'ours (baseline)': a before/after comparison in one run",
    )
    ap.add_argument(
        "--access-log",
        action="store_true",
        help="run our servers with their access log on (the default of sovkg serve), each "
        "writing to a file; without it they run with --no-access-log",
    )
    ap.add_argument("--output", type=Path, help="write the Markdown report here")
    args = ap.parse_args()

    mix = [q for q in query_mix() if not args.only or args.only in q.name]
    servers = Servers(
        shlex.split(args.default_args),
        shlex.split(args.tuned_args),
        not args.no_rdflib,
        args.baseline,
        args.access_log,
    )
    waited = servers.wait_quiet()
    print(f"servers idle after {waited:.0f} s", flush=True)
    names = list(servers.urls)
    results: dict[tuple[str, str, str], dict] = {}
    load: dict[str, tuple[str, str]] = {}
    try:
        for mode in args.modes:
            before = " ".join(f"{x:.1f}" for x in os.getloadavg())
            for q in mix:
                for name in names:
                    url = servers.urls[name] + "?query=" + urllib.parse.quote(q.text)
                    pids = tree(servers.procs[name].pid)
                    cpu_before = cpu_seconds(pids)
                    r = wrk(
                        url,
                        q.accept,
                        mode == "fresh",
                        min(args.threads, args.connections),
                        args.connections,
                        args.duration,
                    )
                    # the CPU of the server's whole process tree (workers included)
                    answered = r["rps"] * args.duration
                    used = cpu_seconds(pids) - cpu_before
                    r["cpu_us"] = used / answered * 1e6 if answered else float("nan")
                    results[(q.name, mode, name)] = r
                    servers.check_alive()
                    print(
                        f"{mode:8} {q.name:34} {name:16} {r['rps']:9.1f} req/s "
                        f"p50 {r['p50']:7.2f} ms p99 {r['p99']:8.2f} ms non2xx {r['non2xx']} "
                        f"CPU {r['cpu_us']:.0f} µs/req",
                        flush=True,
                    )
            load[mode] = (before, " ".join(f"{x:.1f}" for x in os.getloadavg()))
    finally:
        servers.stop()

    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        "versions": versions(),
        "command": "python benchmarks/run.py " + shlex.join(sys.argv[1:]),
        "default_args": args.default_args,
        "tuned_args": args.tuned_args,
        "baseline": baseline_label(args.baseline),
        "access_log": args.access_log,
        "load": load,
    }
    modes_run = [m for m in MODES if m in args.modes]
    report = render(mix, names, results, meta | {"modes": modes_run})
    print(report)
    if args.output:
        args.output.write_text(report, encoding="utf-8")
    if args.output:  # the raw cells beside the report
        args.output.with_suffix(".json").write_text(
            json.dumps({"|".join(k): v for k, v in results.items()}, indent=1) + "\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
