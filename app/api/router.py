"""All API routes under `/api/v1`."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.routes import analyses, capture, health, history, movements, programmes, subjects, visits
from app.api.routes import report as report_routes

api_router = APIRouter(prefix="/api/v1")
api_router.include_router(health.router)
api_router.include_router(subjects.router)
api_router.include_router(analyses.router)
api_router.include_router(history.router)
api_router.include_router(visits.router)
api_router.include_router(movements.router)
api_router.include_router(report_routes.router)
api_router.include_router(capture.router)
api_router.include_router(programmes.router)
