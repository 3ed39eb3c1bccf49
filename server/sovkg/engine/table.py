"""Query results for the command line (``sovkg query``): a readable table, or a standard result
syntax."""

from __future__ import annotations

import unicodedata

from pyoxigraph import (
    BlankNode,
    Literal,
    NamedNode,
    QueryBoolean,
    QuerySolutions,
    QueryTriples,
    RdfFormat,
    serialize,
)

from sovkg.formats import RESULT_FORMATS
from sovkg.namespaces import prefixes_for


def _short(term: object) -> str:
    if term is None:
        return ""
    if isinstance(term, NamedNode):
        for prefix, ns in prefixes_for([term.value]).items():
            if term.value.startswith(ns) and term.value != ns:
                return f"{prefix}:{term.value[len(ns) :]}"
        return f"<{term.value}>"
    if isinstance(term, BlankNode):
        return f"_:{term.value}"
    if isinstance(term, Literal):
        if term.language:
            return f"{term.value}@{term.language}"
        return term.value
    return str(term)


def _width(text: str) -> int:
    """Columns a string takes in a terminal: Hangul and other wide characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def table(solutions: QuerySolutions) -> str:
    """Solutions as an aligned text table with a row count (terms shortened with prefixes)."""
    names = [v.value for v in solutions.variables]
    rows = [[_short(s[n]) for n in names] for s in solutions]
    widths = [max([_width(n)] + [_width(r[i]) for r in rows]) for i, n in enumerate(names)]
    line = " | ".join(_pad(n, w) for n, w in zip(names, widths, strict=True))
    out = [line, "-+-".join("-" * w for w in widths)]
    out += [" | ".join(_pad(c, w) for c, w in zip(r, widths, strict=True)) for r in rows]
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out) + "\n"


def format_result(result: QuerySolutions | QueryBoolean | QueryTriples, fmt: str) -> bytes:
    """Bytes for the command line: ``table`` or one of RESULT_FORMATS; graphs become Turtle."""
    if isinstance(result, QueryTriples):
        triples = list(result)
        iris = (
            t.value for tr in triples for t in (tr.subject, tr.object) if isinstance(t, NamedNode)
        )
        return serialize(triples, format=RdfFormat.TURTLE, prefixes=prefixes_for(iris)) or b""
    if fmt == "table":
        if isinstance(result, QueryBoolean):
            return b"true\n" if bool(result) else b"false\n"
        return table(result).encode("utf-8")
    return result.serialize(format=RESULT_FORMATS[fmt]) or b""
