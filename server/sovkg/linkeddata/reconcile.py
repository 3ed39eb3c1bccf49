"""The reconciliation index: every labelled thing of the graph, found by the names people use.

Built once from the store (:func:`build_index`) and rebuilt after updates (the Linked Data
state forgets it when the store changes). It knows, for each thing under the identifier space
(``{thing_base}id/``): its labels (``skos:prefLabel``, ``skos:altLabel``, ``rdfs:label``, both
languages) turned into matching keys by :mod:`sovkg.linkeddata.namekeys`, its types with their
superclasses, and a short description. Matching scores names with ``rapidfuzz``; properties
(``org:memberOf`` a team, any predicate of the graph) are checked in the store and raise the
candidates that have them.

Scores: 0–100 for the name (100: the name is a label, once normalised; a label's parts,
short forms and acronyms count a little less; an edit distance below that), plus
:data:`PROPERTY_BONUS` for each query property the candidate has. ``match`` is true only when
one candidate is clearly right: the only one with an exact label, or far ahead of the next.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

from pyoxigraph import Literal, NamedNode, Store
from rapidfuzz import fuzz, process

from sovkg.linkeddata.namekeys import (
    UNIT_WORDS,
    NameKey,
    label_variants,
    name_key,
    query_variants,
)
from sovkg.linkeddata.results import select
from sovkg.linkeddata.terms import local_name
from sovkg.namespaces import PREFIXES

_RDF = PREFIXES["rdf"]
_RDFS = PREFIXES["rdfs"]
_SKOS = PREFIXES["skos"]
_ORG = PREFIXES["org"]
_FOAF = PREFIXES["foaf"]
_SCHEMA = PREFIXES["schema"]
_KSAI = PREFIXES["ksai"]
_FRAPO = "http://purl.org/cerif/frapo/"
_OA = PREFIXES["oa"]
_PROV = PREFIXES["prov"]

PREF_LABEL = _SKOS + "prefLabel"
ALT_LABEL = _SKOS + "altLabel"
RDFS_LABEL = _RDFS + "label"
RDF_TYPE = _RDF + "type"
ORG_MEMBER_OF = _ORG + "memberOf"

#: things that are parts of the record rather than things people name
EXCLUDED_TYPES = frozenset({_ORG + "Membership", _KSAI + "Passage", _OA + "TextQuoteSelector"})

#: things found only when a query asks for their type: the vocabulary, not the record
VOCABULARY_TYPES = frozenset({_SKOS + "Concept", _SKOS + "ConceptScheme"})

#: superclasses that vocabularies we reuse declare, but whose declarations are not loaded
KNOWN_SUPERCLASSES: dict[str, tuple[str, ...]] = {
    _ORG + "FormalOrganization": (_ORG + "Organization",),
    _ORG + "OrganizationalUnit": (_ORG + "Organization",),
    _ORG + "OrganizationalCollaboration": (_ORG + "Organization",),
    _ORG + "Organization": (_FOAF + "Organization",),
    _SCHEMA + "Person": (_FOAF + "Person",),
    _FOAF + "Person": (_SCHEMA + "Person",),
}

#: names of the types of reused vocabularies (the ontology labels its own classes)
TYPE_NAMES: dict[str, dict[str, str]] = {
    _ORG + "Organization": {"en": "organisation", "ko": "조직"},
    _ORG + "FormalOrganization": {"en": "formal organisation", "ko": "공식 조직"},
    _ORG + "OrganizationalUnit": {"en": "organisational unit", "ko": "조직 단위"},
    _ORG + "OrganizationalCollaboration": {"en": "collaboration", "ko": "협력체"},
    _FOAF + "Person": {"en": "person", "ko": "사람"},
    _SCHEMA + "Person": {"en": "person", "ko": "사람"},
    _SCHEMA + "Country": {"en": "country", "ko": "국가"},
    _SCHEMA + "Product": {"en": "product", "ko": "제품"},
    _FRAPO + "Company": {"en": "company", "ko": "기업"},
    _FRAPO + "University": {"en": "university", "ko": "대학"},
    _FRAPO + "ResearchInstitute": {"en": "research institute", "ko": "연구기관"},
    _FRAPO + "GovernmentOrganization": {"en": "government organisation", "ko": "정부 기관"},
    _FRAPO + "FundingAgency": {"en": "funding agency", "ko": "연구비 지원 기관"},
    _FRAPO + "FundingProgramme": {"en": "funding programme", "ko": "지원 사업"},
    _FRAPO + "NotForProfitOrganization": {"en": "non-profit organisation", "ko": "비영리 기관"},
    _SKOS + "Concept": {"en": "concept", "ko": "개념"},
}

#: types too general to describe anything by
GENERIC_TYPES = frozenset({_ORG + "Organization", _ORG + "FormalOrganization", _PROV + "Entity"})

#: the types offered as sensible choices (those with instances are announced)
DEFAULT_TYPES = (
    _ORG + "Organization",
    _KSAI + "Consortium",
    _FOAF + "Person",
    _KSAI + "FoundationModel",
    _KSAI + "Platform",
    _KSAI + "Event",
    _FRAPO + "FundingProgramme",
    _SKOS + "Concept",
)

#: what each query property the candidate has adds to its score
PROPERTY_BONUS = 10.0
#: a name score at or above this is an exact label
EXACT = 99.99
#: a candidate this good and this far ahead of the next is a match even without an exact label
CLEAR_SCORE = 88.0
CLEAR_GAP = 12.0
#: what a name score is multiplied by when one name says 산학협력단 / 정예팀 and the other not
UNIT_MISMATCH = 0.8
#: fuzzy name scores below this are not candidates
MIN_SCORE = 60.0


@dataclass(frozen=True)
class Alias:
    """One way of writing one entity's name."""

    entry: int
    key: NameKey
    jamo: str
    weight: float
    lang: str


