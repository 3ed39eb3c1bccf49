"""The package's layers: every import points down, and no two modules import each other.

Read from the installed package's source with ``ast``, so imports inside functions count too.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
import sovkg

PACKAGE = Path(sovkg.__file__).resolve().parent

#: the layers, top first; a module may import only from its own layer or the ones below it
LAYERS: tuple[tuple[str, ...], ...] = (
    ("__main__",),
    ("cli",),
    ("app",),
    ("routes",),
    ("http",),
    ("engine",),
    ("sparql",),
    ("linkeddata",),
    ("validation", "export"),
    ("dataset", "rdfinput", "negotiation", "queries"),
    ("config", "formats", "namespaces", "resources"),
    ("errors",),
    ("__init__",),
)
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}

#: web frameworks: only the HTTP edge (routes, http, app, cli) may import them
FRAMEWORKS = ("starlette", "fastapi", "uvicorn", "granian")
EDGE = {"routes", "http", "app", "cli", "__main__"}


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> tuple[set[str], set[str]]:
    """The package's modules that ``name`` imports anywhere in its source, and the
    top-level names of every other package it imports."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    ours: set[str] = set()
    theirs: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            targets = [
                f"{module}.{a.name}" if f"{module}.{a.name}" in MODULES else module
                for a in node.names
            ]
        else:
            continue
        for target in targets:
            if target == "sovkg" or target.startswith("sovkg."):
                if target in MODULES and target != name:
                    ours.add(target)
            else:
                theirs.add(target.split(".")[0])
    return ours, theirs


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_module_belongs_to_a_layer() -> None:
    assert {_layer(m) for m in MODULES} <= set(RANK)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down(module: str) -> None:
    ours, _ = GRAPH[module]
    upward = sorted(t for t in ours if RANK[_layer(t)] < RANK[_layer(module)])
    assert not upward, f"{module} imports from a layer above it: {upward}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _layer(m) not in EDGE))
def test_only_the_http_edge_knows_the_web_framework(module: str) -> None:
    _, theirs = GRAPH[module]
    assert not theirs & set(FRAMEWORKS), module


def test_no_import_cycles() -> None:
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(GRAPH[module][0]):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, path)
        path.pop()
        state[module] = 2

    for module in sorted(MODULES):
        if module not in state:
            visit(module, [])
    assert not cycles


def test_every_library_the_package_imports_is_a_declared_dependency() -> None:
    """``pip install .`` alone must be enough to run every command (httpx was once only in the
    test extra, so ``sovkg serve`` died on import)."""
    declared = {
        re.split(r"[<>=!~\[; ]", req, maxsplit=1)[0].lower().replace("_", "-")
        for req in tomllib.loads((PACKAGE.parents[1] / "pyproject.toml").read_text())["project"][
            "dependencies"
        ]
    }
    # what the declared ones bring with them, and may be imported directly
    for name in list(declared):
        for req in metadata.requires(name) or []:
            if "extra ==" not in req:
                declared.add(re.split(r"[<>=!~\[; (]", req, maxsplit=1)[0].lower())
    stdlib = set(sys.stdlib_module_names)
    distributions = metadata.packages_distributions()
    missing = {}
    for module, (_, theirs) in GRAPH.items():
        for top in theirs - stdlib - {"__future__"}:
            dists = {d.lower().replace("_", "-") for d in distributions.get(top, [top])}
            if not dists & declared:
                missing[top] = module
    assert not missing, f"imported but not in [project].dependencies: {missing}"
