"""Cold start: process start to the first answered query, shipped graph, SHACL included.

    python benchmarks/coldstart.py --runs 5 --output benchmarks/COLDSTART.md

Each run starts `sovkg serve` on a free loopback port and polls `/sparql?query=ASK{}` until it
answers 200. "first start" runs with an empty validation cache (SHACL runs); "restart" runs
with the verdict cached for this content (SHACL skipped), which is every start after the first.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_start(cache_dir: str, extra: list[str]) -> float:
    """Seconds from spawning the server to its first 200 answer to a query."""
    port = _port()
    env = {**os.environ, "SOVKG_CACHE_DIR": cache_dir}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sovkg", "serve", "--port", str(port), *extra],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/sparql?query=ASK%7B%7D"
        while True:
            try:
                if httpx.get(url, timeout=5).status_code == 200:
                    return time.perf_counter() - started
            except httpx.TransportError:
                pass
            if proc.poll() is not None:
                raise RuntimeError("server exited")
            time.sleep(0.01)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--ours-args", default="")
    ap.add_argument("--output", type=Path)
    args = ap.parse_args()
    extra = args.ours_args.split()
    first, again = [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as cache:
            first.append(one_start(cache, extra))
            again.append(one_start(cache, extra))
    lines = [
        "# Cold start",
        "",
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"- machine: {platform.machine()}, {os.cpu_count()} cores; "
        f"Python {platform.python_version()}",
        f"- command: `python benchmarks/coldstart.py --runs {args.runs}"
        + (f" --ours-args '{args.ours_args}'" if args.ours_args else "")
        + "`",
        "",
        "| start | median s | min s | max s |",
        "|---|---|---|---|",
        f"| first start (SHACL validation runs) | {statistics.median(first):.2f} | "
        f"{min(first):.2f} | {max(first):.2f} |",
        f"| restart (verdict cached for this content) | {statistics.median(again):.2f} | "
        f"{min(again):.2f} | {max(again):.2f} |",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
