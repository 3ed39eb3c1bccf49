"""A SHACL validation of posted RDF as a job for a worker process: what it carries, what it
gives back, and the function the worker runs.

Parsing (behind the RDF input guard) and validation both run in the worker, under its memory
limit and the SHACL time limit, so a body that is expensive to read or to validate costs a
worker that can be killed, never the server.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyoxigraph import RdfFormat

from sovkg.errors import InputError
from sovkg.linkeddata.shacl import parse_input, validate_posted
from sovkg.validation import Finding

#: the report syntaxes a job can produce, by media type (text and HTML need only the findings)
REPORT_SYNTAXES = {"text/turtle": "turtle", "application/ld+json": "json-ld"}


@dataclass(frozen=True)
class ShaclJob:
    """Posted data (and shapes, if sent) as bytes with their syntax's media type."""

    data: bytes
    data_format: str
    shapes: bytes | None = None
    shapes_format: str | None = None
    #: the negotiated report type: the job serializes the report graph only for RDF syntaxes
    report_media: str = "text/turtle"


@dataclass(frozen=True)
class ShaclOutcome:
    """A finished validation: the verdict, the findings, the report in the asked syntax (empty
    for text and HTML) and as text."""

    conforms: bool
    findings: tuple[Finding, ...]
    body: str
    text: str


def _format(media: str) -> RdfFormat:
    fmt = RdfFormat.from_media_type(media)
    if fmt is None:
        raise InputError(415, f"unsupported RDF syntax {media!r}")
    return fmt


def run_shacl(job: ShaclJob) -> ShaclOutcome:
    """Parse (guarded) and validate; raises InputError (400) for unreadable input."""
    data = parse_input(job.data, _format(job.data_format), "data")
    shapes = None
    if job.shapes is not None:
        shapes = parse_input(job.shapes, _format(job.shapes_format or "text/turtle"), "shapes")
        shapes = shapes or None
    report = validate_posted(data, shapes)
    syntax = REPORT_SYNTAXES.get(job.report_media)
    body = report.serialize(syntax) if syntax else ""
    return ShaclOutcome(report.conforms, report.findings, body, report.text())


def warm_up() -> None:
    """Import the validator and read our ontology and shapes, so the first job is not slow."""
    validate_posted([])
