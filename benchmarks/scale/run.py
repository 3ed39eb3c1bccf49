"""Scale benchmark: load time, memory, competency-query latency and SHACL time as the graph grows.

    python benchmarks/scale/run.py --sizes 100000 1000000 10000000 --validate-timeout 900

For each size it generates a synthetic graph (benchmarks/scale/generate.py), bulk-loads it into
a RocksDB store (what ``sovkg serve --store`` keeps), runs every competency query of
tests/queries/q*.rq (median of 3, union default graph; each query in its own process on a
read-only store, killed past --query-timeout), and validates it with `sovkg validate` (its
default engine, shacl; benchmarks/validation/ compares the engines), each step in its
own process so that peak memory (max RSS, from /usr/bin/time) belongs to that step alone.
Results go to benchmarks/scale/RESULTS.md and a plot to benchmarks/scale/scale.png.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

_LOAD = r"""
import json, sys, time
from pyoxigraph import RdfFormat, Store
data, location = sys.argv[1], sys.argv[2]
t = time.perf_counter()
store = Store(location)
store.bulk_load(path=data, format=RdfFormat.N_QUADS)
store.optimize()
print(json.dumps({"load_s": time.perf_counter() - t, "quads": len(store)}))
"""

_QUERY = r"""
import json, statistics, sys, time
from pathlib import Path
from pyoxigraph import Store
store = Store.read_only(sys.argv[1])
text = Path(sys.argv[2]).read_text()
times, rows = [], 0
for _ in range(3):
    t = time.perf_counter()
    rows = sum(1 for _ in store.query(text, use_default_graph_as_union=True))
    times.append(time.perf_counter() - t)
