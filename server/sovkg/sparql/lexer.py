"""Just enough SPARQL lexing to see the top-level structure of a query or update.

pyoxigraph parses SPARQL but exposes no syntax tree, while the protocol needs three facts about
an operation before (or instead of) running it: the query form (to pick a result syntax and
answer 406 early), whether the query names its own dataset with FROM / FROM NAMED (so the
"union of all graphs" default does not override it), and where the update operations that take
a dataset (DELETE/INSERT ... WHERE) are (to apply ``using-graph-uri``/``using-named-graph-uri``,
which ``Store.update`` has no parameters for). Strings, IRIs and comments are skipped as whole
tokens, so braces and keywords inside them never count. The real parser still has the last
word: anything malformed is left to it and reported with its line and column.

The one SPARQL tokenizer of the package (the SERVICE/LOAD guard reads the same tokens). It
imports only ``sovkg.errors``, so any layer may use it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from sovkg.errors import TooDeep, UsingConflictError

_TOKEN = re.compile(
    r"""
      (?P<ws>\s+)
    | (?P<comment>\#[^\n\r]*)
    | (?P<string>\"\"\"(?:[^"\\]++|\\.|"(?!""))*+\"\"\"
               | '''(?:[^'\\]++|\\.|'(?!''))*+'''
               | "(?:[^"\\\n\r]++|\\.)*+"
               | '(?:[^'\\\n\r]++|\\.)*+')
    | (?P<iri><[^<>"{}|^`\\\x00-\x20]*>)
    | (?P<var>[?$][\w\u00b7\u0300-\u036f\u203f-\u2040]+)
    | (?P<word>[^\W\d][\w\-.:%\u00b7]*|:[\w\-.:%\u00b7]*)
    | (?P<other>\S)
    """,
    re.VERBOSE | re.DOTALL,
)

QUERY_FORMS = ("SELECT", "CONSTRUCT", "DESCRIBE", "ASK")

#: where a parser's message says the error is (Oxigraph and most stores write it this way)
ERROR_POSITION = re.compile(r"error at (\d+):(\d+)")


class Token(NamedTuple):
    """One significant token: its kind, text, offset in the source, and brace depth (a tuple:
    built for every token of every query, it costs a third of a frozen dataclass)."""

    kind: str  # string, iri, var, word, other
    text: str
    start: int
    end: int
    depth: int  # braces open before this token

    @property
    def keyword(self) -> str:
        """The upper-cased text of a bare word (a keyword candidate), else ''."""
        return self.text.upper() if self.kind == "word" and ":" not in self.text else ""


_new_token = tuple.__new__  # a Token without its Python-level __new__ (a third of the cost)


def tokens(text: str) -> Iterator[Token]:
    """The significant tokens of ``text`` (whitespace and comments dropped)."""
    depth = 0
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup or "other"
        if kind == "ws" or kind == "comment":
            continue
        tok = m.group()
        if tok == "}":
            depth = depth - 1 if depth else 0
        yield _new_token(Token, (kind, tok, m.start(), m.end(), depth))
        if tok == "{":
            depth += 1


#: the deepest structure an operation may have (see :func:`depth`). pyoxigraph parses and
#: evaluates recursively and overflows its stack (SIGSEGV) past about 2,200 nested groups,
#: 2,500 OPTIONALs or BINDs in one group, 4,500 nested parentheses or 10,000 triple patterns
#: (measured, pyoxigraph 0.5 on an 8 MiB thread stack): this keeps a margin of two
MAX_DEPTH = 1000
#: words that chain one more level onto their group's algebra (a left-deep tree in the engine)
_CHAINING = frozenset(
    {"UNION", "OPTIONAL", "MINUS", "BIND", "FILTER", "EXISTS", "GRAPH", "SERVICE"}
)
#: operators and separators (single characters: ``||`` is two), which chain too
_CHAINING_MARKS = frozenset(".;,|&!+-*/=<>^")
_OPENING = frozenset({"(", "{", "["})
_CLOSING = frozenset({")", "}", "]"})


def depth(text: str, limit: int = MAX_DEPTH) -> tuple[int, int]:
    """How deep the operation's structure goes, and where it first gets deepest (an offset).

    Counts, at every token, one level per open group or bracket plus one per chaining token
    seen so far in each of them: operators and separators (:data:`_CHAINING_MARKS`) and the
    words of :data:`_CHAINING`. So it bounds the depth of the algebra the engine builds from
    above. The blocks of ``INSERT DATA``, ``DELETE DATA`` and ``VALUES`` hold data, not
    patterns: nothing in them chains (their brackets still count). Stops counting once past
    ``limit``; a text no longer than ``limit`` cannot be deeper, and is not tokenized.
    """
    if len(text) <= limit:
        return 0, 0
    chains: list[int] = [0]  # chaining tokens per open group, outermost first
    current = deepest = where = 0
    data_at: int | None = None  # the group depth of an open data block
    data_next = False  # DATA or VALUES seen: the next brace opens a data block
    for t in tokens(text):
        tok = t.text
        if tok in _OPENING:
            chains.append(0)
            current += 1
            if tok == "{" and data_next:
                data_next = False
                if data_at is None:
                    data_at = len(chains)
        elif tok in _CLOSING:
            if len(chains) > 1:
                if data_at == len(chains):
                    data_at = None
                current -= 1 + chains.pop()
        elif t.keyword in ("DATA", "VALUES"):
            data_next = True
        elif (
            data_at is None and t.kind == "other" and tok in _CHAINING_MARKS
        ) or t.keyword in _CHAINING:
            chains[-1] += 1
            current += 1
        if current > deepest:
            deepest, where = current, t.start
            if deepest > limit:
                break
    return deepest, where


def check_depth(text: str, what: str = "query", limit: int = MAX_DEPTH) -> None:
    """Raise :class:`~sovkg.errors.TooDeep`, naming the limit and the line, past ``limit``."""
    deepest, where = depth(text, limit)
    if deepest > limit:
        line, _ = _line_column(text, where)
        raise TooDeep(
            f"the {what} is structured more deeply than the limit of {limit} levels (nested "
            "groups and brackets, plus operators, separators, UNION, OPTIONAL, BIND or FILTER "
            f"chained in one group) at line {line}; the engine cannot evaluate structures this "
            "deep safely"
        )


#: a prologue of PREFIX/BASE declarations, comments and white space, then the query form: the
#: common case, read without tokenizing (IRIs as the tokenizer reads them; anything else falls
#: back to the tokens, so a match never disagrees with them). Possessive (``*+``): a text that
#: does not match fails in linear time, never by backtracking
_PLAIN_FORM = re.compile(
    r"""(?:\s++|\#[^\n\r]*+|PREFIX\s++(?:[^\W\d][\w\-.\u00b7]*+)?:(?![\w\-.:%\u00b7])"""
    r"""|BASE(?![\w\-.:%\u00b7])|<[^<>"{}|^`\\\x00-\x20]*+>)*+"""
    r"(SELECT|CONSTRUCT|DESCRIBE|ASK)(?![\w\-.:%\u00b7])",
    re.IGNORECASE,
)


def form_end(query: str) -> tuple[str, int] | None:
    """The query form of a text that is a plain prologue and then the form (the common case),
    with the offset just after the form's keyword; None for any other text."""
    plain = _PLAIN_FORM.match(query)
    return None if plain is None else (plain.group(1).upper(), plain.end())


def query_form(query: str) -> str | None:
    """SELECT, CONSTRUCT, DESCRIBE or ASK; None when the text does not say (left to the parser)."""
    plain = _PLAIN_FORM.match(query)
    if plain is not None:
        return plain.group(1).upper()
    for t in tokens(query):
        if t.depth == 0 and t.keyword in QUERY_FORMS:
            return t.keyword
        if t.depth == 0 and t.keyword and t.keyword not in ("PREFIX", "BASE"):
            return None
    return None


#: the keywords an update operation starts with
UPDATE_FORMS = (
    "INSERT", "DELETE", "LOAD", "CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY", "WITH",
)  # fmt: skip


def update_form(text: str) -> str | None:
    """The keyword an update starts with (after its prologue), None when the text does not
    start like an update."""
    for t in tokens(text):
        if t.keyword in ("PREFIX", "BASE") or t.kind == "iri" or t.text.endswith(":"):
            continue  # the prologue: PREFIX p: <ns>, BASE <iri>
        return t.keyword if t.keyword in UPDATE_FORMS else None
    return None


def update_sent_as_query(text: str) -> str | None:
    """The message for an update sent where a query belongs, None for any other text."""
    form = update_form(text)
    if form is None:
        return None
    return (
        f"this is a SPARQL update ({form}), not a query: send it to /update with POST, as "
        "update=... or with Content-Type: application/sparql-update (/sparql answers queries)"
    )


def move_error_position(message: str, move: Callable[[int, int], tuple[int, int]]) -> str:
    """The message with its ``error at line:column`` mapped through ``move`` (unchanged when
    it names no position): for errors in a text that was rewritten before it was parsed."""
    m = ERROR_POSITION.search(message)
    if m is None:
        return message
    line, column = move(int(m.group(1)), int(m.group(2)))
    return message[: m.start()] + f"error at {line}:{column}" + message[m.end() :]


def declares_dataset(query: str) -> bool:
    """Whether the query has a FROM or FROM NAMED clause (only allowed outside the braces)."""
    if "from" not in query.lower():  # no such word anywhere: nothing to tokenize
        return False
    return any(t.depth == 0 and t.keyword == "FROM" for t in tokens(query))


def top_limit(query: str) -> int | None:
    """The LIMIT of the outermost query (at brace depth 0), None when it has none: a SELECT
    with one gives at most that many rows, whatever the data.

    Read from the tokenizer's matches as they come, without building a token for each: every
    fresh query with a LIMIT takes this path in its worker."""
    if "limit" not in query.lower():
        return None
    depth = 0
    matches = _TOKEN.finditer(query)
    for m in matches:
        kind = m.lastgroup
        if kind == "ws" or kind == "comment":
            continue
        tok = m.group()
        if tok == "{":
            depth += 1
        elif tok == "}":
            depth = max(depth - 1, 0)
        elif depth == 0 and kind == "word" and tok.upper() == "LIMIT":
            return _limit_digits(matches)
    return None


def _limit_digits(matches: Iterator[re.Match[str]]) -> int | None:
    """The number right after a LIMIT, the last match taken from ``matches``: the digits
    that follow it as one run (a number is one token per digit to this lexer), else None."""
    digits, last = "", None
    for m in matches:
        kind = m.lastgroup
        if kind == "ws" or kind == "comment":
            continue
        tok = m.group()
        if not tok.isdigit() or (last is not None and m.start() != last):
            break
        digits, last = digits + tok, m.end()
    return int(digits) if 0 < len(digits) <= 18 else None  # longer: left to the parser


@dataclass(frozen=True)
class Rewrite:
    """An update with the protocol's dataset written into it, and where text was inserted."""

    text: str
    insertions: tuple[tuple[int, int], ...]  # (offset in the original, inserted length)

    def original_position(self, line: int, column: int) -> tuple[int, int]:
        """Map a 1-based line/column of the rewritten text back to the original text."""
        offset = _offset(self.text, line, column)
        shift = 0
        for at, length in self.insertions:
            if offset >= at + shift + length:
                shift += length
            elif offset >= at + shift:
                offset = at + shift  # inside inserted text: point at the insertion
                break
        original = _remove(self.text, self.insertions)
        return _line_column(original, offset - shift)


def _remove(text: str, insertions: Sequence[tuple[int, int]]) -> str:
    out, shift, last = [], 0, 0
    for at, length in insertions:
        out.append(text[last : at + shift])
        last = at + shift + length
        shift += length
    out.append(text[last:])
    return "".join(out)


def _offset(text: str, line: int, column: int) -> int:
    lines = text.split("\n")
    line = min(max(line, 1), len(lines))
    return sum(len(x) + 1 for x in lines[: line - 1]) + max(column - 1, 0)


def _line_column(text: str, offset: int) -> tuple[int, int]:
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


def _using_clause(default_graphs: Sequence[str], named_graphs: Sequence[str]) -> str:
    parts = [f"USING <{g}>" for g in default_graphs]
    parts += [f"USING NAMED <{g}>" for g in named_graphs]
    return " ".join(parts) + " "


def apply_using(update: str, default_graphs: Sequence[str], named_graphs: Sequence[str]) -> Rewrite:
    """The update with ``USING``/``USING NAMED`` clauses added to every DELETE/INSERT ... WHERE
    operation (and ``DELETE WHERE`` written out as ``DELETE {P} USING ... WHERE {P}``), which is
    what SPARQL 1.1 Protocol §2.2.3 makes ``using-graph-uri``/``using-named-graph-uri`` mean.

    Raises UsingConflictError when an operation has its own USING, USING NAMED or WITH: the
    protocol forbids combining the two. Text that does not lex as an update is left alone for
    the parser to report.
    """
    return rewrite_update(update, (tuple(default_graphs), tuple(named_graphs)))


def rewrite_update(
    update: str, using: tuple[Sequence[str], Sequence[str]] | None = None
) -> Rewrite:
    """The update as the store must run it: with the protocol's dataset (``using``: default and
    named graphs, see ``apply_using``), and with ``CLEAR`` made ``CLEAR SILENT``.

    Oxigraph records empty graphs and fails CLEAR on a graph it has never seen; for us a graph
    IRI that names no graph is an empty graph, and clearing an empty graph succeeds (as in
    stores that do not record empty graphs, which SPARQL 1.1 Update §3.2.2 allows).
    """
    toks = list(tokens(update))
    clause = _using_clause(*using) if using is not None else ""
    insertions: list[tuple[int, str]] = []
    state = "start"  # start | modify | done
    for i, t in enumerate(toks):
        if t.depth != 0:
            continue
        kw = t.keyword
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        if t.text == ";":
            state = "start"
        elif kw == "CLEAR" and nxt is not None and nxt.keyword != "SILENT":
            insertions.append((nxt.start, "SILENT "))
        elif using is None:
            continue
        elif kw in ("WITH", "USING"):
            raise UsingConflictError(
                "using-graph-uri/using-named-graph-uri cannot be combined with an update that "
                f"has its own {kw} clause (SPARQL 1.1 Protocol §2.2.3)"
            )
        elif state == "start" and kw in ("DELETE", "INSERT"):
            if nxt is not None and nxt.keyword == "DATA":
                state = "done"
            elif kw == "DELETE" and nxt is not None and nxt.keyword == "WHERE":
                close = _matching_brace(toks, i + 2)
                if close is not None:
                    pattern = update[toks[i + 2].start : toks[close].end]
                    insertions.append((nxt.start, f"{pattern} {clause}"))
                state = "done"
            else:
                state = "modify"
        elif state == "modify" and kw == "WHERE":
            insertions.append((t.start, clause))
            state = "done"
    text, shift, done = update, 0, []
    for at, insert in sorted(insertions, key=lambda x: x[0]):
        text = text[: at + shift] + insert + text[at + shift :]
        done.append((at, len(insert)))
        shift += len(insert)
    return Rewrite(text, tuple(done))


def _matching_brace(toks: list[Token], i: int) -> int | None:
    if i >= len(toks) or toks[i].text != "{":
        return None
    depth = toks[i].depth
    for j in range(i + 1, len(toks)):
        if toks[j].text == "}" and toks[j].depth == depth:
            return j
    return None
