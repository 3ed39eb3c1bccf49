"""The model of the home page: what the dataset is, where it comes from, how much it holds,
the teams, and the drawing of organisations that take part in several teams."""

from __future__ import annotations

from dataclasses import dataclass

from pyoxigraph import BlankNode, Literal, NamedNode, Store, Triple

from sovkg.linkeddata.entity import PageBuilder, PropertyRow, Term
from sovkg.linkeddata.i18n import texts
from sovkg.linkeddata.results import select, subjects
from sovkg.linkeddata.svg import Node, bipartite_svg
from sovkg.linkeddata.terms import (
    DCTERMS_DESCRIPTION,
    DCTERMS_TITLE,
    ORG_COLLABORATION,
    ORG_SUB_ORGANIZATION_OF,
    OWL_ONTOLOGY,
    RDF_TYPE,
    RDFS_COMMENT,
    RDFS_SUBCLASS_OF,
    SCHEMA_NEWS_ARTICLE,
)
from sovkg.namespaces import PREFIXES, sparql_prologue

# The classes come as VALUES, closed under rdfs:subClassOf here (:func:`subclasses`), not by a
# property path: Virtuoso 7.2 answers a join with ``rdfs:subClassOf*`` (or ``+``, ``?``) with no
# rows once the dataset's graphs are given, so every backend gets the same plain patterns.
_TEAMS = "SELECT DISTINCT ?team WHERE {{ VALUES ?c {{ {teams} }} ?team a ?c }}"
_MEMBERSHIPS = """
SELECT DISTINCT ?team ?member ?role WHERE {{
  ?m a org:Membership ; org:organization ?team ; org:member ?member .
  OPTIONAL {{ ?m org:role ?role }}
  VALUES ?c {{ {teams} }} ?team a ?c .
}}"""
_ORGANISATIONS = """
SELECT (COUNT(DISTINCT ?o) AS ?n) WHERE {{
  VALUES ?c {{ {organisations} }} ?o a ?c .
  FILTER NOT EXISTS {{ VALUES ?tc {{ {teams} }} ?o a ?tc }}
}}"""
#: the classes whose instances (and their subclasses') count as organisations
_ORGANISATION_CLASSES = (
    NamedNode(PREFIXES["org"] + "Organization"),
    NamedNode(PREFIXES["org"] + "FormalOrganization"),
    NamedNode(PREFIXES["foaf"] + "Organization"),
)
_COUNT = "SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE {{ {pattern} }}"


#: a term of a SELECT solution
Term_ = NamedNode | BlankNode | Literal | Triple


@dataclass
class Count:
    """One headline figure."""

    key: str
    label: str
    value: int


@dataclass
class TeamSummary:
    """A team on the home page: name, lead(s), how many organisations."""

    team: Term
    leads: list[Term]
    members: int


@dataclass
class HomePage:
    """Everything the home page shows."""

    title: str
    description: str | None
    comment: str | None
    articles: list[tuple[Term, list[PropertyRow]]]
    counts: list[Count]
    classes: list[tuple[Term, int]]
    teams: list[TeamSummary]
    overlap_svg: str
    overlap: list[tuple[Term, list[Term], list[Term]]]  # organisation, teams, member units


def _select(store: Store, query: str) -> list[dict[str, Term_]]:
    rows = select(store, sparql_prologue() + query)
    names = [v.value for v in rows.variables]
    return [{n: sol[n] for n in names if sol[n] is not None} for sol in rows]


def _string(value: str) -> str:
    return str(Literal(value))


def _int(value: Term_ | None) -> int:
    """An integer literal's value (0 when there is none)."""
    return int(value.value) if isinstance(value, Literal) else 0


def _count(store: Store, pattern: str) -> int:
    rows = _select(store, _COUNT.format(pattern=pattern))
    return _int(rows[0].get("n")) if rows else 0


def count_triples(store: Store) -> int:
    """Distinct triples in the union of all graphs (what the triple dumps hold)."""
    rows = _select(store, "SELECT (COUNT(*) AS ?n) WHERE { SELECT DISTINCT ?s ?p ?o { ?s ?p ?o } }")
    return _int(rows[0].get("n")) if rows else 0


def subclasses(store: Store, *tops: NamedNode) -> list[NamedNode]:
    """``tops`` and every class below one of them by ``rdfs:subClassOf``, sorted."""
    below: dict[str, set[str]] = {}
    for q in store.quads_for_pattern(None, RDFS_SUBCLASS_OF, None):
        if isinstance(q.subject, NamedNode) and isinstance(q.object, NamedNode):
            below.setdefault(q.object.value, set()).add(q.subject.value)
    found: set[str] = set()
    todo = [t.value for t in tops]
    while todo:
        c = todo.pop()
        if c not in found:
            found.add(c)
            todo.extend(below.get(c, ()))
    return [NamedNode(c) for c in sorted(found)]


def _values(classes: list[NamedNode]) -> str:
    """The classes as the body of a VALUES clause."""
    return " ".join(str(c) for c in classes)


def _team_classes(store: Store) -> str:
    return _values(subclasses(store, ORG_COLLABORATION))


def teams(store: Store) -> list[NamedNode]:
    """The teams: instances of org:OrganizationalCollaboration or a subclass of it."""
    found = (r.get("team") for r in _select(store, _TEAMS.format(teams=_team_classes(store))))
    return sorted((t for t in found if isinstance(t, NamedNode)), key=str)


def memberships(store: Store) -> list[dict[str, Term_]]:
    """The team memberships: ``team``, ``member`` and (when given) ``role``."""
    return _select(store, _MEMBERSHIPS.format(teams=_team_classes(store)))


