"""Names as matching keys: the same organisation however a person or an article writes it.

A name becomes a :class:`NameKey`: Unicode NFKC (full-width letters, ``㈜`` → ``(주)``), case
folded, punctuation dropped, legal-form affixes (``(주)``, ``주식회사``, ``Co., Ltd.``) removed,
a few English abbreviations spelt out (``Univ.`` → ``university``), and spaces removed for the
comparison key, because Korean spacing varies (``LG 유플러스`` / ``LG유플러스``).

Some words name a *kind of unit* rather than the organisation: ``산학협력단`` (a university's
industry-academic cooperation foundation) and ``정예팀`` / ``team`` / ``컨소시엄``. They are taken
off the end of the key and kept as its :attr:`NameKey.unit`, so that ``서울대 산학협력단`` and
``서울대`` share a base name but not a unit: each finds its own entity first and the other one
second.

Fuzzy comparisons use :attr:`NameKey.jamo`, the key with Hangul syllables decomposed into their
letters (NFD), so a one-letter slip in Korean costs one letter, not a whole syllable.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

#: legal-form affixes anywhere in a Korean name (after NFKC, ``㈜`` is ``(주)``)
_KO_LEGAL = re.compile(
    r"\(\s*(?:주|유|사|재|합)\s*\)|주식회사|유한책임회사|유한회사|사단법인|재단법인|합자회사"
)
#: legal-form words at the end of a Latin name
_LATIN_LEGAL = frozenset(
    {"inc", "incorporated", "corp", "co", "ltd", "limited", "llc", "plc", "gmbh", "sa", "ag"}
)
#: English abbreviations integrators write, spelt out as the graph writes them
_ABBREVIATIONS = {
    "univ": "university",
    "natl": "national",
    "inst": "institute",
    "intl": "international",
    "dept": "department",
    "assoc": "association",
    "&": "and",
}
#: words that name a kind of unit, by unit; matched at the end of a name
UNIT_WORDS: dict[str, tuple[str, ...]] = {
    "iacf": (
        "산학협력단",
        "industry academic cooperation foundation",
        "industry university cooperation foundation",
        "iacf",
    ),
    "team": ("정예팀", "컨소시엄", "consortium", "team"),
}
#: words too common to make an acronym letter
_ACRONYM_SKIP = frozenset({"of", "and", "the", "for", "in", "on", "at", "de"})
#: Korean particles that may cling to a Latin name in running text (``KAIST이``, ``SK와``)
_PARTICLE_AFTER_LATIN = re.compile(r"(?<=[a-z0-9])(?:이|가|은|는|을|를|와|과|도|의|에|로|으로)$")
_SPACE = re.compile(r"\s+")


def _is_separator(ch: str) -> bool:
    cat = unicodedata.category(ch)
    return cat[0] in "PSZC" and ch != "&"


def clean(text: str) -> str:
    """NFKC, case folded, legal-form affixes removed, punctuation turned into spaces,
    abbreviations spelt out; words separated by single spaces."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _KO_LEGAL.sub(" ", text)
    text = text.replace("&", " & ")
    text = "".join(" " if _is_separator(ch) else ch for ch in text)
    words = [_ABBREVIATIONS.get(w, w) for w in text.split()]
    while len(words) > 1 and words[-1] in _LATIN_LEGAL:
        words.pop()
    return " ".join(words)


def _split_unit(spaced: str) -> tuple[str, str | None]:
    """``(base, unit)``: the name without a trailing unit word, and which unit it was."""
    compact = spaced.replace(" ", "")
    for unit, words in UNIT_WORDS.items():
        for word in words:
            w = word.replace(" ", "")
            if compact.endswith(w) and len(compact) > len(w):
                # cut the same letters off the spaced form
                kept, cut = [], len(w)
                for ch in reversed(spaced):
                    if cut > 0:
                        if ch != " ":
                            cut -= 1
                        continue
                    kept.append(ch)
                return "".join(reversed(kept)).strip(), unit
    return spaced, None


@dataclass(frozen=True)
class NameKey:
    """A name ready for comparison."""

    #: the cleaned name without its unit word, words separated by spaces
    spaced: str
    #: ``spaced`` without spaces: what exact matching compares
    key: str
    #: the unit word's kind (``"iacf"``, ``"team"``) or None
    unit: str | None
    #: the whole cleaned name without spaces, unit word included: what prefix search compares
    full: str

    @property
    def jamo(self) -> str:
        """``key`` with Hangul syllables decomposed (for edit distances)."""
        return unicodedata.normalize("NFD", self.key)

    @property
    def empty(self) -> bool:
        """Whether nothing comparable is left (a name of punctuation only)."""
        return not self.key


def name_key(text: str) -> NameKey:
    """The key of one name."""
    spaced_full = clean(text)
    base, unit = _split_unit(spaced_full)
    return NameKey(
        spaced=base, key=base.replace(" ", ""), unit=unit, full=spaced_full.replace(" ", "")
    )


def label_variants(text: str) -> list[tuple[str, float]]:
    """Other ways people write a label, each with how much a match on it is worth (1.0 for the
    label itself): the parts outside and inside parentheses (``POSTECH (Pohang University …)``),
    the short form of a Korean university (``연세대학교`` → ``연세대``), and the acronym of a
    Latin name of three or more words (``Seoul National University`` → ``SNU``)."""
    out: list[tuple[str, float]] = [(text, 1.0)]
    nfkc = unicodedata.normalize("NFKC", text)
    outside = re.sub(r"\([^)]*\)", " ", _KO_LEGAL.sub(" ", nfkc)).strip()
    inside = [m.strip() for m in re.findall(r"\(([^)]*)\)", _KO_LEGAL.sub(" ", nfkc))]
    parts = [p for p in [outside, *inside] if p and p != text]
    out.extend((p, 0.98) for p in parts)
    for name in [text, *parts]:
        key = name_key(name)
        if key.key.endswith("대학교") and len(key.key) > 3:
            short = key.spaced[: -len("학교")] if key.spaced.endswith("학교") else key.spaced
            unit_words = {"iacf": "산학협력단", "team": "정예팀"}
            suffix = f" {unit_words[key.unit]}" if key.unit else ""
            out.append((short + suffix, 0.97))
        words = [w for w in key.spaced.split() if w.isascii() and w.isalpha()]
        if "(" not in name and len(words) == len(key.spaced.split()):
            letters = "".join(w[0] for w in words if w not in _ACRONYM_SKIP)
            if len(letters) >= 3:
                unit_words = {"iacf": "iacf", "team": "team"}
                suffix = f" {unit_words[key.unit]}" if key.unit else ""
                out.append((letters + suffix, 0.9))
    seen: set[str] = set()
    unique = []
    for variant, weight in out:
        k = name_key(variant)
        ident = f"{k.key}|{k.unit}"
        if not k.empty and ident not in seen:
            seen.add(ident)
            unique.append((variant, weight))
    return unique


def query_variants(text: str) -> list[tuple[NameKey, float]]:
    """The keys a query is tried as: itself, and without a Korean particle clinging to a Latin
    name (``KAIST이`` as printed in running text is KAIST)."""
    key = name_key(text)
    out = [(key, 1.0)]
    stripped = _PARTICLE_AFTER_LATIN.sub("", key.spaced)
    if stripped != key.spaced and stripped:
        out.append((name_key(stripped), 0.95))
    return out


def normalise_space(text: str) -> str:
    """Collapse runs of whitespace (for echoing names back)."""
    return _SPACE.sub(" ", text).strip()
