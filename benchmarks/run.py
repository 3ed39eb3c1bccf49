"""Side-by-side throughput benchmark: our server vs the native Oxigraph server vs rdflib-endpoint.

One command (see benchmarks/README.md):

    python benchmarks/run.py --duration 5 --concurrency 1 16 64 --output benchmarks/RESULTS.md

It exports our graph once, starts the three servers on loopback on that same export, and drives
each with the same query mix using `wrk` (Debian package), alternating the servers for every
(query, concurrency) cell so that machine noise hits them alike. It prints and writes req/s,
p50/p99 latency, non-2xx counts, and our ratio to each peer (with the geometric mean).

The peers are installed in their own virtual environment (--peer-venv, default
/work/benchvenv: `python -m venv V && V/bin/pip install oxigraph rdflib-endpoint[cli]`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sovkg.namespaces import sparql_prologue

JSON = "application/sparql-results+json"
#: where each server takes queries (rdflib-endpoint 0.6 answers at its root)
ENDPOINT_PATH = {"ours": "/sparql", "oxigraph": "/query", "rdflib-endpoint": "/"}
TEAM = "https://w3id.org/ksai/id/team/naver-cloud"


@dataclass(frozen=True)
class Request:
    """One kind of request of the mix, as each server is asked it."""

    name: str
    ours: tuple[str, str]  # (path with query string, Accept)
    peer: tuple[str, str]  # the equivalent request to a plain SPARQL server (path, Accept)
    oxigraph_path: str | None = None  # where Oxigraph has a better equivalent (dump: GET /store)


def _q(query: str) -> str:
    return "/sparql?query=" + urllib.parse.quote(sparql_prologue() + query)


def query_mix() -> list[Request]:
    """The anchor query, the competency questions, a DESCRIBE, an entity page, a dump."""
    mix = [
        Request(
            "labels ORDER BY LIMIT 50",
            (_q("SELECT ?s ?l WHERE { ?s skos:prefLabel ?l } ORDER BY ?l LIMIT 50"), JSON),
            (_q("SELECT ?s ?l WHERE { ?s skos:prefLabel ?l } ORDER BY ?l LIMIT 50"), JSON),
        )
    ]
    for rq in sorted((ROOT / "tests" / "queries").glob("q*.rq")):
        text = rq.read_text(encoding="utf-8")
        path = "/sparql?query=" + urllib.parse.quote(text)
        mix.append(Request(rq.stem, (path, JSON), (path, JSON)))
    describe = _q(f"DESCRIBE <{TEAM}>")
    mix.append(Request("DESCRIBE team", (describe, "text/turtle"), (describe, "text/turtle")))
    mix.append(
        Request(
            "entity page (peers: DESCRIBE)",
            ("/id/team/naver-cloud", "text/html"),
            (describe, "text/turtle"),
        )
    )
    dump_all = _q("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }")
    mix.append(
        Request(
            "dump (N-Quads / CONSTRUCT)",
            ("/dumps/sovereign-ai-kg.nq", "application/n-quads"),
            (dump_all, "application/n-triples"),
            oxigraph_path="/store",
        )
    )
    return mix


def free_port() -> int:
    """A loopback port nothing listens on now (fixed ports collide with servers left running)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, timeout: float = 60) -> None:
    """Block until the URL answers at all."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise TimeoutError(url)


def wrk(url: str, accept: str, threads: int, connections: int, duration: int) -> dict:
    """Run wrk against one URL; returns req/s, p50, p99 (ms) and non-2xx count."""
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    script.write(f'wrk.headers["Accept"] = "{accept}"\n')
    script.close()
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            "-s",
            script.name,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=duration + 60,
    ).stdout
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
    """Starts and stops the three servers on the same export."""

    def __init__(self, peer_venv: Path, ours_args: list[str]) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="sovkg-bench-"))
        self.procs: list[subprocess.Popen] = []
        nq = self.tmp / "dump.nq"
        ttl = self.tmp / "dump.ttl"
        for fmt, target in (("nquads", nq), ("turtle", ttl)):
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "sovkg",
                    "export",
                    "--format",
                    fmt,
                    "--output",
                    str(target),
                ],
                check=True,
                cwd=ROOT,
            )
        ports = {name: free_port() for name in ("ours", "oxigraph", "rdflib-endpoint")}
        self.urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        self._start(
            [sys.executable, "-m", "sovkg", "serve", "--port", str(ports["ours"]), *ours_args]
        )
        self._start(
            [
                str(peer_venv / "bin" / "oxigraph"),
                "serve",
                "--bind",
                f"127.0.0.1:{ports['oxigraph']}",
                "--union-default-graph",
            ]
        )
        self._start(
            [
                str(peer_venv / "bin" / "rdflib-endpoint"),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(ports["rdflib-endpoint"]),
                str(ttl),
            ]
        )
        for name, url in self.urls.items():
            wait_up(url + ENDPOINT_PATH[name] + "?query=ASK%7B%7D")
        r = httpx.post(
            self.urls["oxigraph"] + "/store",
            content=nq.read_bytes(),
            headers={"Content-Type": "application/n-quads"},
            timeout=60,
        )
        r.raise_for_status()

    def check_alive(self) -> None:
        """Stop the run if a server died: its cells would measure nothing (or a stranger)."""
        for p in self.procs:
            if p.poll() is not None:
                raise RuntimeError(f"server exited with {p.returncode}: {p.args}")

    def _start(self, cmd: list[str]) -> None:
        self.procs.append(
            subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        )

    def stop(self) -> None:
        """Terminate every server and remove the export."""
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)


def versions(peer_venv: Path) -> dict[str, str]:
    """Versions of everything measured, for the record."""

    def pip_version(python: Path, name: str) -> str:
        out = subprocess.run(
            [str(python), "-m", "pip", "show", name], capture_output=True, text=True
        ).stdout
        m = re.search(r"^Version: (.+)$", out, re.M)
        return m.group(1) if m else "?"

    peer_py = peer_venv / "bin" / "python"
    return {
        "python": platform.python_version(),
        "sovereign-ai-kg": pip_version(Path(sys.executable), "sovereign-ai-kg"),
        "pyoxigraph": pip_version(Path(sys.executable), "pyoxigraph"),
        "oxigraph (server)": pip_version(peer_py, "oxigraph"),
        "rdflib-endpoint": pip_version(peer_py, "rdflib-endpoint"),
        "rdflib (peer)": pip_version(peer_py, "rdflib"),
        "wrk": subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=int, default=5, help="seconds per cell (default 5)")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    ap.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    ap.add_argument("--peer-venv", type=Path, default=Path("/work/benchvenv"))
    ap.add_argument("--ours-args", default="", help="extra flags for sovkg serve")
    ap.add_argument("--output", type=Path, help="write a Markdown report here")
    ap.add_argument("--only", help="run only the requests whose name contains this")
    args = ap.parse_args()

    mix = [r for r in query_mix() if not args.only or args.only in r.name]
    servers = Servers(args.peer_venv, args.ours_args.split())
    results: dict[tuple[str, int, str], dict] = {}
    try:
        for req in mix:
            for c in args.concurrency:
                for name, base in servers.urls.items():
                    if name == "ours":
                        path, accept = req.ours
                    elif name == "oxigraph" and req.oxigraph_path:
                        path, accept = req.oxigraph_path, "application/n-quads"
                    else:
                        path, accept = req.peer
                        path = path.replace("/sparql?", ENDPOINT_PATH[name] + "?", 1)
                    r = wrk(base + path, accept, min(args.threads, c), c, args.duration)
                    results[(req.name, c, name)] = r
                    servers.check_alive()
                    print(
                        f"{req.name:40} c={c:<3} {name:16} {r['rps']:9.1f} req/s "
                        f"p50 {r['p50']:8.2f} ms p99 {r['p99']:8.2f} ms non2xx {r['non2xx']}",
                        flush=True,
                    )
    finally:
        servers.stop()

    report = render(mix, args, results, versions(args.peer_venv))
    print(report)
    if args.output:
        args.output.write_text(report, encoding="utf-8")
    (ROOT / "benchmarks" / "last-run.json").write_text(
        json.dumps({f"{k[0]}|{k[1]}|{k[2]}": v for k, v in results.items()}, indent=1)
    )
    return 0


def geomean(values: list[float]) -> float:
    """Geometric mean of positive values (nan if none)."""
    values = [v for v in values if v > 0 and math.isfinite(v)]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def render(mix: list[Request], args: argparse.Namespace, results: dict, vers: dict) -> str:
    """The Markdown report: machine, versions, command, one table per concurrency."""
    lines = [
        "# Benchmark results",
        "",
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"- machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in vers.items()),
        f"- command: `python benchmarks/run.py --duration {args.duration} --concurrency "
        f"{' '.join(map(str, args.concurrency))} --threads {args.threads}"
        + (f" --ours-args '{args.ours_args}'" if args.ours_args else "")
        + "`",
        "",
    ]
    for c in args.concurrency:
        lines += [
            f"## Concurrency {c}",
            "",
            "| request | ours req/s (p50/p99 ms) | oxigraph req/s (p50/p99) | rdflib-endpoint "
            "req/s (p50/p99) | ours/oxigraph | ours/rdflib |",
            "|---|---|---|---|---|---|",
        ]
        r_ox, r_rd = [], []
        for req in mix:
            cells = [results[(req.name, c, n)] for n in ("ours", "oxigraph", "rdflib-endpoint")]
            ox = cells[0]["rps"] / cells[1]["rps"] if cells[1]["rps"] else float("nan")
            rd = cells[0]["rps"] / cells[2]["rps"] if cells[2]["rps"] else float("nan")
            r_ox.append(ox)
            r_rd.append(rd)

            def fmt(r: dict) -> str:
                bad = f", {r['non2xx']} non-2xx" if r["non2xx"] else ""
                return f"{r['rps']:.0f} ({r['p50']:.1f}/{r['p99']:.1f}{bad})"

            lines.append(
                f"| {req.name} | {' | '.join(fmt(x) for x in cells)} | {ox:.2f} | {rd:.1f} |"
            )
        lines += [
            "",
            f"Geometric mean of ratios: ours/oxigraph **{geomean(r_ox):.2f}**, "
            f"ours/rdflib-endpoint **{geomean(r_rd):.1f}**.",
            "",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
