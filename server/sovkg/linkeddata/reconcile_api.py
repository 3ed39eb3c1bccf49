"""The Reconciliation Service API 0.2 as plain functions: the manifest, reading a query batch
(with the limits any untrusted work gets), and the JSON of results and suggestions.

Every way a batch can be wrong raises :class:`ReconcileError` with the HTTP status and a
message naming the cause; nothing here knows about HTTP frameworks.
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass
from typing import Any

from pyoxigraph import NamedNode

from sovkg.linkeddata.reconcile import Candidate, PropertyQuery, Query, ReconcileIndex
from sovkg.namespaces import PREFIXES

#: the API versions spoken
VERSIONS = ["0.1", "0.2"]


@dataclass(frozen=True)
class Limits:
    """What one request may ask for."""

    #: queries in one batch (announced as ``batchSize``; more is a 413)
    max_queries: int = 50
    #: characters of one query string or property value
    max_query_chars: int = 200
    #: candidates one query may ask for (a larger ``limit`` is lowered to this)
    max_candidates: int = 50
    #: properties of one query, values of one property
    max_properties: int = 10
    max_values: int = 20
    #: wall-clock seconds for one batch
    seconds: float = 5.0
    #: characters of a suggest prefix; suggestions per page; how far a cursor may go
    max_prefix_chars: int = 100
    suggest_page: int = 10
    max_cursor: int = 1000


DEFAULT_LIMITS = Limits()
#: candidates returned when a query gives no ``limit``
DEFAULT_CANDIDATES = 5
#: a JSONP callback name: dotted JavaScript identifiers, nothing that could be script
_CALLBACK = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*(?:\.[A-Za-z_$][A-Za-z0-9_$]*)*$")
_QUERY_KEYS = frozenset({"query", "type", "limit", "properties", "type_strict"})


class ReconcileError(ValueError):
    """A request the service refuses, with the status to answer and the reason."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def manifest(
    index: ReconcileIndex, base: str, version: str, limits: Limits = DEFAULT_LIMITS
) -> dict[str, Any]:
    """The service manifest for a server whose public base URL is ``base``."""
    base = base.rstrip("/")
    return {
        "versions": VERSIONS,
        "name": "Sovereign AI Knowledge Graph",
        "identifierSpace": index.identifier_space,
        "schemaSpace": PREFIXES["ksai"],
        "documentation": f"{base}/",
        "serviceVersion": version,
        "defaultTypes": [
            {"id": t, "name": index.type_name(t, "en")} for t in index.default_types()
        ],
        "view": {"url": f"{base}/id/{{{{id}}}}"},
        "preview": {"url": f"{base}/reconcile/preview?id={{{{id}}}}", "width": 430, "height": 220},
        "suggest": {
            "entity": {"service_url": f"{base}/reconcile", "service_path": "/suggest/entity"},
            "type": {"service_url": f"{base}/reconcile", "service_path": "/suggest/type"},
        },
        "batchSize": limits.max_queries,
    }


def expand(name: str) -> str:
    """A type or property identifier as a full IRI (``org:memberOf`` → ``http://…#memberOf``)."""
    prefix, sep, local = name.partition(":")
    if sep and prefix in PREFIXES and not local.startswith("//"):
        return PREFIXES[prefix] + local
    return name


