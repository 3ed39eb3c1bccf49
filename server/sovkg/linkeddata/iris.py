"""Where the graph's IRIs live on this server, and back.

The things of the graph are minted under ``thing_base`` (``https://w3id.org/ksai/``); this server
answers for them under its own URL: ``{thing_base}id/team/x`` is ``/id/team/x`` here,
``{thing_base}ontology#Consortium`` is ``/ontology#Consortium``. Pages link to the local paths
(prefixed with the ASGI root path) so that navigation works on any deployment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

#: path prefixes under the thing base that this server answers for
SERVED_PREFIXES = ("id/", "ontology", "shapes")

_SAFE = "/#:@!$&'()*+,;=~-._%?"


@dataclass(frozen=True)
class IriMapper:
    """Maps graph IRIs to local links and request paths to graph IRIs."""

    thing_base: str = "https://w3id.org/ksai/"
    root_path: str = ""
    #: appended to local links (``?lang=ko``) so a language chosen explicitly stays chosen
    query: str = ""

    def is_served(self, iri: str) -> bool:
        """Whether this server has a page for ``iri`` (a thing, the ontology or the shapes)."""
        if not iri.startswith(self.thing_base):
            return False
        rest = iri[len(self.thing_base) :]
        return rest.startswith("id/") or rest.split("#")[0] in ("ontology", "shapes")

    def href(self, iri: str) -> str | None:
        """The link to use in a page: the local path for served IRIs, the IRI itself for other
        http(s) IRIs, and None for any other scheme (``javascript:`` is a valid IRI too)."""
        if self.is_served(iri):
            path, hash_, fragment = iri[len(self.thing_base) :].partition("#")
            link = self.root_path + "/" + quote(path, safe=_SAFE) + self.query
            return link + hash_ + quote(fragment, safe=_SAFE)
        if iri.lower().startswith(("http://", "https://")):
            return iri
        return None

    def thing_iri(self, path: str) -> str:
        """The IRI a request path (``/id/team/x``, as sent, maybe percent-encoded) stands for."""
        return self.thing_base + path.lstrip("/")

    def candidate_iris(self, raw_path: str) -> list[str]:
        """IRIs a request path may name: as sent, and percent-decoded (browsers encode
        non-ASCII and some punctuation; the graph may hold either form)."""
        out = [self.thing_iri(raw_path)]
        decoded = self.thing_iri(unquote(raw_path))
        if decoded not in out:
            out.append(decoded)
        return out


#: characters an IRI may not hold (RFC 3987): controls, space and ``<>"{}|\^```
_NOT_IN_IRIS = re.compile(r'[\x00-\x20\x7f-\x9f<>"{}|\\^`]')


def readable_iri(iri: str) -> str:
    """``iri`` percent-decoded for people (non-ASCII letters shown as such), except for the
    characters no IRI may hold, which stay percent-encoded: a NUL or an escape sequence sent
    in a path is never echoed raw."""
    return _NOT_IN_IRIS.sub(
        lambda m: "".join(f"%{b:02X}" for b in m.group().encode("utf-8")), unquote(iri)
    )
