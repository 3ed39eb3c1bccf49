"""The README's shell examples, run as written with curl against a live server (only the port
is changed): what a new user copies must do what the README says."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import httpx

from tests.support.server import ROOT, LiveServer

TOKEN = "readme-example-token-51c2"


def _sh_block(containing: str) -> str:
    """The README's one ```sh block that contains ``containing``."""
    blocks = re.findall(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    found = [b for b in blocks if containing in b]
    assert len(found) == 1, f"{len(found)} sh blocks contain {containing!r}"
    return found[0]


def test_the_graph_store_examples_run_as_written(tmp_path: Path) -> None:
    script = _sh_block("notes.ttl")
    server = LiveServer("--allow-updates", "--no-validate", env={"SOVKG_TOKEN": TOKEN})
    try:
        server.wait_ready()
        run = subprocess.run(
            [
                "bash",
                "-euo",
                "pipefail",
                "-c",
                script.replace("127.0.0.1:8000", f"127.0.0.1:{server.port}"),
            ],
            cwd=tmp_path,
            env={"PATH": "/usr/bin:/bin", "SOVKG_TOKEN": TOKEN},
            capture_output=True,
            timeout=60,
        )
        assert run.returncode == 0, run.stderr.decode()
        out = run.stdout.decode()
        # the shipped graph read back, and the POSTed graph read back at its Location
        assert "ksai:" in out or "w3id.org/ksai" in out
        assert "checked" in out
        # everything written is gone again: both graphs are 404 now
        notes = httpx.get(f"{server.url}/store", params={"graph": "urn:x-notes"})
        assert notes.status_code == 404
        ask = httpx.get(
            f"{server.url}/sparql",
            params={"query": 'ASK { ?s ?p "checked" }'},
            headers={"Accept": "application/sparql-results+json"},
        )
        assert ask.json()["boolean"] is False
    finally:
        server.stop()
