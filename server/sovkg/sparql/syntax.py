"""SPARQL syntax errors a person can act on.

Oxigraph's parser says where an error is (``error at line:column``) and lists what it expected,
which for an undeclared prefix is 500 bytes of Unicode ranges and for an incomplete triple
pattern is "expected one of LATERAL, SERVICE, [_]". Where the cause can be known from the
tokens, the first line names it (the undeclared prefix, the incomplete triple) with the line and
column; the parser's own text follows as a second line, on one line.
"""

from __future__ import annotations

from collections.abc import Mapping

from sovkg.sparql.lexer import ERROR_POSITION, Token, query_form, tokens, update_sent_as_query

#: where the predeclared prefixes are listed, for the message
PREFIX_HELP = (
    "the predeclared prefixes are listed in the service description (GET /sparql with "
    "Accept: text/turtle) and in the README"
)

_PREFIX_NOT_FOUND = "Prefix not found"
_TERM_KINDS = frozenset({"iri", "var", "word", "string"})


def _position(message: str) -> tuple[int, int] | None:
    m = ERROR_POSITION.search(message)
    return (int(m.group(1)), int(m.group(2))) if m else None


def _offset(text: str, line: int, column: int) -> int:
    lines = text.split("\n")
    line = min(max(line, 1), len(lines))
    return sum(len(x) + 1 for x in lines[: line - 1]) + max(column - 1, 0)


def _declared(toks: list[Token]) -> set[str]:
    out = set()
    for i, t in enumerate(toks[:-1]):
        if t.keyword == "PREFIX" and toks[i + 1].kind == "word" and toks[i + 1].text.endswith(":"):
            out.add(toks[i + 1].text[:-1])
    return out


def undeclared_prefix(text: str, predeclared: Mapping[str, str], offset: int) -> str | None:
    """The prefix of a prefixed name that neither the text nor ``predeclared`` declares: the
    one nearest before ``offset`` (where the parser stopped), else the first."""
    toks = list(tokens(text))
    known = _declared(toks) | set(predeclared)
    found: list[tuple[int, str]] = []
    for i, t in enumerate(toks):
        if t.kind != "word" or ":" not in t.text:
            continue
        if i > 0 and toks[i - 1].keyword == "PREFIX":
            continue
        prefix = t.text.split(":", 1)[0]
        if prefix not in known and not prefix.startswith("_"):
            found.append((t.start, prefix))
    if not found:
        return None
    before = [p for start, p in found if start <= offset]
    return before[-1] if before else found[0][1]


def _incomplete_triple(text: str, offset: int) -> bool:
    """Whether the parser stopped at a ``}`` or ``.`` that ends a triple pattern with fewer
    than three terms."""
    toks = list(tokens(text))
    # the parser points at the closing token, or just after it
    before = [i for i, t in enumerate(toks) if t.start <= offset]
    at = before[-1] if before else None
    if at is None or toks[at].text not in ("}", "."):
        return False
    terms = 0
    for t in reversed(toks[:at]):
        if t.text in ("{", ".", ";", ","):
            return 0 < terms < (3 if t.text in ("{", ".") else 2)
        if t.kind in _TERM_KINDS or t.text in ("a",):
            terms += 1
        else:
            return False
    return False


def explain(text: str, message: str, predeclared: Mapping[str, str] | None = None) -> str:
    """The message for a syntax error in ``text`` (a query or update), given the parser's
    ``message``: ``SPARQL syntax error: line L, column C: <cause>`` where the cause can be
    known, then the parser's text on a second line; otherwise the parser's text alone."""
    where = _position(message)
    offset = _offset(text, *where) if where else len(text)
    cause: str | None = None
    if _PREFIX_NOT_FOUND in message:
        prefix = undeclared_prefix(text, predeclared or {}, offset)
        if prefix is not None:
            cause = (
                f"the prefix '{prefix}:' is not declared; add 'PREFIX {prefix}: <namespace>' "
                f"at the top, or use a predeclared one ({PREFIX_HELP})"
            )
        else:
            cause = f"a prefixed name uses an undeclared prefix ({PREFIX_HELP})"
    elif where and _incomplete_triple(text, offset):
        cause = (
            "this triple pattern is incomplete: a triple needs a subject, a predicate and an object"
        )
    if cause is None and query_form(text) is None:
        wrong_place = update_sent_as_query(text)
        if wrong_place is not None:
            return f"SPARQL syntax error: {wrong_place}\nparser: {' '.join(message.split())}"
    if cause is None:
        return f"SPARQL syntax error: {message}"
    at = f"line {where[0]}, column {where[1]}: " if where else ""
    return f"SPARQL syntax error: {at}{cause}\nparser: {' '.join(message.split())}"


__all__ = ["PREFIX_HELP", "explain", "undeclared_prefix"]