print(json.dumps({"median_ms": statistics.median(times) * 1000, "rows": rows}))
"""


def timed(cmd: list[str], timeout: float) -> tuple[subprocess.CompletedProcess | None, float, int]:
    """Run a command under /usr/bin/time; (result or None on timeout, seconds, max RSS KiB).

    The command runs in a session of its own so that a timeout kills it together with the
    process /usr/bin/time started, not /usr/bin/time alone.
    """
    started = time.perf_counter()
    proc = subprocess.Popen(
        ["/usr/bin/time", "-f", "MAXRSS %M", *cmd],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return None, time.perf_counter() - started, 0
    r = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    rss = re.search(r"MAXRSS (\d+)", err)
    return r, time.perf_counter() - started, int(rss.group(1)) if rss else 0


def measure(size: int, validate_timeout: float, query_timeout: float, work: Path) -> dict:
    """Every measurement for one size."""
    data = work / f"kg-{size}.nq"
    subprocess.run(
        [sys.executable, str(HERE / "generate.py"), "--triples", str(size), "--output", str(data)],
        check=True,
        cwd=ROOT,
    )
    queries = [str(q) for q in sorted((ROOT / "tests" / "queries").glob("q*.rq"))]
    location = work / f"store-{size}"
    r, _, rss = timed([sys.executable, "-c", _LOAD, str(data), str(location)], timeout=7200)
    assert r is not None and r.returncode == 0, r.stderr if r else "timeout"
    result = json.loads(r.stdout)
    result["load_rss_mib"] = rss / 1024
    result["store_mib"] = sum(f.stat().st_size for f in location.rglob("*") if f.is_file()) / 2**20
    result["queries"] = {}
    for q in queries:
        qr, seconds, qrss = timed(
            [sys.executable, "-c", _QUERY, str(location), q], timeout=query_timeout
        )
        if qr is None or qr.returncode != 0:
            result["queries"][Path(q).stem] = {"median_ms": None, "rows": None}
        else:
            result["queries"][Path(q).stem] = {**json.loads(qr.stdout), "rss_mib": qrss / 1024}
    shutil.rmtree(location, ignore_errors=True)
    v, seconds, vrss = timed(
        [sys.executable, "-m", "sovkg", "validate", str(data), "--without-ontology"],
        timeout=validate_timeout,
    )
    result["validate_s"] = seconds if v is not None else None
    result["validate_rss_mib"] = vrss / 1024 if v is not None else None
    result["validate_exit"] = v.returncode if v is not None else "timeout"
    result["size"] = size
    data.unlink()
    return result


def plot(results: list[dict], target: Path) -> None:
    """Growth of load time, query latency, validation time and memory, log-log."""
    # matplotlib is optional (only the drawing needs it), so it is imported only here
    try:
        import matplotlib  # noqa: PLC0415
    except ImportError:
        print(f"{target} not drawn: pip install matplotlib to draw it", file=sys.stderr)
        return

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    sizes = [r["quads"] for r in results]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    ax1.loglog(sizes, [r["load_s"] for r in results], "o-", label="bulk load (s)")
    vals = [(r["quads"], r["validate_s"]) for r in results if r["validate_s"] is not None]
    if vals:
        ax1.loglog(*zip(*vals, strict=True), "s-", label="SHACL validation, sovkg validate (s)")
    for name in results[0]["queries"]:
        pts = [
            (r["quads"], r["queries"][name]["median_ms"] / 1000)
            for r in results
            if r["queries"][name]["median_ms"] is not None
        ]
        if pts:
            ax1.loglog(*zip(*pts, strict=True), ".--", alpha=0.6, label=f"{name} (s)")
    ax1.set_xlabel("quads")
    ax1.set_ylabel("seconds")
    ax1.legend(fontsize=6)
    ax1.set_title("time")
    ax2.loglog(sizes, [r["load_rss_mib"] for r in results], "o-", label="load+query max RSS")
    vm = [(r["quads"], r["validate_rss_mib"]) for r in results if r["validate_rss_mib"]]
    if vm:
        ax2.loglog(*zip(*vm, strict=True), "s-", label="validation max RSS")
    ax2.loglog(sizes, [r["store_mib"] for r in results], "^-", label="RocksDB on disk")
    ax2.set_xlabel("quads")
    ax2.set_ylabel("MiB")
    ax2.legend(fontsize=7)
    ax2.set_title("memory and disk")
    fig.tight_layout()
    fig.savefig(target, dpi=110)


def report(results: list[dict], command: str) -> str:
    """The Markdown table of the run."""
    names = list(results[0]["queries"])
    lines = [
        "# Scale results",
        "",
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"- command: `{command}`",
        "",
        "| quads | bulk load s | load+query max RSS MiB | store on disk MiB | validation s | "
        "validation max RSS MiB | " + " | ".join(f"{n} ms" for n in names) + " |",
        "|" + "---|" * (6 + len(names)),
    ]
    for r in results:
        v = f"{r['validate_s']:.1f}" if r["validate_s"] is not None else "timed out"
        vr = f"{r['validate_rss_mib']:.0f}" if r["validate_rss_mib"] else "–"
        qs = " | ".join(
            f"{r['queries'][n]['median_ms']:.1f}"
            if r["queries"][n]["median_ms"] is not None
            else "timed out"
            for n in names
        )
        lines.append(
            f"| {r['quads']:,} | {r['load_s']:.1f} | {r['load_rss_mib']:.0f} | "
            f"{r['store_mib']:.0f} | {v} | {vr} | {qs} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 10_000_000])
    ap.add_argument("--validate-timeout", type=float, default=900)
    ap.add_argument("--query-timeout", type=float, default=300, help="per query, 3 runs")
    ap.add_argument("--output", type=Path, default=HERE / "RESULTS.md")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sovkg-scale-"))
    results = []
    try:
        for size in args.sizes:
            results.append(measure(size, args.validate_timeout, args.query_timeout, work))
            print(json.dumps(results[-1]), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    command = "python benchmarks/scale/run.py " + shlex.join(sys.argv[1:])
    text = report(results, command)
    args.output.write_text(text, encoding="utf-8")
    (HERE / "results.json").write_text(json.dumps(results, indent=1))
    plot(results, HERE / "scale.png")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
