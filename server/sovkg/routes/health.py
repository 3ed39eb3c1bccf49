"""``GET /health``: whether the server can answer queries."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter()

#: a healthy server answers a trivial query within this many seconds
HEALTH_TIMEOUT = 5.0


@router.get("/health")
async def health(request: Request) -> JSONResponse:
    """200 when a trivial query is answered in time (so a worker is free and has the data),
    503 with the reason otherwise: all workers stuck, the pool gone, the store unreadable."""
    engine = request.app.state.engine
    try:
        body = await asyncio.wait_for(engine.select_json("ASK { ?s ?p ?o }"), HEALTH_TIMEOUT)
    except TimeoutError:
        return JSONResponse(
            {
                "status": "unavailable",
                "error": f"no answer to a trivial query in {HEALTH_TIMEOUT:g} s",
            },
            status_code=503,
        )
    except Exception as e:  # noqa: BLE001 - any failure means not healthy: say which
        return JSONResponse({"status": "unavailable", "error": str(e)}, status_code=503)
    return JSONResponse({"status": "ok", "data": b"true" in body})
