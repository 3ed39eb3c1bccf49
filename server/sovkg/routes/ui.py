"""The query UI for people: YASGUI, bundled in ``server/static/yasgui``, on the project's data.

``GET /sparql`` answers browsers (``Accept: text/html``) with :func:`query_ui_response`; the
page is also at ``GET /sparql/ui``. Nothing on the page comes from another origin: the script
and styles are served from ``/static``, the configuration travels as a JSON data island (no
inline script), and YASGUI's autocompleters that call LOV or prefix.cc are switched off.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.types import Scope

from sovkg import __version__
from sovkg.namespaces import PREFIXES, THING_BASE
from sovkg.queries import load_examples, with_prologue

PACKAGE_DIR = Path(__file__).resolve().parent.parent
STATIC_DIR = PACKAGE_DIR / "static"
TEMPLATE_DIR = PACKAGE_DIR / "templates"

#: The page loads only what this server serves. Styles allow 'unsafe-inline' because YASR's
#: column resizer adds <style> elements from script (a strict style-src logs a violation on
#: every result table); scripts stay strictly 'self' and the page has no inline script.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

router = APIRouter()

_templates = Environment(
    loader=FileSystemLoader(TEMPLATE_DIR),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def ui_config(root_path: str = "") -> dict:
    """What the browser script needs: endpoint path, tabs, prefixes, a storage key.

    The storage key changes whenever the shipped tabs change, so a browser that kept the tabs
    of an older release in localStorage shows the new questions instead of stale ones.
    """
    tabs = [
        {"name": ex.title, "question": ex.question, "query": with_prologue(ex)}
        for ex in load_examples()
    ]
    digest = hashlib.sha256(
        json.dumps([__version__, tabs], sort_keys=True).encode("utf-8")
    ).hexdigest()[:12]
    return {
        "endpoint": f"{root_path}/sparql",
        "tabs": tabs,
        "prefixes": PREFIXES,
        "thingBase": THING_BASE,
        "persistenceId": f"sovkg-query-ui-{digest}",
    }


def query_ui_response(request: Request) -> HTMLResponse:
    """The query page, for ``GET /sparql`` when a browser asks for HTML (and ``/sparql/ui``)."""
    root_path = request.scope.get("root_path", "").rstrip("/")
    config = ui_config(root_path)
    html = _templates.get_template("query_ui.html").render(
        config=config, root_path=root_path, version=__version__
    )
    return HTMLResponse(html, headers={**SECURITY_HEADERS, "Vary": "Accept"})


@router.get("/sparql/ui", response_class=HTMLResponse)
async def query_ui(request: Request) -> HTMLResponse:
    """The query UI at a URL of its own, whatever the browser's Accept header says."""
    return query_ui_response(request)


class _StaticFiles(StaticFiles):
    """StaticFiles that tells browsers not to guess content types (the served files are code)."""

    async def get_response(self, path: str, scope: Scope):
        response = await super().get_response(path, scope)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response


def mount_static(app: FastAPI) -> None:
    """Serve ``server/static`` at ``/static`` (once, even if several surfaces ask for it)."""
    if any(getattr(r, "path", None) == "/static" for r in app.routes):
        return
    app.mount("/static", _StaticFiles(directory=STATIC_DIR), name="static")