@dataclass(frozen=True)
class Entry:
    """One thing of the graph that can be a candidate."""

    iri: str
    id: str
    #: preferred label by language ("" for none)
    names: dict[str, str]
    #: every label, in the order found (for previews)
    labels: tuple[tuple[str, str], ...]
    types: tuple[str, ...]
    type_closure: frozenset[str]
    #: the label of its ``ksai:organizationKind`` by language, if it has one
    kind: dict[str, str] = field(default_factory=dict)

    def name(self, lang: str) -> str:
        """The preferred label in ``lang``, else in English, else any."""
        for want in (lang, "en", "ko", ""):
            if want in self.names:
                return self.names[want]
        return next(iter(self.names.values()), local_name(self.iri))


@dataclass(frozen=True)
class Candidate:
    """One candidate of one query."""

    entry: Entry
    name_score: float
    bonus: float
    lang: str
    exact: bool
    match: bool = False

    @property
    def score(self) -> float:
        """The name score plus the property bonus, rounded for JSON."""
        return round(self.name_score + self.bonus, 2)


@dataclass(frozen=True)
class PropertyQuery:
    """One ``properties`` item: a property (IRI) and the values asked for."""

    pid: str
    values: tuple[str, ...]
    #: which values are entity identifiers (``{"id": …}``) rather than plain values
    is_id: tuple[bool, ...]


@dataclass(frozen=True)
class Query:
    """One reconciliation query, checked."""

    text: str | None
    types: tuple[str, ...] = ()
    limit: int = 5
    properties: tuple[PropertyQuery, ...] = ()


