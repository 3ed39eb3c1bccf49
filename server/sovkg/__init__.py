"""The Sovereign AI Knowledge Graph: load, validate, query, export and serve the graph."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sovkg")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
