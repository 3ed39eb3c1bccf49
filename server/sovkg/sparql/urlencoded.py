"""``application/x-www-form-urlencoded`` pairs (a query string or a form body), decoded as
:func:`urllib.parse.parse_qsl` decodes them with ``keep_blank_values=True`` and strict UTF-8,
but with the percent-escapes undone by C code rather than one dictionary lookup each.

A SPARQL query in a URL is mostly escapes (every space, brace and angle bracket), and the
standard library's ``unquote`` spends about as long on them as the engine spends on a cheap
query. Where a value has only well-formed escapes (``%`` and two hex digits), they are rewritten
as quoted-printable escapes and decoded by :func:`binascii.a2b_qp`, which does the same thing
for ``=XX``. Anything else (a stray ``%``) goes to ``unquote`` itself. The tests compare the two
on generated input.
"""

from __future__ import annotations

import re
from binascii import a2b_qp
from urllib.parse import unquote

#: a ``%`` that does not start a well-formed escape
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def unquote_plus_strict(text: str) -> str:
    """``urllib.parse.unquote(text.replace("+", " "), errors="strict")``: raises
    UnicodeDecodeError when the escapes are not UTF-8."""
    text = text.replace("+", " ")
    if "%" not in text:
        return text
    if _STRAY_PERCENT.search(text) is not None:
        return unquote(text, encoding="utf-8", errors="strict")
    # "=" would start an escape of its own: write it as one first, then "%XX" becomes "=XX"
    raw = text.encode("utf-8").replace(b"=", b"=3D").replace(b"%", b"=")
    return a2b_qp(raw).decode("utf-8")


def parse_pairs(text: str) -> list[tuple[str, str]]:
    """The name/value pairs of ``text``, in order, blank values kept (``name`` alone is
    ``(name, "")``); raises UnicodeDecodeError when an escape is not UTF-8."""
    pairs = []
    for part in text.split("&") if text else ():
        if not part:
            continue
        name, _, value = part.partition("=")
        pairs.append((unquote_plus_strict(name), unquote_plus_strict(value)))
    return pairs
