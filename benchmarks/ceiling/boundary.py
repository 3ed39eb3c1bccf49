"""The engine in a hot loop, behind a thread, and behind a process: CPU per job.

    python benchmarks/ceiling/boundary.py --jobs 600

One query (the join of ``benchmarks/run.py``, a fresh comment each time) is run through
``sovkg.engine.execute.execute_query`` on the shipped graph, three ways, one job in flight:

- **loop**: back to back in this process;
- **thread**: handed to a worker thread and back through queues (one address space);
- **process**: sent to a forked ``sovkg.engine.worker`` over its socket and back, with the
  worker timing its own ``execute_query`` and the whole job.

It prints the engine's CPU per job for each, to show what crossing a process costs the engine's
own work (not the frames).
"""

from __future__ import annotations

import argparse
import os
import queue
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from pyoxigraph import RdfFormat, Store
from sovkg.engine import worker
from sovkg.engine.execute import execute_query
from sovkg.engine.jobs import QueryJob
from sovkg.namespaces import PREFIXES

ROOT = Path(__file__).resolve().parent.parent.parent
QUERY = (
    "PREFIX skos: <http://www.w3.org/2004/02/skos/core#>\n"
    'SELECT ?s ?t ?l WHERE { ?s a ?t ; skos:prefLabel ?l FILTER(lang(?l) = "en") } LIMIT 200'
)


def job(i: int) -> QueryJob:
    """A fresh job: the same query with a new comment."""
    return QueryJob(
        f"{QUERY}\n# {i}", base_iri="http://x/sparql", prefixes=PREFIXES, max_rows=10**5
    )


def loop(store: Store, n: int) -> float:
    for i in range(50):
        execute_query(store, job(-i))
    start = time.thread_time()
    for i in range(n):
        execute_query(store, job(i))
    return (time.thread_time() - start) / n


def threaded(store: Store, n: int) -> float:
    jobs: queue.SimpleQueue[QueryJob | None] = queue.SimpleQueue()
    done: queue.SimpleQueue[float] = queue.SimpleQueue()

    def run() -> None:
        while (j := jobs.get()) is not None:
            start = time.thread_time()
            execute_query(store, j)
            done.put(time.thread_time() - start)

    t = threading.Thread(target=run)
    t.start()
    for i in range(50):
        jobs.put(job(-i))
        done.get()
    total = 0.0
    for i in range(n):
        jobs.put(job(i))
        total += done.get()
    jobs.put(None)
    t.join()
    return total / n


def forked(store: Store, n: int) -> tuple[float, float]:
    ours, theirs = socket.socketpair()
    pid = os.fork()
    if pid == 0:  # the worker: sovkg's frames, timing its own work
        ours.close()
        frames = worker.FrameReader(theirs)
        engine = whole = 0.0
        while (message := frames.read()) is not None:
            job_id, _, payload = message  # type: ignore[misc]
            start = time.thread_time()
            out = execute_query(store, payload)
            middle = time.thread_time()
            worker.write_frame(theirs, (job_id, "ok", out))
            if job_id >= 0:
                engine += middle - start
                whole += time.thread_time() - start
        worker.write_frame(theirs, (engine / n, whole / n))
        os._exit(0)
    theirs.close()
    frames = worker.FrameReader(ours)
    for i in range(50):
        worker.write_frame(ours, (-1, "query", job(i)))
        frames.read()
    for i in range(n):
        worker.write_frame(ours, (i, "query", job(i)))
        frames.read()
    ours.shutdown(socket.SHUT_WR)
    engine, whole = frames.read()  # type: ignore[misc]
    os.waitpid(pid, 0)
    return engine, whole


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=600)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        dump = Path(tmp) / "dump.nq"
        subprocess.run(
            [sys.executable, "-m", "sovkg", "export", "--format", "nquads", "-o", str(dump)],
            check=True,
            cwd=ROOT,
        )
        store = Store()
        store.bulk_load(path=str(dump), format=RdfFormat.N_QUADS)
    for r in range(args.rounds):
        a = loop(store, args.jobs)
        b = threaded(store, args.jobs)
        c, d = forked(store, args.jobs)
        print(
            f"round {r + 1}: execute_query µs per job: loop {a * 1e6:.0f}, thread {b * 1e6:.0f}, "
            f"process {c * 1e6:.0f} (the whole job in the worker {d * 1e6:.0f})",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
