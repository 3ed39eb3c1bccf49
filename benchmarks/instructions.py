"""Instructions per request, counted by callgrind: a measure the machine's noise cannot move.

    python benchmarks/instructions.py --requests 300 [--baseline DIR]

Timings on this shared 2-core machine vary by tens of percent from minute to minute, which
hides a change of a few percent. ``valgrind --tool=callgrind`` counts the instructions a
process runs instead, the same figure on every run of the same code. It does not count what
the kernel does, waiting or cache misses, so it measures the work our Python does, not a
request's time. OpenSSL's hashing runs its generic code under valgrind, so a digest counts
more than it costs natively.

Each figure is the difference between two runs of the same step, one with ``--requests`` more
iterations, divided by them (start-up and first-use costs cancel out):

- **app, fresh**: the whole ASGI application in process, a fresh point query each time, with
  the pool answered at once (the server process's share of a fresh request, without the trip);
- **app, cache hit**: the same, the same URL each time;
- **worker job, point / DESCRIBE**: what a query worker's Python does for one job: read the
  frame, run ``execute_query``, add the digest, write the reply frame.

``--baseline DIR`` counts the same steps with another checkout's ``server/`` first on
``PYTHONPATH`` (e.g. ``git worktree add /tmp/before <commit>``), for a before/after table.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import breakdown  # noqa: E402
from run import TEAM, query_mix  # noqa: E402
from sovkg.dataset import open_store  # noqa: E402
from sovkg.engine import worker  # noqa: E402
from sovkg.engine.jobs import QueryJob  # noqa: E402
from sovkg.namespaces import PREFIXES  # noqa: E402

STEPS = {
    "app, fresh": ("app", "instant"),
    "app, cache hit": ("app", "cached"),
    "worker job, point": ("worker", "point"),
    "worker job, DESCRIBE": ("worker", "describe"),
}


def _inner(kind: str, mode: str, n: int) -> None:
    """One step, ``n`` times (run under valgrind by :func:`count`, with ``PYTHONPATH`` naming
    the checkout to count)."""
    if kind == "app":
        asyncio.run(breakdown.app_step(n, mode, 7, access_log=False))
        return
    store = open_store(None, [])
    text = query_mix()[0].text if mode == "point" else f"DESCRIBE <{TEAM}>"
    for i in range(n):
        job = QueryJob(
            f"{text}\n# {i}", "http://127.0.0.1/sparql", prefixes=PREFIXES, max_rows=100_000
        )
        # a job travels as ``QueryJob.wire`` since 2026-12-02 (a baseline may predate it)
        sent = job.wire() if hasattr(job, "wire") else job
        _, message = worker.pop_frame(bytearray(worker.frame((i, "query", sent))))
        job_id, kind_, payload = message  # type: ignore[misc]
        worker.frame((job_id, "ok", worker.JOBS[kind_](store, payload)))


def count(kind: str, mode: str, n: int, src: Path | None) -> int:
    """Instructions of ``n`` more iterations of a step, each."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src / "server")

    def total(iterations: int) -> int:
        out = subprocess.run(
            ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
            + [sys.executable, __file__, "--inner", kind, mode, str(iterations)],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        m = re.search(r"Collected : (\d+)", out.stderr)
        if m is None:
            raise RuntimeError(f"callgrind printed no total:\n{out.stderr[-2000:]}")
        return int(m.group(1))

    return (total(20 + n) - total(20)) // n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=300, help="iterations counted (300)")
    ap.add_argument("--baseline", type=Path, help="another checkout's root, counted too")
    ap.add_argument("--inner", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.inner:
        _inner(args.inner[0], args.inner[1], int(args.inner[2]))
        return 0
    print(
        "| step | instructions per request" + (" | baseline | change |" if args.baseline else " |")
    )
    print("|---|---|" + ("---|---|" if args.baseline else ""))
    for label, (kind, mode) in STEPS.items():
        now = count(kind, mode, args.requests, None)
        row = f"| {label} | {now:,}"
        if args.baseline:
            before = count(kind, mode, args.requests, args.baseline)
            row += f" | {before:,} | {100 * (now - before) / before:+.0f} %"
        print(row + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
