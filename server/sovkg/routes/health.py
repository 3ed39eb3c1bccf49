"""``GET /health``: whether the server can answer queries.

The probe is a trivial query (:data:`HEALTH_QUERY`, which a query worker answers) with a
deadline of :data:`HEALTH_TIMEOUT`:

- answered in time: ``200 {"status": "ok", "data": <whether the store holds any triple>}``;
- not answered in time, but the query engine can still take a job within its own time limit
  (every query worker busy with a job that its supervisor ends at the job's deadline, so one is
  free by then; the runner says so with ``can_answer()``): ``200 {"status": "busy"}``. Busy is
  not down: this is what the server looks like while attacks are being cut;
- nothing can answer: ``503`` with the reason. That is the probe failing (the pool closed, the
  backend of ``--backend`` unreachable or failing, the store unreadable, the probe's worker
  dead), or no answer in time from a runner that cannot say it will answer (every worker dead
  and new ones failing to start, a backend that does not answer).
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter()

#: a healthy server answers a trivial query within this many seconds
HEALTH_TIMEOUT = 5.0


#: the trivial query: no plain lookup (``sovkg.sparql.lookup``), so it goes where other queries
#: go, to a query worker when there is a pool (``InlineRunner`` answers lookups in process)
HEALTH_QUERY = "ASK { ?s ?p ?o FILTER(true) }"


def _can_answer(engine: object) -> bool:
    """Whether the engine's runner (under its guard and the lookups answered in process) says
    a job given now will be answered within its time limit; False for runners that cannot
    tell."""
    runner = getattr(engine, "runner", None)
    while runner is not None:
        can_answer = getattr(runner, "can_answer", None)
        if callable(can_answer):
            return bool(can_answer())
        runner = getattr(runner, "inner", None)
    return False


@router.get("/health")
async def health(request: Request) -> JSONResponse:
    """200 when a trivial query is answered in time, or the engine is busy but will answer
    within its time limit; 503 with the reason when nothing can answer."""
    engine = request.app.state.engine
    try:
        body = await asyncio.wait_for(engine.select_json(HEALTH_QUERY), HEALTH_TIMEOUT)
    except TimeoutError:
        if _can_answer(engine):
            return JSONResponse(
                {
                    "status": "busy",
                    "detail": f"every query worker is busy (no answer in {HEALTH_TIMEOUT:g} s); "
                    "each ends by its time limit, so queries are still answered",
                }
            )
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
