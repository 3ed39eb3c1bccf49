"""The columns of ``SELECT *`` in the order their variables first appear in the query.

Oxigraph sorts the variables of ``SELECT *`` by name (``o, p, s``); other stores (Jena, Virtuoso,
RDF4J) and readers of CSV expect the order of the query text. The set of columns is always the
engine's (what is in scope is the parser's business); only their order is taken from the text.
"""

from __future__ import annotations

from collections.abc import Sequence

from sovkg.sparql.lexer import tokens


def is_select_star(query: str) -> bool:
    """Whether the outermost query is ``SELECT *`` (``SELECT DISTINCT *``, ``REDUCED`` too)."""
    if "*" not in query:  # no star anywhere: nothing to tokenize
        return False
    toks = iter(tokens(query))
    for t in toks:
        if t.depth == 0 and t.keyword == "SELECT":
            for nxt in toks:
                if nxt.keyword in ("DISTINCT", "REDUCED"):
                    continue
                return nxt.text == "*"
            return False
        if t.depth == 0 and t.keyword and t.keyword not in ("PREFIX", "BASE"):
            return False
    return False


def star_order(query: str, names: Sequence[str]) -> list[str] | None:
    """``names`` (the engine's columns of a ``SELECT *``) in the order of first appearance in
    the query; None when the query is no ``SELECT *`` or the order is already that one."""
    if not is_select_star(query):
        return None
    first: dict[str, int] = {}
    for i, t in enumerate(tokens(query)):
        if t.kind == "var":
            first.setdefault(t.text[1:], i)
    unseen = len(first)
    ordered = sorted(names, key=lambda n: (first.get(n, unseen), n))
    return ordered if ordered != list(names) else None
