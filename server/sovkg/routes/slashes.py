"""The redirect between a path with a trailing slash and the route without it (or the other
way round), as a relative reference.

The framework's own redirect writes an absolute URL built from the ``Host`` header, or from
the server's address when the header is empty. Behind a proxy that address is not the
client's, and under ``X-Forwarded-Prefix`` the path misses the prefix. A relative reference
(RFC 9110 §10.2.2, RFC 3986 §5.2) is resolved by the client against the URL it asked for, so
``/ontology/`` -> ``../ontology`` and ``/kg/ontology/`` -> ``/kg/ontology`` alike.
"""

from __future__ import annotations

from starlette.responses import RedirectResponse
from starlette.routing import Match, Router
from starlette.types import Receive, Scope, Send


def relative_location(raw_path: str, query: str) -> str | None:
    """The relative reference from ``raw_path`` to the same path with its trailing slash
    removed, or with one added. None for a path with no segment to name, and for one that
    ends in several slashes: clients resolve ``..`` over empty segments differently (Python's
    ``urljoin`` unlike RFC 3986 and browsers), so those get the 404 they name."""
    target = raw_path.removesuffix("/")
    segment = target.rpartition("/")[2]
    if not segment:
        return None
    if raw_path.endswith("/"):  # up from the directory the slash names, to the segment
        location = "../" + segment
    else:  # "./" so that a segment with a colon is not read as a scheme
        location = f"./{segment}/"
    return f"{location}?{query}" if query else location


class SlashRedirect:
    """The router's fallback: a 307 to the route the path names with or without a trailing
    slash, else the router's own 404."""

    def __init__(self, router: Router) -> None:
        router.redirect_slashes = False  # replaced by this, which runs where it ran
        self.router = router
        self.not_found = router.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        if scope["type"] == "http" and path != "/":
            other = dict(scope)
            other["path"] = path.rstrip("/") if path.endswith("/") else path + "/"
            if any(route.matches(other)[0] is not Match.NONE for route in self.router.routes):
                raw = scope.get("raw_path") or path.encode("utf-8")
                location = relative_location(
                    raw.decode("latin-1"), scope.get("query_string", b"").decode("latin-1")
                )
                if location is not None:
                    await RedirectResponse(location, status_code=307)(scope, receive, send)
                    return
        await self.not_found(scope, receive, send)