def parse_batch(text: str, limits: Limits = DEFAULT_LIMITS) -> dict[str, Query]:
    """The queries of a batch (the JSON of the ``queries`` parameter), checked."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ReconcileError(f"'queries' is not valid JSON: {e}") from e
    except RecursionError as e:
        raise ReconcileError("'queries' is nested too deeply") from e
    except ValueError as e:  # an integer past the interpreter's digit limit
        raise ReconcileError(f"'queries' holds a number that is too long: {e}") from e
    if not isinstance(data, dict):
        raise ReconcileError("'queries' must be a JSON object of queries by key")
    if not data:
        raise ReconcileError("'queries' holds no query")
    if len(data) > limits.max_queries:
        raise ReconcileError(
            f"the batch has {len(data)} queries; at most {limits.max_queries} are accepted "
            "(batchSize in the manifest)",
            status=413,
        )
    return {str(key): parse_query(str(key), q, limits) for key, q in data.items()}


def _text(value: object, where: str, limits: Limits) -> str:
    if not isinstance(value, str):
        raise ReconcileError(f"{where} must be a string")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as e:
            raise ReconcileError(f"{where} is not valid Unicode (a lone surrogate)") from e
    if len(value) > limits.max_query_chars:
        raise ReconcileError(
            f"{where} has {len(value)} characters; at most {limits.max_query_chars} are accepted"
        )
    return value


def parse_query(key: str, q: object, limits: Limits = DEFAULT_LIMITS) -> Query:
    """One query of a batch, checked against the 0.2 query schema and the limits."""
    where = f"query {key!r}"
    if not isinstance(q, dict):
        raise ReconcileError(f"{where} must be a JSON object")
    unknown = sorted(set(q) - _QUERY_KEYS)
    if unknown:
        raise ReconcileError(
            f"{where} has unknown field(s) {', '.join(map(repr, unknown))}; a 0.2 query has "
            "query, type, limit, properties and type_strict"
        )
    text: str | None = None
    if "query" in q:
        text = _text(q["query"], f"{where}: 'query'", limits)
        if not text.strip():
            raise ReconcileError(f"{where}: 'query' is empty")
    types: tuple[str, ...] = ()
    if "type" in q:
        raw = q["type"]
        items = [raw] if isinstance(raw, str) else raw
        if not isinstance(items, list) or not all(isinstance(t, str) and t for t in items):
            raise ReconcileError(f"{where}: 'type' must be a type id or a list of them")
        types = tuple(expand(t) for t in items)
    limit = DEFAULT_CANDIDATES
    if "limit" in q:
        raw_limit = q["limit"]
        if isinstance(raw_limit, bool) or not isinstance(raw_limit, int | float):
            raise ReconcileError(f"{where}: 'limit' must be a positive integer")
        if not math.isfinite(raw_limit) or raw_limit != int(raw_limit) or raw_limit < 1:
            raise ReconcileError(f"{where}: 'limit' must be a positive integer, not {raw_limit}")
        limit = min(int(raw_limit), limits.max_candidates)
    if "type_strict" in q and q["type_strict"] not in ("any", "should", "all"):
        raise ReconcileError(f"{where}: 'type_strict' must be 'any', 'should' or 'all'")
    properties = _properties(q.get("properties"), where, limits) if "properties" in q else ()
    if text is None and not properties:
        raise ReconcileError(f"{where} needs a 'query' or at least one property")
    return Query(text=text, types=types, limit=limit, properties=properties)


def _properties(raw: object, where: str, limits: Limits) -> tuple[PropertyQuery, ...]:
    if not isinstance(raw, list):
        raise ReconcileError(f"{where}: 'properties' must be a list")
    if len(raw) > limits.max_properties:
        raise ReconcileError(
            f"{where} has {len(raw)} properties; at most {limits.max_properties} are accepted"
        )
    out = []
    for n, item in enumerate(raw):
        at = f"{where}: property {n}"
        if not isinstance(item, dict) or "pid" not in item or "v" not in item:
            raise ReconcileError(f"{at} must be an object with 'pid' and 'v'")
        extra = sorted(set(item) - {"pid", "v"})
        if extra:
            raise ReconcileError(f"{at} has unknown field(s) {', '.join(map(repr, extra))}")
        pid = item["pid"]
        if not isinstance(pid, str) or not pid:
            raise ReconcileError(f"{at}: 'pid' must be a non-empty string")
        values = item["v"] if isinstance(item["v"], list) else [item["v"]]
        if not values:
            raise ReconcileError(f"{at}: 'v' has no value")
        if len(values) > limits.max_values:
            raise ReconcileError(f"{at} has {len(values)} values; at most {limits.max_values}")
        texts, ids = [], []
        for v in values:
            if isinstance(v, dict):
                if not isinstance(v.get("id"), str) or not v["id"]:
                    raise ReconcileError(f"{at}: an entity value needs an 'id' string")
                texts.append(_text(v["id"], f"{at}: 'id'", limits))
                ids.append(True)
            elif isinstance(v, str | int | float):
                texts.append(
                    _text(v if isinstance(v, str) else json.dumps(v), f"{at}: 'v'", limits)
                )
                ids.append(False)
            else:
                raise ReconcileError(f"{at}: 'v' must be strings, numbers, booleans or entities")
        iri = expand(pid)
        try:
            NamedNode(iri)
        except ValueError as e:
            raise ReconcileError(
                f"{at}: 'pid' must be a property IRI or prefixed name, not {pid[:100]!r}"
            ) from e
        out.append(PropertyQuery(iri, tuple(texts), tuple(ids)))
    return tuple(out)


def candidate_json(index: ReconcileIndex, c: Candidate) -> dict[str, Any]:
    """One candidate as the API writes it."""
    lang = c.lang or "en"
    return {
        "id": c.entry.id,
        "name": c.entry.name(lang),
        "description": index.describe(c.entry, lang),
        "type": [
            {"id": t, "name": index.type_name(t, lang)} for t in index.specific_types(c.entry)
        ],
        "score": c.score,
        "features": [
            {"id": "name", "value": round(c.name_score, 2)},
            {"id": "properties", "value": c.bonus},
        ],
        "match": c.match,
    }


def run_batch(
    index: ReconcileIndex, queries: dict[str, Query], lang: str, limits: Limits = DEFAULT_LIMITS
) -> dict[str, Any]:
    """The result batch; a 503 when the batch takes longer than the time limit."""
    deadline = time.monotonic() + limits.seconds
    out: dict[str, Any] = {}
    for key, query in queries.items():
        try:
            cands = index.reconcile(query, lang, deadline)
        except TimeoutError as e:
            raise ReconcileError(
                f"the batch took longer than {limits.seconds:g} s; send fewer queries", 503
            ) from e
        out[key] = {"result": [candidate_json(index, c) for c in cands]}
        if time.monotonic() > deadline:
            raise ReconcileError(
                f"the batch took longer than {limits.seconds:g} s; send fewer queries", 503
            )
    return out


def suggest_json(
    index: ReconcileIndex, prefix: str, lang: str, cursor: int, limits: Limits = DEFAULT_LIMITS
) -> dict[str, Any]:
    """Entity suggestions for what was typed."""
    if len(prefix) > limits.max_prefix_chars:
        raise ReconcileError(
            f"'prefix' has {len(prefix)} characters; at most {limits.max_prefix_chars}"
        )
    if not 0 <= cursor <= limits.max_cursor:
        raise ReconcileError(f"'cursor' must be between 0 and {limits.max_cursor}")
    found = index.suggest(prefix, lang, cursor, limits.suggest_page)
    return {
        "result": [
            {
                "id": entry.id,
                "name": name,
                "description": index.describe(entry, lang),
                "notable": [
                    {"id": t, "name": index.type_name(t, lang)} for t in index.specific_types(entry)
                ],
            }
            for entry, name in found
        ]
    }


def suggest_types_json(
    index: ReconcileIndex, prefix: str, lang: str, limits: Limits = DEFAULT_LIMITS
) -> dict[str, Any]:
    """Type suggestions: the types of the indexed things whose names or IRIs fit the prefix."""
    if len(prefix) > limits.max_prefix_chars:
        raise ReconcileError(
            f"'prefix' has {len(prefix)} characters; at most {limits.max_prefix_chars}"
        )
    want = prefix.strip().casefold()
    types = sorted({t for e in index.entries for t in e.type_closure})
    found = []
    for t in types:
        name = index.type_name(t, lang)
        if not want or name.casefold().startswith(want) or want in t.casefold():
            found.append({"id": t, "name": name})
    return {"result": found[: limits.suggest_page]}


def parse_int(value: str | None, name: str, default: int = 0) -> int:
    """An integer query parameter, or a ReconcileError naming it."""
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as e:
        raise ReconcileError(f"'{name}' must be an integer, not {value!r}") from e


def jsonp(body: bytes, callback: str) -> bytes:
    """The JSON wrapped for a ``<script>`` call, after checking the callback's name."""
    if len(callback) > 64 or not _CALLBACK.match(callback):
        raise ReconcileError("'callback' must be a JavaScript identifier (letters, digits, _ $ .)")
    return b"/**/" + callback.encode("ascii") + b"(" + body + b");"
