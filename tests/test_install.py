"""A non-editable install carries the RDF folders and works from any directory."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.support.server import ROOT


def test_wheel_ships_the_rdf_folders_and_runs_elsewhere(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(dist),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheel = next(dist.glob("sovkg-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for folder in ("ontology", "graph", "shapes"):
        shipped = sorted(p.name for p in (ROOT / folder).glob("*.ttl"))
        inside = sorted(Path(n).name for n in names if n.startswith(f"sovkg/_data/{folder}/"))
        assert inside == shipped, folder

    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}
    where = subprocess.run(
        [sys.executable, "-c", "import sovkg.resources as r; print(r.data_dir('graph'))"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.strip().startswith(str(target))
    r = subprocess.run(
        [sys.executable, "-m", "sovkg", "query", "ASK { ?s a owl:Ontology }"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout == "true\n"
    r = subprocess.run(
        [sys.executable, "-m", "sovkg", "validate"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stdout + r.stderr
