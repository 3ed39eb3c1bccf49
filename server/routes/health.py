"""``GET /health``: whether the server can answer queries."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter()


@router.get("/health")
async def health(request: Request) -> JSONResponse:
    """200 with the triple count when a trivial query runs, 503 otherwise."""
    engine = request.app.state.engine
    try:
        body = await engine.select_json("ASK { ?s ?p ?o }")
    except Exception as e:  # noqa: BLE001 - any failure here means "not healthy"
        return JSONResponse({"status": "unavailable", "error": str(e)}, status_code=503)
    return JSONResponse({"status": "ok", "data": b"true" in body})
