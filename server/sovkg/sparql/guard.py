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

import asyncio
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

from rdflib.plugins.sparql.parserutils import CompValue
from rdflib.term import URIRef, Variable

from sovkg.engine import QueryJob, QueryOutput, QueryStream, Runner, UpdateJob

#: what SPARQL's lexer sees; strings, comments and IRIs are skipped as wholes
_TOKEN = re.compile(
    r"""
      (?P<ws>\s+)
    | (?P<comment>\#[^\n\r]*)
    | (?P<iri><[^<>"{}|^`\\\x00-\x20]*>)
    | (?P<string>
          \"\"\"(?:[^"\\]|\\.|"(?!""))*(?:\"\"\"|$)
        | '''(?:[^'\\]|\\.|'(?!''))*(?:'''|$)
        | "(?:[^"\\\n\r]|\\.)*(?:"|$)
        | '(?:[^'\\\n\r]|\\.)*(?:'|$)
      )
    | (?P<var>[?$][^\s{}()\[\];,.<>"'\#=!|&*/+^-]*)
    | (?P<word>[^\s{}()\[\];,.<>"'\#?$=!|&*/+^-]+)
    | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)

_OUTBOUND = ("service", "load")

#: longer operations that may call out are refused rather than parsed (rdflib's parser is slow)
MAX_CHECKED_LENGTH = 64 * 1024


class OutboundRefused(ValueError):
    """The operation would make the server send a request that the operator has not allowed."""

    status = 400


class OperationFailed(ValueError):
    """The store could not carry out a well-formed operation, for a reason of the operation's
    own (a graph that already exists, an unbound SERVICE variable, ...)."""

    status = 400


class UpstreamFailed(Exception):
    """An allowed SERVICE or LOAD endpoint could not be reached or gave a bad answer."""

    status = 502


def translate_error(e: Exception) -> Exception:
    """pyoxigraph's evaluation errors as what they mean for the client; others unchanged."""
    if isinstance(e, RuntimeError):
        return OperationFailed(f"the operation failed: {e}")
    if isinstance(e, OSError) and not isinstance(e, TimeoutError):
        return UpstreamFailed(f"a remote endpoint failed: {e}")
    return e


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
    for m in _TOKEN.finditer(text):
        if m.lastgroup == "word" and ":" not in m.group():
            word = m.group().lower()
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


def outbound_targets(text: str, *, update: bool, prefixes: dict[str, str] | None = None) -> list:
    """What the operation would call: ``("SERVICE", endpoint)`` and ``("LOAD", source)`` pairs,
    IRIs as str and variable endpoints as rdflib Variables.

    Raises SyntaxError when rdflib cannot read the operation.
    """
    from rdflib.plugins.sparql.algebra import translateQuery, translateUpdate
    from rdflib.plugins.sparql.parser import parseQuery, parseUpdate

    ns = {k: URIRef(v) for k, v in (prefixes or {}).items()}
    try:
        if update:
            algebra: object = translateUpdate(parseUpdate(text), initNs=ns).algebra
        else:
            algebra = translateQuery(parseQuery(text), initNs=ns).algebra
    except Exception as e:
        raise SyntaxError(str(e)) from None
    targets: list = []
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


def check(text: str, *, update: bool, allow: tuple[str, ...] = (), prefixes: dict | None = None):
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


def check_query(job: QueryJob, allow: tuple[str, ...] = ()) -> None:
    """Raise OutboundRefused if the query has a SERVICE call that is not allowed."""
    check(job.query, update=False, allow=allow, prefixes=job.prefixes)


def check_update(job: UpdateJob, allow: tuple[str, ...] = ()) -> None:
    """Raise OutboundRefused if the update has a LOAD (or a SERVICE) that is not allowed."""
    check(job.update, update=True, allow=allow)


@dataclass
class GuardedRunner:
    """A runner in front of another: refuses outbound operations the operator did not allow and
    applies the result row limit (reporting a cut with ``X-SPARQL-MaxRows``)."""

    inner: Runner
    allow_service: tuple[str, ...] = ()
    max_rows: int | None = None

    async def _prepare(self, job: QueryJob) -> QueryJob:
        if may_call_out(job.query):  # parsing can take a while: not on the event loop
            await asyncio.to_thread(check_query, job, self.allow_service)
        if self.max_rows is not None and job.max_rows is None:
            job = replace(job, max_rows=self.max_rows)
        return job

    async def query(self, job: QueryJob) -> QueryOutput:
        """Check, then run the query on the inner runner."""
        job = await self._prepare(job)
        try:
            out = await self.inner.query(job)
        except (RuntimeError, OSError) as e:
            raise translate_error(e) from None
        if out.truncated and job.max_rows is not None:
            from sovkg.middleware import add_response_header

            add_response_header("X-SPARQL-MaxRows", str(job.max_rows))
        return out

    async def query_stream(self, job: QueryJob) -> QueryStream:
        """Stream when the inner runner can (no cut is reported then: the headers are gone
        before the last row), else run the query whole."""
        stream = getattr(self.inner, "query_stream", None)
        if stream is not None:
            try:
                return await stream(await self._prepare(job))
            except (RuntimeError, OSError) as e:
                raise translate_error(e) from None
        out = await self.query(job)
        return QueryStream(out.media_type, out.kind, _single(out.body))

    async def update(self, job: UpdateJob) -> None:
        """Check, then apply the update on the inner runner."""
        if may_call_out(job.update):
            await asyncio.to_thread(check_update, job, self.allow_service)
        try:
            await self.inner.update(job)
        except (RuntimeError, OSError) as e:
            raise translate_error(e) from None

    async def ping(self, timeout: float) -> None:
        """Raise unless the inner runner answers a trivial query within ``timeout`` seconds."""
        ping = getattr(self.inner, "ping", None)
        if ping is not None:
            await ping(timeout)
        else:
            await asyncio.wait_for(self.inner.query(QueryJob("ASK {}")), timeout)

    def close(self) -> None:
        """Close the inner runner."""
        self.inner.close()


async def _single(body: bytes):  # type: ignore[no-untyped-def]
    yield body
