"""Labels for people: the preferred label in the reader's language, with sensible fallbacks."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pyoxigraph import BlankNode, Literal, NamedNode, Store

from sovkg.linkeddata.terms import LABEL_PROPERTIES, local_name
from sovkg.namespaces import PREFIXES

#: the languages pages are written in
LANGUAGES = ("ko", "en")
DEFAULT_LANGUAGE = "en"


def choose_language(param: str | None, accept_language: str | None) -> str:
    """The page language: ``?lang=`` if it names one we write, else the best
    ``Accept-Language`` match (q-values honoured), else English."""
    if param and param.lower() in LANGUAGES:
        return param.lower()
    best, best_q = DEFAULT_LANGUAGE, 0.0
    for i, element in enumerate((accept_language or "").split(",")):
        parts = [p.strip() for p in element.split(";")]
        tag = parts[0].lower()
        q = 1.0
        for p in parts[1:]:
            if p.startswith("q="):
                try:
                    q = float(p[2:])
                except ValueError:
                    q = 0.0
        primary = tag.split("-")[0]
        # earlier elements win ties: make later ones a hair smaller
        q -= i * 1e-6
        if primary in LANGUAGES and q > best_q:
            best, best_q = primary, q
    return best


def compact(iri: str) -> str:
    """``prefix:local`` for IRIs in a known namespace, else the IRI."""
    for prefix, ns in PREFIXES.items():
        if iri.startswith(ns) and len(iri) > len(ns):
            return f"{prefix}:{iri[len(ns) :]}"
    return iri


class Labeler:
    """Finds labels in one or more stores, remembering what it looked up."""

    def __init__(self, stores: Sequence[Store], lang: str) -> None:
        self.stores = list(stores)
        self.lang = lang
        self._cache: dict[str, str] = {}

    def literals(self, node: NamedNode | BlankNode, predicate: NamedNode) -> list[Literal]:
        """Distinct literal values of ``predicate`` on ``node`` across the stores."""
        seen: dict[tuple[str, str | None], Literal] = {}
        for store in self.stores:
            for q in store.quads_for_pattern(node, predicate, None):
                o = q.object
                if isinstance(o, Literal):
                    seen.setdefault((o.value, o.language), o)
        return sorted(seen.values(), key=lambda lit: (lit.language or "", lit.value))

    def text(self, node: NamedNode | BlankNode, predicates: Iterable[NamedNode]) -> str | None:
        """The value of the first of ``predicates`` that has one, in the page language first,
        then without a language, then in any language."""
        found: list[Literal] = []
        for p in predicates:
            lits = self.literals(node, p)
            for want in (self.lang, None):
                for lit in lits:
                    if lit.language == want:
                        return lit.value
            found.extend(lits)
        return found[0].value if found else None

    def label(self, term: object) -> str:
        """What to call a term on a page."""
        if isinstance(term, Literal):
            return term.value
        if not isinstance(term, NamedNode | BlankNode):
            return str(term)
        key = str(term)
        if key not in self._cache:
            text = self.text(term, LABEL_PROPERTIES)
            if text is None:
                text = compact(term.value) if isinstance(term, NamedNode) else "(blank node)"
                if isinstance(term, NamedNode) and text == term.value:
                    text = local_name(term.value)
            self._cache[key] = text
        return self._cache[key]

    def labels_by_language(self, node: NamedNode) -> dict[str, list[str]]:
        """Every preferred label (skos:prefLabel, else rdfs:label) by language tag."""
        out: dict[str, list[str]] = {}
        for p in LABEL_PROPERTIES:
            lits = self.literals(node, p)
            if lits:
                for lit in lits:
                    values = out.setdefault(lit.language or "", [])
                    if lit.value not in values:
                        values.append(lit.value)
                break
        return out
