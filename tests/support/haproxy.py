"""Debian's HAProxy running the shipped ``deploy/haproxy.cfg`` in front of read replicas of
``sovkg serve``, all on free loopback ports, for the replica tests.

The shipped file is used as it is, except what a test on a shared machine must change: the
listening port, the replica addresses (the file's only edit for a deployment), the admin socket
path, and the lines that need root or syslog (``chroot``, ``user``, ``group``, ``log``).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

from tests.support.server import ROOT, free_port

HAPROXY = "haproxy"
CONFIG = ROOT / "deploy" / "haproxy.cfg"
MISSING = (
    "HAProxy is not installed: the replica tests need Debian's haproxy package "
    "(`DEBIAN_FRONTEND=noninteractive apt-get install haproxy`), which provides {bin}"
)


def _load_rolling_release() -> ModuleType:
    """``deploy/rolling_release.py`` (a script, not part of the package) as a module."""
    path = ROOT / "deploy" / "rolling_release.py"
    spec = importlib.util.spec_from_file_location("rolling_release", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["rolling_release"] = module
    spec.loader.exec_module(module)
    return module


rolling_release = _load_rolling_release()


def require_haproxy() -> str:
    """The haproxy binary; fail loudly (never skip) when the Debian package is not there."""
    found = shutil.which(HAPROXY) or shutil.which("/usr/sbin/haproxy")
    if found is None:
        raise RuntimeError(MISSING.format(bin="/usr/sbin/haproxy"))
    return found


def haproxy_config(shipped: str, port: int, replicas: list[tuple[str, int]], sock: Path) -> str:
    """The shipped configuration on loopback ``port`` in front of ``replicas`` (name, port)."""
    text = re.sub(r"(?m)^\s*(chroot|user|group|log)\s.*\n", "", shipped)
    text = re.sub(r"(?m)^(\s*)stats socket \S+", rf"\1stats socket {sock}", text)
    text = re.sub(r"(?m)^(\s*)bind \S+", rf"\1bind 127.0.0.1:{port}", text)
    text = re.sub(r"(?m)^\s*server \S+ \S+.*\n", "", text)
    lines = "".join(f"    server {name} 127.0.0.1:{p}\n" for name, p in replicas)
    return text.rstrip("\n") + "\n" + lines


class HAProxy:
    """``haproxy -db -f <config>`` in the foreground, until stopped."""

    def __init__(self, replicas: list[tuple[str, int]]) -> None:
        binary = require_haproxy()
        self.folder = Path(tempfile.mkdtemp(prefix="sovkg-haproxy-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.socket = self.folder / "admin.sock"
        self.config = self.folder / "haproxy.cfg"
        self.config.write_text(haproxy_config(CONFIG.read_text(), self.port, replicas, self.socket))
        check = subprocess.run([binary, "-c", "-f", str(self.config)], capture_output=True)
        if check.returncode != 0:
            raise RuntimeError(f"haproxy refuses the config: {check.stderr.decode()}")
        self.log = (self.folder / "haproxy.log").open("wb")
        self.proc = subprocess.Popen(
            [binary, "-db", "-f", str(self.config)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        # the socket's file appears when HAProxy binds it, a moment before it listens: wait
        # until the socket answers (on a loaded machine that moment was long enough to refuse)
        deadline = time.monotonic() + 30
        while not self._answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"haproxy did not start: {self.read_log()}")
            time.sleep(0.05)

    def _answers(self) -> bool:
        """Whether the admin socket takes a command yet."""
        try:
            rolling_release.admin(str(self.socket), "show info")
        except (FileNotFoundError, ConnectionRefusedError):
            return False
        return True

    def read_log(self) -> str:
        """What HAProxy wrote so far."""
        return (self.folder / "haproxy.log").read_text(errors="replace")

    def servers(self) -> dict[str, Any]:
        """The replicas as HAProxy sees them (status, sessions), by name."""
        return {s.name: s for s in rolling_release.servers(str(self.socket), "sovkg")}

    def wait_status(self, name: str, status: str, timeout: float = 60) -> None:
        """Wait until HAProxy's health checks report the replica in ``status`` (UP, DOWN)."""
        deadline = time.monotonic() + timeout
        while getattr(self.servers()[name], "status", None) != status:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} never became {status}: {self.servers()[name]}")
            time.sleep(0.1)

    def stop(self) -> None:
        """Stop HAProxy and remove its folder."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.folder, ignore_errors=True)


class Replica:
    """``sovkg serve`` on a fixed loopback port (so it can be killed and started again there),
    in its own process group (its query workers die with it), output to a log file."""

    def __init__(self, name: str, port: int, folder: Path, *args: str) -> None:
        self.name = name
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.folder = folder
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, *args: str) -> None:
        """Start (again), with ``args`` instead of the first arguments if given."""
        if args:
            self.args = args
        self.starts += 1
        log = (self.folder / f"{self.name}-{self.starts}.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sovkg", "serve", "--port", str(self.port), *self.args],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(os.environ),
            start_new_session=True,
        )
        log.close()

    def wait_ready(self, timeout: float = 120) -> None:
        """Block until ``/health`` answers 200; fail with the log if the replica died."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.read_log()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} did not become ready: {self.read_log()}")

    def read_log(self) -> str:
        """The output of the latest start."""
        return (self.folder / f"{self.name}-{self.starts}.log").read_text(errors="replace")[-3000:]

    def crash(self) -> None:
        """SIGKILL the replica and its workers at once, as a dying machine would."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        """SIGTERM (a graceful stop: requests in flight are finished), then reap."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        try:  # workers that outlived their parent
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
