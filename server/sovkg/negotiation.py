"""HTTP content negotiation (RFC 9110 §12.5.1): Accept with q-values and wildcards.

Plain functions, shared by every surface that offers more than one representation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class MediaRange:
    """One element of an Accept header."""

    type: str
    subtype: str
    q: float
    specificity: int  # 0 for */*, 1 for type/*, 2 for type/subtype, 3 with parameters
    params: tuple[tuple[str, str], ...] = ()

    def matches(self, media_type: str) -> bool:
        """Whether this range covers ``media_type`` (``type/subtype``, parameters ignored)."""
        t, _, s = media_type.partition("/")
        return (self.type in ("*", t)) and (self.subtype in ("*", s))


def parse_accept(header: str | None) -> list[MediaRange]:
    """The media ranges of an Accept header; malformed elements are skipped, not fatal."""
    if not header or not header.strip():
        return [MediaRange("*", "*", 1.0, 0)]
    ranges = []
    for element in header.split(","):
        parts = [p.strip() for p in element.split(";")]
        mtype = parts[0].lower()
        if "/" not in mtype:
            if mtype == "*":  # seen in the wild (old Java clients): treat as */*
                mtype = "*/*"
            else:
                continue
        t, _, s = mtype.partition("/")
        if not t or not s or (t == "*" and s != "*"):
            continue
        q = 1.0
        params = []
        for p in parts[1:]:
            name, _, value = p.partition("=")
            name = name.strip().lower()
            value = value.strip().strip('"')
            if name == "q":
                try:
                    q = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    q = 0.0
            elif name:
                params.append((name, value))
        spec = 0 if t == "*" else 1 if s == "*" else 2
        ranges.append(MediaRange(t, s, q, spec + (1 if params else 0), tuple(params)))
    return ranges


def quality(ranges: Sequence[MediaRange], media_type: str) -> float:
    """The q the client gives ``media_type``: that of the most specific matching range."""
    best: MediaRange | None = None
    for r in ranges:
        if r.matches(media_type) and (best is None or r.specificity > best.specificity):
            best = r
    return best.q if best else 0.0


def negotiate(header: str | None, offers: Sequence[str]) -> str | None:
    """The offer the client prefers most, ties going to the earlier offer; None if none fits.

    ``offers`` are media types in the server's order of preference, so a bare ``*/*`` (or no
    Accept header) picks the first one.
    """
    ranges = parse_accept(header)
    best, best_q = None, 0.0
    for offer in offers:
        q = quality(ranges, offer)
        if q > best_q:
            best, best_q = offer, q
    return best
