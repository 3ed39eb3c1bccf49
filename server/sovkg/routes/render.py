"""HTML rendering for the route handlers: one Jinja2 environment (autoescaping on) and the
headers every page gets."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.responses import HTMLResponse

from sovkg import __version__
from sovkg.http.headers import DEFAULT_CSP
from sovkg.linkeddata.i18n import texts

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"

#: pages load nothing from other origins and run no script at all (one policy for every page)
CONTENT_SECURITY_POLICY = DEFAULT_CSP

HTML_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

_env = Environment(
    loader=FileSystemLoader(TEMPLATE_DIR),
    autoescape=True,  # every template, whatever its name: labels and IRIs are data, not markup
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(
    template: str, lang: str, root_path: str = "", lang_query: str = "", **context: object
) -> str:
    """Render a page template with the shared context (language, words, links home);
    ``lang_query`` (``?lang=ko``) is appended to the site's own navigation links."""
    return _env.get_template(template).render(
        lang=lang, t=texts(lang), root=root_path, lq=lang_query, version=__version__, **context
    )


def html_response(
    body: str, status_code: int = 200, headers: dict[str, str] | None = None
) -> HTMLResponse:
    """An HTML response with the security headers every page carries."""
    return HTMLResponse(body, status_code=status_code, headers={**HTML_HEADERS, **(headers or {})})
