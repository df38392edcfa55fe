"""Liveness and readiness for load balancers and the container HEALTHCHECK (no key needed)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from app.api.deps import AnalyzerDep
from app.schemas import Health

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=Health,
    response_model_exclude_none=True,
    responses={503: {"model": Health, "description": "Starting, or the model or database is unavailable."}},
)
async def health(request: Request, analyzer: AnalyzerDep) -> JSONResponse | Health:
    """`{"status": "ok"}` once a pose model is loaded and the database answers; 503 otherwise."""
    if analyzer.state != "ok":
        return _not_ok(Health(status=analyzer.state, detail=analyzer.detail or "The pose model is loading."))
    if not await run_in_threadpool(request.app.state.db.ping):
        return _not_ok(Health(status="unavailable", detail="The database does not answer."))
    return Health(status="ok")


def _not_ok(health: Health) -> JSONResponse:
    return JSONResponse(health.model_dump(exclude_none=True), status_code=503)
