"""What a user installs: one top-level package in the wheel, the RDF folders inside it, and a
``sovkg`` that runs only its own code wherever it is started."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.support.server import ROOT, SOVKG, LiveServer

#: the code of a look-alike package's ``__init__.py``: leave a trace, then fail the import
LOOK_ALIKE = """\
from pathlib import Path
Path({marker!r}).write_text("imported from the current folder")
raise RuntimeError("look-alike {name} package imported from the current folder")
"""


def test_wheel_holds_one_top_level_package(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/", 1)[0] for name in names}
    dist_info = {t for t in top if t.endswith(".dist-info")}
    assert top - dist_info == {"sovkg"}
    assert len(dist_info) == 1
    assert re.fullmatch(r"sovkg-[^-]+\.dist-info", dist_info.pop())
    assert "sovkg/__init__.py" in names


def test_wheel_ships_the_rdf_folders_and_runs_elsewhere(wheel: Path, tmp_path: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    for folder in ("ontology", "graph", "shapes"):
        shipped = sorted(p.name for p in (ROOT / folder).glob("*.ttl"))
        inside = sorted(Path(n).name for n in names if n.startswith(f"sovkg/_data/{folder}/"))
        assert inside == shipped, folder

    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q"]
        + ["--target", str(target), str(wheel)],
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
        [*SOVKG, "query", "ASK { ?s a owl:Ontology }"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout == "true\n"
    r = subprocess.run([*SOVKG, "validate"], cwd=elsewhere, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.live
def test_serve_runs_none_of_the_current_folders_packages(tmp_path: Path) -> None:
    """Started in a folder holding look-alike ``server/`` and ``sovkg/`` packages, ``sovkg
    serve`` and its query worker processes import only the installed package."""
    folder = tmp_path / "project"
    markers = {}
    for name in ("server", "sovkg"):
        package = folder / name
        package.mkdir(parents=True)
        markers[name] = tmp_path / f"{name}-was-imported"
        init = LOOK_ALIKE.format(marker=str(markers[name]), name=name)
        for module in ("__init__.py", "__main__.py", "workers.py"):
            (package / module).write_text(init, encoding="utf-8")

    server = LiveServer("--query-workers", "2", "--no-validate", cwd=folder)
    try:
        server.wait_ready()
        queries = [
            "ASK { ?s a <http://www.w3.org/2002/07/owl#Ontology> }",
            "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }",
            "CONSTRUCT { ?s a ?c } WHERE { ?s a ?c } LIMIT 3",
        ]
        for _ in range(3):  # more queries than workers, spread over them
            for query in queries:
                r = httpx.post(f"{server.url}/sparql", data={"query": query}, timeout=60)
                assert r.status_code == 200, r.text
        r = httpx.get(f"{server.url}/health", timeout=10)
        assert r.status_code == 200, r.text
    finally:
        server.stop()
    stderr = server.proc.stderr.read().decode() if server.proc.stderr else ""
    assert "look-alike" not in stderr
    assert [name for name, marker in markers.items() if marker.exists()] == []