@dataclass
class ReconcileIndex:
    """The entities, their aliases and types; immutable once built."""

    identifier_space: str
    entries: list[Entry]
    aliases: list[Alias]
    type_names: dict[str, dict[str, str]]
    superclasses: dict[str, set[str]]
    store: Store
    by_iri: dict[str, int] = field(default_factory=dict)
    _jamo: list[str] = field(default_factory=list)
    _spaced: list[str] = field(default_factory=list)
    _full: list[str] = field(default_factory=list)
    _foreground: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.by_iri = {e.iri: i for i, e in enumerate(self.entries)}
        self._foreground = {
            i for i, e in enumerate(self.entries) if not VOCABULARY_TYPES & e.type_closure
        }
        self._jamo = [a.jamo for a in self.aliases]
        self._spaced = [a.key.spaced for a in self.aliases]
        self._full = [a.key.full for a in self.aliases]

    # identifiers

    def id_of(self, iri: str) -> str:
        """The identifier of an IRI in the identifier space (the IRI itself if outside it)."""
        if iri.startswith(self.identifier_space):
            return iri[len(self.identifier_space) :]
        return iri

    def iri_of(self, ident: str) -> str:
        """The IRI an identifier stands for: identifiers are relative to the identifier space;
        full IRIs are accepted too."""
        if ident.startswith(("http://", "https://", "urn:")):
            return ident
        return self.identifier_space + ident

    def entry_for(self, ident: str) -> Entry | None:
        """The entry of an identifier or IRI, or None."""
        i = self.by_iri.get(self.iri_of(ident.strip()))
        return None if i is None else self.entries[i]

    def type_name(self, type_iri: str, lang: str) -> str:
        """What to call a type."""
        names = self.type_names.get(type_iri) or TYPE_NAMES.get(type_iri) or {}
        for want in (lang, "en", ""):
            if want in names:
                return names[want]
        return next(iter(names.values()), local_name(type_iri))

    def default_types(self) -> list[str]:
        """The default types that have instances."""
        used = set().union(*(e.type_closure for e in self.entries)) if self.entries else set()
        return [t for t in DEFAULT_TYPES if t in used]

    def specific_types(self, entry: Entry) -> list[str]:
        """An entry's types without those implied by another of its types."""
        implied: set[str] = set()
        for t in entry.types:
            implied |= _closure_of(t, self.superclasses) - {t}
        return [t for t in entry.types if t not in implied] or list(entry.types)

    # matching

    def _allowed(self, types: Sequence[str]) -> set[int] | None:
        """The entries a query may return: those of the given types, else all but the
        vocabulary (concepts are asked for by type)."""
        if not types:
            return self._foreground
        wanted = set(types)
        return {i for i, e in enumerate(self.entries) if e.type_closure & wanted}

    def name_scores(
        self, text: str, allowed: set[int] | None
    ) -> dict[int, tuple[float, str, bool]]:
        """For each entry whose name resembles ``text``: (best name score, language of the
        alias that gave it, whether it was an exact label)."""
        best: dict[int, tuple[float, str, bool]] = {}

        def offer(i: int, score: float, lang: str, exact: bool) -> None:
            if allowed is not None and i not in allowed:
                return
            old = best.get(i)
            if old is None or score > old[0]:
                best[i] = (score, lang, exact)

        entry = self.entry_for(text)
        if entry is not None:  # an identifier or IRI asks for that entity
            offer(self.by_iri[entry.iri], 100.0, "", True)
        for key, q_weight in query_variants(text):
            if key.empty:
                continue
            jamo = unicodedata.normalize("NFD", key.key)
            hits: dict[int, float] = {}
            for scorer, query, choices in (
                (fuzz.ratio, jamo, self._jamo),
                (fuzz.token_sort_ratio, key.spaced, self._spaced),
            ):
                for _, s, j in process.extract(
                    query, choices, scorer=scorer, limit=None, score_cutoff=MIN_SCORE * 0.8
                ):
                    if s > hits.get(j, 0.0):
                        hits[j] = s
            for j, s in hits.items():
                alias = self.aliases[j]
                same = alias.key.key == key.key
                raw = 100.0 if same else min(s, 99.0)
                unit_ok = alias.key.unit == key.unit
                score = raw * alias.weight * q_weight * (1.0 if unit_ok else UNIT_MISMATCH)
                if score >= MIN_SCORE:
                    exact = same and unit_ok and alias.weight == 1.0 and q_weight == 1.0
                    offer(alias.entry, score, alias.lang, exact)
        return best

    def reconcile(
        self, query: Query, lang: str = "en", deadline: float | None = None
    ) -> list[Candidate]:
        """The candidates of one query, best first, at most ``query.limit``."""
        allowed = self._allowed(query.types)
        scores = self.name_scores(query.text, allowed) if query.text else {}
        bonus: dict[int, float] = {}
        for prop in query.properties:
            for i in self._having(prop):
                if allowed is None or i in allowed:
                    bonus[i] = bonus.get(i, 0.0) + PROPERTY_BONUS
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError("reconciliation ran out of time")
        if query.text is None:
            keys = set(bonus)
        else:
            keys = set(scores)
        cands = []
        for i in keys:
            s, alias_lang, exact = scores.get(i, (0.0, "", False))
            cands.append(
                Candidate(self.entries[i], s, bonus.get(i, 0.0), alias_lang or lang, exact)
            )
        cands.sort(key=lambda c: (-c.score, -c.name_score, c.entry.id))
        cands = cands[: max(query.limit, 2)]
        if cands:
            cands[0] = _decide(cands)
        return cands[: query.limit]

    def _having(self, prop: PropertyQuery) -> set[int]:
        """Entries that have one of the property's values (IRIs, or names that reconcile to
        an entity, or literals equal once normalised)."""
        targets: set[str] = set()
        literals: set[str] = set()
        for value, is_id in zip(prop.values, prop.is_id, strict=True):
            entry = self.entry_for(value)
            if entry is not None:
                targets.add(entry.iri)
                continue
            if is_id:
                targets.add(self.iri_of(value))
                continue
            literals.add(name_key(value).full)
            named = self.name_scores(value, None)
            exact = [i for i, (_, _, ex) in named.items() if ex]
            if len(exact) == 1:
                targets.add(self.entries[exact[0]].iri)
        out: set[int] = set()
        for s, o in _links(self.store, prop.pid, targets, bool(literals)):
            i = self.by_iri.get(s)
            if i is None:
                continue
            if isinstance(o, NamedNode):
                if o.value in targets:
                    out.add(i)
            elif isinstance(o, Literal) and name_key(o.value).full in literals:
                out.add(i)
        return out

    # suggest

    def suggest(
        self,
        prefix: str,
        lang: str = "en",
        cursor: int = 0,
        limit: int = 10,
        types: Sequence[str] = (),
    ) -> list[tuple[Entry, str]]:
        """Entities whose names start with (or have a word starting with, or come close to)
        what was typed; each with the label to show (in the language typed)."""
        key = name_key(prefix)
        if not key.full:
            return []
        allowed = self._allowed(types)
        ranked: dict[int, tuple[float, int, str]] = {}

        def offer(j: int, rank: float) -> None:
            alias = self.aliases[j]
            i = alias.entry
            if allowed is not None and i not in allowed:
                return
            cand = (rank, len(alias.key.full), alias.lang)
            old = ranked.get(i)
            if old is None or cand[:2] < old[:2]:
                ranked[i] = cand

        for j, alias in enumerate(self.aliases):
            if alias.key.full.startswith(key.full):
                offer(j, 0.0 if alias.weight == 1.0 else 0.5)
            elif any(w.startswith(key.spaced) for w in alias.key.spaced.split()[1:]):
                offer(j, 1.0)
        if len(key.full) >= 3:
            for _, s, j in process.extract(
                unicodedata.normalize("NFD", key.full),
                [unicodedata.normalize("NFD", f[: len(key.full) + 1]) for f in self._full],
                scorer=fuzz.ratio,
                limit=None,
                score_cutoff=80,
            ):
                offer(j, 2.0 + (100 - s) / 100)
        order = sorted(ranked.items(), key=lambda kv: (kv[1][0], kv[1][1], self.entries[kv[0]].id))
        page = order[cursor : cursor + limit]
        return [
            (self.entries[i], self.entries[i].name(alias_lang)) for i, (_, _, alias_lang) in page
        ]

    def describe(self, entry: Entry, lang: str) -> str:
        """A short description: what kind of thing it is (its organisation kind, else its
        most specific types)."""
        for want in (lang, "en", ""):
            if want in entry.kind:
                return entry.kind[want]
        types = [t for t in self.specific_types(entry) if t not in GENERIC_TYPES]
        names = [self.type_name(t, lang) for t in types or self.specific_types(entry)]
        return ", ".join(dict.fromkeys(names))


