"""No outbound requests unless the operator allows them: SERVICE in queries, LOAD in updates.

pyoxigraph performs the HTTP request of a ``SERVICE`` clause or a ``LOAD`` operation to whatever
IRI it is given, and cannot be told not to. So every operation is checked before it runs:

1. A tokenizer that knows SPARQL's strings, comments and IRIs looks for a ``SERVICE``/``LOAD``
   keyword. Without one the operation cannot reach out (the common case, and cheap).
2. Otherwise rdflib's SPARQL parser and algebra give the real ``ServiceGraphPattern`` and
   ``Load`` nodes with their resolved IRIs; each must fall under an ``--allow-service`` prefix.
   A ``SERVICE ?var`` endpoint is only known while the query runs, so it is always refused.
3. If rdflib cannot parse what has such a keyword (it lags Oxigraph, e.g. on RDF 1.2 syntax),
   the operation is refused: failing closed is the only safe answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from rdflib.plugins.sparql.algebra import translateQuery, translateUpdate
from rdflib.plugins.sparql.parser import parseQuery, parseUpdate
from rdflib.plugins.sparql.parserutils import CompValue
from rdflib.term import URIRef, Variable

from sovkg.errors import OutboundRefused
from sovkg.sparql.lexer import tokens

_OUTBOUND = ("service", "load")

#: longer operations that may call out are refused rather than parsed (rdflib's parser is slow)
MAX_CHECKED_LENGTH = 64 * 1024

#: what an operation would call: ("SERVICE", endpoint) or ("LOAD", source); a variable endpoint
#: stays a Variable
Target = tuple[str, str | Variable]


def may_call_out(text: str) -> bool:
    """A fast first look: False means the text cannot contain SERVICE or LOAD at all."""
    lowered = text.lower()
    return any(k in lowered for k in _OUTBOUND)


def outbound_keywords(text: str) -> set[str]:
    """The SERVICE/LOAD keywords that may occur in a query or update, outside strings,
    comments and IRIs.

    Over-approximates, never under-: a word counts when it contains the keyword anywhere
    (Oxigraph reads ``1SERVICE`` as a number and a keyword); only prefixed names and blank
    node labels (words with a colon, which the lexer never splits) and variables are skipped.
    """
    if not may_call_out(text):
        return set()
    found: set[str] = set()
    for t in tokens(text):
        if t.kind == "word" and ":" not in t.text:
            word = t.text.lower()
            found.update(k for k in _OUTBOUND if k in word)
    return found


def _walk(node: object) -> Iterator[CompValue]:
    """Every CompValue under an rdflib parse or algebra tree (iteratively: trees can be deep)."""
    stack = [node]
    seen: set[int] = set()
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        if isinstance(n, CompValue):
            yield n
            stack.extend(n.values())
        elif isinstance(n, dict):
            stack.extend(n.values())
        elif isinstance(n, list | tuple):
            stack.extend(n)


def outbound_targets(
    text: str, *, update: bool, prefixes: dict[str, str] | None = None
) -> list[Target]:
    """What the operation would call: ``("SERVICE", endpoint)`` and ``("LOAD", source)`` pairs,
    IRIs as str and variable endpoints as rdflib Variables.

    Raises SyntaxError when rdflib cannot read the operation.
    """
    ns = {k: URIRef(v) for k, v in (prefixes or {}).items()}
    try:
        if update:
            algebra: object = translateUpdate(parseUpdate(text), initNs=ns).algebra
        else:
            algebra = translateQuery(parseQuery(text), initNs=ns).algebra
    except Exception as e:  # noqa: BLE001 - rdflib's parse errors share no base; fail closed
        raise SyntaxError(str(e)) from None
    targets: list[Target] = []
    for n in _walk(algebra):
        if n.name == "ServiceGraphPattern":
            term = n.get("term")
            targets.append(("SERVICE", term if isinstance(term, Variable) else str(term)))
        elif n.name == "Load":
            targets.append(("LOAD", str(n.get("iri"))))
    return targets


def allowed(iri: str, prefixes: Iterable[str]) -> bool:
    """Whether an endpoint falls under one of the allowed URL prefixes.

    A prefix matches at a boundary only: ``http://h:8000`` allows ``http://h:8000/sparql`` but
    not ``http://h:80001/`` nor ``http://h:8000.evil.example/``.
    """
    for p in prefixes:
        if iri == p:
            return True
        if p and iri.startswith(p) and (p[-1] in "/?#=&" or iri[len(p)] in "/?#"):
            return True
    return False


def check(
    text: str,
    *,
    update: bool,
    allow: tuple[str, ...] = (),
    prefixes: dict[str, str] | None = None,
) -> None:
    """Raise OutboundRefused, with the reason, if the operation would make an outbound request
    that no ``allow`` prefix covers, or if that cannot be decided."""
    found = outbound_keywords(text)
    if not found:
        return
    try:
        if len(text) > MAX_CHECKED_LENGTH:
            raise SyntaxError("too long for rdflib's parser")
        targets = outbound_targets(text, update=update, prefixes=prefixes)
    except SyntaxError:
        words = " or ".join(sorted(k.upper() for k in found))
        raise OutboundRefused(
            f"the {'update' if update else 'query'} may use {words}, and this server could not "
            "parse it to check which endpoints it would call; it refuses what it cannot check "
            "(this server makes no outbound requests unless its operator allows them)"
        ) from None
    for what, target in targets:
        if isinstance(target, Variable):
            raise OutboundRefused(
                f"{what} with a variable endpoint (?{target}) is refused: this server only "
                "calls endpoints that its operator allowed, and a variable is known too late"
            )
        if not allowed(target, allow):
            hint = (
                "this server makes no outbound requests"
                if not allow
                else "the operator allows only endpoints under " + ", ".join(allow)
            )
            raise OutboundRefused(f"{what} <{target}> is refused: {hint} (--allow-service)")
