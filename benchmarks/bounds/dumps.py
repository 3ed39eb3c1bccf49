"""What building the dumps costs the server's event loop: the old path (a thread of the server
process) against the new one (a child forked for the build, ``sovkg.engine.isolated.run_forked``).

    python benchmarks/bounds/dumps.py [--data FILE ...] [--chain N] [--rounds 5]

``--chain N`` adds a chain of N blank nodes (``_:b0 <next> _:b1 . _:b1 <next> _:b2 ...``), whose
canonical labelling (RDFC-1.0) grows with about the cube of N: one long call into pyoxigraph
that holds the GIL.

A ticker on the event loop asks to run every 5 ms while the dumps are built; the table gives
the build's wall time and the longest the loop could not run (what every other request of the
server waits at worst), median of the rounds, the two paths alternated.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import statistics
import time
from pathlib import Path

from pyoxigraph import BlankNode, DefaultGraph, NamedNode, Quad
from sovkg.dataset import open_store
from sovkg.engine.isolated import run_forked
from sovkg.linkeddata.dumps import build_all

TICK = 0.005


async def _measure(build: str, store: object) -> tuple[float, float]:
    worst = 0.0
    done = False

    async def ticker() -> None:
        nonlocal worst
        last = time.perf_counter()
        while not done:
            await asyncio.sleep(TICK)
            now = time.perf_counter()
            worst = max(worst, now - last - TICK)
            last = now

    tick = asyncio.ensure_future(ticker())
    await asyncio.sleep(0.05)
    started = time.perf_counter()
    job = functools.partial(build_all, store)
    if build == "thread":
        await asyncio.to_thread(job)
    else:
        await run_forked(job, timeout=3600, memory_mib=None, what="the build of the dumps")
    wall = time.perf_counter() - started
    done = True
    await tick
    return wall, worst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, nargs="*", default=[])
    ap.add_argument("--chain", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    store = open_store(None, args.data)
    nodes = [BlankNode() for _ in range(args.chain + 1)] if args.chain else []
    store.extend(
        Quad(nodes[i], NamedNode("urn:x:next"), nodes[i + 1], DefaultGraph())
        for i in range(args.chain)
    )
    results: dict[str, list[tuple[float, float]]] = {"thread": [], "forked": []}
    for _ in range(args.rounds):
        for build in results:
            results[build].append(asyncio.run(_measure(build, store)))
    chain = f", a {args.chain}-long blank-node chain among them" if args.chain else ""
    print(f"{len(store)} quads{chain}; {args.rounds} rounds (median)\n")
    print("| build | wall s | longest event-loop stall ms |")
    print("|---|---|---|")
    for build, rows in results.items():
        wall = statistics.median(r[0] for r in rows)
        stall = statistics.median(r[1] for r in rows) * 1000
        print(f"| {build} | {wall:.2f} | {stall:.0f} |")


if __name__ == "__main__":
    main()