def _decide(cands: list[Candidate]) -> Candidate:
    """The first candidate, with ``match`` set if it is clearly right."""
    top = cands[0]
    rest = cands[1:]
    if top.exact and not any(c.exact and c.score >= top.score for c in rest):
        return _with_match(top)
    second = rest[0].score if rest else 0.0
    if top.name_score >= CLEAR_SCORE and top.score - second >= CLEAR_GAP:
        return _with_match(top)
    return top


def _with_match(c: Candidate) -> Candidate:
    return Candidate(c.entry, c.name_score, c.bonus, c.lang, c.exact, match=True)


def _closure_of(t: str, supers: dict[str, set[str]]) -> set[str]:
    out = {t}
    todo = [t]
    while todo:
        for s in supers.get(todo.pop(), ()):
            if s not in out:
                out.add(s)
                todo.append(s)
    return out


def _links(store: Store, pid: str, targets: set[str], literals: bool) -> list[tuple[str, object]]:
    """(subject, value) pairs for one property: the predicate itself, and for
    ``org:memberOf`` also the memberships (``org:member`` / ``org:organization``)."""
    if not targets and not literals:
        return []
    p = NamedNode(pid)
    nodes = []
    for t in sorted(targets):
        try:
            nodes.append(str(NamedNode(t)))
        except ValueError:
            continue  # not an IRI: nothing can have it as a value
    if not nodes and not literals:
        return []
    values = "" if literals else " ".join(nodes)
    filt = f"VALUES ?o {{ {values} }}" if values else ""
    parts = [f"{{ ?s {p} ?o {filt} }}"]
    if pid == ORG_MEMBER_OF:
        parts.append(f"{{ ?m <{_ORG}member> ?s ; <{_ORG}organization> ?o {filt} }}")
    query = f"SELECT DISTINCT ?s ?o WHERE {{ {' UNION '.join(parts)} FILTER(isIRI(?s)) }}"
    return [(sol["s"].value, sol["o"]) for sol in select(store, query)]


