"""Where one request's CPU goes: the server's layers measured apart, in one process run.

    python benchmarks/breakdown.py --requests 4000 --output benchmarks/BREAKDOWN.md

Every step runs the point query of ``run.py`` (one team's labels, SPARQL JSON), with a fresh
comment per request where it says "fresh", 16 requests in flight, on the shipped graph:

1. **engine**: ``execute_query`` in this process (what a worker does for a job: parse, plan,
   evaluate, serialize, count rows), and pyoxigraph's ``Store.query`` alone (parse and plan);
2. **pool**: ``WorkerPool.query`` with one forked worker: the trip to a worker process and back
   (this process's CPU and the worker's, per job);
3. **app, cached**: the whole ASGI application (access log, limits, safety headers, response
   cache, the SPARQL endpoint) called in process, the same URL every time: a cache hit;
4. **app, fresh, pool answered at once**: the whole application, fresh URLs, with the pool's
   ``query`` replaced by one that returns a result computed once: everything but the trip to a
   worker;
5. **app, fresh**: the whole application with its real worker pool.

No HTTP server is involved (granian's own cost, measured apart with a bare ASGI app, is in
``BREAKDOWN.md``), and the client's work (building the ASGI scope) is counted in steps 3-5.
CPU times are ``time.process_time`` of this process and ``/proc/PID/stat`` of the workers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shlex
import sys
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procs import cpu_seconds
from run import query_mix
from sovkg.app import serving_app
from sovkg.config import Settings
from sovkg.dataset import open_store
from sovkg.engine.execute import execute_query
from sovkg.engine.jobs import QueryJob, QueryOutput
from sovkg.engine.pool import WorkerPool
from sovkg.namespaces import PREFIXES

CONCURRENCY = 16
QUERY = query_mix()[0]


def _job(i: int, settings: Settings) -> QueryJob:
    return QueryJob(
        QUERY.text + f"\n# {i}",
        base_iri="http://127.0.0.1/sparql",
        result_format=QUERY.accept,
        graph_format=QUERY.accept,
        prefixes=dict(PREFIXES),
        max_rows=settings.max_rows,
    )


async def _concurrently(n: int, one: Callable[[int], Awaitable[None]]) -> tuple[float, float]:
    """Run ``one(i)`` for i < n, CONCURRENCY at a time: (wall s, this process's CPU s)."""

    async def lane(k: int) -> None:
        for i in range(k, n, CONCURRENCY):
            await one(i)

    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(lane(k) for k in range(CONCURRENCY)))
    return time.perf_counter() - wall, time.process_time() - cpu


def engine_step(n: int, settings: Settings) -> dict[str, float]:
    store = open_store(None, settings.data_files)
    jobs = [_job(i, settings) for i in range(n)]
    execute_query(store, jobs[0])
    t = time.process_time()
    for job in jobs:
        execute_query(store, job)
    ours = (time.process_time() - t) / n
    t = time.process_time()
    for job in jobs:
        store.query(job.query, prefixes=job.prefixes, use_default_graph_as_union=True)
    parse = (time.process_time() - t) / n
    return {"execute_query": ours, "Store.query (parse, plan)": parse}


async def pool_step(n: int, settings: Settings) -> dict[str, float]:
    store = open_store(None, settings.data_files)
    pool = WorkerPool(store, 1, 30.0)
    try:

        async def one(i: int) -> None:
            await pool.query(_job(i, settings))

        await one(-1)
        before = cpu_seconds(pool.pids())
        wall, cpu = await _concurrently(n, one)
        workers = cpu_seconds(pool.pids()) - before
    finally:
        pool.close()
    return {"jobs/s": n / wall, "server": cpu / n, "worker": workers / n}


async def app_step(n: int, mode: str, offset: int, access_log: bool = True) -> dict[str, float]:
    """The whole application in process; ``mode``: cached, instant (pool answered at once),
    fresh."""
    app = serving_app(Settings(access_log=access_log, query_workers=1, workers=1))
    startup: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await startup.put({"type": "lifespan.startup"})
    started: list[dict[str, Any]] = []

    async def lifespan_send(message: dict[str, Any]) -> None:
        started.append(message)

    lifespan = asyncio.ensure_future(
        app({"type": "lifespan", "asgi": {"version": "3.0"}}, startup.get, lifespan_send)
    )
    while not started:
        await asyncio.sleep(0.01)
    pool = app.state.engine.runner.inner.inner  # under the guard and the lookups in process
    if mode == "instant":
        kept: list[QueryOutput] = []
        real = pool.query

        async def at_once(job: QueryJob) -> QueryOutput:
            if not kept:
                kept.append(await real(job))
            return kept[0]

        pool.query = at_once
    base = "query=" + urllib.parse.quote(QUERY.text, safe="")

    async def one(i: int) -> None:
        query_string = base if mode == "cached" else f"{base}%0A%23%20{offset}-{i}"
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/sparql",
            "raw_path": b"/sparql",
            "query_string": query_string.encode(),
            "root_path": "",
            "headers": [(b"host", b"127.0.0.1:8000"), (b"accept", QUERY.accept.encode())],
            "client": ("127.0.0.1", 1234),
            "server": ("127.0.0.1", 8000),
        }
        status: list[int] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])

        await app(scope, receive, send)
        assert status == [200], status

    await one(-1)
    before = cpu_seconds(pool.pids())
    wall, cpu = await _concurrently(n, one)
    workers = cpu_seconds(pool.pids()) - before
    await startup.put({"type": "lifespan.shutdown"})
    await lifespan
    return {"req/s": n / wall, "server": cpu / n, "worker": workers / n}


def render(results: dict[str, dict[str, float]], meta: dict[str, str]) -> str:
    lines = ["## Run", ""]
    lines += [f"- {k}: {v}" for k, v in meta.items()]
    lines += [
        "",
        "| step | rate | this process µs/request | worker µs/request |",
        "|---|---|---|---|",
    ]
    for name, r in results.items():
        rate = next((f"{v:.0f} {k}" for k, v in r.items() if "/s" in k), "")
        here = r.get("server", r.get("execute_query", 0.0))
        worker = r.get("worker")
        there = "" if worker is None else f"{worker * 1e6:.0f}"
        lines.append(f"| {name} | {rate} | {here * 1e6:.0f} | {there} |")
    extra = results.get("1. engine", {}).get("Store.query (parse, plan)")
    if extra is not None:
        lines += ["", f"pyoxigraph's `Store.query` alone (parse, plan): {extra * 1e6:.0f} µs."]
    return "\n".join(lines) + "\n"


async def main_async(n: int) -> dict[str, dict[str, float]]:
    settings = Settings()
    results: dict[str, dict[str, float]] = {"1. engine": engine_step(n, settings)}
    results["2. pool (1 worker)"] = await pool_step(n, settings)
    results["3. app, cached"] = await app_step(n, "cached", 0)
    results["4. app, fresh, pool answered at once"] = await app_step(n, "instant", 1)
    results["5. app, fresh"] = await app_step(n, "fresh", 2)
    return results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=4000, help="requests per step (4000)")
    ap.add_argument("--output", type=Path, help="append the Markdown table to this file")
    args = ap.parse_args()
    results = uvloop.run(main_async(args.requests))
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "load average before the run": " ".join(f"{x:.1f}" for x in os.getloadavg()),
        "command": "python benchmarks/breakdown.py " + shlex.join(sys.argv[1:]),
    }
    text = render(results, meta)
    print(text)
    if args.output is not None:
        with args.output.open("a") as f:
            f.write("\n" + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
