"""The application factory: `create_app(settings)`; `uvicorn --factory app.main:create_app` also works."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp

from app.api.docs import install_docs
from app.api.middleware import HeadAsGet, RequestLimits, RequestsInFlight, SecurityHeaders
from app.api.router import api_router
from app.api.routes.movements import CLIP_UPLOAD_PATH
from app.core import errors
from app.core.db import Database
from app.core.settings import Settings
from app.services.cache import VersionedCache
from app.services.inference import Analyzer, InferencePool
from app.services.movements import MovementJobs
from app.services.sweeper import Sweeper
from app.storage.files import LocalFileStore, open_store
from posture.analysis import package_version

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
TRENDS_CACHE_BYTES = 64 * 1024 * 1024  # ~80 subjects of 5,000 analyses, thousands of ordinary ones

DESCRIPTION = """Side-profile posture analysis with a per-subject history.

Authenticate with `Authorization: Bearer KEY` (create a key with `posture users create NAME`).
Every error is JSON `{"code", "message"}`; photo refusals use the quality gate's codes.
"""


class _Service(FastAPI):
    """FastAPI with `SecurityHeaders` outside its whole middleware stack, so that they reach every
    answer, the 500 of Starlette's outermost error middleware included."""

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack())


def create_app(
    settings: Settings | None = None,
    *,
    analyzer: Analyzer | None = None,
    clip_analyzer: Analyzer | None = None,
) -> FastAPI:
    """Build the service. Without `analyzer`, the app owns two `InferencePool`s sized by the settings:
    one for photos and one for movement clips, so clips never hold the photos' workers. A given
    analyzer (tests, embedding) is used as is and not closed by the app; it runs the clips too unless
    `clip_analyzer` is given."""
    settings = settings or Settings()
    db = Database(settings.sqlalchemy_url)
    store = open_store(settings.storage_location)
    sweeper = Sweeper(db, store, settings.sweep_interval_s, settings.sweep_grace_s)
    owns_analyzer = analyzer is None
    if analyzer is None:
        analyzer = InferencePool(
            settings.inference_workers,
            kind=settings.inference_pool,
            max_queued=settings.max_queued_analyses,
            model_options=settings.model_options,
        )
    owns_clip_analyzer = clip_analyzer is None and owns_analyzer
    if clip_analyzer is None:
        clip_analyzer = (
            InferencePool(
                settings.clip_workers,
                kind=settings.inference_pool,
                max_queued=settings.max_queued_clips,
                model_options=settings.model_options,
                name="clip",
            )
            if owns_analyzer
            else analyzer
        )
    movement_jobs = MovementJobs(db, store, clip_analyzer, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(db.migrate)
        if isinstance(store, LocalFileStore):
            store.root.mkdir(parents=True, exist_ok=True)
        analyzer.start()  # models load in the background; /health says "starting" meanwhile
        if owns_clip_analyzer:
            clip_analyzer.start()
        sweeping = sweeper.start()  # deletions a crash left unfinished, then files no row references
        await movement_jobs.start()  # jobs a stopped server left unfinished are failed first
        try:
            yield
        finally:
            # The clip workers first: a running clip is ended at once (its job fails as
            # `job_interrupted`), not waited for.
            if owns_clip_analyzer:
                await run_in_threadpool(clip_analyzer.close)
            await movement_jobs.stop()
            await sweeper.stop(sweeping)
            if owns_analyzer:
                await run_in_threadpool(analyzer.close)
            db.dispose()

    app = _Service(
        title="posture-profile",
        version=package_version(),
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # FastAPI's pages load Swagger UI and ReDoc from a CDN: app/api/docs.py serves /docs
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.store = store
    app.state.sweeper = sweeper
    app.state.analyzer = analyzer
    app.state.clip_analyzer = clip_analyzer
    app.state.movements = movement_jobs
    app.state.trends_cache = VersionedCache(TRENDS_CACHE_BYTES)
    errors.install(app)
    app.add_middleware(
        RequestLimits,
        max_bytes=settings.max_upload_bytes,
        timeout_s=settings.body_timeout_s,
        max_header_bytes=settings.max_header_bytes,
        larger=((CLIP_UPLOAD_PATH, settings.max_clip_bytes),),
    )
    app.add_middleware(HeadAsGet)
    # Outermost: a request beyond the limit is answered before anything is read or run.
    app.add_middleware(RequestsInFlight, limit=settings.max_connections)
    app.include_router(api_router)
    install_docs(app)
    _mount_page(app)
    return app


# The page's own policy: everything from this origin, overlays as blob: URLs, nothing else.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


class _RevalidatedStatic(StaticFiles):
    """Static files that browsers revalidate: asset URLs carry no version, so after an upgrade a
    cached old script must not keep running against a new API."""

    def file_response(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "no-cache"
        return response


def _mount_page(app: FastAPI) -> None:
    """The web page lives in app/static (index.html at `/`, assets under `/static`)."""
    if not STATIC_DIR.is_dir():
        return
    app.mount("/static", _RevalidatedStatic(directory=STATIC_DIR), name="static")
    index = STATIC_DIR / "index.html"

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        headers = {"Cache-Control": "no-cache", "Content-Security-Policy": PAGE_CSP}
        return FileResponse(index, media_type="text/html", headers=headers)