def _without_parent(label: str, lang: str, parent_labels: list[tuple[str, str]]) -> list[str]:
    """A unit's label without its parent's name in front (``삼성SDS 클라우드서비스사업부`` is
    written ``클라우드서비스사업부`` where the parent is clear), unless only a unit word is
    left (``산학협력단`` alone names no one)."""
    out = []
    for parent_lang, parent in parent_labels:
        if parent_lang == lang and label.startswith(parent) and len(label) > len(parent):
            rest = label[len(parent) :].strip()
            key = name_key(rest)
            if key.key and not any(rest.casefold() in words for words in UNIT_WORDS.values()):
                out.append(rest)
    return out


def build_index(store: Store, thing_base: str) -> ReconcileIndex:
    """Read the labels and types of every thing under ``{thing_base}id/`` from the store."""
    space = thing_base + "id/"
    labels: dict[str, list[tuple[str, str, str]]] = {}
    types: dict[str, list[str]] = {}
    label_query = f"""
        SELECT ?s ?p ?o WHERE {{
          VALUES ?p {{ <{PREF_LABEL}> <{ALT_LABEL}> <{RDFS_LABEL}> <{RDF_TYPE}> }}
          ?s ?p ?o
          FILTER(isIRI(?s) && STRSTARTS(STR(?s), {Literal(space)}))
        }}"""
    for sol in select(store, label_query):
        s, p, o = sol["s"].value, sol["p"].value, sol["o"]
        if p == RDF_TYPE:
            if isinstance(o, NamedNode):
                types.setdefault(s, []).append(o.value)
        elif isinstance(o, Literal):
            labels.setdefault(s, []).append((p, o.language or "", o.value))
    parents: dict[str, set[str]] = {}
    parent_query = f"""
        SELECT ?s ?o WHERE {{
          ?s <{_ORG}unitOf>|<{_ORG}subOrganizationOf> ?o
          FILTER(isIRI(?s) && isIRI(?o) && STRSTARTS(STR(?s), {Literal(space)}))
        }}"""
    for sol in select(store, parent_query):
        parents.setdefault(sol["s"].value, set()).add(sol["o"].value)
    kinds: dict[str, dict[str, str]] = {}
    kind_query = f"""
        SELECT ?s ?l WHERE {{
          ?s <{_KSAI}organizationKind> ?k . ?k <{PREF_LABEL}> ?l
          FILTER(isIRI(?s) && STRSTARTS(STR(?s), {Literal(space)}))
        }}"""
    for sol in select(store, kind_query):
        label = sol["l"]
        if isinstance(label, Literal):
            kinds.setdefault(sol["s"].value, {})[label.language or ""] = label.value
    supers: dict[str, set[str]] = {k: set(v) for k, v in KNOWN_SUPERCLASSES.items()}
    type_names: dict[str, dict[str, str]] = {}
    class_query = f"""
        SELECT ?c ?p ?o WHERE {{
          VALUES ?p {{ <{_RDFS}subClassOf> <{PREF_LABEL}> <{RDFS_LABEL}> }}
          ?c ?p ?o FILTER(isIRI(?c) && !STRSTARTS(STR(?c), {Literal(space)}))
        }}"""
    for sol in select(store, class_query):
        c, p, o = sol["c"].value, sol["p"].value, sol["o"]
        if p.endswith("subClassOf"):
            if isinstance(o, NamedNode):
                supers.setdefault(c, set()).add(o.value)
        elif isinstance(o, Literal):
            by_lang = type_names.setdefault(c, {})
            if p == PREF_LABEL or (o.language or "") not in by_lang:
                by_lang[o.language or ""] = o.value
    entries: list[Entry] = []
    aliases: list[Alias] = []
    for iri in sorted(labels):
        entry_types = tuple(sorted(set(types.get(iri, ()))))
        if EXCLUDED_TYPES.intersection(entry_types):
            continue
        closure: set[str] = set()
        for t in entry_types:
            closure |= _closure_of(t, supers)
        found = labels[iri]
        names: dict[str, str] = {}
        for prop in (PREF_LABEL, RDFS_LABEL, ALT_LABEL):
            for p, lang, value in sorted(found):
                if p == prop:
                    names.setdefault(lang, value)
        ordered = tuple(
            dict.fromkeys(
                (lang, value)
                for prop in (PREF_LABEL, RDFS_LABEL, ALT_LABEL)
                for p, lang, value in found
                if p == prop
            )
        )
        index = len(entries)
        entries.append(
            Entry(
                iri=iri,
                id=iri[len(space) :],
                names=names,
                labels=ordered,
                types=entry_types,
                type_closure=frozenset(closure),
                kind=kinds.get(iri, {}),
            )
        )
        parent_labels = [
            (lang, value)
            for parent in sorted(parents.get(iri, ()))
            for p, lang, value in labels.get(parent, ())
        ]
        seen: set[tuple[str, str | None]] = set()
        for lang, value in ordered:
            variants = label_variants(value)
            variants += [(v, 0.95) for v in _without_parent(value, lang, parent_labels)]
            for variant, weight in variants:
                key = name_key(variant)
                if key.empty or (key.key, key.unit) in seen and weight < 1.0:
                    continue
                seen.add((key.key, key.unit))
                jamo = unicodedata.normalize("NFD", key.key)
                aliases.append(Alias(index, key, jamo, weight, lang))
    return ReconcileIndex(space, entries, aliases, type_names, supers, store)


