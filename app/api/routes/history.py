"""Compare two analyses, trends over a subject's history, and export."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from starlette.concurrency import run_in_threadpool

from app.api.deps import AnalyzerDep, CurrentUser, DbSession, SettingsDep, Store, TrendsCache
from app.api.routes.common import SubjectId, utc_or_422
from app.core.errors import responses
from app.schemas import Comparison, ReanalysisReport, SubjectExport, Trends
from app.services import history, reanalysis
from app.services.history import TrendsBy
from app.services.records import subject_or_404
from posture.result import Mode

router = APIRouter(tags=["history"], responses=responses(401, 404, 422))

ModeQuery = Annotated[Mode, Query(description="Which series (modes are not mixed).")]
SinceQuery = Annotated[datetime | None, Query(description="Only photos taken at or after this time.")]
UntilQuery = Annotated[datetime | None, Query(description="Only photos taken at or before this time.")]
ByQuery = Annotated[
    TrendsBy, Query(description="`visit`: one point per visit (its median); `photo`: one per photo.")
]


@router.get("/compare")
def compare(
    a: Annotated[uuid.UUID, Query(description="Earlier analysis or visit id.")],
    b: Annotated[uuid.UUID, Query(description="Later analysis or visit id.")],
    user: CurrentUser,
    db: DbSession,
) -> Comparison:
    """Per-measure differences b − a between two analyses, two visits (the medians of their shots) or
    one of each, each flagged `within_noise` against the minimal detectable change of those medians:
    the subject's personal band where its multi-shot visits give one, never below the rules' floor
    (rules.toml `[noise]`). Both must belong to the same subject."""
    return history.compare(db, user, a, b)


@router.get("/subjects/{subject_id}/trends", response_model=Trends)
def trends(
    subject_id: SubjectId,
    user: CurrentUser,
    db: DbSession,
    cache: TrendsCache,
    mode: ModeQuery = "standing",
    since: SinceQuery = None,
    until: UntilQuery = None,
    by: ByQuery = "visit",
) -> Response:
    """Per measure: the time series (one point per visit, its median and spread, or one per photo), a
    Theil–Sen slope per 30 days, the fitted change and the noise band with its source."""
    since, until = utc_or_422(since), utc_or_422(until)
    body = history.trends_json(db, user, cache, subject_id, mode, since, until, by)
    return Response(body, media_type="application/json")


@router.post("/subjects/{subject_id}/reanalyze", responses=responses(503))
async def reanalyze(
    subject_id: SubjectId,
    user: CurrentUser,
    db: DbSession,
    store: Store,
    analyzer: AnalyzerDep,
    settings: SettingsDep,
    cache: TrendsCache,
    force: Annotated[bool, Query(description="Re-run every analysis, not only older methods'.")] = False,
) -> ReanalysisReport:
    """Re-run the subject's stored photos with the current model and rules, replacing each analysis
    (id, time and visit kept) in its own transaction; about a second per photo. Calling it again
    continues where an interrupted call stopped. Analyses without a stored photo keep their version
    and are marked (`reanalysis_skipped`)."""
    await run_in_threadpool(subject_or_404, db, user, subject_id)
    method = await run_in_threadpool(reanalysis.current_method, settings.model_options)
    workers = getattr(analyzer, "workers", 1)
    report = await reanalysis.reanalyze_async(
        db, store, analyzer, method, [subject_id], force=force, concurrency=workers
    )
    if report.reanalysed:
        await run_in_threadpool(history.refresh_trends, db, cache, subject_id)
    return report


@router.get(
    "/subjects/{subject_id}/export.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "One row per analysis."}},
)
def export_csv(subject_id: SubjectId, user: CurrentUser, db: DbSession) -> Response:
    """The history as CSV, one row per analysis in `taken_at` order, in the layout of `posture batch`:
    every measure is a column named as in the analysis object's `measures`."""
    subject = subject_or_404(db, user, subject_id)
    return Response(
        history.export_csv(db, subject),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="subject-{subject.id}.csv"'},
    )


@router.get("/subjects/{subject_id}/export.json")
def export_json(subject_id: SubjectId, user: CurrentUser, db: DbSession) -> SubjectExport:
    """The subject and every analysis object in full, in `taken_at` order."""
    return history.export_json(db, subject_or_404(db, user, subject_id))
