"""Which syntax a SPARQL answer is written in: the offer tables and their negotiation.

The query form is known only once the query is parsed, so both choices (results for
SELECT/ASK, RDF for CONSTRUCT/DESCRIBE) are made up front from one Accept header; a 406 is due
only when the one the query needs found no match.
"""

from __future__ import annotations

from dataclasses import dataclass

from sovkg.formats import RDF_SYNTAXES, RESULT_SYNTAXES, WITH_CHARSET
from sovkg.negotiation import negotiate

#: SELECT/ASK: offered media type -> the type pyoxigraph serializes; the first is the default.
#: The aliases (``application/json``, ``application/xml``) some clients send come last.
RESULT_OFFERS: dict[str, str] = {
    **{s.media_type: s.media_type for s in RESULT_SYNTAXES},
    **{alias: s.media_type for s in RESULT_SYNTAXES for alias in s.media_aliases},
}

#: CONSTRUCT/DESCRIBE (and the service description): Turtle first, so a client that says
#: nothing (or ``*/*``) gets Turtle, which every RDF client reads. The aliases clients send
#: (``application/json`` for JSON-LD, ``text/n3`` and ``application/x-turtle`` for Turtle) last.
GRAPH_OFFERS: dict[str, str] = {
    **{s.media_type: s.media_type for s in RDF_SYNTAXES},
    **{alias: s.media_type for s in RDF_SYNTAXES for alias in s.media_aliases},
}

_UTF8 = "; charset=utf-8"


def content_type(media_type: str) -> str:
    """The Content-Type header for ``media_type``, with ``charset=utf-8`` where it applies."""
    return media_type + _UTF8 if media_type in WITH_CHARSET else media_type


@dataclass(frozen=True)
class Choice:
    """What was negotiated: ``offered`` is what the Content-Type says, ``serialize`` what
    pyoxigraph is asked to write (they differ only for the tolerated aliases)."""

    offered: str
    serialize: str


def choose(accept: str | None, offers: dict[str, str]) -> Choice | None:
    """The client's preferred offer (q-values, wildcards; ties go to the first offer)."""
    best = negotiate(accept, list(offers))
    return Choice(best, offers[best]) if best is not None else None


def not_acceptable_message(offers: dict[str, str]) -> str:
    """The body of a 406: what we can send instead."""
    return "none of the requested media types is available; available: " + ", ".join(offers)


@dataclass(frozen=True)
class Negotiated:
    """Both choices for one request (None: nothing acceptable for that form)."""

    results: Choice | None
    graph: Choice | None

    def for_form(self, form: str | None) -> Choice | None:
        """The choice the query form needs; for an unknown form, whichever exists."""
        if form in ("SELECT", "ASK"):
            return self.results
        if form in ("CONSTRUCT", "DESCRIBE"):
            return self.graph
        return self.results or self.graph

    def offers_for(self, form: str | None) -> dict[str, str]:
        """The table a 406 lists for this form."""
        if form in ("CONSTRUCT", "DESCRIBE"):
            return GRAPH_OFFERS
        if form in ("SELECT", "ASK"):
            return RESULT_OFFERS
        return {**RESULT_OFFERS, **GRAPH_OFFERS}


def negotiate_query(accept: str | None) -> Negotiated:
    """Negotiate both result kinds from one Accept header."""
    return Negotiated(choose(accept, RESULT_OFFERS), choose(accept, GRAPH_OFFERS))
