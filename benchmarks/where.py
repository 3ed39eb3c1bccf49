"""Where a fresh request's CPU goes, by process and by library, under load (Linux ``perf``).

    python benchmarks/where.py --query point --seconds 6 [--serve-args "--query-workers 1"]

It starts ``sovkg serve`` (with ``--serve-args``) on a free loopback port, waits until its
process tree is idle, and loads it with ``wrk -t2 -c16``, a fresh comment on every request (as
``run.py``'s fresh mode does). Meanwhile ``perf record -a`` samples every CPU for
``--seconds``. Each sample is put in a cell: the thread's role (the server processes' event
loops, granian's threads, the query workers, wrk, anything else) and the library it was in
(the Python interpreter, pyoxigraph, the C library and the allocator, the kernel, granian
and uvloop, other). A cell is printed as CPU µs per request: its samples over the sampling
rate, divided by the requests answered while sampling.

Needs ``perf`` (Debian's linux-perf) and permission to sample the whole machine (root, or
``kernel.perf_event_paranoid`` at most 0). It measures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from procs import children, free_port, stop_all, tree, wait_idle  # noqa: E402
from run import BIN, FRESH_LUA, query_mix, wait_up  # noqa: E402

#: --query: the short names of run.py's query mix
QUERIES = {"point": 0, "order": 1, "group": 2, "join": 3, "describe": 4}
ROLES = ("server loop", "granian threads", "query workers", "wrk", "other")
LIBS = ("python", "pyoxigraph", "libc+malloc", "kernel", "granian+uvloop", "other")


def library(dso: str) -> str:
    """The library group of a perf DSO name."""
    if dso.startswith("[kernel"):
        return "kernel"
    if "libpython" in dso or dso.startswith("_") and ".cpython-" in dso and "granian" not in dso:
        return "python"  # the interpreter and its C modules (_pickle, _json, _asyncio ...)
    if dso.startswith("pyoxigraph"):
        return "pyoxigraph"
    if dso.startswith(("libc.", "libm.", "ld-linux", "libtcmalloc", "libjemalloc")):
        return "libc+malloc"  # the C library, and the allocator when one is preloaded
    if dso.startswith(("_granian", "loop.cpython")):
        return "granian+uvloop"
    return "other"


def _threads(pid: int) -> list[int]:
    try:
        return [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:  # gone meanwhile
        return []


def roles(server: int, wrk: int) -> dict[int, str]:
    """Thread id -> role, read from /proc while the load runs: granian's main process, its
    server processes (the event loop and granian's threads), and their workers."""
    out = {tid: "other" for tid in _threads(server)}
    for proc in children(server):
        for tid in _threads(proc):
            out[tid] = "server loop" if tid == proc else "granian threads"
        for worker in tree(proc)[1:]:
            out.update({tid: "query workers" for tid in _threads(worker)})
    for pid in tree(wrk):
        out.update({tid: "wrk" for tid in _threads(pid)})
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--query", choices=sorted(QUERIES), default="point")
    ap.add_argument("--seconds", type=float, default=6.0, help="sampling time (6)")
    ap.add_argument("--frequency", type=int, default=2999, help="samples per second per CPU")
    ap.add_argument("--serve-args", default="", help="more arguments for sovkg serve")
    args = ap.parse_args()
    for tool in ("perf", "wrk"):
        if shutil.which(tool) is None:
            print(f"{tool} is missing: install Debian's {tool} package", file=sys.stderr)
            return 2
    q = query_mix()[QUERIES[args.query]]
    port = free_port()
    cmd = [str(BIN / "sovkg"), "serve", "--port", str(port), *shlex.split(args.serve_args)]
    tmp = Path(tempfile.mkdtemp(prefix="sovkg-where-"))
    server = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        base = f"http://127.0.0.1:{port}/sparql"
        wait_up(base + "?query=ASK%7B%7D", server)
        wait_idle([server])
        script = tmp / "fresh.lua"
        script.write_text(f'wrk.headers["Accept"] = "{q.accept}"\n{FRESH_LUA}')
        url = base + "?query=" + urllib.parse.quote(q.text, safe="")
        load_seconds = int(args.seconds) + 6
        wrk = subprocess.Popen(
            ["wrk", "-t2", "-c16", f"-d{load_seconds}s", "-s", str(script), url],
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(2)  # past wrk's connection set-up
        who = roles(server.pid, wrk.pid)
        data = tmp / "perf.data"
        subprocess.run(
            ["perf", "record", "-a", "-q", "-F", str(args.frequency), "-o", str(data)]
            + ["--", "sleep", str(args.seconds)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        out, _ = wrk.communicate(timeout=load_seconds + 60)
        m = re.search(r"Requests/sec:\s+([\d.]+)", out)
        rps = float(m.group(1)) if m else 0.0
        report = subprocess.run(
            ["perf", "report", "-i", str(data), "--stdio", "-n", "--sort", "pid,dso"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        stop_all([server])
        threading.Thread(target=shutil.rmtree, args=(tmp, True), daemon=True).start()
    cells: collections.Counter[tuple[str, str]] = collections.Counter()
    for line in report.splitlines():
        m = re.match(r"\s*[\d.]+%\s+(\d+)\s+(\d+):\S*\s+(\S+)", line)
        if m:
            samples, tid, dso = int(m.group(1)), int(m.group(2)), m.group(3)
            cells[(who.get(tid, "other"), library(dso))] += samples
    requests = rps * args.seconds
    if not requests:
        print("wrk answered no request", file=sys.stderr)
        return 1

    def us(n: int) -> str:
        return f"{n / args.frequency / requests * 1e6:.0f}"

    print(f"`sovkg serve {args.serve_args}`, fresh {q.name!r}: {rps:.0f} req/s under wrk -t2 -c16")
    print()
    print("| CPU µs per request | " + " | ".join(LIBS) + " | all |")
    print("|---|" + "---|" * (len(LIBS) + 1))
    for role in ROLES:
        row = [cells[(role, lib)] for lib in LIBS]
        print(f"| {role} | " + " | ".join(us(n) for n in row) + f" | {us(sum(row))} |")
    cols = [sum(cells[(r, lib)] for r in ROLES) for lib in LIBS]
    print("| all | " + " | ".join(us(n) for n in cols) + f" | {us(sum(cols))} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