@dataclass(frozen=True)
class TeamLink:
    """A team an entity belongs to, and as what."""

    id: str
    name: str
    role: str


@dataclass(frozen=True)
class PreviewCard:
    """What the preview card of one entity shows."""

    id: str
    iri: str
    name: str
    kind: str
    #: every label, (language, text), preferred first
    labels: tuple[tuple[str, str], ...]
    teams: tuple[TeamLink, ...]
    #: the article's sentence that names it (or the first it was derived from), if any
    sentence: str | None


def _literal_in(values: dict[str, str], lang: str) -> str:
    for want in (lang, "en", ""):
        if want in values:
            return values[want]
    return next(iter(values.values()), "")


def preview_card(index: ReconcileIndex, entry: Entry, lang: str) -> PreviewCard:
    """The preview of one entity: labels, kind, teams (through memberships) and the source
    sentence, read from the store."""
    iri = NamedNode(entry.iri)
    teams: dict[str, TeamLink] = {}
    team_query = f"""
        SELECT ?t ?rl WHERE {{
          ?m <{_ORG}member> {iri} ; <{_ORG}organization> ?t .
          OPTIONAL {{ ?m <{_ORG}role> ?r . ?r <{PREF_LABEL}> ?rl }}
        }}"""
    roles: dict[str, dict[str, str]] = {}
    for sol in select(index.store, team_query):
        team = sol["t"]
        if not isinstance(team, NamedNode):
            continue
        label = sol["rl"]
        if isinstance(label, Literal):
            roles.setdefault(team.value, {})[label.language or ""] = label.value
        else:
            roles.setdefault(team.value, {})
    for team_iri, role in sorted(roles.items()):
        team_entry = index.entries[index.by_iri[team_iri]] if team_iri in index.by_iri else None
        name = team_entry.name(lang) if team_entry else local_name(team_iri)
        teams[team_iri] = TeamLink(index.id_of(team_iri), name, _literal_in(role, lang))
    sentence_query = f"""
        SELECT ?text ?para ?sent WHERE {{
          {iri} <{_PROV}wasDerivedFrom> ?p .
          {{ ?p <{_OA}exact> ?text }} UNION {{ ?p <{_OA}hasSelector>/<{_OA}exact> ?text }}
          OPTIONAL {{ ?p <{_KSAI}paragraph> ?para }}
          OPTIONAL {{ ?p <{_KSAI}sentence> ?sent }}
        }}"""
    found: list[tuple[int, int, str]] = []
    for sol in select(index.store, sentence_query):
        text = sol["text"]
        if not isinstance(text, Literal):
            continue
        para, sent = sol["para"], sol["sent"]
        found.append(
            (
                int(para.value) if isinstance(para, Literal) and para.value.isdigit() else 0,
                int(sent.value) if isinstance(sent, Literal) and sent.value.isdigit() else 0,
                text.value,
            )
        )
    found.sort()
    named = [t for _, _, t in found if any(value in t for _, value in entry.labels)]
    sentence = named[0] if named else (found[0][2] if found else None)
    return PreviewCard(
        id=entry.id,
        iri=entry.iri,
        name=entry.name(lang),
        kind=index.describe(entry, lang),
        labels=entry.labels,
        teams=tuple(teams.values()),
        sentence=sentence,
    )
