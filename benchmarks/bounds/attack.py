"""Many hostile requests against a live ``sovkg serve``, all at once, with the memory of the
server's whole process group sampled throughout.

    python benchmarks/bounds/attack.py [--json] [-- SERVE FLAGS ...]

starts ``sovkg serve`` in a session of its own (so every worker it starts is in its process
group) with the given flags, then at the same time:

- 4 RDF/XML bodies with nested entity declarations ("billion laughs", ~1 KB each) on /shacl;
- 2 memory-hungry queries (a cartesian product of three triple patterns, ORDER BY);
- 6 validations of 2 MB of ordinary N-Triples on /shacl;
- 2 deeply nested Turtle collections (800 KB each) on /shacl;
- a probe query every 200 ms (a different one each time, so the response cache never answers).

It prints every attacker's status, time and message, the probes' outcome, the peak resident
memory of the process group (sampled every 50 ms from /proc), the answers of /health (asked
every 500 ms during the attack) and whether it answers 200 afterwards; ``--json`` prints the
same as one JSON object (tests/test_hardening_bounds.py reads it). The server is stopped at
the end, whatever happened. Linux only (/proc).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

SERVE = (sys.executable, "-P", "-m", "sovkg", "serve")
_PAGE = os.sysconf("SC_PAGE_SIZE")
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
CARTESIAN = "SELECT ?a ?b ?c WHERE { ?a ?p1 ?x . ?b ?p2 ?y . ?c ?p3 ?z } ORDER BY ?a ?b ?c LIMIT 10"


def billion_laughs(levels: int = 9, fan: int = 10) -> bytes:
    """RDF/XML whose DOCTYPE declares entities of 10**levels copies of 'lol'."""
    decls = ['<!ENTITY lol0 "lol">']
    decls += [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * fan}">' for i in range(1, levels + 1)]
    return (
        '<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [\n' + "\n".join(decls) + "\n]>\n"
        f'<rdf:RDF xmlns:rdf="{RDF_NS}" xmlns:ex="http://example.org/">'
        f'<rdf:Description rdf:about="http://example.org/a"><ex:p>&lol{levels};</ex:p>'
        "</rdf:Description></rdf:RDF>"
    ).encode()


def ntriples(size: int) -> bytes:
    """Ordinary N-Triples about organisations, about ``size`` bytes."""
    lines: list[str] = []
    total = i = 0
    while total < size:
        s = f"<http://example.org/org{i}>"
        for line in (
            f"{s} <{RDF_NS}type> <http://www.w3.org/ns/org#FormalOrganization> .\n",
            f'{s} <http://www.w3.org/2000/01/rdf-schema#label> "Organisation {i}"@en .\n',
            f"{s} <http://www.w3.org/ns/org#hasMember> <http://example.org/org{i + 1}> .\n",
        ):
            lines.append(line)
            total += len(line)
        i += 1
    return "".join(lines).encode()


def deep_collection(size: int) -> bytes:
    """A Turtle collection nested ``size / 4`` levels deep."""
    depth = size // 4
    return (
        b"@prefix ex: <http://example.org/> .\nex:s ex:p " + b"( " * depth + b")" * depth + b" .\n"
    )


def group_rss(pgid: int) -> int:
    """Resident bytes of every process in the process group ``pgid``."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != pgid:
                continue
            total += int((entry / "statm").read_text().split()[1]) * _PAGE
        except (OSError, ValueError, IndexError):
            continue
    return total


@dataclass
class Outcome:
    """What one attacker got."""

    attack: str
    status: int | str
    seconds: float
    message: str
    retry_after: str | None = None


@dataclass
class Report:
    """Everything the attack measured."""

    serve_args: list[str]
    outcomes: list[Outcome] = field(default_factory=list)
    probes: int = 0
    probes_failed: list[str] = field(default_factory=list)
    probe_max_seconds: float = 0.0
    #: GET /health every 500 ms during the attack: how many, and every answer that was not 200
    health_probes: int = 0
    health_failed: list[str] = field(default_factory=list)
    #: how many of the 200 answers said "busy" (every query worker taken, all ending in time)
    health_busy: int = 0
    peak_rss_mib: float = 0.0
    base_rss_mib: float = 0.0
    healthy_after: bool = False
    alive_after: bool = False
    wall_seconds: float = 0.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _attack(client: httpx.Client, name: str, method: str, url: str, **kw: Any) -> Outcome:
    started = time.monotonic()
    try:
        r = client.request(method, url, **kw)
        status: int | str = r.status_code
        message = r.text.strip().splitlines()[0][:300] if r.text.strip() else ""
        retry = r.headers.get("retry-after")
    except httpx.HTTPError as e:
        status, message, retry = "connection error", repr(e)[:300], None
    return Outcome(name, status, round(time.monotonic() - started, 2), message, retry)


