"""``/sparql``: the SPARQL 1.1 Protocol (queries; the full protocol grows in its own issue)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

router = APIRouter()


async def _answer(request: Request, query: str | None) -> Response:
    if not query:
        return PlainTextResponse("missing 'query' parameter\n", status_code=400)
    try:
        body = await request.app.state.engine.select_json(query)
    except SyntaxError as e:
        return PlainTextResponse(f"SPARQL syntax error: {e}\n", status_code=400)
    return Response(body, media_type="application/sparql-results+json")


@router.get("/sparql")
async def sparql_get(request: Request) -> Response:
    """Query by GET ``?query=``."""
    return await _answer(request, request.query_params.get("query"))


@router.post("/sparql")
async def sparql_post(request: Request) -> Response:
    """Query by POST, form-encoded or ``application/sparql-query``."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/sparql-query":
        return await _answer(request, (await request.body()).decode("utf-8"))
    form = await request.form()
    return await _answer(request, str(form.get("query") or ""))
