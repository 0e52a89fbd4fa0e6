"""Liveness and readiness probes (`/health`, `/ready`), for load balancers and orchestrators."""

from __future__ import annotations

import asyncio
import json

from fastapi import APIRouter, Request
from sqlalchemy import text
from starlette.responses import Response

from ocrgw.context import AppContext
from ocrgw.queue.local import LocalDispatcher

router = APIRouter()


@router.get("/health", tags=["Operations"], operation_id="health", summary="Liveness")
async def health() -> dict:
    """The process is up and serving HTTP."""
    return {"status": "ok"}


@router.get(
    "/ready",
    tags=["Operations"],
    operation_id="ready",
    summary="Readiness",
    responses={503: {"description": "The database or the queue is not reachable."}},
)
async def ready(request: Request) -> Response:
    """Ready to take work: the database answers, and the broker (scale-out) or the local worker
    processes (embedded) are there."""
    ctx: AppContext = request.app.state.ctx
    checks: dict[str, str] = {}
    try:
        async with asyncio.timeout(5), ctx.db() as s:
            await s.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    dispatcher: LocalDispatcher | None = request.app.state.dispatcher
    if dispatcher is not None:
        alive = dispatcher.live_workers()
        checks["workers"] = f"ok ({alive})" if alive else "error: no live worker process"
    else:
        try:
            await asyncio.wait_for(asyncio.to_thread(ctx.queue.ping), 8)  # type: ignore[attr-defined]
            checks["broker"] = "ok"
        except Exception as exc:
            checks["broker"] = f"error: {type(exc).__name__}"
    ok = all(v.startswith("ok") for v in checks.values())
    body = json.dumps({"status": "ready" if ok else "not ready", **checks})
    return Response(body, status_code=200 if ok else 503, media_type="application/json")
