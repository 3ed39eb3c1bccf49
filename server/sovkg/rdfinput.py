"""The guard in front of every parser that reads RDF sent by a client.

Checks run on the raw bytes before pyoxigraph sees them, and on the quads right after, so that
a small body cannot cost much more than its size:

- **entities in RDF/XML.** pyoxigraph's RDF/XML parser (oxrdfxml) expands the internal general
  entities of a DOCTYPE, and materializes each one when it is *declared*: nine nested
  declarations in a 1 KB body ask for gigabytes ("billion laughs"). The DOCTYPE is read with
  the standard library's expat (declarations only, nothing expanded) and the size of every
  entity's expansion is computed; the declarations plus every ``&name;`` use of the document
  may add at most ``entity_factor`` times the document's size (or ``entity_floor`` bytes,
  whichever is larger). A few entities for namespace abbreviations (``&owl;Thing``), as many
  OWL files have, are far below it. Parameter entities, external (SYSTEM/PUBLIC) and unparsed
  entities, an entity declared twice and recursive definitions are refused outright;
- **nesting** of collections, blank nodes and triple terms in Turtle/TriG/N-Triples/N-Quads and
  of objects and arrays in JSON-LD, counted by a tokenizer that skips strings, IRIs and
  comments: at most ``max_depth`` levels; of elements in RDF/XML (counted by expat, after the
  entity check): at most ``max_xml_depth``. Local files get only this check, with
  :data:`LOCAL_LIMITS` (:func:`check_file_depth`);
- **prefixes**: at most ``max_prefixes`` ``@prefix``/``PREFIX`` declarations (Turtle, TriG) or
  ``xmlns`` attributes (RDF/XML);
- **terms**: no literal or IRI longer than ``max_term_bytes`` (checked on the parsed quads).

Every refusal is an :class:`InputRefused` whose message names the limit and the measured
value. The module is framework-free: HTTP handlers map it to 400, ``sovkg validate`` to exit 2.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from xml.parsers import expat

from pyoxigraph import Literal, NamedNode, Quad, RdfFormat, Triple, parse

__all__ = [
    "DEFAULT_LIMITS",
    "LOCAL_LIMITS",
    "InputLimits",
    "InputRefused",
    "check_bytes",
    "check_entities",
    "check_file_depth",
    "check_quads",
    "parse_guarded",
]


@dataclass(frozen=True)
class InputLimits:
    """The bounds on client RDF (the README's limits table lists them)."""

    #: declared entities plus their uses may add at most this many times the document's size
    entity_factor: int = 10
    #: ... or this many bytes, whichever is larger (small documents with a few abbreviations)
    entity_floor: int = 64 * 1024
    #: most entity declarations in one DOCTYPE
    max_entities: int = 256
    #: deepest nesting of ( [ << { in Turtle-like syntaxes, of { [ in JSON-LD
    max_depth: int = 64
    #: deepest nesting of elements in RDF/XML: ``rdf:RDF``, then a node element and a property
    #: element for each level of the other syntaxes
    max_xml_depth: int = 2 * 64 + 1
    #: most prefix (or xmlns) declarations in one document
    max_prefixes: int = 1024
    #: longest literal or IRI, in bytes of UTF-8
    max_term_bytes: int = 1024 * 1024


DEFAULT_LIMITS = InputLimits()

#: the bounds on local files (``sovkg validate``, ``export`` and ``query --data``, ``serve
#: --data``): only nesting, far deeper than client RDF may go but short of what overflows
#: pyoxigraph's stack (JSON-LD objects about 10,000 deep, triple terms about 30,000)
LOCAL_LIMITS = InputLimits(max_depth=1000, max_xml_depth=2 * 1000 + 1, max_prefixes=1 << 62)


class InputRefused(ValueError):
    """Client RDF past one of the guard's limits; the message names the limit."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_guarded(
    body: bytes,
    fmt: RdfFormat,
    base_iri: str | None = None,
    limits: InputLimits = DEFAULT_LIMITS,
) -> list[Quad]:
    """Check, parse and check again: the quads of a client's RDF.

    Raises InputRefused past a limit, SyntaxError (pyoxigraph's, with line and column) if the
    body is not RDF in ``fmt``.
    """
    check_bytes(body, fmt, limits)
    quads = list(parse(body, format=fmt, base_iri=base_iri))
    check_quads(quads, limits)
    return quads


def check_bytes(body: bytes, fmt: RdfFormat, limits: InputLimits = DEFAULT_LIMITS) -> None:
    """The checks that run before parsing (entities, nesting, prefixes)."""
    if fmt == RdfFormat.RDF_XML:
        _check_rdfxml(body, limits)
    elif fmt == RdfFormat.JSON_LD:
        _check_depth(_text(body), _JSON_TOKENS, limits, "JSON-LD")
    elif fmt in (RdfFormat.TURTLE, RdfFormat.TRIG, RdfFormat.N_TRIPLES, RdfFormat.N_QUADS):
        _check_turtle(_text(body), limits, fmt.name)


def check_quads(quads: Iterable[Quad | Triple], limits: InputLimits = DEFAULT_LIMITS) -> None:
    """The checks that run on parsed quads (term sizes)."""
    most = limits.max_term_bytes
    for q in quads:
        for term in (q.subject, q.predicate, q.object):
            if isinstance(term, Literal | NamedNode):
                value = term.value
                # a str of n characters has at most 4n bytes of UTF-8: measure only when it may
                if len(value) * 4 > most and len(value.encode("utf-8")) > most:
                    what = "a literal" if isinstance(term, Literal) else "an IRI"
                    raise InputRefused(
                        f"{what} of {len(value.encode('utf-8'))} bytes is longer than the "
                        f"limit of {most} bytes"
                    )
            elif isinstance(term, Triple):
                check_quads([term], limits)


def _text(body: bytes) -> str:
    """The body as text for the tokenizers (undecodable bytes are the parser's to report)."""
    return body.decode("utf-8", errors="replace")


# --- Turtle, TriG, N-Triples, N-Quads -------------------------------------------------------

#: strings, IRIs and comments (skipped), brackets, and prefix declarations
_TURTLE_TOKENS = re.compile(
    r'"""(?:[^"\\]++|\\.|"(?!""))*+"""'
    r"|'''(?:[^'\\]++|\\.|'(?!''))*+'''"
    r'|"(?:[^"\\\n\r]++|\\.)*+"'
    r"|'(?:[^'\\\n\r]++|\\.)*+'"
    r"|<<|>>"
    r"|<[^<>\s\"{}|^`\\]*>"
    r"|#[^\n\r]*"
    r"|(?<![\w:.-])(?:@prefix|[Pp][Rr][Ee][Ff][Ii][Xx])(?=\s)"
    r"|[\[\](){}]",
    re.DOTALL,
)
_OPEN = frozenset({"(", "[", "{", "<<"})
_CLOSE = frozenset({")", "]", "}", ">>"})


def _check_turtle(text: str, limits: InputLimits, syntax: str) -> None:
    depth = prefixes = 0
    for m in _TURTLE_TOKENS.finditer(text):
        token = m.group()
        if token in _OPEN:
            depth += 1
            if depth > limits.max_depth:
                raise _too_deep(syntax, limits, text, m.start())
        elif token in _CLOSE:
            depth = max(0, depth - 1)
        elif token[0] in "@Pp":
            prefixes += 1
            if prefixes > limits.max_prefixes:
                raise InputRefused(
                    f"the {syntax} document declares more than {limits.max_prefixes} prefixes"
                )


# --- JSON-LD --------------------------------------------------------------------------------

_JSON_TOKENS = re.compile(r'"(?:[^"\\]++|\\.)*+"|[\[\]{}]', re.DOTALL)


def _check_depth(text: str, tokens: re.Pattern[str], limits: InputLimits, syntax: str) -> None:
    depth = 0
    for m in tokens.finditer(text):
        c = m.group()
        if c in "[{":
            depth += 1
            if depth > limits.max_depth:
                raise _too_deep(syntax, limits, text, m.start())
        elif c in "]}":
            depth = max(0, depth - 1)


def _too_deep(syntax: str, limits: InputLimits, text: str, offset: int) -> InputRefused:
    line = text.count("\n", 0, offset) + 1
    return InputRefused(
        f"the {syntax} document nests deeper than the limit of {limits.max_depth} levels "
        f"(line {line})"
    )


# --- RDF/XML --------------------------------------------------------------------------------

_PREDEFINED = frozenset({"amp", "lt", "gt", "quot", "apos"})
_REFERENCE = re.compile(rb"&([A-Za-z_:][\w.:\-]*);")
_REFERENCE_STR = re.compile(r"&([A-Za-z_:][\w.:\-]*);|&#[0-9]+;|&#x[0-9A-Fa-f]+;")
_XMLNS = re.compile(rb"\sxmlns(?::[\w.\-]+)?\s*=")
#: a general entity's declaration (expat reports only the first of two with one name)
_ENTITY_DECL = re.compile(r"<!ENTITY\s+([^\s%]\S*)")


class _DoctypeDone(Exception):
    """Raised from an expat handler: everything the check needs has been read."""


@dataclass
class _Doctype:
    entities: dict[str, str]
    end: int = -1  # byte offset just after the DOCTYPE (or of the root element if none)


def _read_doctype(body: bytes, limits: InputLimits) -> _Doctype:
    """The DOCTYPE's general entities, read by expat without expanding any of them."""
    found = _Doctype(entities={})
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)

    def entity(
        name: str,
        is_parameter: int,
        value: str | None,
        base: str | None,
        system_id: str | None,
        public_id: str | None,
        notation: str | None,
    ) -> None:
        if is_parameter:
            raise InputRefused(f"the RDF/XML DOCTYPE declares a parameter entity (%{name};)")
        if value is None:
            kind = "an unparsed" if notation else "an external"
            raise InputRefused(f"the RDF/XML DOCTYPE declares {kind} entity ({name})")
        if len(found.entities) >= limits.max_entities:
            raise InputRefused(
                f"the RDF/XML DOCTYPE declares more than {limits.max_entities} entities"
            )
        found.entities.setdefault(name, value)

    def done(*_: object) -> None:
        found.end = parser.CurrentByteIndex
        raise _DoctypeDone

    def external(*_: object) -> int:
        raise InputRefused("the RDF/XML document refers to an external entity or DTD")

    parser.EntityDeclHandler = entity
    parser.UnparsedEntityDeclHandler = lambda name, *_: entity(name, 0, None, None, "", None, "n")
    parser.ExternalEntityRefHandler = external
    parser.EndDoctypeDeclHandler = done
    parser.StartElementHandler = done
    try:
        parser.Parse(body, True)
    except _DoctypeDone:
        pass
    except (expat.ExpatError, LookupError) as e:  # LookupError: an encoding expat lacks
        if b"<!ENTITY" in body or b"<\x00!\x00E" in body or b"\x00<\x00!\x00E" in body:
            raise InputRefused(f"cannot read the RDF/XML DOCTYPE: {e}") from None
        # no entities: the XML error is the RDF parser's to report, with its own position
    return found


def _expanded_sizes(entities: dict[str, str]) -> dict[str, int]:
    """How many characters each entity expands to; refuses recursive definitions."""
    sizes: dict[str, int] = {}
    visiting: set[str] = set()

    def size(name: str) -> int:
        if name in sizes:
            return sizes[name]
        if name in visiting:
            raise InputRefused(f"the RDF/XML DOCTYPE defines the entity {name} in terms of itself")
        visiting.add(name)
        value = entities[name]
        total = len(value)
        for m in _REFERENCE_STR.finditer(value):
            ref = m.group(1)
            total -= len(m.group())
            if ref is None or ref in _PREDEFINED or ref not in entities:
                total += 1  # a character reference, a predefined or an unknown entity
            else:
                total += size(ref)
        visiting.discard(name)
        sizes[name] = total
        return total

    for name in entities:
        size(name)
    return sizes


def _check_rdfxml(body: bytes, limits: InputLimits) -> None:
    if len(_XMLNS.findall(body)) > limits.max_prefixes:
        raise InputRefused(
            f"the RDF/XML document declares more than {limits.max_prefixes} namespace prefixes"
        )
    check_entities(body, limits)
    _check_xml_depth(body, limits)


class _TooDeepXml(Exception):
    """Raised from an expat handler at the first element past the limit."""


def _check_xml_depth(body: bytes, limits: InputLimits) -> None:
    """Refuse RDF/XML whose elements nest deeper than ``max_xml_depth`` (read by expat, whose
    entities the entity check has already bounded); malformed XML is the RDF parser's to
    report, with its own position."""
    most = limits.max_xml_depth
    if body.count(b"<") <= most:
        return  # fewer tags than levels allowed
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    depth = 0

    def start(*_: object) -> None:
        nonlocal depth
        depth += 1
        if depth > most:
            raise _TooDeepXml

    def end(*_: object) -> None:
        nonlocal depth
        depth -= 1

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.Parse(body, True)
    except _TooDeepXml:
        raise InputRefused(
            f"the RDF/XML document nests elements deeper than the limit of {most} levels "
            f"(line {parser.CurrentLineNumber})"
        ) from None
    except (expat.ExpatError, LookupError):
        pass


#: the bytes that may open a level of nesting, by syntax (a file with fewer of them in all
#: cannot nest deeper, and is not tokenized)
_OPENERS = {
    RdfFormat.JSON_LD: (b"{", b"["),
    RdfFormat.RDF_XML: (b"<",),
}
_TURTLE_OPENERS = (b"(", b"[", b"{", b"<<")


def check_file_depth(path: str, fmt: RdfFormat, limits: InputLimits = LOCAL_LIMITS) -> None:
    """The nesting check for a local file (``limits``: :data:`LOCAL_LIMITS`): a file with few
    bytes that could open a level is passed after counting them, chunk by chunk; others are
    read and measured like client RDF."""
    openers = _OPENERS.get(fmt, _TURTLE_OPENERS)
    most = limits.max_xml_depth if fmt == RdfFormat.RDF_XML else limits.max_depth
    count = 0
    last = b""
    with open(path, "rb") as f:
        while chunk := f.read(1 << 24):
            count += sum(chunk.count(o) for o in openers)
            if last == b"<" and chunk.startswith(b"<"):
                count += 1  # a "<<" split between two chunks
            last = chunk[-1:]
            if count > most:
                break
    if count <= most:
        return
    with open(path, "rb") as f:
        body = f.read()
    if fmt == RdfFormat.RDF_XML:
        _check_xml_depth(body, limits)
    elif fmt == RdfFormat.JSON_LD:
        _check_depth(_text(body), _JSON_TOKENS, limits, "JSON-LD")
    else:
        _check_turtle(_text(body), limits, fmt.name)


def check_entities(body: bytes, limits: InputLimits = DEFAULT_LIMITS) -> None:
    """The entity check alone, for RDF/XML: refuses parameter, external, unparsed and recursive
    entities, and expansion past the budget; a few namespace abbreviations pass. Local files
    (``sovkg validate``, ``--data``) go through this one check too."""
    utf16 = body[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in body[:4]
    if not utf16 and b"<!ENTITY" not in body:
        return  # only the predefined entities and character references: nothing to expand
    doctype = _read_doctype(body, limits)
    if not doctype.entities:
        return
    subset = body[: doctype.end] if doctype.end >= 0 else body
    declared = _ENTITY_DECL.findall(subset.decode("utf-16" if utf16 else "utf-8", "replace"))
    if len(declared) > len(set(declared)):
        # XML binds the first of two declarations, but oxrdfxml builds every one it reads
        # from the latest values: the sizes computed here would not be the ones it builds
        twice = next(n for n in declared if declared.count(n) > 1)
        raise InputRefused(f"the RDF/XML DOCTYPE declares the entity {twice} twice")
    sizes = _expanded_sizes(doctype.entities)
    # oxrdfxml builds every declared entity's value when it reads the declaration ...
    added = sum(sizes.values())
    # ... and copies it at every use in the document
    rest = body[max(doctype.end, 0) :]
    if utf16:
        text = rest.decode("utf-16", errors="replace")
        uses: Iterable[str] = (m.group(1) for m in _REFERENCE_STR.finditer(text) if m.group(1))
    else:
        uses = (m.group(1).decode("utf-8", "replace") for m in _REFERENCE.finditer(rest))
    budget = max(limits.entity_factor * len(body), limits.entity_floor)
    for name in uses:
        added += sizes.get(name, 0)
        if added > budget:
            break
    if added > budget:
        raise InputRefused(
            f"the RDF/XML document's entities would add at least {added} characters, "
            f"over the limit of {budget} ({limits.entity_factor} times its {len(body)} bytes, "
            f"at least {limits.entity_floor}); entity expansion of this size is refused"
        )