def run_attack(serve_args: list[str], timeout: float = 180.0) -> Report:
    """Start the server with ``serve_args``, attack it, stop it; the measurements."""
    report = Report(serve_args=serve_args)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = tempfile.TemporaryFile()
    server = subprocess.Popen(
        [*SERVE, "--port", str(port), *serve_args],
        stdout=subprocess.DEVNULL,
        stderr=log,
        start_new_session=True,
        cwd="/",
    )
    stop = threading.Event()
    try:
        with httpx.Client(base_url=base, timeout=timeout) as client:
            deadline = time.monotonic() + 120
            while True:
                if server.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"the server did not start: {log.read()[-2000:]!r}")
                try:
                    if client.get("/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
            time.sleep(1.0)  # let the workers finish starting
            report.base_rss_mib = round(group_rss(server.pid) / 2**20, 1)
            peak = [0]

            def sample() -> None:
                while not stop.is_set():
                    peak[0] = max(peak[0], group_rss(server.pid))
                    time.sleep(0.05)

            def probe() -> None:
                n = 0
                while not stop.is_set():
                    n += 1
                    started = time.monotonic()
                    query = f"SELECT (COUNT(*) AS ?n) WHERE {{ ?s a ?c }} # probe {n}"
                    try:
                        r = client.get("/sparql", params={"query": query}, timeout=30)
                        if r.status_code != 200:
                            report.probes_failed.append(f"{r.status_code}: {r.text[:200]}")
                    except httpx.HTTPError as e:
                        report.probes_failed.append(repr(e)[:200])
                    took = time.monotonic() - started
                    report.probes += 1
                    report.probe_max_seconds = round(max(report.probe_max_seconds, took), 2)
                    time.sleep(max(0.0, 0.2 - took))

            def health() -> None:
                while not stop.is_set():
                    started = time.monotonic()
                    try:
                        r = client.get("/health", timeout=30)
                        if r.status_code != 200:
                            report.health_failed.append(f"{r.status_code}: {r.text[:200]}")
                        elif r.json().get("status") == "busy":
                            report.health_busy += 1
                    except httpx.HTTPError as e:
                        report.health_failed.append(repr(e)[:200])
                    report.health_probes += 1
                    time.sleep(max(0.0, 0.5 - (time.monotonic() - started)))

            watchers = [threading.Thread(target=f) for f in (sample, probe, health)]
            for t in watchers:
                t.start()
            bomb, big, deep = billion_laughs(), ntriples(2_000_000), deep_collection(800_000)
            jobs: list[tuple[str, str, str, dict[str, Any]]] = []
            jobs += [
                (
                    "entity expansion",
                    "POST",
                    "/shacl",
                    {"content": bomb, "headers": {"content-type": "application/rdf+xml"}},
                )
            ] * 4
            jobs += [
                ("memory-hungry query", "GET", "/sparql", {"params": {"query": CARTESIAN}})
            ] * 2
            jobs += [
                (
                    "2 MB validation",
                    "POST",
                    "/shacl",
                    {"content": big, "headers": {"content-type": "application/n-triples"}},
                )
            ] * 6
            jobs += [
                (
                    "deep collection",
                    "POST",
                    "/shacl",
                    {"content": deep, "headers": {"content-type": "text/turtle"}},
                )
            ] * 2
            results: list[Outcome] = []
            lock = threading.Lock()

            def one(job: tuple[str, str, str, dict[str, Any]]) -> None:
                outcome = _attack(client, job[0], job[1], job[2], **job[3])
                with lock:
                    results.append(outcome)

            started = time.monotonic()
            attackers = [threading.Thread(target=one, args=(j,)) for j in jobs]
            for t in attackers:
                t.start()
            for t in attackers:
                t.join()
            report.wall_seconds = round(time.monotonic() - started, 2)
            time.sleep(1.0)  # probes go on a little after the last attacker
            stop.set()
            for t in watchers:
                t.join()
            report.outcomes = sorted(results, key=lambda o: o.attack)
            report.peak_rss_mib = round(peak[0] / 2**20, 1)
            report.alive_after = server.poll() is None
            try:
                report.healthy_after = client.get("/health", timeout=10).status_code == 200
            except httpx.HTTPError:
                report.healthy_after = False
    finally:
        stop.set()
        try:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(server.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            server.wait()
        log.close()
    return report


def main() -> int:
    """Command line: run the attack, print the report."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true", help="print the report as JSON")
    ap.add_argument("serve_args", nargs=argparse.REMAINDER, help="flags for sovkg serve")
    args = ap.parse_args()
    serve_args = [a for a in args.serve_args if a != "--"]
    report = run_attack(serve_args)
    if args.json:
        print(json.dumps(asdict(report), indent=2))
        return 0
    print(f"sovkg serve {' '.join(serve_args)}")
    for o in report.outcomes:
        retry = f" (Retry-After {o.retry_after})" if o.retry_after else ""
        print(f"  {o.attack:20} {o.status} in {o.seconds:6.2f} s{retry}: {o.message}")
    print(
        f"probes: {report.probes}, failed {len(report.probes_failed)}, slowest "
        f"{report.probe_max_seconds} s"
    )
    print(
        f"/health during the attack: {report.health_probes}, not 200: "
        f"{len(report.health_failed)}, busy: {report.health_busy}"
    )
    print(f"process group RSS: {report.base_rss_mib} MiB at rest, peak {report.peak_rss_mib} MiB")
    print(f"alive afterwards: {report.alive_after}, /health 200: {report.healthy_after}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
