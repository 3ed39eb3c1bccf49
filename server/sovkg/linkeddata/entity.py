"""The model of an entity page: what a person reading about one resource should see.

Everything comes from the graph: labels, types, properties (blank nodes nested), incoming
links, and for each fact node around the resource its status and the sentence it was derived
from (``prov:wasDerivedFrom`` → passage → ``oa:exact``, directly or via ``oa:hasSelector``).
Teams (instances of a subclass of ``org:OrganizationalCollaboration``) also get a story: who
leads, who takes part and as what, and what the team plans and receives.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import TypeGuard

from pyoxigraph import BlankNode, Literal, NamedNode, Store

from sovkg.linkeddata.describe import is_part_of
from sovkg.linkeddata.iris import IriMapper
from sovkg.linkeddata.labels import Labeler, compact
from sovkg.linkeddata.terms import (
    GENERIC_ORG_TYPES,
    HEADER_PROPERTIES,
    KSAI_ORGANIZATION_KIND,
    OA_EXACT,
    OA_HAS_SELECTOR,
    OA_HAS_SOURCE,
    ORG_COLLABORATION,
    ORG_MEMBER,
    ORG_MEMBER_OF,
    ORG_MEMBERSHIP,
    ORG_ORGANIZATION,
    ORG_ROLE,
    ORG_ROLE_PROPERTY,
    PREFIXES,
    PROV_DERIVED_FROM,
    RDF_TYPE,
    RDFS_COMMENT,
    SKOS_ALT_LABEL,
    SKOS_DEFINITION,
    is_status_property,
    local_name,
)

_PROJECT_TRANSLATION = NamedNode(PREFIXES["ksai"] + "projectTranslation")

Subject = NamedNode | BlankNode


def _is_subject(term: object) -> TypeGuard[Subject]:
    """Whether ``term`` is an IRI or a blank node (not a literal or a triple term)."""
    return isinstance(term, NamedNode | BlankNode)


_DIGITS = re.compile(r"(\d+)")


def natural_key(text: str) -> tuple:
    """Sort key that orders "sentence 2" before "sentence 10"."""
    return tuple(int(p) if p.isdigit() else p for p in _DIGITS.split(text.casefold()))


_MAX_DEPTH = 6
_MAX_INCOMING = 400


@dataclass
class Term:
    """A term as shown: text, and where it links to (None for literals and blank nodes)."""

    text: str
    href: str | None = None
    iri: str | None = None
    lang: str | None = None
    datatype: str | None = None
    nested: list[PropertyRow] | None = None

    @property
    def is_literal(self) -> bool:
        """Whether the term is a literal (shown as text, with its language or datatype)."""
        return self.iri is None and self.nested is None


@dataclass
class PropertyRow:
    """One property and its values."""

    predicate: Term
    values: list[Term]


@dataclass
class Quote:
    """A source sentence: its exact words, the passage node and the document it is from."""

    text: str
    passage: Term | None = None
    source: Term | None = None
    #: the project's own English translation (ksai:projectTranslation), never source text
    translation: str | None = None


@dataclass
class Evidence:
    """A fact node with its status and the sentences it was derived from."""

    fact: Term
    statuses: list[Term]
    quotes: list[Quote]


@dataclass
class Member:
    """One membership of a team: the organisation, what kind it is, its role."""

    organization: Term
    kinds: list[Term]
    roles: list[Term]
    statuses: list[Term]
    quotes: list[Quote]
    membership: Term
    leads: bool


@dataclass
class RelatedItem:
    """Something a team plans, receives or is part of, with its own links and evidence."""

    term: Term
    details: list[PropertyRow]
    statuses: list[Term]
    quotes: list[Quote]


@dataclass
class TeamStory:
    """A team told as a story: lead, members with their kinds, then related things by kind."""

    leads: list[Member]
    members: list[Member]
    kind_counts: list[tuple[str, int]]
    related: list[tuple[str, list[RelatedItem]]]


@dataclass
class EntityPage:
    """Everything an entity page shows."""

    iri: str
    title: str
    labels: dict[str, list[str]]
    alt_labels: list[Term]
    types: list[Term]
    definition: str | None
    comment: str | None
    quote: Quote | None
    properties: list[PropertyRow]
    incoming: list[PropertyRow]
    evidence: list[Evidence]
    team: TeamStory | None = None
    #: hash IRIs of this document (``#selector``): anchor, term, properties
    parts: list[tuple[str, Term, dict[str, list[str]], list[PropertyRow]]] = field(
        default_factory=list
    )


class PageBuilder:
    """Builds page models from one store; labels in one language."""

    def __init__(self, store: Store, mapper: IriMapper, labeler: Labeler) -> None:
        self.store = store
        self.mapper = mapper
        self.labels = labeler

    # terms -----------------------------------------------------------------------------

    def term(self, node: object, depth: int = 0, seen: frozenset[str] = frozenset()) -> Term:
        """A term for display; blank nodes carry their own properties, nested."""
        if isinstance(node, NamedNode):
            return Term(self.labels.label(node), self.mapper.href(node.value), node.value)
        if isinstance(node, Literal):
            dt = node.datatype.value if node.datatype else None
            shown = None
            if dt and not dt.endswith(("#string", "#langString")):
                shown = compact(dt)
            return Term(node.value, lang=node.language, datatype=shown)
        if isinstance(node, BlankNode):
            rows: list[PropertyRow] = []
            if depth < _MAX_DEPTH and str(node) not in seen:
                rows = self.rows(node, depth + 1, seen | {str(node)}, skip=frozenset())
            return Term(self.labels.label(node), nested=rows)
        return Term(str(node))

    def objects(self, node: Subject, predicate: NamedNode) -> list:
        """Distinct objects of ``predicate`` on ``node`` across all graphs."""
        seen: dict[str, object] = {}
        for q in self.store.quads_for_pattern(node, predicate, None):
            seen.setdefault(str(q.object), q.object)
        return list(seen.values())

    def subjects(self, predicate: NamedNode | None, obj: object) -> list:
        """Distinct subjects having ``predicate`` (any, if None) with ``obj``."""
        seen: dict[str, object] = {}
        if not isinstance(obj, NamedNode | BlankNode | Literal):
            return []
        for q in self.store.quads_for_pattern(None, predicate, obj):
            seen.setdefault(str(q.subject), q.subject)
        return list(seen.values())

    def _sorted_terms(self, nodes: list) -> list[Term]:
        terms = [self.term(n) for n in nodes]
        return sorted(terms, key=lambda t: (natural_key(t.text), t.iri or ""))

    def rows(
        self,
        node: Subject,
        depth: int = 0,
        seen: frozenset[str] = frozenset(),
        skip: frozenset[NamedNode] = HEADER_PROPERTIES,
    ) -> list[PropertyRow]:
        """The properties of ``node`` with their values, sorted by property label."""
        by_pred: dict[str, tuple[NamedNode, list]] = {}
        for q in self.store.quads_for_pattern(node, None, None):
            if q.predicate in skip:
                continue
            entry = by_pred.setdefault(q.predicate.value, (q.predicate, []))
            if all(str(o) != str(q.object) for o in entry[1]):
                entry[1].append(q.object)
        out = []
        for pred, values in by_pred.values():
            terms = [self.term(v, depth, seen) for v in values]
            terms.sort(key=lambda t: (t.lang or "", natural_key(t.text)))
            out.append(PropertyRow(self.term(pred), terms))
        out.sort(key=lambda r: (natural_key(r.predicate.text), r.predicate.iri or ""))
        return out

    # evidence --------------------------------------------------------------------------

    def statuses(self, node: Subject) -> list[Term]:
        """The status concepts of a fact node (any property named ``status``)."""
        found: list[object] = []
        for q in self.store.quads_for_pattern(node, None, None):
            if is_status_property(q.predicate.value) and all(
                str(f) != str(q.object) for f in found
            ):
                found.append(q.object)
        return self._sorted_terms(found)

    def quote_of(self, passage: object) -> Quote | None:
        """The exact words of a passage (``oa:exact`` on it or on its selector)."""
        if not isinstance(passage, NamedNode | BlankNode):
            return None
        texts = [o for o in self.objects(passage, OA_EXACT) if isinstance(o, Literal)]
        for selector in self.objects(passage, OA_HAS_SELECTOR):
            if isinstance(selector, NamedNode | BlankNode):
                texts += [o for o in self.objects(selector, OA_EXACT) if isinstance(o, Literal)]
        if not texts:
            return None
        sources = self.objects(passage, OA_HAS_SOURCE)
        translations = [
            o.value
            for o in self.objects(passage, _PROJECT_TRANSLATION)
            if isinstance(o, Literal) and o.language == "en"
        ]
        return Quote(
            text=" ".join(sorted({t.value for t in texts})),
            passage=self.term(passage) if isinstance(passage, NamedNode) else None,
            source=self.term(sources[0]) if sources else None,
            translation=" ".join(sorted(translations)) or None,
        )

    def quotes(self, fact: Subject) -> list[Quote]:
        """The sentences a fact node was derived from."""
        out = []
        for p in self.objects(fact, PROV_DERIVED_FROM):
            quote = self.quote_of(p)
            if quote is None and isinstance(p, NamedNode):
                quote = Quote(text="", passage=self.term(p))
            if quote is not None:
                out.append(quote)
        out.sort(key=lambda q: (q.passage.iri if q.passage else "", q.text))
        return out

    def is_fact(self, node: object) -> bool:
        """A fact node is one with a source (``prov:wasDerivedFrom``)."""
        return isinstance(node, NamedNode | BlankNode) and any(
            True for _ in self.store.quads_for_pattern(node, PROV_DERIVED_FROM, None)
        )

    def evidence(self, node: NamedNode) -> list[Evidence]:
        """The resource's own evidence, then that of the fact nodes linked to or from it."""
        candidates: dict[str, Subject] = {}
        if self.is_fact(node):
            candidates[node.value] = node
        for q in self.store.quads_for_pattern(node, None, None):
            obj = q.object
            if q.predicate != PROV_DERIVED_FROM and _is_subject(obj) and self.is_fact(obj):
                candidates.setdefault(str(obj), obj)
        for q in self.store.quads_for_pattern(None, None, node):
            subject = q.subject
            if _is_subject(subject) and self.is_fact(subject):
                candidates.setdefault(str(subject), subject)
        out = []
        for key, fact in candidates.items():
            out.append(Evidence(self.term(fact), self.statuses(fact), self.quotes(fact)))
            if key == node.value:
                out[-1].fact.href = None  # it is this page
        first = out[:1] if node.value in candidates else []
        rest = out[len(first) :]
        rest.sort(key=lambda e: (natural_key(e.fact.text), e.fact.iri or ""))
        return first + rest

    # incoming --------------------------------------------------------------------------

    def incoming(self, node: NamedNode) -> list[PropertyRow]:
        """Who links here: subjects grouped by property (a blank node shows its owner)."""
        by_pred: dict[str, tuple[NamedNode, dict[str, object]]] = {}
        for n, q in enumerate(self.store.quads_for_pattern(None, None, node)):
            if n >= _MAX_INCOMING:
                break
            subject = q.subject
            if isinstance(subject, BlankNode):
                owners = self.subjects(None, subject)
                subject = next((o for o in owners if isinstance(o, NamedNode)), subject)
            entry = by_pred.setdefault(q.predicate.value, (q.predicate, {}))
            entry[1].setdefault(str(subject), subject)
        rows = [
            PropertyRow(self.term(p), self._sorted_terms(list(subs.values())))
            for p, subs in by_pred.values()
        ]
        rows.sort(key=lambda r: (natural_key(r.predicate.text), r.predicate.iri or ""))
        return rows

    # teams -----------------------------------------------------------------------------

    def is_team(self, node: NamedNode) -> bool:
        """Whether ``node`` is a team: typed with a subclass of org:OrganizationalCollaboration."""
        return bool(
            self.store.query(
                f"ASK {{ {node} a ?c . ?c <http://www.w3.org/2000/01/rdf-schema#subClassOf>* "
                f"{ORG_COLLABORATION} }}",
                use_default_graph_as_union=True,
            )
        )

    def leads(self, role: object) -> bool:
        """Whether a role is a leading one: its org:roleProperty is narrower than
        org:memberOf (ORG's pattern for roles), or it is called a lead."""
        if not isinstance(role, NamedNode):
            return False
        props = [p for p in self.objects(role, ORG_ROLE_PROPERTY) if p != ORG_MEMBER_OF]
        return bool(props) or "lead" in local_name(role.value).lower()

    def kinds(self, org: object) -> list[Term]:
        """What kind of organisation: its kind concepts, else its specific types."""
        if not isinstance(org, NamedNode | BlankNode):
            return []
        kinds = self.objects(org, KSAI_ORGANIZATION_KIND)
        if not kinds:
            kinds = [t for t in self.objects(org, RDF_TYPE) if t not in GENERIC_ORG_TYPES]
        return self._sorted_terms(kinds)

    def team_story(self, team: NamedNode) -> TeamStory:
        """The team's members (lead first) and the fact nodes around it, grouped by kind."""
        memberships = [
            m
            for m in self.subjects(ORG_ORGANIZATION, team)
            if any(True for _ in self.store.quads_for_pattern(m, RDF_TYPE, ORG_MEMBERSHIP))
        ]
        members = []
        for m in memberships:
            roles = self.objects(m, ORG_ROLE)
            for org in self.objects(m, ORG_MEMBER) or [None]:
                members.append(
                    Member(
                        organization=self.term(org) if org is not None else Term("?"),
                        kinds=self.kinds(org),
                        roles=self._sorted_terms(roles),
                        statuses=self.statuses(m),
                        quotes=self.quotes(m),
                        membership=self.term(m),
                        leads=any(self.leads(r) for r in roles),
                    )
                )
        members.sort(key=lambda x: (not x.leads, natural_key(x.organization.text)))
        counts = Counter(k.text for m in members for k in m.kinds[:1])
        membership_keys = {str(m) for m in memberships}
        related: dict[str, Subject] = {}
        for q in self.store.quads_for_pattern(team, None, None):
            obj = q.object
            if _is_subject(obj) and self.is_fact(obj) and str(obj) not in membership_keys:
                related.setdefault(str(obj), obj)
        for q in self.store.quads_for_pattern(None, None, team):
            subject = q.subject
            if (
                _is_subject(subject)
                and self.is_fact(subject)
                and str(subject) not in membership_keys
            ):
                related.setdefault(str(subject), subject)
        groups: dict[str, list[RelatedItem]] = {}
        for node in related.values():
            types = self._sorted_terms(self.objects(node, RDF_TYPE))
            kind = types[0].text if types else "—"
            details = [
                r
                for r in self.rows(node)
                if not is_status_property(r.predicate.iri or "")
                and r.predicate.iri != PROV_DERIVED_FROM.value
                and all(v.iri != team.value for v in r.values)
            ]
            groups.setdefault(kind, []).append(
                RelatedItem(self.term(node), details, self.statuses(node), self.quotes(node))
            )
        for items in groups.values():
            items.sort(key=lambda i: (natural_key(i.term.text), i.term.iri or ""))
        return TeamStory(
            leads=[m for m in members if m.leads],
            members=members,
            kind_counts=sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])),
            related=sorted(groups.items(), key=lambda kv: kv[0].casefold()),
        )

    # the page --------------------------------------------------------------------------

    def parts(
        self, node: NamedNode
    ) -> list[tuple[str, Term, dict[str, list[str]], list[PropertyRow]]]:
        """The hash IRIs of this document that it links to, each with its properties."""
        found = {
            str(q.object): q.object
            for q in self.store.quads_for_pattern(node, None, None)
            if isinstance(q.object, NamedNode) and is_part_of(q.object, node)
        }
        out = [
            (
                o.value.split("#", 1)[1],
                self.term(o),
                self.labels.labels_by_language(o),
                self.rows(o),
            )
            for o in sorted(found.values(), key=str)
        ]
        return out

    def entity_page(self, node: NamedNode) -> EntityPage:
        """The whole page model of one resource."""
        alt = [self.term(a) for a in self.objects(node, SKOS_ALT_LABEL)]
        team = self.team_story(node) if self.is_team(node) else None
        evidence = self.evidence(node)
        if team is not None:
            shown = {m.membership.iri for m in team.members} | {
                i.term.iri for _, items in team.related for i in items
            }
            evidence = [e for e in evidence if e.fact.iri not in shown]
        return EntityPage(
            iri=node.value,
            title=self.labels.label(node),
            labels=self.labels.labels_by_language(node),
            alt_labels=sorted(alt, key=lambda t: (t.lang or "", t.text)),
            types=self._sorted_terms(self.objects(node, RDF_TYPE)),
            definition=self.labels.text(node, (SKOS_DEFINITION,)),
            comment=self.labels.text(node, (RDFS_COMMENT,)),
            quote=self.quote_of(node),
            properties=self.rows(node),
            incoming=self.incoming(node),
            evidence=evidence,
            team=team,
            parts=self.parts(node),
        )
