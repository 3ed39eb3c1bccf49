"""The real command line and ``sovkg serve`` in child processes, on loopback.

Children run :data:`SOVKG`, which imports the installed package as the ``sovkg`` console script
does (``-P``: the current folder is not put on ``sys.path``), with the environment of the test
run: what a user who installed the wheel runs.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

#: the repository (for its RDF folders and documents; never put on a child's import path)
ROOT = Path(__file__).resolve().parents[2]

#: the command line, from the installed package whatever the current folder holds
SOVKG = (sys.executable, "-P", "-m", "sovkg")

#: how long a test's HTTP client waits for an answer (httpx's default is 5 s): in front of a
#: backend a page is many SPARQL round trips (Virtuoso's first /ontology takes about 30 s on a
#: loaded machine); the server's own limits are tested with their own, shorter, waits
CLIENT_TIMEOUT = 120.0


def run_sovkg(
    *args: str, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[bytes]:
    """Run the real command line in a child process and capture its output."""
    return subprocess.run(
        [*SOVKG, *args],
        cwd=cwd or ROOT,
        capture_output=True,
        timeout=timeout,
        env=dict(os.environ),
    )


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a child process, kill it if it does not go within 10 s, and reap it."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class LiveServer:
    """``sovkg serve`` in a child process, on loopback, until stopped."""

    def __init__(
        self, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [*SOVKG, "serve", "--port", str(self.port), *args],
            cwd=cwd or ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **(env or {})},
        )

    def wait_ready(self, timeout: float = 60) -> None:
        """Block until /health answers 200; fail with the server's stderr if it died."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                stderr = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"server exited: {stderr}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise TimeoutError("server did not become ready")

    def stop(self) -> None:
        """Terminate the server and wait for it."""
        stop_process(self.proc)
