"""How fast any Python front could be: bare ASGI apps beside ``sovkg serve`` and native Oxigraph.

    python benchmarks/ceiling/run.py --duration 5 --output benchmarks/CEILING.md

Every server answers the mix of ``benchmarks/run.py`` on the same export, on loopback, with
``wrk -t2 -c16`` per cell, the servers one after the other for each query so that the noise of
the machine hits them alike. The bare apps (``apps.py``) run under granian with 2 processes,
as ``sovkg serve`` does by default, and do nothing but answer:

- ``fixed``: a fixed body, the query not read (granian's own cost);
- ``inproc``: the engine in a thread of the server process (no process that can be killed);
- ``trip``: the engine in a forked worker process over a socketpair, raw bytes, no pickle: the
  least a killable worker costs;
- ``pool``: sovkg's own ``WorkerPool`` behind the same bare front;
- ``hand``, ``pipe``: two ways to keep a worker from idling between jobs (see ``apps.py``);
- ``cached``: a dict of answers (in fresh mode every request misses and runs on the loop);
- ``fixed-rsgi``, ``cached-rsgi``: ``fixed`` and ``cached`` over granian's RSGI interface
  instead of ASGI.

``--processes 1 2`` runs every bare app with 1 and with 2 granian processes (2 by default);
``--sovkg-args`` (repeatable) adds ``sovkg serve`` configurations besides the default, e.g.
``--sovkg-args=--workers 1``.

Fresh mode only by default (``--modes fresh repeated`` adds the same URL every time). Besides
req/s it reads the CPU time of each server's whole process tree, per request.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from procs import cpu_seconds, free_port, stop_all, tree, wait_idle  # noqa: E402
from run import BIN, MODES, ROOT, geomean, query_mix, ratio, versions, wait_up, wrk  # noqa: E402

#: the bare apps a run starts unless told otherwise
DEFAULT_APPS = ("fixed", "inproc", "trip", "pool", "cached")
APPS = (*DEFAULT_APPS, "hand", "pipe", "fixed-rsgi", "cached-rsgi")


class Fleet:
    """The servers of one run, on one export."""

    def __init__(
        self,
        export: Path,
        apps: list[str],
        processes: tuple[int, ...] = (2,),
        sovkg_args: tuple[str, ...] = (),
    ) -> None:
        self.procs: dict[str, subprocess.Popen] = {}
        self.urls: dict[str, str] = {}
        try:
            self._start(
                "oxigraph",
                [str(BIN / "oxigraph"), "serve", "--union-default-graph"],
                "/query",
                bind=True,
            )
            r = httpx.post(
                self.urls["oxigraph"].removesuffix("/query") + "/store",
                content=export.read_bytes(),
                headers={"Content-Type": "application/n-quads"},
                timeout=60,
            )
            r.raise_for_status()
            for extra in ("", *sovkg_args):
                serve = [sys.executable, "-m", "sovkg", "serve", "--no-access-log"]
                name = f"sovkg serve {extra}".strip()
                self._start(name, [*serve, *shlex.split(extra)], "/sparql")
            for app in apps:
                for n in processes:
                    self._start_bare(app, n, export, named=len(processes) > 1)
        except BaseException:
            self.stop()
            raise

    def _start_bare(self, app: str, processes: int, export: Path, named: bool) -> None:
        base, _, interface = app.partition("-")
        cmd = [
            str(BIN / "granian"),
            "--interface",
            interface or "asgi",
            "--host",
            "127.0.0.1",
            "--workers",
            str(processes),
            "--loop",
            "uvloop",
            "--no-ws",
            "--log-level",
            "warning",
            "--working-dir",
            str(HERE),
            "apps:rsgi_app" if interface else "apps:app",
        ]
        env = {"CEILING_APP": base, "CEILING_DATA": str(export)}
        name = f"bare {app}" + (f" x{processes}" if named else "")
        self._start(name, cmd, "/sparql", env=env)

    def _start(
        self,
        name: str,
        cmd: list[str],
        path: str,
        bind: bool = False,
        env: dict[str, str] | None = None,
    ) -> None:
        port = free_port()
        args = ["--bind", f"127.0.0.1:{port}"] if bind else ["--port", str(port)]
        proc = subprocess.Popen(
            [*cmd, *args],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
        self.procs[name] = proc
        self.urls[name] = f"http://127.0.0.1:{port}{path}"
        wait_up(self.urls[name] + "?query=ASK%7B%7D", proc)

    def wait_quiet(self) -> None:
        """Until the process trees are idle (sovkg's SHACL workers warm up after it answers)."""
        wait_idle(self.procs.values())

    def stop(self) -> None:
        stop_all(self.procs.values())


def ratio_to_native(results: dict, mode: str, query: str, name: str) -> float:
    """A server's req/s over the native server's, for one query and mode."""
    return ratio(results[(mode, query, name)]["rps"], results[(mode, query, "oxigraph")]["rps"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=int, default=5, help="seconds per cell (default 5)")
    ap.add_argument("--modes", nargs="+", choices=MODES, default=["fresh"])
    ap.add_argument(
        "--apps", nargs="+", choices=APPS, default=list(DEFAULT_APPS), help="bare apps to run"
    )
    ap.add_argument(
        "--processes", nargs="+", type=int, default=[2], help="granian processes per bare app"
    )
    ap.add_argument(
        "--sovkg-args", action="append", default=[], help="another sovkg serve configuration"
    )
    ap.add_argument("--output", type=Path, help="write the Markdown report here")
    args = ap.parse_args()

    export = Path(f"/tmp/sovkg-ceiling-{os.getpid()}.nq")
    subprocess.run(
        [sys.executable, "-m", "sovkg", "export", "--format", "nquads", "-o", str(export)],
        check=True,
        cwd=ROOT,
    )
    fleet = Fleet(export, args.apps, tuple(args.processes), tuple(args.sovkg_args))
    results: dict[tuple[str, str, str], dict] = {}
    mix = query_mix()
    try:
        fleet.wait_quiet()
        for mode in args.modes:
            for q in mix:
                for name, proc in fleet.procs.items():
                    url = fleet.urls[name] + "?query=" + urllib.parse.quote(q.text)
                    pids = tree(proc.pid)
                    before = cpu_seconds(pids)
                    r = wrk(url, q.accept, mode == "fresh", 2, 16, args.duration)
                    requests = r["rps"] * args.duration
                    r["cpu_us"] = (cpu_seconds(pids) - before) / requests * 1e6 if requests else 0
                    results[(mode, q.name, name)] = r
                    print(
                        f"{mode:8} {q.name:34} {name:14} {r['rps']:9.0f} req/s "
                        f"{r['cpu_us']:6.0f} us/req non2xx {r['non2xx']}",
                        flush=True,
                    )
    finally:
        fleet.stop()
        export.unlink(missing_ok=True)
    names = list(fleet.procs)
    lines = [
        "# Ceiling: what any Python front could reach",
        "",
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"- machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()),
        f"- command: `{shlex.join(['python', 'benchmarks/ceiling/run.py', *sys.argv[1:]])}`",
        "",
    ]
    for mode in args.modes:
        lines += [
            f"## {mode.capitalize()} queries: req/s (CPU µs per request, whole process "
            "tree) and ratio to native",
            "",
            "| query | " + " | ".join(names) + " |",
            "|---|" + "---|" * len(names),
        ]
        for q in mix:
            native = results[(mode, q.name, "oxigraph")]["rps"]
            cells = []
            for n in names:
                r = results[(mode, q.name, n)]
                extra = "" if n == "oxigraph" else f", {ratio(r['rps'], native):.2f}x"
                cells.append(f"{r['rps']:.0f} ({r['cpu_us']:.0f} µs{extra})")
            lines.append(f"| {q.name} | " + " | ".join(cells) + " |")
        means = [
            geomean([ratio_to_native(results, mode, q.name, n) for q in mix]) for n in names[1:]
        ]
        lines += [
            "",
            "Geometric mean of the ratios: "
            + ", ".join(f"{n} **{m:.2f}x**" for n, m in zip(names[1:], means, strict=True)),
            "",
        ]
    report = "\n".join(lines)
    print(report)
    if args.output:
        args.output.write_text(report + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