def count_organisations(store: Store) -> int:
    """Distinct organisations (instances of an organisation class) that are not teams."""
    query = _ORGANISATIONS.format(
        organisations=_values(subclasses(store, *_ORGANISATION_CLASSES)),
        teams=_team_classes(store),
    )
    return _int(next(iter(_select(store, query)), {}).get("n"))


def roll_up(store: Store, org: NamedNode) -> NamedNode:
    """The top of ``org``'s org:subOrganizationOf chain (a 산학협력단 counts as its university)."""
    seen = {org.value}
    current = org
    while True:
        parents = sorted(
            (
                q.object
                for q in store.quads_for_pattern(current, ORG_SUB_ORGANIZATION_OF, None)
                if isinstance(q.object, NamedNode) and q.object.value not in seen
            ),
            key=str,
        )
        if not parents:
            return current
        current = parents[0]
        seen.add(current.value)


def team_overlap(store: Store) -> dict[str, dict[str, set[str]]]:
    """For each rolled-up organisation: team IRI -> the member units that put it in that team."""
    out: dict[str, dict[str, set[str]]] = {}
    for row in memberships(store):
        member, team = row.get("member"), row.get("team")
        if not isinstance(member, NamedNode) or not isinstance(team, NamedNode):
            continue
        top = roll_up(store, member)
        out.setdefault(top.value, {}).setdefault(team.value, set()).add(member.value)
    return out


def build_home(store: Store, builder: PageBuilder, lang: str) -> HomePage:
    """The home page model, read from the store."""
    labels = builder.labels
    words = texts(lang)
    space = builder.mapper.thing_base + "id/"
    ontologies = subjects(store.quads_for_pattern(None, RDF_TYPE, OWL_ONTOLOGY))
    onto = ontologies[0] if ontologies else None
    title = (labels.text(onto, (DCTERMS_TITLE,)) if onto else None) or words["site"]
    description = labels.text(onto, (DCTERMS_DESCRIPTION,)) if onto else None
    comment = labels.text(onto, (RDFS_COMMENT,)) if onto else None

    articles = subjects(store.quads_for_pattern(None, RDF_TYPE, SCHEMA_NEWS_ARTICLE))
    article_rows = [(builder.term(a), builder.rows(a)) for a in articles]

    team_nodes = teams(store)
    members = memberships(store)
    summaries = []
    for team in team_nodes:
        rows = [r for r in members if r.get("team") == team]
        leads = {str(r["member"]): r["member"] for r in rows if builder.leads(r.get("role"))}
        summaries.append(
            TeamSummary(
                builder.term(team),
                [builder.term(m) for m in sorted(leads.values(), key=str)],
                len({str(r["member"]) for r in rows}),
            )
        )
    summaries.sort(key=lambda s: s.team.text.casefold())

    counts = [
        Count("triples", {"en": "triples", "ko": "트리플"}[lang], count_triples(store)),
        Count(
            "things",
            {"en": "things with a page", "ko": "페이지가 있는 개체"}[lang],
            _count(
                store,
                f"?x ?p ?o FILTER(isIRI(?x) && STRSTARTS(STR(?x), {_string(space)}))",
            ),
        ),
        Count("teams", {"en": "teams", "ko": "정예팀"}[lang], len(team_nodes)),
        Count(
            "organisations",
            {"en": "organisations", "ko": "기관"}[lang],
            count_organisations(store),
        ),
        Count(
            "memberships",
            {"en": "memberships", "ko": "참여 관계"}[lang],
            _count(store, "?x a org:Membership"),
        ),
        Count(
            "facts",
            {"en": "facts with a source sentence", "ko": "출처 문장이 있는 사실"}[lang],
            _count(store, "?x prov:wasDerivedFrom ?p"),
        ),
        Count(
            "passages",
            {"en": "quoted sentences", "ko": "인용된 문장"}[lang],
            _count(
                store, "?x oa:hasSelector|oa:exact ?s FILTER NOT EXISTS { ?y oa:hasSelector ?x }"
            ),
        ),
    ]
    class_rows = _select(
        store,
        "SELECT ?c (COUNT(DISTINCT ?x) AS ?n) WHERE { ?x a ?c "
        f"FILTER(STRSTARTS(STR(?x), {_string(space)})) }} GROUP BY ?c ORDER BY DESC(?n) ?c",
    )
    classes = [(builder.term(r["c"]), _int(r.get("n"))) for r in class_rows if "c" in r]

    overlap = team_overlap(store)
    multi = {org: per for org, per in overlap.items() if len(per) >= 2}
    left = [Node(s.team.iri or "", s.team.text, s.team.href or "") for s in summaries]
    right: list[Node] = []
    edges: list[tuple[str, str]] = []
    overlap_rows = []
    for org in sorted(multi, key=lambda o: (-len(multi[o]), labels.label(NamedNode(o)).casefold())):
        units = sorted({u for us in multi[org].values() for u in us})
        org_term = builder.term(NamedNode(org))
        unit_terms = [builder.term(NamedNode(u)) for u in units]
        team_terms = sorted(
            (builder.term(NamedNode(t)) for t in multi[org]), key=lambda t: t.text.casefold()
        )
        tooltip = f"{org_term.text}: " + ", ".join(t.text for t in team_terms)
        right.append(Node(org, org_term.text, org_term.href or "", tooltip))
        edges.extend((team, org) for team in sorted(multi[org]))
        overlap_rows.append((org_term, team_terms, unit_terms))
    svg = bipartite_svg(left, right, edges, words["overlap"], words["overlap_intro"])
    return HomePage(
        title=title,
        description=description,
        comment=comment,
        articles=article_rows,
        counts=counts,
        classes=classes,
        teams=summaries,
        overlap_svg=svg,
        overlap=overlap_rows,
    )
