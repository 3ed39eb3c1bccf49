"""``/reconcile``: the W3C Reconciliation Service API (0.2), as OpenRefine speaks it; and
``/search``, the page behind the search box.

Thin: the index and the matching live in ``sovkg.linkeddata.reconcile``, the API's rules
(manifest, reading a batch, limits, JSON) in ``sovkg.linkeddata.reconcile_api``. Every answer
is open to every origin (CORS, no credentials); GET answers also come as JSONP with
``callback=``. Matching runs in a worker thread, never on the event loop.

- ``GET /reconcile``: the service manifest; ``GET|POST /reconcile`` with ``queries=``: results
- ``GET /reconcile/suggest/entity?prefix=``, ``/reconcile/suggest/type?prefix=``: suggestions
- ``GET /reconcile/preview?id=``: an HTML card for an iframe (OpenRefine shows it on hover)
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from sovkg import __version__
from sovkg.linkeddata.reconcile import ReconcileIndex, preview_card
from sovkg.linkeddata.reconcile_api import (
    DEFAULT_LIMITS,
    Limits,
    ReconcileError,
    jsonp,
    manifest,
    parse_batch,
    parse_int,
    run_batch,
    suggest_json,
    suggest_types_json,
)
from sovkg.routes.render import HTML_HEADERS, html_response, render
from sovkg.routes.web import (
    lang_query,
    language,
    ld_state,
    mapper_for,
    public_base,
    root_path,
)

router = APIRouter()

METHODS = "GET, HEAD, POST, OPTIONS"
#: every reconciliation answer may be read from any origin (the spec makes CORS mandatory)
CORS = {"Access-Control-Allow-Origin": "*"}
PREFLIGHT = {
    **CORS,
    "Access-Control-Allow-Methods": METHODS,
    "Access-Control-Allow-Headers": "Accept, Accept-Language, Content-Type",
    "Access-Control-Max-Age": "86400",
    "Allow": METHODS,
}
FORM = "application/x-www-form-urlencoded"

#: the preview card is shown inside other applications' iframes: framing is allowed, and it
#: loads nothing but this server's stylesheet
PREVIEW_CSP = "; ".join(
    [
        "default-src 'none'",
        "style-src 'self'",
        "img-src 'self' data:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors *",
    ]
)

#: the words of the preview card and the search page
WORDS = {
    "en": {
        "labels": "Labels",
        "teams": "Member of",
        "sentence": "In the article",
        "search": "Search",
        "results": "Results for",
        "none": "Nothing of that name is in the graph.",
        "match": "match",
        "open": "Open the page",
    },
    "ko": {
        "labels": "이름",
        "teams": "소속",
        "sentence": "기사 문장",
        "search": "검색",
        "results": "검색 결과:",
        "none": "그 이름은 그래프에 없다.",
        "match": "일치",
        "open": "페이지 열기",
    },
}


def limits_of(request: Request) -> Limits:
    """The limits of one request (the same for every request: see ``Limits``)."""
    return DEFAULT_LIMITS


def index_of(request: Request) -> ReconcileIndex:
    """The index, built on first use and again after the store changed."""
    return ld_state(request).reconcile_index(request.app.state.settings.thing_base)


def _json(data: Any, callback: str | None, status: int = 200) -> Response:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    try:
        body = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from the request, echoed in a message
        body = json.dumps(data, separators=(",", ":")).encode("ascii")
    if callback is not None:
        return Response(
            jsonp(body, callback),
            status_code=status,
            media_type="application/javascript; charset=utf-8",
            headers=CORS,
        )
    return Response(
        body, status_code=status, media_type="application/json; charset=utf-8", headers=CORS
    )


def _error(e: ReconcileError) -> Response:
    """A refusal as JSON, readable from any origin (never as JSONP: the callback may be what
    was wrong)."""
    return _json({"status": e.status, "error": str(e)}, None, e.status)


def _answer(request: Request, params: list[tuple[str, str]]) -> Response:
    """Manifest or results, from the request's parameters (query string and form)."""
    values = dict(params)
    callback = values.get("callback")
    try:
        if callback is not None:
            jsonp(b"", callback)  # refuse a bad name before doing any work
        if "extend" in values:
            raise ReconcileError("this service offers no data extension ('extend')")
        index = index_of(request)
        if "queries" not in values:
            base = public_base(request)
            return _json(manifest(index, base, __version__, limits_of(request)), callback)
        limits = limits_of(request)
        queries = parse_batch(values["queries"], limits)
        return _json(run_batch(index, queries, language(request), limits), callback)
    except ReconcileError as e:
        return _error(e)


