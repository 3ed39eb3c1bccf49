"""Where the shipped RDF folders (ontology/, graph/, shapes/) live.

Installed from a wheel they are inside the package (``sovkg/_data/<folder>``); in a source
checkout or an editable install they are the folders at the repository root.
"""

from __future__ import annotations

from pathlib import Path

FOLDERS = ("ontology", "graph", "shapes")

_PACKAGE_DIR = Path(__file__).resolve().parent


def data_dir(folder: str) -> Path:
    """Return the directory of one shipped RDF folder (``ontology``, ``graph`` or ``shapes``)."""
    if folder not in FOLDERS:
        raise ValueError(f"unknown data folder {folder!r}; expected one of {FOLDERS}")
    bundled = _PACKAGE_DIR / "_data" / folder
    if bundled.is_dir():
        return bundled
    source = _PACKAGE_DIR.parent.parent / folder
    if source.is_dir():
        return source
    raise FileNotFoundError(
        f"the shipped {folder}/ folder is missing (looked in {bundled} and {source})"
    )


def data_files(folder: str) -> list[Path]:
    """The RDF files of one shipped folder, in a stable (sorted) order."""
    return sorted(p for p in data_dir(folder).iterdir() if p.suffix == ".ttl" and p.is_file())
