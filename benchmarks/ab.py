"""Alternated A/B runs of ``sovkg serve`` configurations: the same queries, one server at a time.

    python benchmarks/ab.py --rounds 3 --config "" --config "--query-workers 1"
    python benchmarks/ab.py --rounds 3 --config "" --config "" --pin 1

Each ``--config`` is a string of ``sovkg serve`` arguments. ``--checkout DIR`` (once per
config, in order; ``-`` for this one) runs that config with another checkout's ``server/``
first on ``PYTHONPATH`` (``git worktree add /tmp/old <commit>``); ``--env N NAME=VALUE`` sets
an environment variable for config N's server (an allocator to preload, say). ``--pin N``
pins the process trees of config N: each server process and its workers get one core of their
own (server process i on core i modulo the cores). In every round each config gets a fresh
server, waits until it is idle, and is loaded with ``wrk -t2 -c16`` for ``--duration`` seconds
per query; the order of the configs is reversed every other round, so that a drift of the
machine's speed hits them alike. It prints every cell as it comes, then the mean req/s per
query and config. Each server writes its stderr (the access log, unless a config says
``--no-access-log``) to a file of its own. It measures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from procs import children, free_port, stop_all, tree, wait_idle  # noqa: E402
from run import BIN, query_mix, wait_up, wrk  # noqa: E402

#: --queries: the short names of run.py's query mix
QUERIES = {"point": 0, "order": 1, "group": 2, "join": 3, "describe": 4}


def pin(root: int) -> int:
    """Give each server process under granian's ``root`` (and its workers, every thread) one
    core of its own; returns how many server processes were pinned."""
    cores = sorted(os.sched_getaffinity(0))
    servers = [p for p in children(root) if children(p)]
    for i, server in enumerate(servers):
        core = {cores[i % len(cores)]}
        for pid in tree(server):
            try:
                for task in os.listdir(f"/proc/{pid}/task"):
                    os.sched_setaffinity(int(task), core)
            except OSError:
                continue
    return len(servers)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", action="append", required=True, help="sovkg serve arguments")
    ap.add_argument("--checkout", action="append", default=[], help="DIR or - per config")
    ap.add_argument("--pin", type=int, action="append", default=[], help="config to pin")
    ap.add_argument(
        "--env",
        nargs=2,
        action="append",
        default=[],
        metavar=("N", "NAME=VALUE"),
        help="an environment variable for config N (e.g. 1 LD_PRELOAD=/usr/lib/...)",
    )
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5, help="seconds per cell (5)")
    ap.add_argument("--queries", nargs="+", choices=sorted(QUERIES), default=["point", "group"])
    ap.add_argument("--mode", choices=("fresh", "repeated"), default="fresh")
    args = ap.parse_args()
    configs: list[str] = args.config
    checkouts = args.checkout + ["-"] * (len(configs) - len(args.checkout))
    mix = [query_mix()[QUERIES[q]] for q in args.queries]
    rps: dict[tuple[int, str], list[float]] = {}
    for rnd in range(args.rounds):
        order = list(range(len(configs)))
        if rnd % 2:
            order.reverse()
        for i in order:
            env = dict(os.environ)
            if checkouts[i] != "-":
                env["PYTHONPATH"] = str(Path(checkouts[i]) / "server")
            for n, setting in args.env:
                if int(n) == i:
                    name, _, value = setting.partition("=")
                    env[name] = value
            port = free_port()
            cmd = [str(BIN / "sovkg"), "serve", "--port", str(port), *shlex.split(configs[i])]
            # stderr (the access log, on unless a config turns it off) goes to a file, as in
            # a deployment: writing it is part of what a request costs
            log = tempfile.TemporaryFile()
            proc = subprocess.Popen(
                cmd,
                stdout=subprocess.DEVNULL,
                stderr=log,
                env=env,
                start_new_session=True,
            )
            log.close()  # the server holds its own descriptor
            try:
                base = f"http://127.0.0.1:{port}/sparql"
                wait_up(base + "?query=ASK%7B%7D", proc)
                wait_idle([proc])
                pinned = pin(proc.pid) if i in args.pin else 0
                for q in mix:
                    url = base + "?query=" + urllib.parse.quote(q.text, safe="")
                    r = wrk(url, q.accept, args.mode == "fresh", 2, 16, args.duration)
                    rps.setdefault((i, q.name), []).append(r["rps"])
                    note = f", {pinned} pinned" if pinned else ""
                    print(f"round {rnd} config {i}{note}: {q.name}: {r['rps']:.0f} req/s")
            finally:
                stop_all([proc])
    print()
    print(
        "| query | "
        + " | ".join(f"`{c}`" + (" pinned" if i in args.pin else "") for i, c in enumerate(configs))
        + " |"
    )
    print("|---|" + "---|" * len(configs))
    for q in mix:
        cells = []
        for i in range(len(configs)):
            runs = rps[(i, q.name)]
            cells.append(f"{sum(runs) / len(runs):.0f} ({', '.join(f'{x:.0f}' for x in runs)})")
        print(f"| {q.name} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
