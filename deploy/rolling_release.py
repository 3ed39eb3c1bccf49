#!/usr/bin/env python3
"""A rolling data release behind HAProxy: restart the replicas one by one, none losing a request.

For each server of the backend, through HAProxy's admin socket (``stats socket`` in
deploy/haproxy.cfg): set it to ``drain`` (no new requests), wait until it has no request in
flight, run the restart command, wait until the replica answers ``GET /health`` with 200, set it
back to ``ready`` and wait until HAProxy's own health check sees it ``UP``. The other replicas
serve meanwhile, so there must be at least two.

    deploy/rolling_release.py /run/haproxy/admin.sock sovkg 'systemctl restart sovkg@{port}'

``{name}``, ``{host}`` and ``{port}`` in the command are those of the server being restarted.
Standard library only (Python 3.11+).
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Server:
    """One server line of a HAProxy backend, as its stats report it."""

    name: str
    host: str
    port: int
    status: str
    current_sessions: int
    total_sessions: int


def admin(socket_path: str, command: str) -> str:
    """Send one command to HAProxy's admin socket; its answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(socket_path)
        s.sendall(command.encode() + b"\n")
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode()


def servers(socket_path: str, backend: str) -> list[Server]:
    """The servers of ``backend`` with their state, from ``show stat``."""
    lines = admin(socket_path, "show stat").splitlines()
    header = lines[0].lstrip("# ").split(",")
    found = []
    for line in lines[1:]:
        row = dict(zip(header, line.split(","), strict=False))
        if row.get("pxname") != backend or row.get("svname") in ("FRONTEND", "BACKEND"):
            continue
        host, _, port = row["addr"].rpartition(":")
        found.append(
            Server(
                row["svname"],
                host,
                int(port),
                row["status"],
                int(row["scur"] or 0),
                int(row["stot"] or 0),
            )
        )
    return found


def _server(socket_path: str, backend: str, name: str) -> Server:
    return next(s for s in servers(socket_path, backend) if s.name == name)


def _wait(what: str, ready: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting: {what}")
        time.sleep(0.2)


def healthy(host: str, port: int) -> bool:
    """Whether the replica answers ``GET /health`` with 200."""
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/health", timeout=5) as r:
            return bool(r.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def rolling_release(
    socket_path: str, backend: str, restart: Callable[[Server], None], timeout: float = 120
) -> None:
    """Restart every server of ``backend`` in turn, each drained first and back before the next."""
    for server in servers(socket_path, backend):
        _roll_one(socket_path, backend, server, restart, timeout)


def _roll_one(
    socket_path: str,
    backend: str,
    server: Server,
    restart: Callable[[Server], None],
    timeout: float,
) -> None:
    where = f"{backend}/{server.name}"

    def idle() -> bool:
        return _server(socket_path, backend, server.name).current_sessions == 0

    def up() -> bool:
        return _server(socket_path, backend, server.name).status == "UP"

    admin(socket_path, f"set server {where} state drain")
    _wait(f"{where} to finish its requests", idle, timeout)
    restart(server)
    _wait(f"{where} to answer /health", lambda: healthy(server.host, server.port), timeout)
    admin(socket_path, f"set server {where} state ready")
    _wait(f"HAProxy to see {where} UP", up, timeout)


def main(argv: list[str] | None = None) -> int:
    """Command line: socket, backend, restart command."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("socket", help="HAProxy's admin socket (stats socket ... level admin)")
    parser.add_argument("backend", help="the backend's name in haproxy.cfg (sovkg)")
    parser.add_argument("command", help="restart command; {name} {host} {port} are replaced")
    parser.add_argument("--timeout", type=float, default=120, help="seconds per step")
    args = parser.parse_args(argv)

    def restart(server: Server) -> None:
        command = args.command.format(name=server.name, host=server.host, port=server.port)
        print(f"restarting {server.name}: {command}", file=sys.stderr)
        subprocess.run(command, shell=True, check=True)

    try:
        rolling_release(args.socket, args.backend, restart, args.timeout)
    except (OSError, TimeoutError, subprocess.CalledProcessError, StopIteration) as e:
        print(f"rolling_release: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
