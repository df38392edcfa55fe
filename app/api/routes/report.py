"""A subject's progress report as one PDF (docs/report.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.api.deps import CurrentUser, DbSession, Store, TrendsCache
from app.api.routes.common import SubjectId, utc_or_422
from app.core.errors import responses
from app.services import report
from posture.result import Mode

router = APIRouter(tags=["history"], responses=responses(401, 404, 422))


@router.get(
    "/subjects/{subject_id}/report.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "The report, as an attachment."}},
)
def report_pdf(
    subject_id: SubjectId,
    user: CurrentUser,
    db: DbSession,
    store: Store,
    cache: TrendsCache,
    since: Annotated[datetime | None, Query(description="Only photos taken at or after this time.")] = None,
    until: Annotated[datetime | None, Query(description="Only photos taken at or before this time.")] = None,
    mode: Annotated[
        Mode | None, Query(description="Which series; default standing, or lunge for a lunge-only subject.")
    ] = None,
    paper: Annotated[report.Paper, Query(description="Page size.")] = "a4",
    images: Annotated[
        report.Images, Query(description="`none`: no photo or overlay in the file (no raster image at all).")
    ] = "overlay",
) -> Response:
    """One PDF for the subject: the first and latest visits' overlays, the measures against their noise
    bands, a trend chart per measure with one point per visit, the latest findings and the disclaimer.
    422 `no_analyses_in_window` when the period holds no photo of the mode."""
    options = report.ReportOptions(
        since=utc_or_422(since), until=utc_or_422(until), mode=mode, paper=paper, images=images
    )
    made = report.build(db, user, store, cache, subject_id, options)
    return Response(
        made.pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{made.file_name}"',
            "Cache-Control": "no-store",  # a client's record: not for shared caches
        },
    )
