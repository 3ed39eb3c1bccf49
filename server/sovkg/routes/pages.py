"""The home page (``GET /``) and the stylesheet of the Linked Data pages."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response
from starlette.concurrency import run_in_threadpool

from sovkg.linkeddata.home import build_home
from sovkg.routes.render import html_response, render
from sovkg.routes.web import builder_for, lang_query, language, root_path, store_of

router = APIRouter()

_CSS = Path(__file__).resolve().parent.parent / "static" / "site" / "site.css"


def _home(request: Request) -> Response:
    lang = language(request)
    page = build_home(store_of(request), builder_for(request, lang), lang)
    body = render("home.html", lang, root_path(request), lang_query(request), page=page)
    return html_response(body, headers={"Vary": "Accept-Language"})


@router.api_route("/", methods=["GET", "HEAD"])
async def home(request: Request) -> Response:
    """What the dataset is, where it comes from, the teams, the overlap drawing, the links."""
    return await run_in_threadpool(_home, request)


@router.get("/static/site/site.css", include_in_schema=False)
async def stylesheet() -> FileResponse:
    """The stylesheet (also reachable through a /static mount, if the app has one)."""
    return FileResponse(
        _CSS,
        media_type="text/css",
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "public, max-age=3600"},
    )
