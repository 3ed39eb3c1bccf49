"""Which queries are plain lookups: one triple pattern read off one index range, or a DESCRIBE
of named resources, whose evaluation cannot run away.

Oxigraph evaluates such a query lazily, one solution per step, and no step skips anything: there
is no filter, no join, no path, no repeated variable (that would test every row of the range),
no DISTINCT, ORDER BY or GROUP BY (which read everything before the first row), and no
duplicate removal across the graphs of the default graph. A DESCRIBE of IRIs reads the triples
of each IRI, then those of the blank nodes it reached. So the work done is bounded by the rows
taken from the result (``sovkg.engine.inline`` takes a few and gives up past them).

What is accepted, on the tokens of ``sovkg.sparql.lexer`` (keywords in any case)::

    query    := prologue (select | ask | describe)
    select   := SELECT (var+ | '*') WHERE? '{' triple '.'? '}' (LIMIT n)? (OFFSET n)?
                                                              (or OFFSET before LIMIT)
    ask      := ASK WHERE? '{' triple '.'? '}'
    describe := DESCRIBE (IRI | prefixed-name)+
    triple   := (IRI | pname | var) (IRI | pname | 'a' | var) (IRI | pname | var | literal)
    literal  := string ('@' lang | '^^' (IRI | pname))?

with every variable of the triple a different one, and every projected variable one of the
triple's. Anything else (a dataset clause, a number, a blank node, a ``\\u`` escape, a text
longer than :data:`MAX_LENGTH` or :data:`MAX_QUERY_PART` after the form's keyword) is not a
lookup. That is only ever a cost: the query then runs on a query worker like any other. The
parser still has the last word: a text accepted here that Oxigraph reads otherwise, or not at
all, goes to a worker.
"""

from __future__ import annotations

from sovkg.sparql.lexer import Token, form_end, tokens

#: longer texts are not looked at (the prologue, read by one regular expression, can be long)
MAX_LENGTH = 8192
#: nor texts whose part after the form's keyword is longer (that part is tokenized: at most
#: this many tokens, about 0.3 µs each)
MAX_QUERY_PART = 512
#: words no lookup has: a text with one anywhere (inside a word, an IRI or a string too) is
#: rejected before it is tokenized, so that a query that is no lookup costs a search, not a
#: reading (substring tests of the lower-cased text: a regular expression cost 5-10 µs)
_NOT_A_LOOKUP = (
    "order", "group", "distinct", "reduced", "having", "values", "filter", "optional", "union",
    "minus", "graph", "service", "bind", "from", "construct",
)  # fmt: skip


def _term(t: Token) -> bool:
    """An IRI or a prefixed name (not a blank node label)."""
    if t.kind == "iri":
        return True
    return t.kind == "word" and ":" in t.text and not t.text.startswith("_:")


def _literal(toks: list[Token], i: int) -> int | None:
    """The index after the literal that starts at ``i``, or None when there is none."""
    if toks[i].kind != "string":
        return None
    i += 1
    if i < len(toks) and toks[i].text == "@":
        return i + 2 if i + 1 < len(toks) and toks[i + 1].kind == "word" else None
    if i + 1 < len(toks) and toks[i].text == "^" and toks[i + 1].text == "^":
        return i + 3 if i + 2 < len(toks) and _term(toks[i + 2]) else None
    return i


def _number(toks: list[Token], i: int) -> tuple[int, int] | None:
    """The number written by the digit tokens from ``i`` (one token per digit to the lexer),
    and the index after them."""
    digits, end = "", None
    while (
        i < len(toks)
        and len(digits) <= 18
        and toks[i].text.isdigit()
        and (end is None or toks[i].start == end)
    ):
        digits, end = digits + toks[i].text, toks[i].end
        i += 1
    if not 0 < len(digits) <= 18:
        return None
    return int(digits), i


def _pattern(toks: list[Token], i: int) -> tuple[list[Token], int] | None:
    """``{ s p o . }`` from ``i``: the triple's variables and the index after the brace."""
    if i < len(toks) and toks[i].keyword == "WHERE":
        i += 1
    if i + 3 >= len(toks) or toks[i].text != "{":
        return None
    s, p = toks[i + 1], toks[i + 2]
    if not (s.kind == "var" or _term(s)):
        return None
    if not (p.kind == "var" or _term(p) or p.text == "a"):
        return None
    o = i + 3
    end = o + 1 if toks[o].kind == "var" or _term(toks[o]) else _literal(toks, o)
    if end is None or end >= len(toks):
        return None
    if toks[end].text == ".":
        end += 1
    if end >= len(toks) or toks[end].text != "}":
        return None
    variables = [t for t in (s, p, toks[o]) if t.kind == "var"]
    if len({v.text[1:] for v in variables}) != len(variables):
        return None  # a repeated variable tests every row of the range
    return variables, end + 1


def _modifiers(toks: list[Token], i: int, max_offset: int) -> bool:
    """Whether ``toks[i:]`` is at most one LIMIT and one OFFSET (not above ``max_offset``)."""
    seen: set[str] = set()
    while i < len(toks):
        word = toks[i].keyword
        if word not in ("LIMIT", "OFFSET") or word in seen:
            return False
        seen.add(word)
        number = _number(toks, i + 1)
        if number is None or (word == "OFFSET" and number[0] > max_offset):
            return False
        i = number[1]
    return True


def lookup_text(query: str, max_offset: int = 0) -> str | None:
    """The text to run for a plain lookup (see the module), or None when ``query`` is not one.

    ``SELECT *`` comes back with its variables written out in the order of the triple, which
    is the order of the columns the protocol routes give it (Oxigraph's own is by name);
    every other lookup comes back as it is. An ``OFFSET`` above ``max_offset`` makes a query
    no lookup: skipping rows is reading them.
    """
    if len(query) > MAX_LENGTH or "(" in query or "\\u" in query or "\\U" in query:
        return None
    lowered = query.lower()
    if any(word in lowered for word in _NOT_A_LOOKUP):
        return None
    braces = query.count("{")
    if braces > 1 or braces != query.count("}"):
        return None
    found = form_end(query)
    if found is None:
        return None
    form, start = found
    if len(query) - start > MAX_QUERY_PART:
        return None
    toks = list(tokens(query[start:]))
    if form == "DESCRIBE":
        return query if not braces and toks and all(_term(t) for t in toks) else None
    if form not in ("SELECT", "ASK") or braces != 1:
        return None
    i = 0
    star = None
    if form == "SELECT":
        if toks and toks[0].text == "*":
            star, i = toks[0], 1
        else:
            while i < len(toks) and toks[i].kind == "var":
                i += 1
            if i == 0:
                return None
    read = _pattern(toks, i)
    if read is None:
        return None
    variables, end = read
    if {t.text[1:] for t in toks[:i] if t.kind == "var"} - {v.text[1:] for v in variables}:
        return None  # a column the triple never binds: a row of it could be a byte long
    i = end
    if form == "ASK":
        return query if i == len(toks) else None
    if not _modifiers(toks, i, max_offset):
        return None
    if star is None or not variables:
        return query
    names = " ".join(v.text for v in variables)
    return query[: start + star.start] + names + query[start + star.end :]
