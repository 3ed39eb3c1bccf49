"""Which representation of a resource to send: ``?format=`` first, then the Accept header.

A bare ``*/*`` (curl, most libraries) gets Turtle; browsers, which rank text/html above
``*/*``, get the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from pyoxigraph import RdfFormat

from sovkg.errors import UnknownFormatError
from sovkg.formats import RDF_SYNTAXES
from sovkg.negotiation import negotiate


@dataclass(frozen=True)
class Representation:
    """One way to send a resource: ``?format=`` name, media type, RDF syntax (None for HTML)."""

    key: str
    name: str
    media_type: str
    rdf_format: RdfFormat | None


def _rdf(name: str) -> Representation:
    syntax = next(s for s in RDF_SYNTAXES if s.name == name)
    return Representation(syntax.key, syntax.label, syntax.media_type, syntax.rdf_format)


TURTLE = _rdf("turtle")
HTML = Representation("html", "HTML", "text/html", None)
JSONLD = _rdf("jsonld")
NTRIPLES = _rdf("ntriples")
RDFXML = _rdf("rdfxml")
NQUADS = _rdf("nquads")
TRIG = _rdf("trig")

#: what a resource page offers, in the server's order of preference
RESOURCE_REPRESENTATIONS = (TURTLE, HTML, JSONLD, NTRIPLES, RDFXML, NQUADS, TRIG)
#: RDF only
RDF_REPRESENTATIONS = (TURTLE, JSONLD, NTRIPLES, RDFXML, NQUADS, TRIG)
#: what the VoID description offers: RDF, and a page for people
VOID_REPRESENTATIONS = (TURTLE, HTML, JSONLD, NTRIPLES, RDFXML, NQUADS, TRIG)

#: other ``?format=`` names of the syntaxes (``turtle``, ``json-ld``, ``xml`` …)
_ALIASES = {alias: s.key for s in RDF_SYNTAXES for alias in s.aliases}

_URL_SAFE = "/?=&%:@!$'()*+,;~-._"


def choose(
    format_param: str | None,
    accept: str | None,
    offers: tuple[Representation, ...] = RESOURCE_REPRESENTATIONS,
) -> Representation | None:
    """The representation to send, or None when the Accept header allows none (406)."""
    if format_param:
        key = _ALIASES.get(format_param.lower(), format_param.lower())
        for r in offers:
            if r.key == key:
                return r
        names = ", ".join(r.key for r in offers)
        raise UnknownFormatError(f"unknown format {format_param!r}; use one of {names}")
    media = [r.media_type for r in offers]
    if HTML in offers:
        media.append("application/xhtml+xml")
    chosen = negotiate(accept, media)
    if chosen is None:
        return None
    if chosen == "application/xhtml+xml":
        return HTML
    return next(r for r in offers if r.media_type == chosen)


def alternates(
    path: str, offers: tuple[Representation, ...] = RESOURCE_REPRESENTATIONS
) -> list[dict[str, str]]:
    """Links to every representation of the resource at ``path`` (``?format=`` URLs)."""
    return [
        {"key": r.key, "name": r.name, "media_type": r.media_type, "href": f"{path}?format={r.key}"}
        for r in offers
    ]


def link_header(path: str, current: Representation, offers: tuple[Representation, ...]) -> str:
    """A ``Link`` header value naming the other representations (RFC 8288)."""
    return ", ".join(
        f'<{quote(a["href"], safe=_URL_SAFE)}>; rel="alternate"; type="{a["media_type"]}"'
        for a in alternates(path, offers)
        if a["key"] != current.key
    )


def vary(offers: tuple[Representation, ...]) -> str:
    """The Vary header: Accept always, Accept-Language too when a page is among the offers."""
    return "Accept, Accept-Language" if HTML in offers else "Accept"
