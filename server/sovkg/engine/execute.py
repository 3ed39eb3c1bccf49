"""Running one operation on a local store: pure functions from a store and a job to a result.

The same functions run in this process (``ThreadRunner``) and in worker processes
(``sovkg.engine.worker``).
"""

from __future__ import annotations

import sys

from pyoxigraph import (
    BlankNode,
    DefaultGraph,
    NamedNode,
    QueryBoolean,
    QuerySolutions,
    QueryTriples,
    Store,
)

from sovkg.engine.jobs import QueryJob, QueryOutput, UpdateJob
from sovkg.engine.serialize import (
    limited_solutions,
    query_output,
    whole_output,
    within_row_limit,
)
from sovkg.namespaces import PREFIXES
from sovkg.sparql.columns import star_order
from sovkg.sparql.lexer import (
    check_depth,
    declares_dataset,
    move_error_position,
    rewrite_update,
    top_limit,
)


def mentioned_prefixes(table: dict[str, str], query: str) -> dict[str, str] | None:
    """The entries of a default prefix table that ``query`` can use: those whose ``name:``
    occurs in its text (None when none does).

    pyoxigraph converts the whole table on every call, which costs more than parsing a short
    query; most queries declare what they use. A prefixed name is written with its prefix as
    it is, so a prefix whose ``name:`` is nowhere in the text cannot be used, and leaving it out
    changes nothing. A ``\\u``/``\\U`` escape could spell one: the SPARQL grammar expands
    them before parsing (pyoxigraph 0.5 does not, outside strings), so then the whole table is
    given all the same.
    """
    if not table:
        return None
    if "\\u" in query or "\\U" in query:
        return table
    needles = _PACKAGE_NEEDLES if table is PREFIXES else _needles(table)
    used = {name: iri for needle, name, iri in needles if needle in query}
    return used or None


def _needles(table: dict[str, str]) -> list[tuple[str, str, str]]:
    """``(name + ":", name, iri)`` for each entry of a prefix table."""
    return [(name + ":", name, iri) for name, iri in table.items()]


#: the package's own table, the one every query job from the SPARQL routes carries
_PACKAGE_NEEDLES = _needles(PREFIXES)


def evaluate(store: Store, job: QueryJob) -> QuerySolutions | QueryBoolean | QueryTriples:
    """Evaluate a query with the job's dataset; raises SyntaxError on a malformed query and
    TooDeep on one structured too deeply for the engine (it would overflow its stack)."""
    check_depth(job.query)
    default_graph: list[NamedNode | BlankNode | DefaultGraph] | None = None
    named_graphs: list[NamedNode | BlankNode] | None = None
    # pyoxigraph's union flag would silently override FROM / FROM NAMED
    union = job.default_graphs is None and not declares_dataset(job.query)
    if job.default_graphs is not None:
        default_graph = [NamedNode(g) for g in job.default_graphs]
    if job.named_graphs is not None:
        named_graphs = [NamedNode(g) for g in job.named_graphs]
    return store.query(
        job.query,
        base_iri=job.base_iri,
        prefixes=mentioned_prefixes(job.prefixes, job.query),
        use_default_graph_as_union=union,
        default_graph=default_graph,
        named_graphs=named_graphs,
    )


def execute_query(store: Store, job: QueryJob) -> QueryOutput:
    """Evaluate and serialize a query in the job's formats (cut at ``job.max_rows``)."""
    result = evaluate(store, job)
    if isinstance(result, QuerySolutions):  # SELECT *: the columns in the query's order
        order = star_order(job.query, [v.value for v in result.variables])
        if order is not None:
            most = job.max_rows if job.max_rows is not None else sys.maxsize
            return limited_solutions(result, job, most, order)
    if job.max_rows is not None and isinstance(result, QuerySolutions):
        limit = top_limit(job.query)
        if limit is not None and limit <= job.max_rows:  # it cannot have too many rows
            return whole_output(result, job)
    if job.max_rows is not None and isinstance(result, QuerySolutions | QueryTriples):
        out = within_row_limit(result, job, job.max_rows)
        if out is not None:
            return out
        # too long to be sure it has no more rows than the limit: evaluate again, counting
        result = evaluate(store, job)
    return query_output(result, job)


def execute_update(store: Store, job: UpdateJob) -> None:
    """Apply an update (pyoxigraph applies each update request atomically).

    ``Store.update`` takes no dataset, so the ``using_*`` graphs are written into the text as
    USING clauses (and CLEAR of a graph never seen succeeds, see ``rewrite_update``); a syntax
    error still reports the line and column of the text as sent.
    """
    check_depth(job.update, "update")
    using = None
    if job.using_graphs is not None or job.using_named_graphs is not None:
        using = (job.using_graphs or (), job.using_named_graphs or ())
    rewrite = rewrite_update(job.update, using)
    try:
        store.update(rewrite.text, base_iri=job.base_iri)
    except SyntaxError as e:
        message = str(e.msg if e.msg else e)
        if rewrite.insertions:
            message = move_error_position(message, rewrite.original_position)
        raise SyntaxError(message) from None
