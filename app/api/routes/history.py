"""Compare two analyses, trends over a subject's history, and export."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.api.deps import CurrentUser, DbSession, TrendsCache
from app.api.routes.common import SubjectId
from app.core.errors import ApiError, responses
from app.schemas import Comparison, SubjectExport, Trends
from app.services import history
from app.services.records import subject_or_404
from app.services.uploads import as_utc
from posture.result import Mode

router = APIRouter(tags=["history"], responses=responses(401, 404, 422))

ModeQuery = Annotated[Mode, Query(description="Which series (modes are not mixed).")]
SinceQuery = Annotated[datetime | None, Query(description="Only photos taken at or after this time.")]
UntilQuery = Annotated[datetime | None, Query(description="Only photos taken at or before this time.")]


@router.get("/compare")
def compare(
    a: Annotated[uuid.UUID, Query(description="Earlier analysis id.")],
    b: Annotated[uuid.UUID, Query(description="Later analysis id.")],
    user: CurrentUser,
    db: DbSession,
) -> Comparison:
    """Per-measure differences b − a, each flagged `within_noise` against the measure's minimal
    detectable change (rules.toml `[noise]`). Both analyses must belong to the same subject."""
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
) -> Response:
    """Per measure: the time series, a Theil–Sen slope per 30 days, the fitted change and the noise band."""
    body = history.trends_json(db, user, cache, subject_id, mode, _utc_or_none(since), _utc_or_none(until))
    return Response(body, media_type="application/json")


def _utc_or_none(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    utc = as_utc(value)
    if utc is None:
        raise ApiError(422, "invalid_request", "Invalid request: since/until must lie between 1900 and 2200.")
    return utc


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