@router.api_route("/reconcile", methods=["GET", "HEAD"])
async def reconcile_get(request: Request) -> Response:
    """The service manifest, or the results of ``?queries=``."""
    params = list(request.query_params.multi_items())
    return await run_in_threadpool(_answer, request, params)


@router.post("/reconcile")
async def reconcile_post(request: Request) -> Response:
    """The results of a form POST of ``queries=`` (the way OpenRefine sends them)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != FORM:
        return _error(
            ReconcileError(
                f"POST /reconcile takes {FORM} with a 'queries' field, not {media or 'no type'}",
                415,
            )
        )
    body = await request.body()
    try:
        text = body.decode("utf-8")
        form = parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        return _error(ReconcileError("the form body is not UTF-8"))
    params = list(request.query_params.multi_items()) + form
    return await run_in_threadpool(_answer, request, params)


@router.options("/reconcile")
@router.options("/reconcile/{rest:path}")
async def reconcile_preflight() -> Response:
    """CORS preflight: any origin may call every part of the service."""
    return Response(status_code=204, headers=PREFLIGHT)


def _suggest(request: Request, kind: str) -> Response:
    params = request.query_params
    callback = params.get("callback")
    try:
        if callback is not None:
            jsonp(b"", callback)
        limits = limits_of(request)
        index = index_of(request)
        prefix = params.get("prefix", "")
        lang = language(request)
        if kind == "entity":
            cursor = parse_int(params.get("cursor"), "cursor")
            return _json(suggest_json(index, prefix, lang, cursor, limits), callback)
        return _json(suggest_types_json(index, prefix, lang, limits), callback)
    except ReconcileError as e:
        return _error(e)


@router.get("/reconcile/suggest/entity")
async def suggest_entity(request: Request) -> Response:
    """Entities whose names start with ``prefix`` (the search box and OpenRefine use it)."""
    return await run_in_threadpool(_suggest, request, "entity")


@router.get("/reconcile/suggest/type")
async def suggest_type(request: Request) -> Response:
    """Types of the indexed things whose names start with ``prefix``."""
    return await run_in_threadpool(_suggest, request, "type")


def _preview(request: Request) -> Response:
    ident = request.query_params.get("id", "")
    lang = language(request)
    headers = {**HTML_HEADERS, **CORS, "Content-Security-Policy": PREVIEW_CSP}
    if not ident.strip():
        return Response(
            "the preview needs ?id= (an identifier or IRI)\n",
            status_code=400,
            media_type="text/plain; charset=utf-8",
            headers=CORS,
        )
    index = index_of(request)
    entry = index.entry_for(ident)
    if entry is None:
        return Response(
            f"nothing in the graph has the identifier {ident[:200]!r}\n",
            status_code=404,
            media_type="text/plain; charset=utf-8",
            headers=CORS,
        )
    card = preview_card(index, entry, lang)
    body = render(
        "reconcile_preview.html",
        lang,
        root_path(request),
        lang_query(request),
        card=card,
        href=mapper_for(request).href(entry.iri),
        w=WORDS[lang],
    )
    return html_response(body, headers=headers)


@router.get("/reconcile/preview")
async def preview(request: Request) -> Response:
    """A small HTML card for one entity: labels, kind, teams, the sentence that names it."""
    return await run_in_threadpool(_preview, request)


def _search(request: Request) -> Response:
    lang = language(request)
    text = request.query_params.get("q", "").strip()
    limits = limits_of(request)
    found: list[dict[str, Any]] = []
    error = None
    if text:
        try:
            batch = parse_batch(json.dumps({"q": {"query": text, "limit": 20}}), limits)
            index = index_of(request)
            mapper = mapper_for(request)
            for c in index.reconcile(batch["q"], lang):
                found.append(
                    {
                        "href": mapper.href(c.entry.iri),
                        "name": c.entry.name(lang),
                        "description": index.describe(c.entry, lang),
                        "match": c.match,
                    }
                )
        except ReconcileError as e:
            error = str(e)
    status = 400 if error else 200
    body = render(
        "reconcile_search.html",
        lang,
        root_path(request),
        lang_query(request),
        q=text,
        found=found,
        error=error,
        w=WORDS[lang],
    )
    return html_response(body, status_code=status, headers={"Vary": "Accept-Language"})


@router.get("/search")
async def search(request: Request) -> Response:
    """The search box's page for browsers without script: the candidates for ``q``."""
    return await run_in_threadpool(_search, request)
