"""Load test (not in CI): many concurrent clients send a mix of requests to ``sovkg serve``;
counts errors (5xx, transport failures) and samples the memory of the server and its workers.

    python benchmarks/load/run.py --clients 64 --requests 20000

Starts its own server on loopback (default flags: 2 query workers) unless --url is given.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]

QUERIES = [
    "SELECT ?team ?label WHERE { ?team a ksai:Consortium ; skos:prefLabel ?label } LIMIT 20",
    "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }",
    "ASK { ?s ?p ?o }",
    "SELECT ?p (COUNT(*) AS ?n) WHERE { ?s ?p ?o } GROUP BY ?p ORDER BY DESC(?n) LIMIT 10",
    "CONSTRUCT WHERE { ?s a ?c } LIMIT 50",
    "SELECT * WHERE { ?s ?p ?o } LIMIT 500",
    "DESCRIBE <https://w3id.org/ksai/id/organization/kaist>",
]
ACCEPTS = ["application/sparql-results+json", "text/csv", "application/sparql-results+xml"]


def _request(rng: random.Random) -> tuple[str, str, dict]:
    """One request of the mix: mostly queries, some pages, health, bad input and 404s."""
    roll = rng.random()
    if roll < 0.55:
        q = rng.choice(QUERIES) + f" # {rng.randrange(50)}"  # some repetition, some not
        return (
            "GET",
            "/sparql",
            {"params": {"query": q}, "headers": {"accept": rng.choice(ACCEPTS)}},
        )
    if roll < 0.70:
        q = rng.choice(QUERIES)
        return "POST", "/sparql", {"data": {"query": q}}
    if roll < 0.78:
        return "GET", "/health", {}
    if roll < 0.86:
        return (
            "GET",
            rng.choice(["/", "/sparql/ui", "/ontology", "/dumps", "/.well-known/void"]),
            {},
        )
    if roll < 0.94:
        bad = rng.choice(["SELECT * WHERE {", "ASK { SERVICE <http://127.0.0.1:9/> {} }", "\x00"])
        return "GET", "/sparql", {"params": {"query": bad}}
    return "GET", f"/no/such/{rng.randrange(1000)}", {}


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _tree(pid: int) -> list[int]:
    kids = []
    for e in Path("/proc").iterdir():
        if e.name.isdigit():
            try:
                stat = (e / "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
                kids.append(int(e.name))
    return [pid, *kids]


async def _client(url: str, n: int, seed: int, stats: Counter, latencies: list[float]) -> None:
    rng = random.Random(seed)
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        for _ in range(n):
            method, path, kw = _request(rng)
            started = time.perf_counter()
            try:
                r = await client.request(method, path, **kw)
                stats["5xx" if r.status_code >= 500 else f"{r.status_code // 100}xx"] += 1
            except httpx.HTTPError as e:
                stats[f"transport:{type(e).__name__}"] += 1
            latencies.append(time.perf_counter() - started)


async def _main(args: argparse.Namespace) -> int:
    proc = None
    url = args.url
    if url is None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sovkg",
                "serve",
                "--port",
                str(port),
                "--no-access-log",
                *args.serve_args,
            ],
            cwd=ROOT,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                if httpx.get(f"{url}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    stats: Counter = Counter()
    latencies: list[float] = []
    per_client = args.requests // args.clients
    memory: list[tuple[float, int]] = []
    started = time.perf_counter()

    async def sample() -> None:
        while True:
            if proc is not None:
                memory.append((time.perf_counter() - started, sum(map(_rss_kib, _tree(proc.pid)))))
            await asyncio.sleep(1)

    sampler = asyncio.create_task(sample())
    await asyncio.gather(
        *(_client(url, per_client, i, stats, latencies) for i in range(args.clients))
    )
    sampler.cancel()
    elapsed = time.perf_counter() - started
    latencies.sort()
    total = sum(stats.values())
    print(f"requests: {total} in {elapsed:.1f} s ({total / elapsed:.0f}/s), {args.clients} clients")
    print("outcomes:", dict(sorted(stats.items())))
    for q in (0.5, 0.95, 0.99):
        print(f"latency p{int(q * 100)}: {latencies[int(q * (len(latencies) - 1))] * 1000:.1f} ms")
    if memory:
        n = len(memory)
        quarters = [memory[min(n - 1, int(n * f))] for f in (0.0, 0.25, 0.5, 0.75)] + [memory[-1]]
        print("RSS server+workers (s, MiB):", [(round(t), round(k / 1024)) for t, k in quarters])
    if proc is not None:
        proc.terminate()
        proc.wait(timeout=20)
    errors = sum(v for k, v in stats.items() if k == "5xx" or k.startswith("transport"))
    return 1 if errors else 0


def main() -> int:
    """Parse arguments and run the load test; exit 1 on any error."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--clients", type=int, default=64)
    p.add_argument("--requests", type=int, default=20000)
    p.add_argument("--url", help="test a running server instead of starting one")
    p.add_argument("serve_args", nargs="*", help="extra flags for sovkg serve (after --)")
    return asyncio.run(_main(p.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
